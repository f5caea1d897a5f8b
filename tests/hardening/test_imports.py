"""Hardening of the imports: fuzzed and hostile CSV, XLSX and YAML files, and 100,000-row files.

The promise under test (README "Import formats"): an import either writes exactly what the file
says, or fails with ImportFailed whose message is one line of Chinese naming the file (and the
row and column when the problem is in one) — and then the database is exactly as before. Never
a traceback, never a partial write.

Most cases call the ledger functions directly inside `transaction(factory)` (fast, and on both
SQLite and PostgreSQL through the `factory`/`seeded` fixtures); a handful go through the real
`zhenggai import` to check the exit code and stderr.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
import re
import subprocess
import sys
import time
import unicodedata
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Font
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db import SessionFactory, transaction
from bot.errors import ImportFailed
from bot.models import Article, Cadre, Measure, MeasureEvent, MeasureStatus, Regulation, Role
from bot.services import ledger
from bot.services.text import (
    clean_display,
    clean_multiline,
    code_key,
    parse_article_no,
    parse_deadline,
    parse_file_deadline,
    person_name,
)
from tests.cli_runner import PROJECT, zhenggai
from tests.conftest import DATA

HEADER = list(ledger.MEASURE_COLUMNS)
ZH_HEADER = [ledger.MEASURE_HEADERS_ZH[c] for c in HEADER]
GOOD = ["ZG2025901", "问题甲", "措施甲", "类别", "基础教育科", "张伟", "陈建华", "2027-01-31", "进行中", "进展甲"]
CJK = re.compile(r"[\u4e00-\u9fff]")
FUZZ = settings(max_examples=int(os.environ.get("ZHENGGAI_FUZZ_EXAMPLES", "60")), deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                       HealthCheck.data_too_large])

Importer = Callable[[AsyncSession, Path], Any]
IMPORTERS: dict[str, Callable[..., Any]] = {
    "measures": ledger.import_measures, "cadres": ledger.import_cadres, "regulations": ledger.import_regulations,
}


# ---- helpers ------------------------------------------------------------------------------------

async def dump(factory: SessionFactory) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table an import may touch, in id order."""
    tables = [model.__table__ for model in (Regulation, Article, Cadre, Measure, MeasureEvent)]
    async with transaction(factory) as session:
        return {table.name: [tuple(row) for row in await session.execute(select(table).order_by(table.c.id))]
                for table in tables}


async def attempt(factory: SessionFactory, kind: str, path: Path) -> ledger.ImportReport | ImportFailed:
    """Run one import in its own transaction; any exception but ImportFailed fails the test."""
    try:
        async with transaction(factory) as session:
            report: ledger.ImportReport = await IMPORTERS[kind](session, path)
            return report
    except ImportFailed as exc:
        return exc


async def attempt_whole(factory: SessionFactory, kind: str, path: Path
                        ) -> tuple[dict[str, list[tuple[Any, ...]]], ledger.ImportReport | ImportFailed]:
    """`attempt`, with what every refusal must be: one clear line naming the file, and not a
    row changed. Returns the rows before the import and its result."""
    before = await dump(factory)
    result = await attempt(factory, kind, path)
    if isinstance(result, ImportFailed):
        check_message(result, path.name)
        assert await dump(factory) == before
    return before, result


def check_message(exc: ImportFailed, name: str, row: int | None = None, column: str | None = None) -> str:
    """One line of Chinese naming the file (and row/column when given); returns the message."""
    message = str(exc)
    assert message.splitlines() == [message], repr(message)
    assert "\r" not in message and "\x0b" not in message and "\x0c" not in message
    assert message.startswith(name), message
    assert CJK.search(message), message
    assert "Traceback" not in message and "Error" not in message, message
    assert len(message) < 400, message
    assert 1 <= len(exc.problems) <= ledger.MAX_PROBLEMS
    for problem in exc.problems:
        assert problem.file == name and str(problem).splitlines() == [str(problem)]
        assert problem.row is None or problem.row >= 1
    if row is not None:
        assert f"{name} 第{row}行" in message, message
    if column is not None:
        # Named as the file's header names it (责任人 in a Chinese 台账, owner in ours).
        labels = re.findall(r"\[([^\]]+)\]", message)
        assert any(column in (label, ledger._measure_column(label), ledger._cadre_column(label))
                   for label in labels), message
    return message


async def expect_rejected(factory: SessionFactory, kind: str, path: Path, row: int | None = None,
                          column: str | None = None, *, contains: str = "") -> str:
    before = await dump(factory)
    result = await attempt(factory, kind, path)
    assert isinstance(result, ImportFailed), f"{path.name} was accepted: {result}"
    message = check_message(result, path.name, row, column)
    assert contains in message, message
    assert await dump(factory) == before
    return message


async def expect_imported(factory: SessionFactory, kind: str, path: Path) -> ledger.ImportReport:
    result = await attempt(factory, kind, path)
    assert isinstance(result, ledger.ImportReport), str(result)
    return result


def write_csv(path: Path, rows: list[list[Any]], *, encoding: str = "utf-8", newline: str = "\n",
              errors: str = "strict") -> Path:
    buffer = io.StringIO(newline="")
    csv.writer(buffer, lineterminator=newline).writerows(rows)
    path.write_bytes(buffer.getvalue().encode(encoding, errors))
    return path


def row(**changes: str) -> list[str]:
    values = dict(zip(HEADER, GOOD, strict=True))
    values.update(changes)
    return [values[c] for c in HEADER]


async def measure(factory: SessionFactory, code: str) -> Measure:
    async with transaction(factory) as session:
        found = await session.scalar(select(Measure).where(Measure.code == code))
    assert found is not None, code
    return found


async def count(factory: SessionFactory, model: type) -> int:
    async with transaction(factory) as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


# ---- the oracle: what a measures CSV says, read independently of the ledger ---------------------

STATUS_ORDER = [MeasureStatus.NOT_STARTED, MeasureStatus.IN_PROGRESS, MeasureStatus.DONE, MeasureStatus.CLOSED]
HEADER_NAMES = {**{c: c for c in HEADER}, **{zh: c for c, zh in ledger.MEASURE_HEADERS_ZH.items()}}


def unguarded(cell: str) -> str:
    """A cell without the apostrophe the CSV export writes before a formula-like value."""
    text = cell.strip()
    return text[1:] if re.match("'+[-=+@\t\r]", text) else text


def header_name(cell: str) -> str | None:
    key = clean_display(cell).replace(" ", "")
    return HEADER_NAMES.get(key.lower()) or HEADER_NAMES.get(key)


def expected_measures(text: str) -> dict[str, dict[str, Any]]:
    records = list(csv.reader(io.StringIO(text, newline="")))
    columns: dict[str, int] = {}
    start = 0
    for index, record in enumerate(records[:20]):
        found: dict[str, int] = {}
        for position, cell in enumerate(record):
            name = header_name(cell)
            if name and name not in found:
                found[name] = position
        if len(found) >= 2:
            columns, start = found, index + 1
            break

    def get(record: list[str], name: str) -> str:
        index = columns.get(name)
        if index is None or index >= len(record):
            return ""
        text = unguarded(record[index])
        # Long texts keep their line breaks; everything else is one line; a name loses the gaps
        # between its Chinese characters (钟 春兰 padded, or broken by a line break, is 钟春兰).
        if name in ("problem", "measure", "progress"):
            return clean_multiline(text)
        if name in ("owner", "leader"):
            return person_name(text)
        return clean_display(text)

    expected: dict[str, dict[str, Any]] = {}
    for record in records[start:]:
        if all(not clean_display(cell) for cell in record):
            continue
        if all(i < len(record) and header_name(record[i]) == n for n, i in columns.items()):
            continue  # the header repeated
        code = unicodedata.normalize("NFKC", get(record, "code")).replace(" ", "")
        values = {c: get(record, c) for c in HEADER}
        values["code"] = code
        values["deadline"] = parse_file_deadline(values["deadline"] or None)
        # An empty status cell says nothing: an existing measure keeps its own (filled in below).
        values["status"] = ledger.parse_status(values["status"]) if values["status"] else None
        expected[code_key(code)] = values
    return expected


async def check_measures_match(factory: SessionFactory, text: str, before: dict[str, list[tuple[Any, ...]]],
                               report: ledger.ImportReport) -> None:
    """The database holds exactly what the file says; everything else is as it was."""
    expected = expected_measures(text)
    async with transaction(factory) as session:
        measures = {code_key(m.code): m for m in await session.scalars(select(Measure))}
    columns = [c.name for c in Measure.__table__.columns]
    old = {code_key(r[columns.index("code")]): r for r in before["measures"]}
    status_at = columns.index("status")
    for key, want in expected.items():
        got = measures[key]
        if want["status"] is None:
            want["status"] = MeasureStatus(old[key][status_at]) if key in old else MeasureStatus.NOT_STARTED
        elif key in old:
            # An import never moves a status back (进行中 over 已完成): such a file is rejected whole.
            assert STATUS_ORDER.index(want["status"]) >= STATUS_ORDER.index(MeasureStatus(old[key][status_at]))
        assert got.code == want["code"]
        for name in ("problem", "measure", "category", "progress", "deadline", "status"):
            assert getattr(got, name) == want[name], (name, getattr(got, name), want[name])
        assert got.owner.name == want["owner"]
        assert (got.leader.name if got.leader else "") == want["leader"]
        assert got.unit == (want["unit"] or got.owner.unit)
    after = await dump(factory)
    untouched = [r for r in after["measures"] if code_key(r[columns.index("code")]) not in expected]
    assert untouched == [r for k, r in old.items() if k not in expected]
    created = len(set(expected) - set(old))
    assert report.created == created
    assert report.created + report.updated + report.unchanged == len(expected)
    assert len(after["measure_events"]) - len(before["measure_events"]) == report.created + report.updated
    assert after["measure_events"][: len(before["measure_events"])] == before["measure_events"]
    for name in ("regulations", "articles", "cadres"):
        assert after[name] == before[name]


