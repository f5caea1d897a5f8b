"""Re-importing a file must not undo what people did in the bot, nor lock the bureau out."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.db import SessionFactory, transaction
from bot.errors import ImportFailed, ImportProblem
from bot.models import Cadre, Measure, MeasureEvent, MeasureStatus, Role
from bot.services import ledger, measures
from tests.conftest import DATA


def ledger_rows() -> list[dict[str, str]]:
    return list(csv.DictReader((DATA / "measures.csv").open(encoding="utf-8")))


def write_rows(path: Path, rows: list[dict[str, str]]) -> Path:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    path.write_text(out.getvalue(), encoding="utf-8")
    return path


async def measure(factory: SessionFactory, code: str) -> Measure:
    async with transaction(factory) as session:
        found = await session.scalar(select(Measure).where(Measure.code == code))
        assert found is not None
        return found


async def cadre(factory: SessionFactory, name: str) -> Cadre:
    async with transaction(factory) as session:
        found = await session.scalar(select(Cadre).where(Cadre.name == name))
        assert found is not None
        return found


async def refused(factory: SessionFactory, importer: Callable[..., Awaitable[object]], path: Path,
                  **kwargs: object) -> ImportFailed:
    """The import's refusal (the test fails if the file is taken)."""
    with pytest.raises(ImportFailed) as failure:
        async with transaction(factory) as session:
            await importer(session, path, **kwargs)
    return failure.value


def row_of(rows: list[dict[str, str]], code: str) -> dict[str, str]:
    return next(r for r in rows if r["code"] == code)


async def test_reimporting_an_old_ledger_refuses_to_undo_a_completion_reported_in_the_bot(
    seeded: SessionFactory, tmp_path: Path
) -> None:
    rows = ledger_rows()
    code = next(r["code"] for r in rows if r["status"] == "进行中")
    owner = await cadre(seeded, row_of(rows, code)["owner"])
    async with transaction(seeded) as session:
        await measures.mark_done(session, owner.id, code, "已全部完成", None, dt.date(2026, 11, 27))
    old_file = write_rows(tmp_path / "台账.csv", rows)  # the file as it was before the report
    failure = await refused(seeded, ledger.import_measures, old_file)
    text = "\n".join(failure.lines())
    assert f"「{code}」现为「已完成」，文件中为「进行中」" in text
    assert "[status]" in text
    assert (await measure(seeded, code)).status is MeasureStatus.DONE


async def test_an_empty_status_cell_keeps_an_existing_measures_status(seeded: SessionFactory, tmp_path: Path) -> None:
    rows = ledger_rows()
    code = next(r["code"] for r in rows if r["status"] == "进行中")
    row_of(rows, code)["status"] = ""
    row_of(rows, code)["progress"] = "新的进展"
    rows.append({**rows[0], "code": "ZG2025199", "status": ""})
    async with transaction(seeded) as session:
        report = await ledger.import_measures(session, write_rows(tmp_path / "台账.csv", rows))
    assert (report.created, report.updated) == (1, 1)
    assert (await measure(seeded, code)).status is MeasureStatus.IN_PROGRESS
    assert (await measure(seeded, "ZG2025199")).status is MeasureStatus.NOT_STARTED


async def test_a_status_may_still_move_forward_by_import(seeded: SessionFactory, tmp_path: Path) -> None:
    rows = ledger_rows()
    code = next(r["code"] for r in rows if r["status"] == "未开始")
    row_of(rows, code)["status"] = "已完成待销号"  # as /report itself words it
    async with transaction(seeded) as session:
        await ledger.import_measures(session, write_rows(tmp_path / "台账.csv", rows))
    assert (await measure(seeded, code)).status is MeasureStatus.DONE


