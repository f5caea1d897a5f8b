"""An admin sends the 台账, the cadre list or the regulations to the bot as a file: imported all or
nothing, as `zhenggai import` does, and answered from at once."""

from __future__ import annotations

import csv
import datetime as dt
import io
from pathlib import Path

from bot.models import MeasureStatus
from tests.bot.conftest import Harness

DATA = Path(__file__).resolve().parents[2] / "data"


def ledger_csv(change: dict[str, dict[str, str]], add: list[dict[str, str]] | None = None) -> bytes:
    """The sample 台账 with some cells changed (by code) and rows added."""
    with (DATA / "measures.csv").open(encoding="utf-8-sig", newline="") as source:
        rows = list(csv.DictReader(source))
    for row in rows:
        row.update(change.get(row["code"], {}))
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows([*rows, *(add or [])])
    return out.getvalue().encode("utf-8")


async def test_an_admins_ledger_file_is_imported_and_answered_at_once(harness: Harness) -> None:
    admin = await harness.bind("刘洋")
    school_bus = {"code": "ZG2025777", "problem": "校车超载接送学生存在安全隐患", "measure": "开展校车专项整治",
                  "category": "校车安全", "unit": "基础教育科", "owner": "张伟", "leader": "陈建华",
                  "deadline": "2027-01-31", "status": "进行中", "progress": ""}
    data = ledger_csv({"ZG2025009": {"deadline": "2027-02-28"}}, [school_bus])
    await harness.sandbox.send_document(admin.id, data, filename="台账.csv", mime_type="text/csv")
    working, done = await harness.sandbox.wait_for_messages(admin.id, count=2)
    assert working.body == "正在导入 台账.csv ……"
    assert done.body == "台账.csv 导入成功。整改措施：新增 1，更新 1，未变 29\n新增：ZG2025777\nZG2025009：完成时限"
    assert (await harness.measure("ZG2025009")).deadline == dt.date(2027, 2, 28)
    new = await harness.measure("ZG2025777")
    assert new.status is MeasureStatus.IN_PROGRESS and new.owner.name == "张伟"
    assert (await harness.events("ZG2025009"))[-1].action == "import"
    # The answer index has it now, not at the next periodic refresh.
    answer = await harness.one(admin, "校车超载的整改")
    assert answer.body.startswith("📋 ZG2025777")


async def test_the_chat_reply_names_the_columns_the_import_did_not_read(harness: Harness) -> None:
    admin = await harness.bind("刘洋")
    data = "编号,问题,整改措施,责任人,完成期限,联系电话\nZG2025778,问题,措施,张伟,2027-01-31,123\n".encode()
    await harness.sandbox.send_document(admin.id, data, filename="台账.csv", mime_type="text/csv")
    _, done = await harness.sandbox.wait_for_messages(admin.id, count=2)
    assert done.body.splitlines()[:2] == ["台账.csv 导入成功。整改措施：新增 1，更新 0，未变 0",
                                          "未识别的列（已忽略）：联系电话"]
    assert (await harness.measure("ZG2025778")).deadline == dt.date(2027, 1, 31)


async def test_a_bad_ledger_file_names_each_problem_and_changes_nothing(harness: Harness) -> None:
    admin = await harness.bind("刘洋")
    data = ledger_csv({"ZG2025001": {"owner": "张三"}, "ZG2025002": {"deadline": "2027-13-01"}})

    async def send() -> list[str]:
        await harness.sandbox.send_document(admin.id, data, filename="坏台账.csv", mime_type="text/csv")
        return [m.body for m in await harness.sandbox.wait_for_messages(admin.id, count=2)]

    working, failed = await harness.unchanged_by(send)
    assert working == "正在导入 坏台账.csv ……"
    assert failed.splitlines() == [
        "共 2 处错误，整个文件未导入（改正后重新导入）：",
        "  坏台账.csv 第2行 [owner]：未知的责任人「张三」（请先导入干部名单）",
        "  坏台账.csv 第3行 [deadline]：不存在的日期「2027-13-01」",
    ]


async def test_a_cadre_list_is_told_apart_by_its_caption_and_its_people_can_be_invited(harness: Harness) -> None:
    admin = await harness.bind("刘洋")
    cadres = (DATA / "cadres.csv").read_text(encoding="utf-8-sig") + "王小明,基础教育科,科员,cadre\n"
    await harness.sandbox.send_document(admin.id, cadres.encode("utf-8"), filename="名单.csv",
                                        mime_type="text/csv", caption="干部名单")
    working, done = await harness.sandbox.wait_for_messages(admin.id, count=2)
    assert working.body == "正在导入 名单.csv ……" and done.body.startswith("名单.csv 导入成功。干部：新增 1")
    invited = await harness.one(admin, "/invite 王小明")
    assert invited.body.startswith("已为 王小明 生成邀请码")


async def test_a_cadre_list_is_told_apart_by_its_header_too(harness: Harness) -> None:
    admin = await harness.bind("刘洋")
    cadres = (DATA / "cadres.csv").read_text(encoding="utf-8-sig") + "李四,人事科,科员,cadre\n"
    await harness.sandbox.send_document(admin.id, cadres.encode("utf-8"), filename="名单.csv", mime_type="text/csv")
    _, done = await harness.sandbox.wait_for_messages(admin.id, count=2)
    assert done.body == "名单.csv 导入成功。干部：新增 1，更新 0，未变 22"


async def test_a_table_that_is_neither_names_the_header_it_lacks_and_changes_nothing(harness: Harness) -> None:
    admin = await harness.bind("刘洋")

    async def send() -> str:
        await harness.sandbox.send_document(admin.id, "甲,乙\n1,2\n".encode(), filename="表.csv",
                                            mime_type="text/csv")
        return (await harness.sandbox.wait_for_messages(admin.id, count=2))[-1].body

    said = await harness.unchanged_by(send)
    assert said.startswith("共 1 处错误，整个文件未导入") and "表.csv" in said
    # The 台账's, as more likely meant.
    assert "找不到表头（应包含 code, problem, measure, owner（或 编号、问题、整改措施、责任人） 等列）" in said


async def test_a_table_from_someone_not_an_admin_is_no_import(harness: Harness) -> None:
    owner = await harness.bind("张伟")

    async def send() -> str:
        await harness.sandbox.send_document(owner.id, ledger_csv({"ZG2025009": {"deadline": "2027-02-28"}}),
                                            filename="台账.csv", mime_type="text/csv")
        [reply] = await harness.sandbox.wait_for_messages(owner.id)
        return reply.body

    said = await harness.unchanged_by(send)
    assert said.startswith("收到文件。要作为佐证材料")
    assert "例如 /done ZG2025009 已完成" in said  # his own measure, so the example works as shown


async def test_a_photo_with_no_measure_named_says_how_to_attach_it_with_the_senders_own_code(harness: Harness) -> None:
    owner = await harness.bind("张伟")

    async def send() -> str:
        await harness.sandbox.send_photo(owner.id, b"\x89PNG site")
        [reply] = await harness.sandbox.wait_for_messages(owner.id)
        return reply.body

    said = await harness.unchanged_by(send)
    assert said.startswith("收到照片。要作为佐证材料") and "例如 /done ZG2025009 已完成" in said