# ---- fuzzing: random bytes and text -------------------------------------------------------------

@FUZZ
@given(data=st.binary(max_size=3000), suffix=st.sampled_from([".csv", ".xlsx", ".yaml"]))
async def test_random_bytes_are_rejected_cleanly(seeded: SessionFactory, tmp_path: Path, data: bytes,
                                                 suffix: str) -> None:
    kinds = {".csv": ["measures", "cadres"], ".xlsx": ["measures"], ".yaml": ["regulations"]}[suffix]
    path = tmp_path / f"random{suffix}"
    path.write_bytes(data)
    for kind in kinds:
        await attempt_whole(seeded, kind, path)
        # (random bytes that happen to form a valid file may import; the mutation tests check content)


@FUZZ
@given(text=st.text(max_size=800), suffix=st.sampled_from([".csv", ".yaml"]))
async def test_random_text_is_rejected_cleanly(seeded: SessionFactory, tmp_path: Path, text: str,
                                               suffix: str) -> None:
    path = tmp_path / f"random{suffix}"
    path.write_bytes(text.encode("utf-8", "surrogatepass"))
    for kind in (["measures", "cadres"] if suffix == ".csv" else ["regulations"]):
        await attempt_whole(seeded, kind, path)


# ---- fuzzing: mutations of the good sample files ------------------------------------------------

NASTY = [
    "=SUM(A1)", "=cmd|' /C calc'!A0", "+1+1", "-2", "@SUM(1)", "<script>alert(1)</script>", "<b>粗体</b>",
    "'); DROP TABLE measures;--", "1' OR '1'='1", "\u200b张\u200d伟\u200b", "\u202e伟张\u202c", "\u2066措施\u2069",
    "\ufeff", "   ", "\u3000", "\t", "\u00a0", "“引号”", '"', '""', "\\", "%s%n", "{0}", "${x}", "😀👍🏽", "ﾃｽﾄ",
    "𠀀𪚥", "NULL", "None", "#N/A", "#REF!", "TRUE", "0", "1e10", "002025001", "a\nb", "a\r\nb", "\u2028", "\x1e",
]
ENCODINGS = ["gbk", "gb18030", "utf-16", "utf-16-le", "utf-16-be", "big5", "latin-1", "utf-32", "utf-8-sig", "utf-8"]


def cell_text(data: st.DataObject) -> str:
    return data.draw(st.one_of(
        st.sampled_from(NASTY),
        st.text(max_size=30),
        st.builds(lambda n: "长" * n, st.integers(100, 200_000)),
    ), label="cell")


def mutate_records(data: st.DataObject, records: list[list[str]]) -> list[list[str]]:
    """Table-level damage: columns extra/missing/renamed/duplicated, rows duplicated/blank, odd cells."""
    operations = data.draw(st.lists(st.sampled_from([
        "cell", "cell", "cell", "extra_column", "drop_column", "rename_column", "duplicate_column",
        "header_again", "blank_line", "spaces_row", "duplicate_row", "delete_row", "embedded_newline",
        "shuffle", "chinese_header",
    ]), max_size=4), label="operations")
    records = [list(r) for r in records]
    for operation in operations:
        width = max(len(r) for r in records)
        at_row = data.draw(st.integers(0, len(records)), label="row")
        at_column = data.draw(st.integers(0, width - 1), label="column")
        if operation == "cell" and at_row < len(records) and at_column < len(records[at_row]):
            records[at_row][at_column] = cell_text(data)
        elif operation == "extra_column":
            for index, record in enumerate(records):
                record.insert(at_column, "备注" if index == 0 else cell_text(data) if index == at_row else "")
        elif operation == "drop_column":
            for record in records:
                if at_column < len(record):
                    del record[at_column]
        elif operation == "rename_column" and at_column < len(records[0]):
            records[0][at_column] = data.draw(st.sampled_from(["责任人", "编号", "Owner", " code ", "状 态", "xx"]))
        elif operation == "duplicate_column":
            for record in records:
                if at_column < len(record):
                    record.append(record[at_column])
        elif operation == "header_again":
            records.insert(max(1, at_row), list(records[0]))
        elif operation == "blank_line":
            records.insert(max(1, at_row), [])
        elif operation == "spaces_row":
            records.insert(max(1, at_row), [" ", "\u3000", "", "\u200b"][: data.draw(st.integers(1, 4))])
        elif operation == "duplicate_row" and len(records) > 1:
            records.insert(at_row, list(records[max(1, min(at_row, len(records) - 1))]))
        elif operation == "delete_row" and 1 <= at_row < len(records):
            del records[at_row]
        elif operation == "embedded_newline" and at_row < len(records) and at_column < len(records[at_row]):
            text = records[at_row][at_column]
            cut = data.draw(st.integers(0, len(text)))
            inserted = data.draw(st.sampled_from(["\n", "\r\n", '"\n"', '",', "\n,,,,,,,,,\n"]))
            records[at_row][at_column] = text[:cut] + inserted + text[cut:]
        elif operation == "shuffle" and len(records) > 2:
            body = records[1:]
            records = [records[0], *data.draw(st.permutations(body))]
        elif operation == "chinese_header":
            records[0] = [ledger.MEASURE_HEADERS_ZH.get(header_name(c) or "", c) for c in records[0]]
    return records


def mutate_bytes(data: st.DataObject, text: str) -> bytes:
    """Byte-level damage: line endings, BOM, encodings, truncation, flipped bytes, NULs."""
    newline = data.draw(st.sampled_from(["\n", "\r\n", "\r"]), label="newline")
    if newline != "\n":
        text = re.sub(r"\r\n|\r|\n", newline, text)
    if data.draw(st.booleans(), label="bom"):
        text = "\ufeff" + text
    encoding = data.draw(st.sampled_from(ENCODINGS[:-1] + ["utf-8"] * 6), label="encoding")
    raw = text.encode(encoding, "replace")
    for operation in data.draw(st.lists(st.sampled_from(["truncate", "flip", "nul"]), max_size=2), label="bytes"):
        at = data.draw(st.integers(0, max(0, len(raw) - 1)), label="at")
        if operation == "truncate":
            raw = raw[:at]
        elif operation == "flip" and raw:
            raw = raw[:at] + bytes([raw[at] ^ data.draw(st.integers(1, 255))]) + raw[at + 1:]
        elif operation == "nul":
            raw = raw[:at] + b"\x00" + raw[at:]
    return raw


