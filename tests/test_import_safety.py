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
from bot.services.text import clean_display, clean_multiline, parse_file_deadline
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


def write_table(path: Path, records: list[list[str]]) -> Path:
    out = io.StringIO()
    csv.writer(out).writerows(records)
    path.write_text(out.getvalue(), encoding="utf-8")
    return path


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
    unsigned = tmp_path / "台账.csv"
    unsigned.write_text("编号,问题,整改措施,经办人\nZG2025001,甲,乙,张伟\n", encoding="utf-8")
    failure = await refused(seeded, ledger.import_measures, unsigned)
    assert "表头缺少必需的列「责任人」（找到的列：编号、问题、整改措施、经办人）" in str(failure)

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


async def test_common_office_headers_are_read_and_every_column_not_read_is_named_in_the_report(
    seeded: SessionFactory, tmp_path: Path
) -> None:
    # Headers as real 台账 write them: another word for the deadline, line breaks and notes in brackets.
    header = ["序号", "编号", "存在问题", "整改措施", "责任科室", "责任人\n（签字）", "完成期限", "整改\n状态",
              "整改情况", "联系电话", "备注"]
    path = write_table(tmp_path / "台账.csv", [header, ["1", "ZG2025301", "问题", "措施", "基础教育科", "张伟",
                                                       "2027-03-31", "整改中", "已完成摸排", "0775-1234567", ""]])
    async with transaction(seeded) as session:
        report = await ledger.import_measures(session, path)
    got = await measure(seeded, "ZG2025301")
    assert (got.deadline, got.status, got.progress, got.unit) == (dt.date(2027, 3, 31), MeasureStatus.IN_PROGRESS,
                                                                  "已完成摸排", "基础教育科")
    assert report.describe().splitlines()[:2] == ["整改措施：新增 1，更新 0，未变 0",
                                                  "未识别的列（已忽略）：序号、联系电话、备注"]

    header = ["编号", "问题", "整改措施", "责任人", "责任人（签字）", "完成时限（年月日）", "办结时限", "进展情况"]
    path = write_table(tmp_path / "台账2.csv", [header, ["ZG2025302", "问题", "措施", "张伟", "张伟", "2027-04-30",
                                                        "2027-05-31", "已启动"]])
    async with transaction(seeded) as session:
        report = await ledger.import_measures(session, path)
    assert (await measure(seeded, "ZG2025302")).deadline == dt.date(2027, 4, 30)  # the canonical column
    assert "重复的列（已忽略）：责任人（签字）（已按「责任人」导入）、办结时限（已按「完成时限（年月日）」导入）" \
        in report.describe().splitlines()

    names = tmp_path / "干部名单.csv"
    names.write_text("姓名,部门,职务,联系电话\n王小明,基础教育科,科员,13800000000\n", encoding="utf-8")
    async with transaction(seeded) as session:
        report = await ledger.import_cadres(session, names)
    assert (await cadre(seeded, "王小明")).unit == "基础教育科"
    assert report.describe().splitlines() == ["干部：新增 1，更新 0，未变 0", "未识别的列（已忽略）：联系电话"]


async def test_status_words_staff_write_are_read_and_an_ambiguous_one_asks_which_it_is(
    seeded: SessionFactory, tmp_path: Path
) -> None:
    rows = ledger_rows()[:1]
    words = {"已整改": MeasureStatus.DONE, "已完成整改": MeasureStatus.DONE, "正在整改": MeasureStatus.IN_PROGRESS,
             "持续推进": MeasureStatus.IN_PROGRESS, "整改中": MeasureStatus.IN_PROGRESS,
             "未整改": MeasureStatus.NOT_STARTED}
    for number, word in enumerate(words, start=401):
        rows.append({**rows[0], "code": f"ZG2025{number}", "status": word})
    async with transaction(seeded) as session:
        await ledger.import_measures(session, write_rows(tmp_path / "台账.csv", rows))
    for number, status in enumerate(words.values(), start=401):
        assert (await measure(seeded, f"ZG2025{number}")).status is status

    rows = [{**rows[0], "code": "ZG2025501", "status": "未完成"}, {**rows[0], "code": "ZG2025502", "status": "差不多"}]
    failure = await refused(seeded, ledger.import_measures, write_rows(tmp_path / "台账2.csv", rows))
    assert failure.lines()[1:] == [
        "  台账2.csv 第2行 [status]：状态「未完成」不明确：还没开始的请写“未开始”，正在整改的请写“进行中”",
        "  台账2.csv 第3行 [status]：未知的状态「差不多」，应为 未开始（未整改）、进行中（整改中、正在整改）、"
        "已完成（已整改）、已销号 之一",
    ]


