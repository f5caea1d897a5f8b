"""/report (summary text and a PNG chart; public wording in groups and for cadres) and /export
(the 台账 as XLSX for admins in private only)."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from openpyxl import load_workbook
from sqlalchemy import select

from bot.db import transaction
from bot.models import Measure
from bot.services import ledger
from tests.bot.conftest import Harness

PNG = b"\x89PNG\r\n\x1a\n"


async def test_report_for_a_leader_in_private_names_the_people(harness: Harness) -> None:
    leader = await harness.bind("陈建华")
    text, chart = await harness.say(leader, "/report", count=2)
    assert text.body.startswith("整改落实情况（截至2026年11月27日）")
    assert "共 30 项" in text.body and "逾期未完成（5 项）" in text.body
    assert "责任人 钟春兰" in text.body
    assert chart.photo is not None and chart.photo.data.startswith(PNG)
    assert chart.caption == "整改落实情况（截至2026年11月27日）"
    assert all(call.ok for call in harness.sandbox.calls)


async def test_report_in_a_group_and_for_a_cadre_uses_public_wording(harness: Harness) -> None:
    admin, cadre = await harness.bind("韦丽萍"), await harness.bind("张伟")
    group = harness.sandbox.add_group("整改工作群", [admin.id, cadre.id])
    text, chart = await harness.say(admin, "/report", chat_id=group.id, count=2)
    assert text.body.startswith("整改落实情况公示（截至2026年11月27日）")
    assert "责任人" not in text.body and "钟春兰" not in text.body and "ZG2025001" in text.body
    assert chart.photo is not None and chart.photo.data.startswith(PNG) and chart.chat_id == group.id
    private_text, _ = await harness.say(cadre, "/report", count=2)
    assert private_text.body.startswith("整改落实情况公示") and "责任人" not in private_text.body


async def test_an_admin_exports_the_ledger_as_xlsx(harness: Harness) -> None:
    admin = await harness.bind("刘洋")
    reply = await harness.one(admin, "/export")
    assert reply.document is not None and reply.document.file_name == "整改台账-20261127.xlsx"
    assert reply.caption == "整改台账（30 项，截至 2026-11-27）"
    sheet = load_workbook(io.BytesIO(reply.document.data), read_only=True).active
    assert sheet is not None
    rows = [["" if v is None else str(v) for v in row] for row in sheet.iter_rows(values_only=True)]
    assert rows[0] == [ledger.MEASURE_HEADERS_ZH[c] for c in ledger.MEASURE_COLUMNS]
    async with transaction(harness.factory) as session:
        expected = [[m.code, m.problem, m.measure, m.category, m.unit, m.owner.name, m.leader.name if m.leader else "",
                     m.deadline.isoformat() if m.deadline else "", m.status.label, m.progress]
                    for m in await session.scalars(select(Measure).order_by(Measure.code))]
    assert rows[1:] == expected
    assert len(expected) == 30 and expected[0][0] == "ZG2025001" and expected[0][5] == "钟春兰"


async def test_a_large_export_says_the_file_is_coming_before_it_comes(harness: Harness, tmp_path: Path) -> None:
    rows = [f"ZG2027{n:04d},问题{n},措施{n},类别,基础教育科,张伟,陈建华,2027-01-31,进行中,"
            for n in range(5000)]
    path = tmp_path / "大台账.csv"
    path.write_text(",".join(ledger.MEASURE_COLUMNS) + "\n" + "\n".join(rows) + "\n", encoding="utf-8")
    async with transaction(harness.factory) as session:
        await ledger.import_measures(session, path)
    admin = await harness.bind("刘洋")
    notice, file = await harness.say(admin, "/export csv", count=2)
    assert notice.body == "正在生成 5030 项的整改台账，请稍候……"
    assert file.document is not None and file.caption == "整改台账（5030 项，截至 2026-11-27）"


async def test_an_admin_may_ask_for_the_ledger_as_csv(harness: Harness) -> None:
    admin = await harness.bind("刘洋")
    reply = await harness.one(admin, "/export csv")
    assert reply.document is not None and reply.document.file_name == "整改台账-20261127.csv"
    text = reply.document.data.decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == [ledger.MEASURE_HEADERS_ZH[c] for c in ledger.MEASURE_COLUMNS] and len(rows) == 31
    wrong = await harness.one(admin, "/export pdf")
    assert wrong.body == "用法：/export（XLSX 表格）或 /export csv"


async def test_export_is_refused_to_non_admins_and_in_groups(harness: Harness) -> None:
    cadre, leader, admin = await harness.bind("张伟"), await harness.bind("黄志刚"), await harness.bind("韦丽萍")
    group = harness.sandbox.add_group("整改工作群", [admin.id, cadre.id])

    async def refusals() -> list[str]:
        return [(await harness.one(cadre, "/export")).body, (await harness.one(leader, "/export")).body,
                (await harness.one(admin, "/export", chat_id=group.id)).body]

    by_cadre, by_leader, in_group = await harness.unchanged_by(refusals)
    assert "只有管理员可以导出整改台账" in by_cadre and "只有管理员可以导出整改台账" in by_leader
    assert "私聊" in in_group
    assert not harness.sandbox.calls_to("sendDocument")