def file_text(raw: bytes) -> str:
    """What an imported file says: as its byte-order mark says, UTF-8, or else (the importer took
    it) GBK."""
    if raw.startswith((b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff")):
        return raw.decode("utf-32")
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        return raw.decode("utf-16")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return raw.decode("gb18030").removeprefix("\ufeff")


def serialise(records: list[list[str]]) -> str:
    buffer = io.StringIO(newline="")
    csv.writer(buffer, lineterminator="\n").writerows(records)
    return buffer.getvalue()


def sample_records(name: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO((DATA / name).read_text(encoding="utf-8"), newline="")))


@FUZZ
@given(data=st.data())
async def test_mutated_measures_csv_imports_exactly_or_is_rejected_whole(
    seeded: SessionFactory, tmp_path: Path, data: st.DataObject
) -> None:
    records = mutate_records(data, sample_records("measures.csv"))
    text = serialise(records)
    raw = mutate_bytes(data, text) if data.draw(st.booleans(), label="damage bytes") else text.encode()
    path = tmp_path / "measures.csv"
    path.write_bytes(raw)
    before, result = await attempt_whole(seeded, "measures", path)
    event("rejected" if isinstance(result, ImportFailed) else "imported")
    if isinstance(result, ImportFailed):
        lines = raw.count(b"\n") + raw.count(b"\r") + 1
        assert all(p.row is None or p.row <= lines for p in result.problems)
    else:
        await check_measures_match(seeded, file_text(raw), before, result)


@FUZZ
@given(data=st.data())
async def test_mutated_cadres_csv_imports_exactly_or_is_rejected_whole(
    seeded: SessionFactory, tmp_path: Path, data: st.DataObject
) -> None:
    records = sample_records("cadres.csv")
    for _ in range(data.draw(st.integers(0, 3))):
        at_row = data.draw(st.integers(1, len(records) - 1))
        at_column = data.draw(st.integers(0, 3))
        records[at_row][at_column] = cell_text(data)
    if data.draw(st.booleans()):
        records.insert(data.draw(st.integers(1, len(records))), data.draw(st.sampled_from([[], ["  "], records[0]])))
    text = serialise(records)
    raw = mutate_bytes(data, text) if data.draw(st.booleans()) else text.encode()
    path = tmp_path / "cadres.csv"
    path.write_bytes(raw)
    before, result = await attempt_whole(seeded, "cadres", path)
    event("rejected" if isinstance(result, ImportFailed) else "imported")
    if isinstance(result, ImportFailed):
        return
    # What the file says: name → (unit, position, role), read with the csv module.
    file_rows = list(csv.reader(io.StringIO(file_text(raw), newline="")))
    header = [clean_display(c).lower() for c in file_rows[0]]
    second = [clean_display(c).lower() for c in file_rows[1]] if len(file_rows) > 1 else []
    if "name" not in header and "name" in second:
        header = second  # a damaged header (?name) completed by a copy below it: a header in two rows
    roles = {"admin": Role.ADMIN, "leader": Role.LEADER, "cadre": Role.CADRE}
    old_roles = {r[1]: Role(r[4]) for r in before["cadres"]}
    old_units = {r[1]: (r[2], r[3]) for r in before["cadres"]}
    expected = {}
    for record in file_rows[1:]:
        cells = dict(zip(header, [clean_display(unguarded(c)) for c in record], strict=False))
        if not any(cells.values()) or cells.get("name") == "name":
            continue
        # An empty role cell leaves an existing cadre's role; a new cadre is a 责任人.
        role_text = cells.get("role", "").lower().replace(" ", "")
        role = roles[role_text] if role_text else old_roles.get(person_name(cells["name"]), Role.CADRE)
        # A column the file lacks (its header damaged, say) leaves an existing cadre's value.
        unit, position = old_units.get(person_name(cells["name"]), ("", ""))
        expected[person_name(cells["name"])] = (cells.get("unit", "") if "unit" in header else unit,
                                                cells.get("position", "") if "position" in header else position,
                                                role)
    async with transaction(seeded) as session:
        cadres = {c.name: (c.unit, c.position, c.role) for c in await session.scalars(select(Cadre))}
    for name, want in expected.items():
        assert cadres[name] == want
    assert set(cadres) == {r[1] for r in before["cadres"]} | set(expected)


def regulations_text() -> str:
    return (DATA / "regulations.yaml").read_text(encoding="utf-8")


def expected_regulations(text: str) -> dict[str, tuple[Any, ...]]:
    """What a regulations YAML says, read with PyYAML's BaseLoader (every scalar is text)."""
    data = yaml.load(text, Loader=yaml.BaseLoader)  # BaseLoader: every scalar a string, no objects
    if isinstance(data, dict):
        data = data["regulations"]
    nulls = {"", "~", "null", "Null", "NULL"}
    result = {}
    for item in data:
        def text_of(value: Any) -> str:
            return "" if value is None or value in nulls else str(value)

        keywords = item.get("keywords") or []
        if isinstance(keywords, str):
            keywords = keywords.replace("，", ",").replace("、", ",").split(",")
        effective = text_of(item.get("effective"))
        result[clean_display(item["key"])] = (
            clean_display(text_of(item.get("title"))), clean_display(text_of(item.get("issuer"))),
            parse_deadline(clean_display(effective)) if effective else None, text_of(item.get("summary")).strip(),
            [clean_display(k) for k in keywords if clean_display(text_of(k))],
            sorted((parse_article_no(a["no"]), text_of(a.get("text")).strip()) for a in item["articles"]),
        )
    return result


@FUZZ
@given(data=st.data())
async def test_mutated_regulations_yaml_imports_exactly_or_is_rejected_whole(
    seeded: SessionFactory, tmp_path: Path, data: st.DataObject
) -> None:
    lines = regulations_text().splitlines(keepends=True)
    for _ in range(data.draw(st.integers(0, 3), label="line edits")):
        at = data.draw(st.integers(0, len(lines) - 1), label="line")
        edit = data.draw(st.sampled_from(["delete", "duplicate", "tab", "text", "blank", "swap"]), label="edit")
        if edit == "delete":
            del lines[at]
        elif edit == "duplicate":
            lines.insert(at, lines[at])
        elif edit == "tab":
            lines[at] = lines[at].replace("  ", "\t", 1)
        elif edit == "text":
            line = lines[at]
            cut = data.draw(st.integers(0, len(line)), label="cut")
            lines[at] = line[:cut] + cell_text(data).replace("\n", " ") + line[cut:]
        elif edit == "blank":
            lines.insert(at, data.draw(st.sampled_from(["\n", "   \n", "# 注释\n"])))
        elif edit == "swap" and at + 1 < len(lines):
            lines[at], lines[at + 1] = lines[at + 1], lines[at]
    text = "".join(lines)
    raw = mutate_bytes(data, text) if data.draw(st.booleans(), label="damage bytes") else text.encode()
    path = tmp_path / "regulations.yaml"
    path.write_bytes(raw)
    _, result = await attempt_whole(seeded, "regulations", path)
    event("rejected" if isinstance(result, ImportFailed) else "imported")
    if isinstance(result, ImportFailed):
        return
    expected = expected_regulations(file_text(raw))
    async with transaction(seeded) as session:
        stored = {r.key: r for r in await session.scalars(select(Regulation))}
        for key, want in expected.items():
            regulation = stored[key]
            await session.refresh(regulation, ["articles"])
            got = (regulation.title, regulation.issuer, regulation.effective, regulation.summary,
                   regulation.keywords, sorted((a.no, a.text) for a in regulation.articles))
            assert got == want


# ---- CSV specifics ------------------------------------------------------------------------------

@pytest.mark.parametrize(("encoding", "hint"), [
    ("big5", "Big5"), ("utf-16-le", "UTF-16"), ("utf-16-be", "UTF-16"), ("cp1252", "Latin-1"),
])
async def test_wrong_encodings_are_refused_with_a_hint(seeded: SessionFactory, tmp_path: Path, encoding: str,
                                                       hint: str) -> None:
    rows = [HEADER, row(owner="张伟", problem="教師補貼未落實" if encoding != "cp1252" else "Café crème")]
    path = write_csv(tmp_path / "measures.csv", rows, encoding=encoding, errors="replace")
    message = await expect_rejected(seeded, "measures", path, contains=hint)
    assert "UTF-8" in message


@pytest.mark.parametrize("encoding", ["gbk", "gb18030"])
@pytest.mark.parametrize("bom", [False, True])
async def test_gbk_files_from_excel_on_chinese_windows_import_as_utf8_does(
    seeded: SessionFactory, tmp_path: Path, encoding: str, bom: bool
) -> None:
    rows = [ZH_HEADER, row(), row(code="ZG2025902", problem="教师补贴未落实，“两免一补”未到位", owner="覃国强")]
    path = write_csv(tmp_path / "measures.csv", rows, encoding=encoding)
    if bom:
        path.write_bytes("\ufeff".encode("gb18030") + path.read_bytes())  # GBK has no BOM of its own
    report = await expect_imported(seeded, "measures", path)
    assert report.created == 2
    assert "按 GBK 编码读取" in report.describe()
    stored = await measure(seeded, "ZG2025902")
    assert (stored.problem, stored.owner.name) == ("教师补贴未落实，“两免一补”未到位", "覃国强")


@pytest.mark.parametrize("encoding", ["utf-16", "utf-32"])
@pytest.mark.parametrize("delimiter", [",", "\t"])
async def test_unicode_text_with_a_byte_order_mark_and_tab_separated_files_import(
    seeded: SessionFactory, tmp_path: Path, encoding: str, delimiter: str
) -> None:
    # Excel's “Unicode 文本” is UTF-16 with a BOM and tabs between cells; a quoted cell keeps its tab.
    buffer = io.StringIO(newline="")
    csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n").writerows(
        [ZH_HEADER, row(), row(code="ZG2025902", problem="问题\t乙，“引号”", measure="措施乙,丙")])
    path = tmp_path / "台账.txt"
    path.write_bytes(buffer.getvalue().encode(encoding))  # Python writes the BOM
    report = await expect_imported(seeded, "measures", path)
    assert report.created == 2 and "编码读取" not in report.describe()
    stored = await measure(seeded, "ZG2025902")
    # (a tab inside a text is a space once stored, in any file)
    assert (stored.problem, stored.measure, stored.owner.name) == ("问题 乙，“引号”", "措施乙,丙", "张伟")


async def test_a_truncated_utf16_file_is_refused_as_damaged(seeded: SessionFactory, tmp_path: Path) -> None:
    path = tmp_path / "measures.csv"
    path.write_bytes(serialise([HEADER, row()]).encode("utf-16")[:-1])
    await expect_rejected(seeded, "measures", path, contains="已损坏或不完整")


async def test_a_file_mixing_utf8_and_gbk_is_refused(seeded: SessionFactory, tmp_path: Path) -> None:
    path = tmp_path / "measures.csv"
    path.write_bytes(serialise([HEADER, row()]).encode() + serialise([row(code="ZG2025902")]).encode("gbk"))
    await expect_rejected(seeded, "measures", path, row=3, contains="UTF-8")


