"""Import and export through the real CLI: good files land, bad files are rejected whole."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from openpyxl import Workbook, load_workbook
from sqlalchemy import func, select

from bot.db import SessionFactory, transaction
from bot.models import Cadre, Measure, MeasureEvent, MeasureStatus, Regulation
from bot.services import ledger
from tests.cli_runner import zhenggai
from tests.conftest import DATA

HEADER = "code,problem,measure,category,unit,owner,leader,deadline,status,progress"
GOOD_ROW = "ZG2025099,问题甲,措施甲,类别,基础教育科,张伟,陈建华,2027-01-31,进行中,进展甲"


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


async def count(factory: SessionFactory, model: type) -> int:
    async with transaction(factory) as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


def import_all(url: str) -> None:
    for kind, name in (("regulations", "regulations.yaml"), ("cadres", "cadres.csv"), ("measures", "measures.csv")):
        result = zhenggai("import", kind, str(DATA / name), database_url=url)
        assert result.code == 0, result.err


async def test_sample_data_imports_through_the_cli(db_url: str, factory: SessionFactory) -> None:
    import_all(db_url)
    assert await count(factory, Regulation) == 14
    assert await count(factory, Cadre) >= 18
    assert await count(factory, Measure) >= 25
    async with transaction(factory) as session:
        statuses = set(await session.scalars(select(Measure.status)))
    assert statuses == set(MeasureStatus)


async def test_reimport_is_idempotent_and_records_no_events(db_url: str, factory: SessionFactory) -> None:
    import_all(db_url)
    events = await count(factory, MeasureEvent)
    result = zhenggai("import", "measures", str(DATA / "measures.csv"), database_url=db_url)
    assert result.code == 0
    assert "新增 0，更新 0" in result.out
    assert await count(factory, MeasureEvent) == events


async def test_changed_row_is_updated_with_an_audit_event(db_url: str, factory: SessionFactory,
                                                          tmp_path: Path) -> None:
    import_all(db_url)
    rows = list(csv.DictReader((DATA / "measures.csv").open(encoding="utf-8")))
    rows[0]["status"] = "已完成"
    rows[0]["progress"] = "已全部补发到位"
    path = tmp_path / "changed.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    result = zhenggai("import", "measures", str(path), database_url=db_url)
    assert result.code == 0, result.err
    assert "更新 1" in result.out
    async with transaction(factory) as session:
        measure = await session.scalar(select(Measure).where(Measure.code == rows[0]["code"]))
        assert measure is not None
        assert measure.status is MeasureStatus.DONE
        event = await session.scalar(select(MeasureEvent).where(MeasureEvent.measure_id == measure.id)
                                     .order_by(MeasureEvent.id.desc()))
    assert event is not None
    assert event.action == "import"
    assert event.from_status is not MeasureStatus.DONE
    assert event.to_status is MeasureStatus.DONE
    assert event.details is not None and "progress" in event.details["changes"]


def test_export_does_not_overwrite_a_file_without_force(db_url: str, tmp_path: Path) -> None:
    import_all(db_url)
    kept = write(tmp_path / "台账.csv", "编号,问题,联系电话\nZG2025001,问题甲,0775-1234567\n")
    result = zhenggai("export", "measures", str(kept), database_url=db_url)
    assert result.code == 1
    assert result.err.strip() == f"错误：目标文件已存在：{kept}。如确要覆盖，请加 --force；或换一个文件名"
    assert "0775-1234567" in kept.read_text(encoding="utf-8")
    result = zhenggai("export", "measures", str(kept), "--force", database_url=db_url)
    assert result.code == 0, result.err
    assert kept.read_text(encoding="utf-8-sig").splitlines()[0] == HEADER
    assert not list(tmp_path.glob("*.partial")) and not list(tmp_path.glob(".*"))  # no temporary file left


def test_a_long_export_reports_its_progress(db_url: str, tmp_path: Path) -> None:
    import_all(db_url)
    rows = [f"ZG2026{n:03d},问题{n},措施{n},类别,基础教育科,张伟,陈建华,2027-01-31,进行中," for n in range(300)]
    ledger_file = write(tmp_path / "大台账.csv", HEADER + "\n" + "\n".join(rows) + "\n")
    assert zhenggai("import", "measures", str(ledger_file), database_url=db_url).code == 0
    result = zhenggai("export", "measures", str(tmp_path / "导出.xlsx"), database_url=db_url)
    assert result.code == 0 and result.out.strip() == f"已导出 330 条整改措施到 {tmp_path / '导出.xlsx'}"
    # Not a terminal: a line per tenth, the last when done.
    assert result.err.splitlines()[-1] == "导出 导出.xlsx：100%", result.err


@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
async def test_export_then_import_round_trips_equal(db_url: str, tmp_path: Path, suffix: str) -> None:
    import_all(db_url)
    first = tmp_path / f"first{suffix}"
    second = tmp_path / f"second{suffix}"
    assert zhenggai("export", "measures", str(first), database_url=db_url).code == 0
    result = zhenggai("import", "measures", str(first), database_url=db_url)
    assert result.code == 0 and "更新 0" in result.out, result.out + result.err
    assert zhenggai("export", "measures", str(second), database_url=db_url).code == 0
    if suffix == ".csv":
        assert first.read_bytes() == second.read_bytes()
        assert first.read_text(encoding="utf-8-sig").splitlines()[0] == HEADER
    else:
        def cells(path: Path) -> list[tuple[object, ...]]:
            return list(load_workbook(path).active.iter_rows(values_only=True))  # type: ignore[union-attr]

        assert cells(first) == cells(second)
        assert cells(first)[0] == tuple(HEADER.split(","))


async def test_chinese_headers_and_xlsx_with_title_row_import(db_url: str, factory: SessionFactory,
                                                              tmp_path: Path) -> None:
    import_all(db_url)
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["贵港市教育局整改台账"])
    sheet.append(["编号", "问题", "整改措施", "类别", "责任单位", "责任人", "分管领导", "完成时限", "状态", "进展"])
    sheet.append(["ZG2025101", "新问题", "新措施", "机关作风", "基础教育科", "张伟", "陈建华", "2027年3月底",
                  "未开始", ""])
    path = tmp_path / "台账.xlsx"
    book.save(path)
    result = zhenggai("import", "measures", str(path), database_url=db_url)
    assert result.code == 0, result.err
    async with transaction(factory) as session:
        measure = await session.scalar(select(Measure).where(Measure.code == "ZG2025101"))
    assert measure is not None and str(measure.deadline) == "2027-03-31"


async def test_a_bad_cell_in_a_chinese_ledger_is_named_by_the_files_own_header(db_url: str, tmp_path: Path) -> None:
    import_all(db_url)
    header = "编号,问题,整改措施,类别,责任单位,责任人,分管领导,完成时限,状态,进展"
    path = write(tmp_path / "台账.csv", f"{header}\n{GOOD_ROW.replace('张伟', '王不存在')}\n", "utf-8")
    result = zhenggai("import", "measures", str(path), database_url=db_url)
    assert result.code == 1 and "台账.csv 第2行 [责任人]" in result.err and "王不存在" in result.err


async def test_the_cli_names_the_columns_it_did_not_read(db_url: str, factory: SessionFactory, tmp_path: Path) -> None:
    import_all(db_url)
    header = "编号,问题,整改措施,责任单位,责任人,完成期限,整改情况,联系电话,备注"
    path = write(tmp_path / "台账.csv", f"{header}\nZG2025099,问题甲,措施甲,基础教育科,张伟,2027-01-31,已摸排,123,无\n")
    result = zhenggai("import", "measures", str(path), database_url=db_url)
    assert result.code == 0, result.err
    assert result.out.splitlines()[:2] == ["台账.csv 导入成功。整改措施：新增 1，更新 0，未变 0",
                                           "未识别的列（已忽略）：联系电话、备注"]
    async with transaction(factory) as session:
        measure = await session.scalar(select(Measure).where(Measure.code == "ZG2025099"))
    assert measure is not None and (str(measure.deadline), measure.progress) == ("2027-01-31", "已摸排")


async def test_a_csv_saved_by_chinese_excel_in_gbk_imports_and_says_so(
    db_url: str, factory: SessionFactory, tmp_path: Path
) -> None:
    import_all(db_url)
    header = "编号,问题,整改措施,责任单位,责任人,完成期限"
    row = "ZG2025099,教师补贴未落实,补发到位,基础教育科,张伟,2027-01-31"
    path = write(tmp_path / "台账.csv", f"{header}\n{row}\n", "gbk")
    result = zhenggai("import", "measures", str(path), database_url=db_url)
    assert result.code == 0, result.err
    assert result.out.splitlines()[:2] == ["台账.csv 导入成功。整改措施：新增 1，更新 0，未变 0",
                                           "文件按 GBK 编码读取（如有乱码，请另存为 UTF-8 后重新导入）"]
    async with transaction(factory) as session:
        measure = await session.scalar(select(Measure).where(Measure.code == "ZG2025099"))
    assert measure is not None and (measure.problem, measure.unit) == ("教师补贴未落实", "基础教育科")


async def test_a_header_in_two_rows_under_a_merged_group_heading_is_read_as_one(
    db_url: str, factory: SessionFactory, tmp_path: Path
) -> None:
    import_all(db_url)
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["贵港市教育局整改台账"])
    sheet.append(["序号", "编号", "问题", "整改措施", "责任落实", None, None, "完成时限"])
    sheet.append([None, None, None, None, "责任单位", "责任人", "分管领导", None])
    sheet.append([1, "ZG2025099", "问题甲", "措施甲", "基础教育科", "张伟", "陈建华", "2026年底前"])
    sheet.merge_cells("A1:H1")
    sheet.merge_cells("E2:G2")
    for column in "ABCDH":
        sheet.merge_cells(f"{column}2:{column}3")
    book.save(tmp_path / "台账.xlsx")
    # The same table as a CSV leaves the cells under the merged ones blank.
    rows = ["编号,问题,整改措施,责任落实,,,完成时限", ",,,责任单位,责任人,分管领导,",
            "ZG2025098,问题乙,措施乙,人事科,罗海燕,梁秀珍,2027-03-31"]
    write(tmp_path / "台账.csv", "\n".join(rows) + "\n")
    for name in ("台账.xlsx", "台账.csv"):
        result = zhenggai("import", "measures", str(tmp_path / name), database_url=db_url)
        assert result.code == 0, result.err
        assert "新增 1" in result.out and "责任落实" not in result.out, result.out
    async with transaction(factory) as session:
        measures = {m.code: m for m in await session.scalars(select(Measure).where(Measure.code >= "ZG2025098"))}
    got = {code: (m.unit, m.owner.name, m.leader.name if m.leader else None, str(m.deadline))
           for code, m in measures.items()}
    assert got == {"ZG2025099": ("基础教育科", "张伟", "陈建华", "2026-12-31"),
                   "ZG2025098": ("人事科", "罗海燕", "梁秀珍", "2027-03-31")}


async def test_a_workbook_saved_on_its_instructions_sheet_imports_from_the_sheet_with_the_ledger(
    db_url: str, factory: SessionFactory, tmp_path: Path
) -> None:
    import_all(db_url)
    book = Workbook()
    notes = book.active
    assert notes is not None
    notes.title = "填表说明"
    notes.append(["请按以下要求填写整改台账：责任人须为干部名单中的姓名，完成时限写明年月日。"])
    hidden = book.create_sheet("旧台账")
    hidden.append(["编号", "问题", "整改措施", "责任人"])
    hidden.append(["ZG2025096", "旧问题", "旧措施", "张伟"])
    hidden.sheet_state = "hidden"
    ledger_sheet = book.create_sheet("台账")
    ledger_sheet.append(["编号", "问题", "整改措施", "责任单位", "责任人", "完成时限"])
    ledger_sheet.append(["ZG2025099", "问题甲", "措施甲", "基础教育科", "张伟", "2027-01-31"])
    book.active = 0
    book.save(tmp_path / "台账.xlsx")
    result = zhenggai("import", "measures", str(tmp_path / "台账.xlsx"), database_url=db_url)
    assert result.code == 0, result.err
    assert result.out.splitlines()[:2] == ["台账.xlsx 导入成功。整改措施：新增 1，更新 0，未变 0",
                                           "已读取工作表「台账」（打开时显示的「填表说明」中没有表头）"]
    async with transaction(factory) as session:
        codes = set(await session.scalars(select(Measure.code).where(Measure.code >= "ZG2025096")))
    assert codes == {"ZG2025099"}  # a hidden sheet is not read

    # A workbook with no ledger on any sheet is refused as before, naming no sheet.
    del book["台账"]
    book.save(tmp_path / "说明.xlsx")
    result = zhenggai("import", "measures", str(tmp_path / "说明.xlsx"), database_url=db_url)
    assert result.code == 1 and "找不到表头" in result.err, result.err


async def test_a_first_data_row_is_never_taken_for_a_second_header_row(db_url: str, tmp_path: Path) -> None:
    import_all(db_url)
    # Only a blank under 责任落实 and a unit that is also a header word (科室): still data, and the
    # header without 责任人 is refused naming it.
    rows = ["编号,问题,整改措施,责任落实,完成时限", "ZG2025097,问题丙,措施丙,科室,2027-03-31"]
    result = zhenggai("import", "measures", str(write(tmp_path / "台账.csv", "\n".join(rows) + "\n")),
                      database_url=db_url)
    assert result.code == 1 and "第1行" in result.err and "缺少必需的列「责任人」" in result.err, result.err


BAD_FILES = [
    ("unknown owner", f"{HEADER}\n{GOOD_ROW.replace('张伟', '王不存在')}\n", "utf-8", "第2行 [owner]", "王不存在"),
    ("bad date", f"{HEADER}\n{GOOD_ROW}\n{GOOD_ROW.replace('099', '098').replace('2027-01-31', '2027-02-30')}\n",
     "utf-8", "第3行 [deadline]", "2027-02-30"),
    ("unknown status", f"{HEADER}\n{GOOD_ROW.replace('进行中', '差不多了')}\n", "utf-8", "第2行 [status]", "差不多了"),
    ("missing column", HEADER.replace(",owner", "") + "\n", "utf-8", "[owner]", "缺少"),
    ("duplicate code", f"{HEADER}\n{GOOD_ROW}\n{GOOD_ROW}\n", "utf-8", "第3行 [code]", "第2行重复"),
    ("Big5 encoding", f"{HEADER}\nZG2025099,問題甲,措施甲,類別,基礎教育科,張偉,陳建華,2027-01-31,進行中,進展甲\n",
     "big5", "第2行", "Big5"),
]


@pytest.mark.parametrize(("case", "text", "encoding", "where", "what"), BAD_FILES, ids=[b[0] for b in BAD_FILES])
async def test_bad_measure_file_is_rejected_whole_naming_row_and_column(
    db_url: str, factory: SessionFactory, tmp_path: Path, case: str, text: str, encoding: str, where: str,
    what: str,
) -> None:
    import_all(db_url)
    before = await count(factory, Measure), await count(factory, MeasureEvent)
    # A good row first: it must not be written when a later row is bad.
    path = write(tmp_path / "bad.csv", text, encoding)
    result = zhenggai("import", "measures", str(path), database_url=db_url)
    assert result.code == 1
    message = result.err.strip()
    assert "\n" not in message and "Traceback" not in message
    assert "bad.csv" in message and where in message and what in message
    assert (await count(factory, Measure), await count(factory, MeasureEvent)) == before


async def test_bad_cadre_role_and_bad_regulation_file_are_rejected(db_url: str, tmp_path: Path) -> None:
    cadres = write(tmp_path / "cadres.csv", "name,unit,position,role\n李四,人事科,科员,boss\n")
    result = zhenggai("import", "cadres", str(cadres), database_url=db_url)
    assert result.code == 1 and "第2行 [role]" in result.err and "boss" in result.err
    regulations = write(tmp_path / "regs.yaml", "- key: a\n  title: 甲\n  articles:\n    - {'no': x, text: 内容}\n")
    result = zhenggai("import", "regulations", str(regulations), database_url=db_url)
    assert result.code == 1 and "regs.yaml 第1行 [articles.no]" in result.err
    broken = write(tmp_path / "broken.yaml", "- key: a\n  title: [unclosed\n")
    result = zhenggai("import", "regulations", str(broken), database_url=db_url)
    assert result.code == 1 and "broken.yaml" in result.err and "YAML" in result.err


async def test_regulation_reimport_updates_articles_in_place(factory: SessionFactory, tmp_path: Path) -> None:
    first = write(tmp_path / "r.yaml", "- key: k\n  title: 测试制度\n  articles:\n"
                  "    - {'no': 1, text: 第一条内容}\n    - {'no': 2, text: 第二条内容}\n")
    async with transaction(factory) as session:
        report = await ledger.import_regulations(session, first)
    assert report.created == 1
    # Bare `no:` reads as boolean false in YAML 1.1; the importer takes it as the author meant.
    second = write(tmp_path / "r2.yaml", "- key: k\n  title: 测试制度\n  articles:\n"
                   "    - {no: 1, text: 改过的第一条}\n    - {no: 3, text: 新的第三条}\n")
    async with transaction(factory) as session:
        report = await ledger.import_regulations(session, second)
    assert report.updated == 1
    async with transaction(factory) as session:
        regulation = await session.scalar(select(Regulation).where(Regulation.key == "k"))
        assert regulation is not None
        await session.refresh(regulation, ["articles"])
        assert [(a.no, a.text) for a in regulation.articles] == [(1, "改过的第一条"), (3, "新的第三条")]


def test_export_to_unknown_type_says_so(tmp_path: Path, db_url: str) -> None:
    result = zhenggai("export", "measures", str(tmp_path / "x.pdf"), database_url=db_url)
    assert result.code == 1 and ".pdf" in result.err