async def test_deadlines_with_a_midnight_time_or_as_excel_serial_numbers_are_read_and_1900_is_refused(
    seeded: SessionFactory, tmp_path: Path
) -> None:
    rows = ledger_rows()[:1]
    for number, written in enumerate(["2026-12-31 00:00:00", "46387", "2026/12/31 0:00"], start=601):
        rows.append({**rows[0], "code": f"ZG2025{number}", "deadline": written})
    async with transaction(seeded) as session:
        await ledger.import_measures(session, write_rows(tmp_path / "台账.csv", rows))
    for number in (601, 602, 603):
        assert (await measure(seeded, f"ZG2025{number}")).deadline == dt.date(2026, 12, 31)

    rows = [{**rows[0], "code": f"ZG20257{i:02d}", "deadline": d}
            for i, d in enumerate(["1900-01-01", "2100-01-01", "12345", "年底", "2026-12-31 17:30"])]
    failure = await refused(seeded, ledger.import_measures, write_rows(tmp_path / "台账2.csv", rows))
    forms = "应为 2026-12-31、2026/12/31、2026年12月31日、2026年12月底、2026年底前，或“长期坚持”"
    assert failure.lines()[1:] == [
        "  台账2.csv 第2行 [deadline]：日期「1900-01-01」不在 2000 年至 2099 年之间，请检查年份；"
        "1900 年的日期多是 Excel 把空白或 0 显示成了日期",
        "  台账2.csv 第3行 [deadline]：日期「2100-01-01」不在 2000 年至 2099 年之间，请检查年份",
        f"  台账2.csv 第4行 [deadline]：无法识别的日期「12345」，{forms}",
        f"  台账2.csv 第5行 [deadline]：无法识别的日期「年底」，{forms}（请写明年份，如 2026年12月底）",
        f"  台账2.csv 第6行 [deadline]：无法识别的日期「2026-12-31 17:30」，{forms}",
    ]

    # Excel's date 0 in a real date cell, as a formula over an empty cell leaves it.
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(list(ledger.MEASURE_COLUMNS))
    sheet.append(["ZG2025801", "问题", "措施", "", "", "张伟", "", dt.datetime(1900, 1, 1), "", ""])
    book.save(tmp_path / "台账.xlsx")
    failure = await refused(seeded, ledger.import_measures, tmp_path / "台账.xlsx")
    assert "台账.xlsx 第2行 [deadline]：日期「1900-01-01」不在 2000 年至 2099 年之间" in str(failure)
    assert parse_file_deadline(dt.date(2099, 12, 31)) == dt.date(2099, 12, 31)
    assert parse_file_deadline("36526") == dt.date(2000, 1, 1)
    assert parse_file_deadline("73050.0") == dt.date(2099, 12, 31)


async def test_the_csv_export_guards_formula_cells_with_an_apostrophe_and_reads_them_back_exactly(
    seeded: SessionFactory, tmp_path: Path
) -> None:
    texts = ['=HYPERLINK("http://example.com","点击")', "-已完成一半", "+1", "@SUM(1)", "'=已带引号", "''+两个"]
    rows = ledger_rows()
    for index, text in enumerate(texts):
        rows[index]["problem"] = rows[index]["progress"] = text
    async with transaction(seeded) as session:
        await ledger.import_measures(session, write_rows(tmp_path / "台账.csv", rows))
    assert (await measure(seeded, rows[4]["code"])).progress == "=已带引号"  # a typed apostrophe guards too
    first, second = tmp_path / "first.csv", tmp_path / "second.csv"
    async with transaction(seeded) as session:
        await ledger.export_measures(session, first)
    exported = {r["code"]: r for r in csv.DictReader(io.StringIO(first.read_text(encoding="utf-8-sig")))}
    assert exported[rows[0]["code"]]["progress"] == '\'=HYPERLINK("http://example.com","点击")'
    assert exported[rows[1]["code"]]["problem"] == "'-已完成一半"
    assert exported[rows[4]["code"]]["problem"] == "'=已带引号"
    assert (await measure(seeded, rows[5]["code"])).problem == "'+两个"  # one apostrophe is taken
    assert exported[rows[5]["code"]]["problem"] == "''+两个"  # and one more is written
    assert exported[rows[6]["code"]]["problem"] == rows[6]["problem"]
    async with transaction(seeded) as session:
        report = await ledger.import_measures(session, first)
        await ledger.export_measures(session, second)
    assert (report.updated, report.created) == (0, 0), report.describe()
    assert first.read_bytes() == second.read_bytes()

    # XLSX stores text as text (Excel never evaluates it): no apostrophe there.
    from openpyxl import load_workbook

    async with transaction(seeded) as session:
        await ledger.export_measures(session, tmp_path / "台账.xlsx")
    sheet = load_workbook(tmp_path / "台账.xlsx").active
    assert sheet is not None
    cells = {row[0].value: row[1] for row in sheet.iter_rows(min_row=2)}
    assert (cells[rows[0]["code"]].value, cells[rows[0]["code"]].data_type) == (texts[0], "s")
    assert (cells[rows[1]["code"]].value, cells[rows[1]["code"]].data_type) == ("-已完成一半", "s")