async def test_big5_file_names_the_first_row_that_is_not_utf8(seeded: SessionFactory, tmp_path: Path) -> None:
    ascii_rows = [row(code=f"ZG20259{i:02d}", problem="p", measure="m", owner="x") for i in range(3)]
    path = tmp_path / "measures.csv"
    path.write_bytes(serialise([HEADER, *ascii_rows]).encode() + serialise([[
        "ZG2025903", "教師補貼", "m", "c", "u", "x", "y", "2027-01-31", "", ""]]).encode("big5"))
    await expect_rejected(seeded, "measures", path, row=5, contains="Big5")


@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"])
@pytest.mark.parametrize("bom", [False, True])
async def test_line_endings_and_bom_import(seeded: SessionFactory, tmp_path: Path, newline: str, bom: bool) -> None:
    # (a cell with a line break is quoted only if it holds a character of the file's line ending)
    rows = [HEADER, row(), row(code="ZG2025902", progress="第一行\r\n第二行")]
    path = write_csv(tmp_path / "measures.csv", rows, encoding="utf-8-sig" if bom else "utf-8", newline=newline)
    report = await expect_imported(seeded, "measures", path)
    assert report.created == 2
    assert (await measure(seeded, "ZG2025902")).progress == "第一行\n第二行"
    assert (await measure(seeded, "ZG2025901")).owner.name == "张伟"


async def test_row_numbers_are_spreadsheet_rows_even_after_a_multiline_cell(
    seeded: SessionFactory, tmp_path: Path
) -> None:
    rows = [HEADER, row(progress="一\n二\n三\n四"), [], row(code="ZG2025902", owner="无此人")]
    path = write_csv(tmp_path / "measures.csv", rows)
    await expect_rejected(seeded, "measures", path, row=4, column="owner", contains="无此人")


async def test_nul_bytes_are_refused_with_the_row(seeded: SessionFactory, tmp_path: Path) -> None:
    path = tmp_path / "measures.csv"
    path.write_bytes(serialise([HEADER, row(), row(code="ZG2025902", problem="a\x00b")]).encode())
    await expect_rejected(seeded, "measures", path, row=3, contains="空字符")


async def test_unpaired_quote_is_refused_not_swallowing_rows(seeded: SessionFactory, tmp_path: Path) -> None:
    good = serialise([HEADER, row()])
    # A stray opening quote in the last column runs to the end of the file.
    path = tmp_path / "measures.csv"
    unclosed = serialise([row(code="ZG2025902")])[:-1] + ',"没有结束\n'
    path.write_text(good + unclosed + serialise([row(code="ZG2025903")]), encoding="utf-8")
    await expect_rejected(seeded, "measures", path, row=3, contains="引号")
    # Two stray quotes: rows 3–4 would silently vanish into one progress cell.
    lines = [",".join(row(code=f"ZG202591{i}")) for i in range(5)]
    lines[1] = lines[1].replace("进展甲", '"进展开始')
    lines[3] = lines[3].replace("进展甲", '进展结束"')
    path.write_text("\n".join([",".join(HEADER), *lines]) + "\n", encoding="utf-8")
    await expect_rejected(seeded, "measures", path, row=3, column="progress", contains="引号未配对")
    # A closing quote followed by more text.
    path.write_text(",".join(HEADER) + "\n" + ",".join(row()).replace("问题甲", '"问题"甲') + "\n", encoding="utf-8")
    await expect_rejected(seeded, "measures", path, row=2, contains="引号")


async def test_quotes_inside_unquoted_and_quoted_cells_are_kept(seeded: SessionFactory, tmp_path: Path) -> None:
    path = tmp_path / "measures.csv"
    path.write_text(",".join(HEADER) + "\n" + ",".join(row()).replace("问题甲", '他说"好"') + "\n"
                    + serialise([row(code="ZG2025902", problem='引号"", 逗号, 和\n换行')]), encoding="utf-8")
    await expect_imported(seeded, "measures", path)
    assert (await measure(seeded, "ZG2025901")).problem == '他说"好"'
    assert (await measure(seeded, "ZG2025902")).problem == '引号"", 逗号, 和\n换行'


async def test_repeated_header_rows_blank_and_whitespace_rows_are_skipped(
    seeded: SessionFactory, tmp_path: Path
) -> None:
    rows = [[], HEADER, row(), [], ["", " ", "\u3000", "\u200b\u200b"], ZH_HEADER, [" "] * 10,
            HEADER, row(code="ZG2025902"), ["", ""]]
    path = write_csv(tmp_path / "measures.csv", rows)
    report = await expect_imported(seeded, "measures", path)
    assert report.created == 2


async def test_header_problems_name_the_columns(seeded: SessionFactory, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "measures.csv", [[*HEADER, "责任人"], [*row(), "李四"]])
    await expect_rejected(seeded, "measures", path, row=1, column="owner", contains="第6列和第11列")
    path = write_csv(tmp_path / "measures.csv", [[c for c in HEADER if c != "problem"], row()[:1] + row()[2:]])
    await expect_rejected(seeded, "measures", path, row=1, column="problem", contains="缺少")
    path.write_text(";".join(HEADER) + "\n" + ";".join(row()) + "\n", encoding="utf-8")
    await expect_rejected(seeded, "measures", path, contains="逗号")
    path.write_text("", encoding="utf-8")
    await expect_rejected(seeded, "measures", path, contains="找不到表头")
    path.write_text(",".join(HEADER) + "\n\n \n", encoding="utf-8")
    await expect_rejected(seeded, "measures", path, contains="没有任何整改措施")


async def test_a_column_named_exactly_wins_over_one_resembling_it(seeded: SessionFactory, tmp_path: Path) -> None:
    header = [*ZH_HEADER[:4], "牵头单位", *ZH_HEADER[4:]]
    values = [*row()[:4], "牵头的某单位", *row()[4:]]
    await expect_imported(seeded, "measures", write_csv(tmp_path / "measures.csv", [header, values]))
    assert (await measure(seeded, "ZG2025901")).unit == "基础教育科"
    header = ["编号", "存在问题", "问题描述", "整改措施", "责任人"]  # two columns only resembling 问题
    path = write_csv(tmp_path / "measures.csv", [header, ["ZG2025902", "甲", "乙", "措施", "张伟"]])
    await expect_rejected(seeded, "measures", path, row=1, column="problem", contains="第2列和第3列")


async def test_extra_renamed_and_missing_optional_columns(seeded: SessionFactory, tmp_path: Path) -> None:
    header = ["序号", "编号", "存在问题", "整改措施", "具体责任人", "完成时间", "备注", ""]
    rows = [["贵港市教育局整改台账"], [], header, ["1", "ZG2025901", "问题", "措施", "张伟", "2027年3月底", "无", "x"]]
    path = write_csv(tmp_path / "measures.csv", rows)
    await expect_imported(seeded, "measures", path)
    got = await measure(seeded, "ZG2025901")
    assert (got.problem, got.deadline, got.status, got.leader) == ("问题", dt.date(2027, 3, 31),
                                                                   MeasureStatus.NOT_STARTED, None)
    assert got.unit == got.owner.unit  # empty unit: the owner's


async def test_cells_with_only_spaces_in_required_columns(seeded: SessionFactory, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "measures.csv", [HEADER, row(problem="   "), row(code="\u3000", measure="")])
    message = await expect_rejected(seeded, "measures", path, row=2, column="problem", contains="不能为空")
    assert "另有 1 处错误" in message


async def test_formula_html_and_sql_looking_text_is_stored_verbatim(seeded: SessionFactory, tmp_path: Path) -> None:
    texts = ["=SUM(A1)", "<script>alert('x')</script>", "'); DROP TABLE measures;--", "@SUM(1)", "+1", "%s{0}"]
    rows = [HEADER, *[row(code=f"ZG20259{i:02d}", problem=t, progress=t) for i, t in enumerate(texts)]]
    path = write_csv(tmp_path / "measures.csv", rows)
    await expect_imported(seeded, "measures", path)
    for i, text in enumerate(texts):
        assert (await measure(seeded, f"ZG20259{i:02d}")).problem == text
    assert await count(seeded, Cadre) > 0


async def test_zero_width_and_rtl_characters(seeded: SessionFactory, tmp_path: Path) -> None:
    rows = [HEADER, row(code="ZG\u200b2025\u2060901", owner="张\u200b伟", problem="\u202e问题\u202c",
                        leader="\ufeff陈建华")]
    path = write_csv(tmp_path / "measures.csv", rows)
    await expect_imported(seeded, "measures", path)
    got = await measure(seeded, "ZG2025901")
    assert (got.owner.name, got.problem, got.leader.name if got.leader else None) == ("张伟", "问题", "陈建华")


async def test_very_long_cells(seeded: SessionFactory, tmp_path: Path) -> None:
    long_text = "很长的进展说明。" * 40_000  # 320,000 characters: past the csv module's default limit
    path = write_csv(tmp_path / "measures.csv", [HEADER, row(progress=long_text)])
    await expect_imported(seeded, "measures", path)
    assert (await measure(seeded, "ZG2025901")).progress == long_text
    path = write_csv(tmp_path / "measures.csv", [HEADER, row(code="ZG2025902", progress="长" * 1_100_000)])
    await expect_rejected(seeded, "measures", path, row=2, contains="过长")
    path = write_csv(tmp_path / "measures.csv", [HEADER, row(code="ZG" + "9" * 40)])
    await expect_rejected(seeded, "measures", path, row=2, column="code", contains="过长")
    garbage = "2027-01-01\n" + "垃圾" * 5000
    path = write_csv(tmp_path / "measures.csv", [HEADER, row(deadline=garbage), row(code="ZG2025902", status=garbage)])
    message = await expect_rejected(seeded, "measures", path, row=2, column="deadline", contains="无法识别的日期")
    assert len(message) < 200