async def test_a_chat_import_names_the_admin_and_cannot_sign_off_their_own_measure(
    seeded: SessionFactory, tmp_path: Path
) -> None:
    rows = ledger_rows()
    admin = await cadre(seeded, "刘洋")
    mine, other = [r for r in rows if r["status"] in ("未开始", "进行中")][:2]
    mine["owner"] = "刘洋"
    async with transaction(seeded) as session:
        await ledger.import_measures(session, write_rows(tmp_path / "a.csv", rows), actor=admin)
    async with transaction(seeded) as session:
        event = await session.scalar(select(MeasureEvent).join(Measure).where(Measure.code == mine["code"])
                                     .order_by(MeasureEvent.id.desc()))
        assert event is not None and event.actor_id == admin.id

    mine["status"] = "已销号"
    other["status"] = "已销号"
    failure = await refused(seeded, ledger.import_measures, write_rows(tmp_path / "b.csv", rows), actor=admin)
    assert f"「{mine['code']}」由您本人负责，不能由您本人销号" in str(failure)
    assert failure.total == 1  # signing off someone else's measure is an admin's right
    assert (await measure(seeded, other["code"])).status is not MeasureStatus.CLOSED
    # The operator at the server (no actor) imports the bureau's own records as they are.
    async with transaction(seeded) as session:
        await ledger.import_measures(session, write_rows(tmp_path / "c.csv", rows))
    assert (await measure(seeded, mine["code"])).status is MeasureStatus.CLOSED


async def test_a_cadre_list_without_roles_keeps_every_leader_and_admin(seeded: SessionFactory, tmp_path: Path) -> None:
    names = list(csv.DictReader((DATA / "cadres.csv").open(encoding="utf-8")))
    path = tmp_path / "干部名单.csv"
    path.write_text("姓名,单位\n" + "".join(f"{r['name']},{r['unit']}\n" for r in names), encoding="utf-8")
    async with transaction(seeded) as session:
        await ledger.import_cadres(session, path)
    assert (await cadre(seeded, "刘洋")).role is Role.ADMIN
    assert (await cadre(seeded, "陈建华")).role is Role.LEADER
    assert (await cadre(seeded, "陈建华")).position.startswith("党组成员")  # no 职务 column: kept


async def test_a_cadre_list_may_not_leave_the_bot_without_an_admin_or_demote_the_importer(
    seeded: SessionFactory, tmp_path: Path
) -> None:
    path = tmp_path / "干部名单.csv"
    path.write_text("name,role\n刘洋,cadre\n韦丽萍,cadre\n", encoding="utf-8")
    failure = await refused(seeded, ledger.import_cadres, path)
    assert "导入后将没有任何管理员" in "\n".join(failure.lines())

    path.write_text("name,role\n刘洋,cadre\n", encoding="utf-8")
    failure = await refused(seeded, ledger.import_cadres, path, actor=await cadre(seeded, "刘洋"))
    assert "不能取消您本人的管理员角色" in str(failure)
    async with transaction(seeded) as session:  # another admin may
        await ledger.import_cadres(session, path, actor=await cadre(seeded, "韦丽萍"))
    assert (await cadre(seeded, "刘洋")).role is Role.CADRE


def test_a_long_list_of_problems_counts_what_is_not_shown() -> None:
    problems = [ImportProblem("台账.csv", row, "owner", "未知的责任人「王五」") for row in range(2, 22)]
    failure = ImportFailed(problems, total=31)
    lines = failure.lines(20)
    assert lines[0].startswith("共 31 处错误")
    assert lines[-1].strip() == "……另有 11 处错误未列出"
    assert len(failure.lines(5)) == 1 + 5 + 1 and failure.lines(5)[-1].strip() == "……另有 26 处错误未列出"


async def test_a_measure_whose_leader_is_its_owner_is_refused(seeded: SessionFactory, tmp_path: Path) -> None:
    rows = ledger_rows()
    rows[3]["leader"] = rows[3]["owner"]
    failure = await refused(seeded, ledger.import_measures, write_rows(tmp_path / "台账.csv", rows))
    assert f"第5行 [leader]：分管领导与责任人不能是同一人「{rows[3]['owner']}」" in str(failure)