async def test_line_breaks_in_problem_measure_and_progress_are_kept_through_export_and_import(
    seeded: SessionFactory, tmp_path: Path
) -> None:
    rows = ledger_rows()
    code = rows[0]["code"]
    rows[0]["measure"] = " 1. 摸排底数  \r\n2. 制定方案\r\r\n\n\n\n3. 按月调度\u2028"
    rows[0]["problem"] = "问题一\n问题二"
    rows[0]["progress"] = "已摸排\r已制定方案"
    rows[0]["unit"] = "基础\n教育科"
    rows[0]["category"] = "校舍\r\n安全"
    async with transaction(seeded) as session:
        await ledger.import_measures(session, write_rows(tmp_path / "台账.csv", rows))
    got = await measure(seeded, code)
    assert (got.measure, got.problem, got.progress) == ("1. 摸排底数\n2. 制定方案\n\n3. 按月调度", "问题一\n问题二",
                                                        "已摸排\n已制定方案")
    assert (got.unit, got.category) == ("基础 教育科", "校舍 安全")  # single-line fields stay single-line

    for suffix in (".csv", ".xlsx"):
        first, second = tmp_path / f"first{suffix}", tmp_path / f"second{suffix}"
        async with transaction(seeded) as session:
            await ledger.export_measures(session, first)
        async with transaction(seeded) as session:
            report = await ledger.import_measures(session, first)
            await ledger.export_measures(session, second)
        assert report.updated == 0 and (await measure(seeded, code)).measure == got.measure
        if suffix == ".csv":
            assert first.read_bytes() == second.read_bytes()
            assert '"1. 摸排底数\n2. 制定方案\n\n3. 按月调度"' in first.read_text(encoding="utf-8-sig")
        else:
            from openpyxl import load_workbook

            sheet = load_workbook(first).active
            assert sheet is not None
            cell = next(r[2] for r in sheet.iter_rows(min_row=2) if r[0].value == code)
            assert cell.value == got.measure and cell.alignment.wrap_text


def test_multiline_text_is_tidied_line_by_line_and_one_line_text_as_before() -> None:
    for text in ["  甲  乙\u3000丙 ", "\u200b甲\t乙", "甲\x1e乙", ""]:
        assert clean_multiline(text) == clean_display(text)
    assert clean_multiline("\n\n 甲 \r\n\r\n\r\n\r\n 乙\u2029丙\n \n") == "甲\n\n乙\n丙"


async def test_a_numeric_code_excel_stripped_of_its_leading_zeros_is_refused_not_added(
    seeded: SessionFactory, tmp_path: Path
) -> None:
    rows = ledger_rows()[:1]
    rows[0]["code"] = "001"
    async with transaction(seeded) as session:
        await ledger.import_measures(session, write_rows(tmp_path / "台账.csv", rows))
    rows[0]["code"] = "1"  # the same file after a round through Excel
    failure = await refused(seeded, ledger.import_measures, write_rows(tmp_path / "台账2.csv", rows))
    assert "编号「1」与已有的「001」只差前导零" in "\n".join(failure.lines())
    async with transaction(seeded) as session:
        assert await session.scalar(select(Measure).where(Measure.code == "1")) is None


async def test_section_headings_and_a_total_row_are_skipped_and_named(seeded: SessionFactory, tmp_path: Path) -> None:
    rows = ledger_rows()[:3]
    blank = {key: "" for key in rows[0]}
    sheet = [{**blank, "code": "一、教师待遇方面"}, rows[0], rows[1],
             {**blank, "code": "（二）校舍安全"}, rows[2], {**blank, "code": "合 计", "problem": "3项"}]
    async with transaction(seeded) as session:
        report = await ledger.import_measures(session, write_rows(tmp_path / "台账.csv", sheet))
    assert report.total == 3
    assert "跳过的标题或合计行：「一、教师待遇方面」、「（二）校舍安全」、「合 计」" in report.describe()
    # A lone code is no heading: still a measure missing its problem, and the file is refused.
    failure = await refused(seeded, ledger.import_measures,
                            write_rows(tmp_path / "台账2.csv", [*rows[:1], {**blank, "code": "ZG2099001"}]))
    assert "[problem]" in "\n".join(failure.lines())