async def test_excel_error_values_are_refused(seeded: SessionFactory, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "measures.csv", [HEADER, row(), row(code="ZG2025902", leader="#N/A")])
    await expect_rejected(seeded, "measures", path, row=3, column="leader", contains="#N/A")


async def test_at_most_twenty_problems_are_kept_and_the_rest_counted(seeded: SessionFactory, tmp_path: Path) -> None:
    rows = [HEADER, *[row(code=f"ZG20259{i:02d}", owner=f"无名氏{i}") for i in range(35)]]
    path = write_csv(tmp_path / "measures.csv", rows)
    before = await dump(seeded)
    result = await attempt(seeded, "measures", path)
    assert isinstance(result, ImportFailed)
    message = check_message(result, "measures.csv", 2, "owner")
    assert len(result.problems) == ledger.MAX_PROBLEMS
    assert "另有 34 处错误" in message
    assert await dump(seeded) == before


async def test_file_type_mixups(seeded: SessionFactory, tmp_path: Path) -> None:
    book = Workbook()
    book.active.append(HEADER)  # type: ignore[union-attr]
    book.save(tmp_path / "real.xlsx")
    disguised = tmp_path / "measures.csv"
    disguised.write_bytes((tmp_path / "real.xlsx").read_bytes())
    await expect_rejected(seeded, "measures", disguised, contains=".xlsx")
    for name in ("measures.xls", "measures.docx", "measures"):  # (.txt is tab-separated text)
        path = tmp_path / name
        path.write_text(",".join(HEADER), encoding="utf-8")
        await expect_rejected(seeded, "measures", path, contains="不支持的文件类型")
    folder = tmp_path / "folder.csv"
    folder.mkdir()
    await expect_rejected(seeded, "measures", folder, contains="文件夹")


async def test_a_file_name_with_a_line_break_still_gives_one_line(seeded: SessionFactory, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "台账\n第二行.csv", [HEADER, row(owner="无此人")])
    before = await dump(seeded)
    result = await attempt(seeded, "measures", path)
    assert isinstance(result, ImportFailed)
    assert str(result).splitlines() == [str(result)] and "第2行 [owner]" in str(result)
    assert await dump(seeded) == before


async def test_cadre_file_problems(seeded: SessionFactory, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "cadres.csv", [["姓名", "单位", "职务", "角色"], ["李四", "人事科", "科员", "局长"]])
    await expect_rejected(seeded, "cadres", path, row=2, column="role", contains="局长")
    path = write_csv(tmp_path / "cadres.csv", [["name", "unit", "name"], ["李四", "x", "王五"]])
    await expect_rejected(seeded, "cadres", path, row=1, column="name", contains="两列")
    path = write_csv(tmp_path / "cadres.csv", [["name", "role"], ["李四", ""], ["name", "role"], ["李四", "leader"]])
    await expect_rejected(seeded, "cadres", path, row=4, column="name", contains="重复")
    path = write_csv(tmp_path / "cadres.csv", [["name", "unit"], ["李" * 65, ""]])
    await expect_rejected(seeded, "cadres", path, row=2, column="name", contains="过长")
    path = write_csv(tmp_path / "cadres.csv", [["name", "role"], ["\u200b李\u200b四 ", " Leader "]])
    await expect_imported(seeded, "cadres", path)
    async with transaction(seeded) as session:
        cadre = await session.scalar(select(Cadre).where(Cadre.name == "李四"))
    assert cadre is not None and cadre.role is Role.LEADER


# ---- XLSX specifics -----------------------------------------------------------------------------

def workbook_rows(rows: list[list[Any]], title: str | None = None) -> Workbook:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    if title:
        sheet.append([title])
        sheet.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(HEADER))
    for values in rows:
        sheet.append(values)
    return book


async def test_xlsx_title_row_merged_cells_dates_and_numeric_codes(seeded: SessionFactory, tmp_path: Path) -> None:
    book = workbook_rows([ZH_HEADER], title="贵港市教育局整改台账（2025年）")
    sheet = book.active
    assert sheet is not None
    data = [
        [2025901, "问题一", "措施一", "类别", "港南区教育局", "钟春兰", "梁秀珍", dt.datetime(2027, 1, 31),
         "进行中", ""],
        [2025902.0, "问题二", "措施二", "类别", None, None, None, dt.date(2027, 2, 28), "未开始", None],
        ["ZG2025903", "问题三", "措施三", "类别", None, None, None, "2027年3月底", None, None],
    ]
    for values in data:
        sheet.append(values)
    # 责任单位, 责任人 and 分管领导 merged down rows 3–5: the value applies to every row it spans.
    for column in (5, 6, 7):
        sheet.merge_cells(start_row=3, start_column=column, end_row=5, end_column=column)
    # Trailing formatting-only rows and columns.
    for r in range(6, 12):
        sheet.cell(r, 14).font = Font(bold=True)
    sheet.cell(20, 1).font = Font(italic=True)
    path = tmp_path / "台账.xlsx"
    book.save(path)
    report = await expect_imported(seeded, "measures", path)
    assert report.created == 3
    for code, deadline in (("2025901", dt.date(2027, 1, 31)), ("2025902", dt.date(2027, 2, 28)),
                           ("ZG2025903", dt.date(2027, 3, 31))):
        got = await measure(seeded, code)
        people = (got.unit, got.owner.name, got.leader.name if got.leader else None)
        assert people == ("港南区教育局", "钟春兰", "梁秀珍")
        assert got.deadline == deadline


async def test_xlsx_merged_cells_do_not_fill_rows_that_are_otherwise_empty(
    seeded: SessionFactory, tmp_path: Path
) -> None:
    book = workbook_rows([HEADER, row(), [None] * 10, [None] * 10])
    sheet = book.active
    assert sheet is not None
    sheet.merge_cells("E2:E4")  # unit merged into two empty rows below the last measure
    sheet.merge_cells("B2:C2")  # problem merged across the measure column: measure reads empty
    path = tmp_path / "merged.xlsx"
    book.save(path)
    await expect_rejected(seeded, "measures", path, row=2, column="measure", contains="不能为空")
    sheet.unmerge_cells("B2:C2")
    sheet["C2"] = "措施甲"
    book.save(path)
    assert (await expect_imported(seeded, "measures", path)).created == 1


async def test_xlsx_formulas_without_cached_values_are_refused(seeded: SessionFactory, tmp_path: Path) -> None:
    for column, letter in (("problem", "B"), ("deadline", "H"), ("leader", "G")):
        book = workbook_rows([HEADER, row(), row(code="ZG2025902")])
        sheet = book.active
        assert sheet is not None
        sheet[f"{letter}3"] = '=CONCATENATE(B2,"x")' if column != "deadline" else "=DATE(2027,1,31)"
        path = tmp_path / "formula.xlsx"
        book.save(path)
        message = await expect_rejected(seeded, "measures", path, row=3, column=column, contains="公式")
        assert "计算结果" in message and "数值" in message
    # A formula in a column the import does not read (序号 = ROW()-1) is no problem.
    book = workbook_rows([["序号", *HEADER], ["=ROW()-1", *row()]])
    book.save(path)
    assert (await expect_imported(seeded, "measures", path)).created == 1


def handmade_xlsx(path: Path, sheet_data: str, *, shared: list[str] = (), styles: str = "", merges: str = "",
                  sheets: tuple[str, ...] = ("台账",), active: int = 0, extra_sheet: str = "",
                  doctype: str = "") -> Path:
    """An .xlsx written the way Excel writes one: shared strings, styles, cached formula results."""
    main = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
    rel = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
    sheet_entries = "".join(f'<sheet name="{name}" sheetId="{i + 1}" r:id="rId{i + 1}"/>'
                            for i, name in enumerate(sheets))
    sheet_rels = "".join(
        f'<Relationship Id="rId{i + 1}" Type="{rel}/worksheet" Target="worksheets/sheet{i + 1}.xml"/>'
        for i in range(len(sheets)))
    files = {
        "[Content_Types].xml": '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/'
                               'content-types"><Default Extension="xml" ContentType="application/xml"/></Types>',
        "_rels/.rels": f'<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/'
                       f'relationships"><Relationship Id="rId1" Type="{rel}/officeDocument" Target="xl/workbook.xml"/>'
                       f'</Relationships>',
        "xl/workbook.xml": f'<?xml version="1.0"?><workbook xmlns="{main}" xmlns:r="{rel}"><workbookPr/>'
                           f'<bookViews><workbookView activeTab="{active}"/></bookViews>'
                           f'<sheets>{sheet_entries}</sheets>'
                           f'</workbook>',
        "xl/_rels/workbook.xml.rels": f'<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/'
                                      f'package/2006/relationships">{sheet_rels}'
                                      f'<Relationship Id="rIdS" Type="{rel}/sharedStrings" Target="sharedStrings.xml"/>'
                                      f'<Relationship Id="rIdT" Type="{rel}/styles" Target="styles.xml"/>'
                                      f'</Relationships>',
        "xl/sharedStrings.xml": f'<?xml version="1.0"?><sst xmlns="{main}">'
                                + "".join(s if s.startswith("<si>") else f"<si><t>{s}</t></si>" for s in shared)
                                + "</sst>",
        "xl/styles.xml": f'<?xml version="1.0"?><styleSheet xmlns="{main}">{styles}</styleSheet>',
        "xl/worksheets/sheet1.xml": f'<?xml version="1.0"?>{doctype}<worksheet xmlns="{main}"><sheetData>{sheet_data}'
                                    f'</sheetData>{merges}</worksheet>',
    }
    for i in range(1, len(sheets)):
        files[f"xl/worksheets/sheet{i + 1}.xml"] = (f'<?xml version="1.0"?><worksheet xmlns="{main}"><sheetData>'
                                                    f'{extra_sheet}</sheetData></worksheet>')
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    return path