async def test_header_problems_name_the_columns_as_the_file_does_and_spot_the_other_kind_of_file(
    seeded: SessionFactory, tmp_path: Path
) -> None:
    signed = tmp_path / "台账.csv"
    signed.write_text("编号,问题,整改措施,责任人（签字）\nZG2025001,甲,乙,张伟\n", encoding="utf-8")
    failure = await refused(seeded, ledger.import_measures, signed)
    assert "表头缺少必需的列「责任人」（找到的列：编号、问题、整改措施、责任人（签字））" in str(failure)

    failure = await refused(seeded, ledger.import_measures, DATA / "cadres.csv")
    assert "这个文件看起来是干部名单，请用 zhenggai import cadres 导入" in str(failure)
    failure = await refused(seeded, ledger.import_cadres, DATA / "measures.csv")
    assert "这个文件看起来是整改台账，请用 zhenggai import measures 导入" in str(failure)


async def test_an_import_says_which_measures_it_added_and_what_it_changed(
    seeded: SessionFactory, tmp_path: Path
) -> None:
    rows = ledger_rows()
    code = next(r["code"] for r in rows if r["status"] == "未开始")
    row_of(rows, code)["status"] = "进行中"
    row_of(rows, code)["progress"] = "已启动"
    rows.append({**rows[0], "code": "2025001"})  # what Excel makes of a code typed as a number
    async with transaction(seeded) as session:
        report = await ledger.import_measures(session, write_rows(tmp_path / "台账.csv", rows))
    assert report.describe().splitlines() == [
        "整改措施：新增 1，更新 1，未变 29", "新增：2025001", f"{code}：状态 未开始 → 进行中、进展"]


async def test_names_padded_with_spaces_in_a_spreadsheet_are_the_same_people(
    seeded: SessionFactory, tmp_path: Path
) -> None:
    # Office files pad two-character names to line up with three-character ones: 张　伟.
    rows = ledger_rows()
    row = rows[0]
    owner, leader = row["owner"], row["leader"]
    row["owner"] = f"{owner[0]}\u3000{owner[1:]}"
    row["leader"] = f" {leader[0]} {leader[1:]} "
    row["progress"] = "按名单核对"
    async with transaction(seeded) as session:
        await ledger.import_measures(session, write_rows(tmp_path / "台账.csv", rows))
    imported = await measure(seeded, row["code"])
    assert imported.owner_id == (await cadre(seeded, owner)).id
    assert imported.leader_id == (await cadre(seeded, leader)).id

    names = list(csv.DictReader((DATA / "cadres.csv").open(encoding="utf-8")))
    count = len(names)
    names[0]["name"] = f"{names[0]['name'][0]}\u3000{names[0]['name'][1:]}"
    names[1]["position"] = "调整后的职务"
    names[1]["name"] = " ".join(names[1]["name"])
    async with transaction(seeded) as session:
        report = await ledger.import_cadres(session, write_rows(tmp_path / "干部.csv", names))
    assert (report.created, report.updated) == (0, 1)
    async with transaction(seeded) as session:
        assert len(list(await session.scalars(select(Cadre)))) == count
    assert (await cadre(seeded, names[1]["name"].replace(" ", ""))).position == "调整后的职务"


async def test_a_latin_name_keeps_its_space(seeded: SessionFactory, tmp_path: Path) -> None:
    names = [{"name": "Mary  Wang", "unit": "国际交流科", "position": "外籍教师", "role": "cadre"},
             {"name": "阿依古丽·买买提", "unit": "民族教育科", "position": "科员", "role": "cadre"}]
    async with transaction(seeded) as session:
        await ledger.import_cadres(session, write_rows(tmp_path / "干部.csv", names))
    assert (await cadre(seeded, "Mary Wang")).unit == "国际交流科"
    assert (await cadre(seeded, "阿依古丽·买买提")).unit == "民族教育科"