def inline_row(number: int, values: list[str]) -> str:
    cells = "".join(f'<c r="{chr(65 + i)}{number}" t="inlineStr"><is><t>{v}</t></is></c>'
                    for i, v in enumerate(values) if v != "")
    return f'<row r="{number}">{cells}</row>'


async def test_xlsx_as_excel_writes_it(seeded: SessionFactory, tmp_path: Path) -> None:
    """Shared strings (with rich text and a phonetic guide), cached formula results, a Chinese date
    format (numFmtId 31, not defined in the file), a custom date format, _xHHHH_ escapes."""
    shared = [*HEADER, "ZG2025901",
              "<si><r><t>问题</t></r><r><rPr><b/></rPr><t>一</t></r><rPh><t>もんだい</t></rPh></si>",
              "措施_x000D_一", "张伟", "进行中"]
    styles = ('<numFmts count="1">'
              '<numFmt numFmtId="180" formatCode="yyyy&quot;年&quot;m&quot;月&quot;d&quot;日&quot;"/>'
              '</numFmts><cellXfs count="3"><xf numFmtId="0"/><xf numFmtId="31"/><xf numFmtId="180"/></cellXfs>')
    header = "".join(f'<c r="{chr(65 + i)}1" t="s"><v>{i}</v></c>' for i in range(10))
    rows = (
        f'<row r="1">{header}</row>'
        '<row r="2"><c r="A2" t="s"><v>10</v></c><c r="B2" t="s"><v>11</v></c><c r="C2" t="s"><v>12</v></c>'
        '<c r="F2" t="s"><v>13</v></c><c r="H2" s="1"><v>46418</v></c><c r="I2" t="s"><v>14</v></c></row>'
        '<row r="3"><c r="A3"><v>2025902</v></c><c r="B3" t="str"><f>B2&amp;"二"</f><v>问题二</v></c>'
        '<c r="C3" t="str"><f>C2</f><v>措施二</v></c><c r="F3" t="str"><f>F2</f><v>张伟</v></c>'
        '<c r="H3" s="2"><f>DATE(2027,2,1)</f><v>46419</v></c><c r="J3" t="str"><f>""</f><v></v></c>'
        '<c r="K3" t="b"><v>1</v></c></row>'
    )
    path = handmade_xlsx(tmp_path / "excel.xlsx", rows, shared=shared, styles=styles)
    assert (await expect_imported(seeded, "measures", path)).created == 2
    first = await measure(seeded, "ZG2025901")
    # _x000D_ is a carriage return: a line break, which a 整改措施 keeps.
    assert (first.problem, first.measure, first.deadline) == ("问题一", "措施\n一", dt.date(2027, 1, 31))
    second = await measure(seeded, "2025902")
    assert (second.problem, second.measure, second.deadline, second.progress) == (
        "问题二", "措施二", dt.date(2027, 2, 1), "")


async def test_xlsx_error_cells_uncomputed_formulas_and_escapes(seeded: SessionFactory, tmp_path: Path) -> None:
    rows = (inline_row(1, HEADER) + inline_row(2, row())
            + '<row r="3"><c r="A3" t="inlineStr"><is><t>ZG2025902</t></is></c><c r="B3" t="e"><v>#REF!</v></c></row>')
    path = handmade_xlsx(tmp_path / "errors.xlsx", rows)
    await expect_rejected(seeded, "measures", path, row=3, column="problem", contains="#REF!")
    rows = inline_row(1, HEADER) + inline_row(2, row()).replace(
        '<c r="F2" t="inlineStr"><is><t>张伟</t></is></c>', '<c r="F2"><f>VLOOKUP(A2,人员!A:B,2,0)</f></c>')
    path = handmade_xlsx(tmp_path / "errors.xlsx", rows)
    await expect_rejected(seeded, "measures", path, row=2, column="owner", contains="公式")
    rows = inline_row(1, HEADER) + inline_row(2, row(problem="坏_x0000_字符"))
    path = handmade_xlsx(tmp_path / "errors.xlsx", rows)
    await expect_rejected(seeded, "measures", path, row=2, column="problem", contains="不允许的字符")


async def test_xlsx_only_the_active_sheet_is_read(seeded: SessionFactory, tmp_path: Path) -> None:
    garbage = inline_row(1, ["说明"]) + inline_row(2, ["本表由某某填写，联系电话……"])
    good = inline_row(1, HEADER) + inline_row(2, row())
    # The 台账 is the first and active sheet; the second is ignored.
    path = handmade_xlsx(tmp_path / "a.xlsx", good, sheets=("台账", "说明"), extra_sheet=garbage)
    assert (await expect_imported(seeded, "measures", path)).created == 1
    # The 台账 is the second sheet and the active one: the first is ignored.
    path = handmade_xlsx(tmp_path / "b.xlsx", garbage, sheets=("说明", "台账"), active=1,
                         extra_sheet=inline_row(1, HEADER) + inline_row(2, row(code="ZG2025902")))
    assert (await expect_imported(seeded, "measures", path)).created == 1
    await measure(seeded, "ZG2025902")
    # openpyxl's own file with a second, non-active sheet full of bad rows.
    book = workbook_rows([HEADER, row(code="ZG2025903")])
    other = book.create_sheet("汇总")
    other.append(HEADER)
    other.append(row(owner="无此人"))
    book.save(tmp_path / "c.xlsx")
    assert (await expect_imported(seeded, "measures", tmp_path / "c.xlsx")).created == 1


@pytest.mark.parametrize("kind", ["random", "truncated", "cfb", "empty_zip", "not_a_workbook", "doctype", "bomb"])
async def test_corrupt_and_protected_xlsx_files_are_refused(seeded: SessionFactory, tmp_path: Path, kind: str,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "bad.xlsx"
    book = workbook_rows([HEADER, row()])
    book.save(path)
    contains = "Excel"
    if kind == "random":
        path.write_bytes(os.urandom(5000))
    elif kind == "truncated":
        path.write_bytes(path.read_bytes()[:3000])
    elif kind == "cfb":  # an encrypted (password-protected) .xlsx is an OLE compound file
        path.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + os.urandom(4000))
        contains = "密码"
    elif kind == "empty_zip":
        with zipfile.ZipFile(path, "w"):
            pass
    elif kind == "not_a_workbook":
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr("word/document.xml", "<document/>")
    elif kind == "doctype":
        lol = '<!DOCTYPE x [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>'
        handmade_xlsx(path, inline_row(1, HEADER) + "<row r='2'><c r='A2' t='inlineStr'><is><t>&b;</t></is></c></row>",
                      doctype=lol)
    elif kind == "bomb":  # unpacks to more than the limit (lowered here: a real one takes a gigabyte)
        monkeypatch.setattr(ledger, "MAX_XLSX_UNPACKED_BYTES", 100_000)
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr("xl/worksheets/sheet1.xml", b"<" * 200_000)
        contains = "过大"
    await expect_rejected(seeded, "measures", path, contains=contains)


@FUZZ
@given(data=st.data())
async def test_damaged_xlsx_imports_exactly_or_is_rejected_whole(
    seeded: SessionFactory, tmp_path: Path, data: st.DataObject
) -> None:
    path = tmp_path / "fuzz.xlsx"
    records = mutate_records(data, sample_records("measures.csv")[:8])
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    for record in records:
        sheet.append([ILLEGAL_CHARACTERS_RE.sub("", c) for c in record])  # openpyxl refuses control characters
    book.save(path)
    raw = path.read_bytes()
    # (positions are drawn as fractions: the file's length varies with the time stamp openpyxl writes)
    if data.draw(st.booleans(), label="damage"):
        at = data.draw(st.integers(0, 999_999)) * len(raw) // 1_000_000
        raw = raw[:at] + bytes([raw[at] ^ data.draw(st.integers(1, 255))]) + raw[at + 1:]
        if data.draw(st.booleans()):
            raw = raw[: data.draw(st.integers(0, 1_000_000)) * len(raw) // 1_000_000]
    path.write_bytes(raw)
    _, result = await attempt_whole(seeded, "measures", path)
    event("rejected" if isinstance(result, ImportFailed) else "imported")


# ---- YAML specifics -----------------------------------------------------------------------------

def yaml_file(tmp_path: Path, text: str, name: str = "regs.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


ONE = "- key: k1\n  title: 制度一\n  articles:\n    - {'no': 1, text: 第一条内容}\n"


async def regulation(factory: SessionFactory, key: str) -> tuple[Regulation, list[tuple[int, str]]]:
    async with transaction(factory) as session:
        found = await session.scalar(select(Regulation).where(Regulation.key == key))
        assert found is not None
        await session.refresh(found, ["articles"])
        return found, [(a.no, a.text) for a in found.articles]


@pytest.mark.parametrize("text", ["just text\n", "42\n", "", "---\n", "{a: 1}\n", "regulations: 3\n", "- 1\n- 2\n",
                                  "[]\n", "regulations: []\n"])
async def test_yaml_that_is_not_a_list_of_regulations(seeded: SessionFactory, tmp_path: Path, text: str) -> None:
    await expect_rejected(seeded, "regulations", yaml_file(tmp_path, text))


async def test_yaml_mapping_with_regulations_key_bare_no_and_article_numbers_in_words(
    seeded: SessionFactory, tmp_path: Path
) -> None:
    text = ("regulations:\n  - key: k1\n    title: no\n    effective: 2025-08-01\n    keywords: 请假, 公文、考勤\n"
            "    articles:\n      - {no: 1, text: 一}\n      - {no: 第三条, text: 三}\n"
            "      - {no: '十二', text: 十二}\n"
            "      - {no: 010, text: 十}\n")
    await expect_imported(seeded, "regulations", yaml_file(tmp_path, text))
    found, articles = await regulation(seeded, "k1")
    assert (found.title, found.effective, found.keywords) == ("no", dt.date(2025, 8, 1), ["请假", "公文", "考勤"])
    assert articles == [(1, "一"), (3, "三"), (10, "十"), (12, "十二")]


async def test_yaml_duplicate_keys_are_refused_with_their_line(seeded: SessionFactory, tmp_path: Path) -> None:
    text = "- key: k1\n  title: 甲\n  title: 乙\n  articles:\n    - {'no': 1, text: 一}\n"
    await expect_rejected(seeded, "regulations", yaml_file(tmp_path, text), row=3, column="title", contains="两次")
    text = "- key: k1\n  title: 甲\n  articles:\n    - {no: 1, 'no': 2, text: 一}\n"
    await expect_rejected(seeded, "regulations", yaml_file(tmp_path, text), row=4, column="no")
    text = ONE + ONE.replace("制度一", "制度二")
    await expect_rejected(seeded, "regulations", yaml_file(tmp_path, text), row=5, column="key", contains="第1行重复")


async def test_yaml_anchors_aliases_and_merge_keys(seeded: SessionFactory, tmp_path: Path) -> None:
    text = ("- &base\n  key: k1\n  title: 制度一\n  issuer: &issuer 贵港市教育局\n  keywords: &words [请假, 考勤]\n"
            "  articles:\n    - {'no': 1, text: &t 共同条款}\n"
            "- <<: *base\n  key: k2\n  title: 制度二\n  keywords: *words\n  articles:\n    - {'no': 1, text: *t}\n")
    await expect_imported(seeded, "regulations", yaml_file(tmp_path, text))
    second, articles = await regulation(seeded, "k2")
    assert (second.issuer, second.keywords, articles) == ("贵港市教育局", ["请假", "考勤"], [(1, "共同条款")])


async def test_yaml_alias_bombs_and_cycles_are_refused_quickly(seeded: SessionFactory, tmp_path: Path) -> None:
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    lines += [f"a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 10)]
    bomb = "\n".join(lines) + "\nregulations:\n  - key: k\n    title: *a9\n    keywords: *a9\n    articles: *a9\n"
    started = time.monotonic()
    await expect_rejected(seeded, "regulations", yaml_file(tmp_path, bomb), contains="别名")
    assert time.monotonic() - started < 10
    cycle = "- &r\n  key: k\n  title: 甲\n  articles: [*r]\n"
    await expect_rejected(seeded, "regulations", yaml_file(tmp_path, cycle), contains="别名")
    deep = "- key: k\n  title: " + "[" * 20_000 + "]" * 20_000 + "\n"
    await expect_rejected(seeded, "regulations", yaml_file(tmp_path, deep), contains="YAML")


@pytest.mark.parametrize(("text", "row", "column", "contains"), [
    ("- key: k1\n\ttitle: 甲\n", 2, None, "制表符"),
    ("- key: k1\n  title: [甲, 乙]\n  articles:\n    - {'no': 1, text: 一}\n", 1, "title", "列表"),
    ("- key: k1\n  title: 甲\n  articles:\n    - {'no': 1, text: {a: b}}\n", 1, "articles.text", "映射"),
    ("- key: 制度一\n  title: 甲\n  articles:\n    - {'no': 1, text: 一}\n", 1, "key", "英文字母"),
    ("- key: k1\n  title: 甲\n  articles:\n    - {'no': 0, text: 一}\n", 1, "articles.no", "整数"),
    ("- key: k1\n  title: 甲\n  articles:\n    - {'no': 99999999999, text: 一}\n", 1, "articles.no", "整数"),
    ("- key: k1\n  title: 甲\n  articles:\n    - {'no': 1, text: ''}\n", 1, "articles.text", "为空"),
    ("- key: k1\n  title: 甲\n  articles: 一二三\n", 1, "articles", "articles"),
    ("- key: k1\n  title: 甲\n  effective: 2025-13-45\n  articles:\n    - {'no': 1, text: 一}\n", 1, "effective",
     "2025-13-45"),
    ("- key: k1\n  title: 甲\n  issuer: " + "局" * 200 + "\n  articles:\n    - {'no': 1, text: 一}\n", 1, "issuer",
     "过长"),
    ('- key: k1\n  title: "甲\\0乙"\n  articles:\n    - {\'no\': 1, text: 一}\n', 1, "title", "不允许的字符"),
    ('- key: k1\n  title: 甲\n  articles:\n    - {\'no\': 1, text: "\\ud800"}\n', 1, "articles.text", "不允许的字符"),
    ("- key: k1\n  title: 甲\n  articles:\n    - {'no': 1, text: 一}\n---\n- key: k2\n", None, None, "多个"),
    ("- !!python/object:os.system {key: k1}\n", None, None, "标签"),
    ("- key: k1\n  title: !!int abc\n", None, None, "YAML"),
    ("- key: k1\n  title: 甲: 乙\n", 2, None, "冒号"),
    ("- key: k1\n  title: '甲\n", None, None, "YAML"),
    ("- key: k1\n  title: 甲\x00\n", 2, None, "空字符"),
    ("- key: k1\n  title: 甲\x07\n", None, None, "控制字符"),
    ("- key: k1\n  title: 甲\n  keywords: {a: 1}\n  articles:\n    - {'no': 1, text: 一}\n", 1, "keywords", "列表"),
    ("- key: k1\n  title: 甲\n  articles:\n    - 第一条 一\n", 1, "articles", "映射"),
])
async def test_yaml_problems_name_line_and_field(seeded: SessionFactory, tmp_path: Path, text: str, row: int | None,
                                                 column: str | None, contains: str) -> None:
    await expect_rejected(seeded, "regulations", yaml_file(tmp_path, text), row, column, contains=contains)


async def test_yaml_large_article_texts_and_size_limit(seeded: SessionFactory, tmp_path: Path) -> None:
    body = "本条规定" * 250_000  # a 1,000,000-character article
    text = f"- key: big\n  title: 大制度\n  articles:\n    - no: 1\n      text: {body}\n"
    await expect_imported(seeded, "regulations", yaml_file(tmp_path, text))
    _, articles = await regulation(seeded, "big")
    assert articles == [(1, body)]
    huge = "# " + "x" * (ledger.MAX_YAML_BYTES + 10) + "\n" + ONE
    await expect_rejected(seeded, "regulations", yaml_file(tmp_path, huge), contains="过大")


async def test_yaml_gbk_big5_and_bom(seeded: SessionFactory, tmp_path: Path) -> None:
    path = tmp_path / "regs.yaml"
    path.write_bytes(ONE.replace("一", "貳").replace("条", "條").replace("内", "內").encode("big5"))
    await expect_rejected(seeded, "regulations", path, contains="Big5")
    path.write_bytes(ONE.encode("gbk"))
    await expect_imported(seeded, "regulations", path)
    assert (await regulation(seeded, "k1"))[1] == [(1, "第一条内容")]
    path.write_bytes(ONE.replace("内容", "正文").encode("utf-8-sig"))
    await expect_imported(seeded, "regulations", path)
    assert (await regulation(seeded, "k1"))[1] == [(1, "第一条正文")]
    path.write_bytes(ONE.encode("utf-8-sig"))
    await expect_imported(seeded, "regulations", path)
    assert (await regulation(seeded, "k1"))[1] == [(1, "第一条内容")]


# ---- the real command line ----------------------------------------------------------------------

def cli_failure(result: Any, name: str, where: str = "") -> str:
    assert result.code == 1, (result.code, result.out, result.err)
    message = result.err.strip()
    assert message.splitlines() == [message], result.err
    assert message.startswith(f"错误：{name}") and where in message, message
    assert "Traceback" not in result.err
    return message


async def test_cli_refuses_bad_files_in_one_line_and_keeps_the_database(
    seeded: SessionFactory, db_url: str, tmp_path: Path
) -> None:
    before = await dump(seeded)
    csv_path = write_csv(tmp_path / "台账.csv", [HEADER, row(), row(code="ZG2025902", deadline="2027-02-30")],
                         encoding="gbk")
    cli_failure(zhenggai("import", "measures", str(csv_path), database_url=db_url), "台账.csv", "第3行 [deadline]")
    csv_path = write_csv(tmp_path / "台账.csv", [HEADER, row(), row(code="ZG2025902", deadline="2027-02-30")])
    cli_failure(zhenggai("import", "measures", str(csv_path), database_url=db_url), "台账.csv", "第3行 [deadline]")
    book = workbook_rows([HEADER, row()])
    book.active["B2"] = "=A2"  # type: ignore[index]
    book.save(tmp_path / "台账.xlsx")
    message = cli_failure(zhenggai("import", "measures", str(tmp_path / "台账.xlsx"), database_url=db_url),
                          "台账.xlsx", "第2行 [problem]")
    assert "公式" in message
    (tmp_path / "bomb.yaml").write_text("a: &a [x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n" + "\n".join(
        f"c{i}: &c{i} [" + ", ".join([f"*{'b' if i == 0 else f'c{i - 1}'}"] * 10) + "]" for i in range(8)) + "\n",
        encoding="utf-8")
    cli_failure(zhenggai("import", "regulations", str(tmp_path / "bomb.yaml"), database_url=db_url), "bomb.yaml")
    (tmp_path / "broken.xlsx").write_bytes(b"PK\x03\x04" + os.urandom(2000))
    cli_failure(zhenggai("import", "measures", str(tmp_path / "broken.xlsx"), database_url=db_url), "broken.xlsx")
    assert await dump(seeded) == before


def test_cli_says_in_one_line_when_the_database_is_unreachable() -> None:
    result = zhenggai("import", "measures", str(DATA / "measures.csv"),
                      database_url="postgresql+asyncpg://nobody@127.0.0.1:1/zhenggai")
    message = cli_failure(result, "measures.csv")
    assert "数据库" in message and "均未导入" in message


async def test_cli_imports_a_good_xlsx(seeded: SessionFactory, db_url: str, tmp_path: Path) -> None:
    book = workbook_rows([ZH_HEADER, row()], title="整改台账")
    book.save(tmp_path / "台账.xlsx")
    result = zhenggai("import", "measures", str(tmp_path / "台账.xlsx"), database_url=db_url)
    assert result.code == 0 and "新增 1" in result.out, result.err
    assert result.err == ""


# ---- scale: 100,000 rows ------------------------------------------------------------------------

ROWS = 100_000
OWNERS = [r[0] for r in sample_records("cadres.csv")[1:]]
STATUSES = ["未开始", "进行中", "已完成", "已销号"]


def big_row(i: int) -> list[str]:
    return [f"BIG{i:06d}", f"第{i}号问题：某校教师政策性补贴尚未落实发放。", f"第{i}号措施：协调财政部门纳入预算。",
            "教师待遇",
            "" if i % 3 else "基础教育科", OWNERS[i % len(OWNERS)], OWNERS[(i + 5) % len(OWNERS)] if i % 4 else "",
            f"2027-{i % 12 + 1:02d}-{i % 28 + 1:02d}", STATUSES[i % 4], f"进展{i}"]


@pytest.fixture(scope="module")
def big_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("big")
    rows = [HEADER, *[big_row(i) for i in range(ROWS)]]
    files = {"csv": write_csv(folder / "big.csv", rows)}
    bad = [list(r) for r in rows]
    bad[ROWS - 10][5] = "查无此人"  # spreadsheet row ROWS - 9 of ROWS + 1
    files["bad.csv"] = write_csv(folder / "bad.csv", bad)
    book = Workbook(write_only=True)
    sheet = book.create_sheet("台账")
    sheet.append(["整改台账（测试）"])
    for values in rows:
        sheet.append(values)
    book.save(folder / "big.xlsx")
    files["xlsx"] = folder / "big.xlsx"
    return files


def timed_cli(*args: str, database_url: str) -> tuple[subprocess.CompletedProcess[str], float, int]:
    """Run `zhenggai …` in a subprocess; its wall time and peak memory (resource.getrusage)."""
    script = ("import resource, sys\nfrom bot.cli import main\ncode = main(sys.argv[1:])\n"
              "print(f'MAXRSS_KB {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}', file=sys.stderr)\n"
              "sys.exit(code)\n")
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "TELEGRAM_"))}
    environment.update(DATABASE_URL=database_url, PYTHONIOENCODING="utf-8")
    started = time.monotonic()
    completed = subprocess.run([sys.executable, "-c", script, *args], capture_output=True, text=True,
                               env=environment, cwd=PROJECT, timeout=600, check=False)
    elapsed = time.monotonic() - started
    peak = int(re.findall(r"MAXRSS_KB (\d+)", completed.stderr)[-1])
    return completed, elapsed, peak


def import_cadres_cli(url: str) -> None:
    result = zhenggai("import", "cadres", str(DATA / "cadres.csv"), database_url=url)
    assert result.code == 0, result.err


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["csv", "xlsx"])
async def test_100k_rows_import_through_the_cli_with_progress(
    big_files: dict[str, Path], db_url: str, factory: SessionFactory, backend: str, kind: str
) -> None:
    import_cadres_cli(db_url)
    completed, elapsed, peak = timed_cli("import", "measures", str(big_files[kind]), database_url=db_url)
    print(f"\n[import {ROWS} rows {kind} on {backend}] {elapsed:.1f} s, peak RSS {peak / 1024:.0f} MB")
    assert completed.returncode == 0, completed.stderr[-2000:]
    assert f"新增 {ROWS}，更新 0，未变 0" in completed.stdout
    progress = re.findall(rf"导入 big\.{kind}：(\d+)%", completed.stderr)
    assert len(progress) >= 5 and progress[-1] == "100", completed.stderr
    assert [int(p) for p in progress] == sorted(int(p) for p in progress)
    # Time and memory are measured by benchmarks/imports.py, not asserted here.
    assert await count(factory, Measure) == ROWS
    assert await count(factory, MeasureEvent) == ROWS
    for i in (0, 1, ROWS // 2, ROWS - 1):
        got, want = await measure(factory, f"BIG{i:06d}"), big_row(i)
        assert [got.code, got.problem, got.measure, got.category, got.unit, got.owner.name,
                got.leader.name if got.leader else "", str(got.deadline), got.status.label, got.progress] == [
            *want[:4], want[4] or got.owner.unit, *want[5:]]
    # Re-importing the same file changes nothing and records no events.
    completed, elapsed, peak = timed_cli("import", "measures", str(big_files[kind]), database_url=db_url)
    print(f"[re-import {ROWS} rows {kind} on {backend}] {elapsed:.1f} s, peak RSS {peak / 1024:.0f} MB")
    assert completed.returncode == 0 and f"未变 {ROWS}" in completed.stdout, completed.stderr[-2000:]
    assert await count(factory, MeasureEvent) == ROWS


@pytest.mark.slow
async def test_100k_rows_with_one_bad_row_near_the_end_are_rejected_whole(
    big_files: dict[str, Path], db_url: str, factory: SessionFactory
) -> None:
    import_cadres_cli(db_url)
    before = await dump(factory)
    completed, _, _ = timed_cli("import", "measures", str(big_files["bad.csv"]), database_url=db_url)
    assert completed.returncode == 1
    message = [line for line in completed.stderr.splitlines() if line.startswith("错误")]
    assert message == [f"错误：bad.csv 第{ROWS - 9}行 [owner]：未知的责任人「查无此人」（请先导入干部名单）"]
    assert await dump(factory) == before


@pytest.mark.slow
async def test_100k_row_update_records_one_event_per_changed_measure(
    big_files: dict[str, Path], factory: SessionFactory, tmp_path: Path
) -> None:
    async with transaction(factory) as session:
        await ledger.import_cadres(session, DATA / "cadres.csv")
        await ledger.import_measures(session, big_files["csv"])
    rows = [HEADER, *[big_row(i) for i in range(ROWS)]]
    for i in range(0, ROWS, 10):  # every tenth measure moves on
        rows[i + 1][8], rows[i + 1][9] = "已完成", f"进展{i}：已完成"
    changed = write_csv(tmp_path / "changed.csv", rows)
    async with transaction(factory) as session:
        report = await ledger.import_measures(session, changed)
    assert (report.created, report.updated, report.unchanged) == (0, ROWS // 10, ROWS - ROWS // 10)
    async with transaction(factory) as session:
        events = list(await session.scalars(select(MeasureEvent).where(MeasureEvent.note != "导入新增")))
        first = await session.scalar(select(Measure).where(Measure.code == "BIG000000"))
    assert len(events) == ROWS // 10
    assert first is not None and first.version == 2 and first.status is MeasureStatus.DONE
    event = next(e for e in events if e.measure_id == first.id)
    assert event.from_status is MeasureStatus.NOT_STARTED and event.to_status is MeasureStatus.DONE
    assert event.details == {"changes": {"status": ["not_started", "done"], "progress": ["进展0", "进展0：已完成"]}}
