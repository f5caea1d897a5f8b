"""Import and export of the 台账 (measures), cadres and regulations.

Every import is all-or-nothing: the whole file is read and validated first, every problem
is collected with its file, row and column, and only a clean file is written — inside the
caller's transaction, so a failure leaves the database exactly as it was.

Row numbers are what a person sees when opening the file: the spreadsheet row in Excel/WPS
(for CSV, the record number — a cell with a line break inside still is one row), and the
line for YAML. Every message is one line of Simplified Chinese; values from the file are
echoed shortened and with line breaks removed.
"""

from __future__ import annotations

import asyncio
import bisect
import csv
import datetime as dt
import io
import logging
import os
import re
import unicodedata
import zipfile
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import yaml
from sqlalchemy import Table, bindparam, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from bot.errors import ImportFailed, ImportProblem
from bot.models import Article, Cadre, Measure, MeasureEvent, MeasureStatus, Regulation, Role, utcnow
from bot.services.text import (
    FILE_DATE_FORMS,
    DateFormatError,
    clean_display,
    clean_multiline,
    code_key,
    parse_article_no,
    parse_deadline,
    parse_file_deadline,
    person_name,
)

log = logging.getLogger(__name__)

Progress = Callable[[int, int], None]
"""Called as progress(done, total) while rows are read, validated and written; total is the
file's size in rows (or a multiple of it), so a caller can tell a small file from a large one."""

#: Stop collecting after this many problems: the first screenful is what a person fixes first.
#: Later problems are still counted, and the message says how many there were.
MAX_PROBLEMS = 20
#: Larger files are refused before they are read: a 100,000-row 台账 is about 30 MB as CSV.
MAX_TABLE_BYTES = 256 * 1024 * 1024
#: An .xlsx is a zip: refuse one that would unpack to more than this (a zip bomb).
MAX_XLSX_UNPACKED_BYTES = 1024 * 1024 * 1024
#: Regulations are read with the (pure Python) YAML parser; 10 MB is thousands of regulations.
MAX_YAML_BYTES = 10 * 1024 * 1024
#: YAML aliases (*name) may repeat a structure many times over ("billion laughs"): refuse a file
#: whose aliases add more than this many nodes to what is written out.
MAX_YAML_ALIAS_NODES = 200_000
#: One cell; Excel itself stops at 32,767 characters.
MAX_CELL_CHARS = 1_000_000
#: Columns read from a spreadsheet row (a stray value in column XFD must not cost 16,384 cells a row).
MAX_COLUMNS = 512
#: Article numbers are stored as 32-bit integers; no regulation has more articles than this.
MAX_ARTICLE_NO = 100_000

MEASURE_COLUMNS = ("code", "problem", "measure", "category", "unit", "owner", "leader", "deadline",
                   "status", "progress")
MEASURE_HEADERS_ZH = {
    "code": "编号", "problem": "问题", "measure": "整改措施", "category": "类别", "unit": "责任单位",
    "owner": "责任人", "leader": "分管领导", "deadline": "完成时限", "status": "状态", "progress": "进展",
}
# Headers seen in real 台账 besides the canonical ones; all map onto our column names. A header
# matches after its spaces and line breaks are removed, and a note in brackets at its end
# (完成时限（年月日）, 责任人⏎（签字）). 整改情况 is progress: in a real 台账 it holds prose such as
# 已完成摸排, and a cell that reads 已完成 then stays progress text rather than signing anything off.
_MEASURE_ALIASES = {
    "序号编号": "code", "措施编号": "code", "整改编号": "code", "问题编号": "code",
    "存在问题": "problem", "问题描述": "problem", "突出问题": "problem",
    "措施": "measure", "整改内容": "measure",
    "问题类别": "category", "分类": "category",
    "责任部门": "unit", "牵头单位": "unit", "责任科室": "unit", "责任处室": "unit", "牵头部门": "unit",
    "牵头科室": "unit",
    "具体责任人": "owner", "责任领导": "leader", "分管局领导": "leader", "牵头领导": "leader",
    "完成时间": "deadline", "整改时限": "deadline", "时限": "deadline", "完成期限": "deadline",
    "整改期限": "deadline", "办结时限": "deadline", "完成时间节点": "deadline", "时限要求": "deadline",
    "截止时间": "deadline", "截止日期": "deadline", "完成日期": "deadline",
    "整改状态": "status", "完成情况": "status",
    "整改进展": "progress", "进展情况": "progress", "整改进展情况": "progress", "整改情况": "progress",
    "工作进展": "progress", "推进情况": "progress",
}
CADRE_COLUMNS = ("name", "unit", "position", "role")
_CADRE_HEADERS_ZH = {"姓名": "name", "单位": "unit", "所在单位": "unit", "职务": "position",
                     "岗位": "position", "角色": "role"}
# Only resembling a cadre header: beside an exact one (单位 and 部门), the exact one is imported.
_CADRE_ALIASES = {"部门": "unit", "科室": "unit", "处室": "unit", "所在部门": "unit", "所在科室": "unit",
                  "职位": "position"}

_STATUS_WORDS: dict[str, MeasureStatus] = {
    "未开始": MeasureStatus.NOT_STARTED, "not_started": MeasureStatus.NOT_STARTED,
    "未整改": MeasureStatus.NOT_STARTED,
    "进行中": MeasureStatus.IN_PROGRESS, "in_progress": MeasureStatus.IN_PROGRESS,
    "整改中": MeasureStatus.IN_PROGRESS, "推进中": MeasureStatus.IN_PROGRESS, "正在整改": MeasureStatus.IN_PROGRESS,
    "持续推进": MeasureStatus.IN_PROGRESS,
    "已完成": MeasureStatus.DONE, "done": MeasureStatus.DONE, "完成": MeasureStatus.DONE,
    "已整改": MeasureStatus.DONE, "已完成整改": MeasureStatus.DONE,
    "待销号": MeasureStatus.DONE, "已完成待销号": MeasureStatus.DONE, "已完成(待销号)": MeasureStatus.DONE,
    "已销号": MeasureStatus.CLOSED, "closed": MeasureStatus.CLOSED, "销号": MeasureStatus.CLOSED,
}
_ROLE_WORDS: dict[str, Role] = {
    "admin": Role.ADMIN, "管理员": Role.ADMIN,
    "leader": Role.LEADER, "领导": Role.LEADER, "分管领导": Role.LEADER, "局领导": Role.LEADER,
    "cadre": Role.CADRE, "干部": Role.CADRE, "责任人": Role.CADRE,
}

# A cell starting with one of these is a formula to Excel when it opens a CSV: =HYPERLINK(…) is
# run, and -已完成一半 shows as #NAME?. The CSV export writes such cells after an apostrophe
# (OWASP's advice), which the importer removes again.
_NEEDS_APOSTROPHE = re.compile("'*[=+\\-@\t\r]")
_GUARDED_FORMULA = re.compile("'+[=+\\-@\t\r]")
# What Excel shows (and writes into a CSV) for a formula that failed.
_EXCEL_ERRORS = frozenset({"#NULL!", "#DIV/0!", "#VALUE!", "#REF!", "#NAME?", "#NUM!", "#N/A",
                           "#GETTING_DATA", "#SPILL!", "#CALC!", "#FIELD!", "#BLOCKED!", "#UNKNOWN!"})
# NUL is refused by PostgreSQL text columns and a lone surrogate cannot be encoded: neither is
# ever meant, so both are refused on every database alike.
_BAD_CHARS = re.compile("[\x00\ud800-\udfff]")
# Nothing visible: whitespace and the invisible characters `clean_display` removes.
_BLANK = re.compile("[\\s\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff\u00ad]*")
_REGULATION_KEY = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_CFB_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # OLE container: .xls, or an encrypted .xlsx
_ZIP_MAGIC = b"PK\x03\x04"

# A long text cell must not fail on the csv module's default 128 KiB field limit.
csv.field_size_limit(max(csv.field_size_limit(), MAX_CELL_CHARS + 1))


@dataclass
class ImportReport:
    kind: str
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    details: list[str] = field(default_factory=list)
    #: Header cells the importer does not know, as the file writes them: their columns were not read.
    ignored: list[str] = field(default_factory=list)
    #: A second column for the same field (牵头单位 beside 责任单位), with the one that was read.
    duplicates: list[tuple[str, str]] = field(default_factory=list)
    #: Rows that are no measure: a section heading (一、教师待遇方面) or a total (合计).
    skipped: list[str] = field(default_factory=list)
    #: The text encoding the file was read in, so a wrong guess that garbled the text is explained.
    encoding: str = "UTF-8"
    #: Which worksheet was read, when not the one the workbook opens at.
    sheet_note: str = ""

    @property
    def total(self) -> int:
        return self.created + self.updated + self.unchanged

    def summary(self) -> str:
        return f"{self.kind}：新增 {self.created}，更新 {self.updated}，未变 {self.unchanged}"

    def describe(self) -> str:
        """The summary, the columns that were not read, then what changed (which measures, which
        columns), for the importer to check."""
        lines = [self.summary()]
        if self.sheet_note:
            lines.append(self.sheet_note)
        if self.encoding == "GBK":  # taken on evidence, not said by the file: a wrong guess is possible
            lines.append(f"文件按 {self.encoding} 编码读取（如有乱码，请另存为 UTF-8 后重新导入）")
        if self.ignored:
            lines.append(f"未识别的列（已忽略）：{'、'.join(self.ignored)}")
        if self.duplicates:
            lines.append("重复的列（已忽略）：" + "、".join(f"{name}（已按「{kept}」导入）"
                                                       for name, kept in self.duplicates))
        if self.skipped:
            shown = "、".join(f"「{_quote(text, 20)}」" for text in self.skipped[:3])
            more = f"等 {len(self.skipped)} 行" if len(self.skipped) > 3 else ""
            lines.append(f"跳过的标题或合计行：{shown}{more}")
        return "\n".join([*lines, *self.details])


def _quote(value: object, limit: int = 40) -> str:
    """A value from the file, fit to echo inside 「」 in a one-line message."""
    if isinstance(value, dict):
        return "（映射）"
    if isinstance(value, list | tuple | set):
        return "（列表）"
    if isinstance(value, bytes):
        return "（二进制数据）"
    text = value.isoformat() if isinstance(value, dt.date) else str(value)
    if len(text) > limit * 4:
        text = text[: limit * 4]
    return clean_display(_BAD_CHARS.sub("?", text), limit)


class _Problems:
    """Collects problems for one file; raises ImportFailed at the end if any."""

    def __init__(self, file: str) -> None:
        self.file = _quote(file, 80) or "（无名文件）"
        self.items: list[ImportProblem] = []
        self.count = 0
        # Our column name → the header as the file writes it (责任人), so a message names the
        # column the user sees in their spreadsheet.
        self.labels: dict[str, str] = {}

    def add(self, row: int | None, column: str | None, message: str) -> None:
        self.count += 1
        if len(self.items) < MAX_PROBLEMS:
            self.items.append(ImportProblem(self.file, row, self.labels.get(column or "", column), message))

    def fail(self, row: int | None, column: str | None, message: str, *, no_header: bool = False) -> ImportFailed:
        self.add(row, column, message)
        return ImportFailed(self.items, self.count, no_header=no_header)

    def raise_if_any(self) -> None:
        if self.items:
            raise ImportFailed(self.items, self.count)


class _Meter:
    """Turns the fraction of an import done into progress(done, total) calls, never backwards."""

    def __init__(self, progress: Progress | None) -> None:
        self.progress = progress
        self.size = 0
        self._last = -1

    def __call__(self, fraction: float) -> None:
        if self.progress is None or self.size <= 0:
            return
        done = min(self.size, max(0, round(fraction * self.size)))
        if done > self._last:
            self._last = done
            self.progress(done, self.size)


# ---- reading files ------------------------------------------------------------------------------

Cell = str | dt.date | None
Row = tuple[int, list[Cell]]


class _Uncomputed(str):
    """A spreadsheet formula cell without a cached result (written by a program, never opened
    in Excel): its value is unknown, which must not pass for an empty cell."""

    __slots__ = ()


@dataclass
class _Table:
    rows: list[Row]
    kind: str  # "csv" or "xlsx"
    encoding: str = "UTF-8"  # of a CSV: "UTF-8" or "GBK"
    sheet_note: str = ""  # of an XLSX read from another sheet than the active one: which, and why


def _read_bytes(path: Path, problems: _Problems, limit: int) -> bytes:
    try:
        size = path.stat().st_size
        if size > limit:
            raise problems.fail(None, None, _too_large(size, limit))
        return path.read_bytes()
    except OSError as exc:
        raise problems.fail(None, None, _os_reason(exc)) from None


def _too_large(size: int, limit: int) -> str:
    return f"文件过大（{size / 1024 / 1024:.0f} MB，最多 {limit // 1024 // 1024} MB）"


def _os_reason(exc: OSError) -> str:
    if isinstance(exc, FileNotFoundError):
        return "找不到文件"
    if isinstance(exc, IsADirectoryError):
        return "这是一个文件夹，不是文件"
    if isinstance(exc, PermissionError):
        return "没有读取该文件的权限"
    return "无法读取文件（读写错误）"


def _csv_records(text: str) -> Iterable[list[str]]:
    return csv.reader(io.StringIO(text, newline=""))


def _first_record_with(text: str, needle: re.Pattern[str]) -> int | None:
    """The record (spreadsheet row) holding the first match of `needle`, for error messages."""
    try:
        for number, cells in enumerate(_csv_records(text), start=1):
            if any(needle.search(cell) for cell in cells):
                return number
    except csv.Error:
        pass
    position = needle.search(text)
    return None if position is None else len(re.findall(r"\r\n|\r|\n", text[: position.start()])) + 1


def _decode(data: bytes, problems: _Problems) -> tuple[str, str]:
    """The text and the encoding it was read in: UTF-8 (a BOM is fine), or GBK, which is what
    Excel and WPS on Chinese Windows write as plain “CSV” and Notepad used to save. Anything else
    is refused with a hint how to re-save the file."""
    resave = "请用“CSV UTF-8”或 UTF-8 编码另存后再导入"
    # A byte-order mark says the encoding outright: Excel's “Unicode 文本” is UTF-16 with one.
    for marks, codec, name in (((b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff"), "utf-32", "UTF-32"),
                               ((b"\xff\xfe", b"\xfe\xff"), "utf-16", "UTF-16")):
        if data.startswith(marks):
            try:
                return data.decode(codec), name
            except UnicodeDecodeError:
                raise problems.fail(None, None, f"文件是 {name} 编码，但内容已损坏或不完整，{resave}") from None
    encoding = "UTF-8"
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        legacy = _as_gbk(data)
        if legacy is not None:
            text, encoding = legacy, "GBK"
        else:
            loose = data.decode("utf-8-sig", "surrogateescape")
            row = _first_record_with(loose, re.compile("[\udc80-\udcff]"))
            if data.count(b"\x00") * 4 > len(data):
                hint = "看起来是没有 BOM 的 UTF-16 编码"
            elif _decodes(data, "big5"):
                hint = "看起来是 Big5 编码"
            else:
                hint = "可能是 Big5 或 Latin-1 等编码"
            raise problems.fail(row, None, f"文件不是 UTF-8 或 GBK 编码（{hint}），{resave}") from None
    if "\x00" in text:
        row = _first_record_with(text, re.compile("\x00"))
        if text.count("\x00") * 4 > len(text):
            raise problems.fail(None, None, f"文件看起来是没有 BOM 的 UTF-16 编码，{resave}")
        raise problems.fail(row, None, "文件含有空字符（NUL），不是文本文件")
    return text, encoding


#: Below this share of GB2312 characters a GBK reading is taken for mojibake. Real GBK text is
#: nearly all GB2312 (a rare character in a name aside); Big5 or Latin-1 bytes read as GBK land
#: in the GBK extension rows about half the time.
_GB2312_SHARE = 0.9


def _as_gbk(data: bytes) -> str | None:
    """`data` read as GBK (GB18030, its superset), when that yields Chinese text and not mojibake."""
    try:
        # A BOM (U+FEFF) is four bytes in GB18030: an editor may have written one.
        text = data.decode("gb18030").removeprefix("\ufeff")
    except UnicodeDecodeError:
        return None
    wide = _ASCII_RUNS.sub("", text)
    # Every character GB2312 lacks becomes one "?" (the text left has no ASCII "?" of its own).
    rare = wide.encode("gb2312", "replace").count(b"?")
    return text if wide and len(wide) - rare >= _GB2312_SHARE * len(wide) else None


_ASCII_RUNS = re.compile(r"[\x00-\x7f]+")


def _decodes(data: bytes, encoding: str) -> bool:
    try:
        data.decode(encoding)
    except UnicodeDecodeError:
        return False
    return True


def _cell(value: object) -> Cell:
    """Normalise a spreadsheet cell: numbers without '.0', dates as dates, text stripped, a cell
    with nothing visible in it (spaces, zero-width characters) empty."""
    if value is None:
        return None
    if isinstance(value, _Uncomputed):
        return value
    if isinstance(value, dt.datetime):
        # A date typed into Excel comes back as midnight; keep a real time of day when there is one.
        return value.date() if value.time() == dt.time() else value.replace(tzinfo=None)
    if isinstance(value, dt.date):
        return value
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    text = str(value).strip()
    if text.startswith("'") and _GUARDED_FORMULA.match(text):
        text = text[1:]  # the apostrophe our CSV export puts before =, +, - and @ (see _csv_cell)
    if not text or (not text.isascii() and _BLANK.fullmatch(text)):
        return None
    return text


_CSV_ERRORS = (
    ("unexpected end of data", "引号未配对：从本行开始的带引号的单元格直到文件末尾都没有结束的引号"),
    ("expected after", "引号使用不规范：结束引号后应紧跟逗号（单元格内的引号请写成两个引号 \"\"）"),
    ("field larger than field limit", f"单元格内容过长（超过 {MAX_CELL_CHARS} 个字符），可能是引号未配对"),
)


def _read_csv(path: Path, problems: _Problems) -> _Table:
    data = _read_bytes(path, problems, MAX_TABLE_BYTES)
    if data.startswith(_ZIP_MAGIC):
        raise problems.fail(None, None, "这是 Excel（.xlsx）文件而不是 CSV：请把扩展名改为 .xlsx")
    if data.startswith(_CFB_MAGIC):
        raise problems.fail(None, None, "这是旧版 Excel（.xls）或加密的文件而不是 CSV：请另存为“CSV UTF-8”")
    text, encoding = _decode(data, problems)
    del data
    rows: list[Row] = []
    # strict: a quote left open runs to the end of the file instead of silently swallowing rows.
    reader = csv.reader(io.StringIO(text, newline=""), strict=True, delimiter=_delimiter(text))
    number = 0
    try:
        for number, cells in enumerate(reader, start=1):
            rows.append((number, [_cell(c) for c in cells[:MAX_COLUMNS]]))
    except csv.Error as exc:
        reason = str(exc)
        message = next((zh for en, zh in _CSV_ERRORS if en in reason), "CSV 格式错误（请检查引号和逗号）")
        raise problems.fail(number + 1, None, message) from None
    return _Table(rows, "csv", encoding)


def _delimiter(text: str) -> str:
    """Tab for a tab-separated file (Excel's “文本文件（制表符分隔）” and “Unicode 文本”, or cells
    pasted from a sheet): its first line with either has tabs and no comma. That is the header,
    or a title above it; a comma in a cell further down (措施乙,丙) does not count. A comma otherwise."""
    for line in text[:20_000].splitlines()[:20]:
        if "\t" in line or "," in line:
            return "\t" if "," not in line else ","
    return ","


def _read_xlsx(
    path: Path, problems: _Problems, meter: Callable[[int, int], None], wanted: Callable[[list[Row]], bool]
) -> _Table:
    unreadable = "无法读取 Excel 文件：文件已损坏或不是 .xlsx 格式（请在 Excel 中另存为 .xlsx）"
    try:
        with path.open("rb") as handle:
            magic = handle.read(8)
        size = path.stat().st_size
    except OSError as exc:
        raise problems.fail(None, None, _os_reason(exc)) from None
    if magic.startswith(_CFB_MAGIC):
        raise problems.fail(None, None, "文件设置了打开密码或是旧版 .xls 格式：请取消密码并另存为 .xlsx 后再导入")
    if size > MAX_TABLE_BYTES:
        raise problems.fail(None, None, _too_large(size, MAX_TABLE_BYTES))
    if not magic.startswith(_ZIP_MAGIC):
        raise problems.fail(None, None, unreadable)
    try:
        with zipfile.ZipFile(path) as archive:
            if sum(info.file_size for info in archive.infolist()) > MAX_XLSX_UNPACKED_BYTES:
                raise problems.fail(None, None, "Excel 文件解压后过大，疑似损坏或恶意文件")
            rows, sheet_note = _XlsxReader(archive, problems).rows(meter, wanted)
            return _Table(rows, "xlsx", sheet_note=sheet_note)
    except ImportFailed:
        raise
    except Exception:  # a damaged zip or XML fails in many ways; all mean the same to a person
        log.debug("cannot read %s", path, exc_info=True)
        raise problems.fail(None, None, unreadable) from None


_XLSX_MAIN = ("http://schemas.openxmlformats.org/spreadsheetml/2006/main",
              "http://purl.oclc.org/ooxml/spreadsheetml/main")  # transitional, strict
_XLSX_ESCAPE = re.compile(r"_x([0-9A-Fa-f]{4})_")
# Built-in number formats that are dates or times: the international ones and those Excel and WPS
# use for Chinese dates (27–36, 50–58, e.g. 31 = yyyy"年"m"月"d"日"), which a file may reference
# without defining them.
_XLSX_DATE_FORMATS = frozenset([*range(14, 23), *range(27, 37), *range(45, 48), *range(50, 59)])


_LOCAL_NAMES: dict[str, str] = {}


def _local(tag: str) -> str:
    """An XML tag without its namespace (transitional and strict .xlsx files alike)."""
    name = _LOCAL_NAMES.get(tag)
    if name is None:
        name = _LOCAL_NAMES[tag] = tag.rpartition("}")[2]
    return name


class _Counting:
    """A binary stream that counts what has been read from it (progress through a sheet)."""

    def __init__(self, raw: Any) -> None:
        self.raw = raw
        self.count = 0

    def read(self, size: int = -1) -> bytes:
        data: bytes = self.raw.read(size)
        self.count += len(data)
        return data


class _XlsxReader:
    """Reads the values of one worksheet straight from the .xlsx zip: in one streaming pass, with
    the cached result of each formula and the formulas that have none, and the merged ranges.

    (openpyxl's read-only mode is about ten times slower on a 100,000-row sheet, cannot tell an
    uncomputed formula from an empty cell without a second pass, and reads no merged cells.)
    """

    def __init__(self, archive: zipfile.ZipFile, problems: _Problems) -> None:
        self.archive = archive
        self.problems = problems

    def _xml(self, name: str) -> Any:
        from xml.etree import ElementTree

        data = self.archive.read(name)
        self._refuse_dtd(data[:4096])
        return ElementTree.fromstring(data)

    def _refuse_dtd(self, head: bytes) -> None:
        # No part of an .xlsx has a DTD; one is an entity-expansion attack, not a spreadsheet.
        if b"<!DOCTYPE" in head or b"<!ENTITY" in head:
            raise self.problems.fail(None, None, "Excel 文件含有不允许的 XML 声明，疑似恶意文件")

    def _relationships(self, part: str) -> dict[str, tuple[str, str]]:
        """Id → (type, part path) for the relationships of `part`."""
        import posixpath

        folder, name = posixpath.split(part)
        rels_name = posixpath.join(folder, "_rels", name + ".rels")
        if rels_name not in self.archive.NameToInfo:
            return {}
        found = {}
        for rel in self._xml(rels_name):
            target = rel.get("Target", "")
            if rel.get("TargetMode") == "External":
                continue
            if target.startswith("/"):
                target = target.lstrip("/")
            else:
                target = posixpath.normpath(posixpath.join(folder, target))
            found[rel.get("Id", "")] = (rel.get("Type", "").rpartition("/")[2], target)
        return found

    def rows(self, meter: Callable[[int, int], None], wanted: Callable[[list[Row]], bool]) -> tuple[list[Row], str]:
        """The rows of the sheet to import: the sheet Excel opens at (the active one), or, when
        that holds nothing `wanted` (a 说明 or 汇总 sheet the file was saved on), the first other
        visible worksheet that does, with a sentence naming both for the report ("" otherwise)."""
        book_part = next((target for kind, target in self._relationships("").values() if kind == "officeDocument"),
                         "xl/workbook.xml")
        book = self._xml(book_part)
        rels = self._relationships(book_part)
        epoch_1904 = False
        active = 0
        sheets: list[tuple[str, str, str, str]] = []  # (state, relationship type, part, name)
        for element in book.iter():
            tag = _local(element.tag)
            if tag == "workbookPr":
                epoch_1904 = element.get("date1904", "").lower() in ("1", "true")
            elif tag == "workbookView":
                active = int(element.get("activeTab", "0") or 0)
            elif tag == "sheet":
                rel_id = next((v for k, v in element.attrib.items() if _local(k) == "id"), "")
                kind, target = rels.get(rel_id, ("", ""))
                sheets.append((element.get("state", "visible"), kind, target, element.get("name", "")))
        # A chart sheet has no cells: then the first visible worksheet.
        worksheets = [s for s in sheets if s[1] == "worksheet" and s[2] in self.archive.NameToInfo]
        if not worksheets:
            raise self.problems.fail(None, None, "Excel 文件中没有工作表")
        chosen = sheets[active] if 0 <= active < len(sheets) else worksheets[0]
        if chosen not in worksheets:
            chosen = next((s for s in worksheets if s[0] == "visible"), worksheets[0])
        strings: list[str] = []
        dates: list[bool] = []
        for kind, target in rels.values():
            if kind == "sharedStrings" and target in self.archive.NameToInfo:
                strings = self._shared_strings(target)
            elif kind == "styles" and target in self.archive.NameToInfo:
                dates = self._date_styles(target)
        rows = self._sheet(chosen[2], strings, dates, epoch_1904, meter)
        if not wanted(rows):
            for other in worksheets:
                if other is chosen or other[0] != "visible":
                    continue
                other_rows = self._sheet(other[2], strings, dates, epoch_1904, meter)
                if wanted(other_rows):
                    shown, opened = _quote(other[3], 20), _quote(chosen[3], 20)
                    return other_rows, f"已读取工作表「{shown}」（打开时显示的「{opened}」中没有表头）"
        return rows, ""

    def _shared_strings(self, part: str) -> list[str]:
        from xml.etree import ElementTree

        strings: list[str] = []
        with self.archive.open(part) as source:
            self._refuse_dtd(source.read(4096))
        with self.archive.open(part) as source:
            for _, element in ElementTree.iterparse(source):
                if _local(element.tag) == "si":
                    strings.append(self._text(element))
                    element.clear()
        return strings

    @staticmethod
    def _text(element: Any) -> str:
        """The text of a string item: plain, or the runs of rich text (not the phonetic guide)."""
        parts: list[str] = []
        for child in element:
            tag = _local(child.tag)
            if tag == "t":
                parts.append(child.text or "")
            elif tag == "r":
                parts.extend(t.text or "" for t in child if _local(t.tag) == "t")
        text = "".join(parts)
        if "_x" in text:  # Excel writes control characters as _xHHHH_
            text = _XLSX_ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), text)
        return text

    def _date_styles(self, part: str) -> list[bool]:
        from openpyxl.styles.numbers import is_date_format

        styles = self._xml(part)
        custom: dict[int, bool] = {}
        dates: list[bool] = []
        for element in styles:
            tag = _local(element.tag)
            if tag == "numFmts":
                for fmt in element:
                    custom[int(fmt.get("numFmtId", "0"))] = bool(is_date_format(fmt.get("formatCode", "")))
            elif tag == "cellXfs":
                for xf in element:
                    number_format = int(xf.get("numFmtId", "0"))
                    dates.append(custom.get(number_format, number_format in _XLSX_DATE_FORMATS))
        return dates

    def _sheet(
        self, part: str, strings: list[str], dates: list[bool], epoch_1904: bool, meter: Callable[[int, int], None]
    ) -> list[Row]:
        from xml.etree import ElementTree

        from openpyxl.utils.cell import column_index_from_string, range_boundaries
        from openpyxl.utils.datetime import CALENDAR_MAC_1904, CALENDAR_WINDOWS_1900, from_excel

        epoch = CALENDAR_MAC_1904 if epoch_1904 else CALENDAR_WINDOWS_1900
        total = self.archive.getinfo(part).file_size
        with self.archive.open(part) as source:
            self._refuse_dtd(source.read(4096))
        columns: dict[str, int] = {}
        rows: dict[int, list[Cell]] = {}
        merges: list[tuple[int, int, int, int]] = []
        row_no = 0
        values: list[Cell] = []
        column = 0
        with self.archive.open(part) as raw:
            counting = _Counting(raw)
            for _, element in ElementTree.iterparse(counting):
                tag = _local(element.tag)
                if tag == "c":
                    ref = element.get("r")
                    if ref:
                        letters = ref.rstrip("0123456789")
                        column = columns.get(letters) or columns.setdefault(letters, column_index_from_string(letters))
                    else:
                        column += 1
                    if column <= MAX_COLUMNS:
                        value = self._value(element, strings, dates, epoch, from_excel)
                        if value is not None:
                            if column > len(values):
                                values.extend([None] * (column - len(values)))
                            values[column - 1] = value
                elif tag == "row":
                    number = element.get("r")
                    row_no = int(number) if number else row_no + 1
                    rows[row_no] = values
                    values = []
                    column = 0
                    element.clear()
                    if row_no % 2000 == 0:
                        meter(counting.count, total)
                elif tag == "mergeCell":
                    merges.append(range_boundaries(element.get("ref", "")))
        _fill_merged(rows, merges)
        return sorted(rows.items())

    @staticmethod
    def _value(element: Any, strings: list[str], dates: list[bool], epoch: dt.datetime, from_excel: Any) -> Cell:
        kind = element.get("t", "n")
        text: str | None = None
        has_formula = False
        inline = None
        for child in element:
            tag = _local(child.tag)
            if tag == "v":
                text = child.text
            elif tag == "f":
                has_formula = True
                formula = child.text or ""
            elif tag == "is":
                inline = child
        # A formula written by a program (openpyxl, pandas …) has no result until Excel computes
        # it: no <v>, or an empty one. An empty text result is written as t="str" with <v></v>.
        if has_formula and not text and kind != "str":
            return _Uncomputed("=" + formula)
        if kind == "inlineStr":
            return _cell(_XlsxReader._text(inline)) if inline is not None else None
        if text is None:
            return "" if kind == "str" else None
        if kind == "s":
            return _cell(strings[int(text)])
        if kind in ("str", "e"):
            return _cell(text)
        if kind == "b":
            return _cell(text.strip() in ("1", "true"))
        if kind == "d":
            try:
                return _cell(dt.datetime.fromisoformat(text))
            except ValueError:
                return _cell(text)
        number: int | float = int(text) if text.lstrip("-").isdigit() else float(text)
        style = int(element.get("s", "0") or 0)
        if style < len(dates) and dates[style]:
            try:
                return _cell(from_excel(number, epoch))
            except (OverflowError, ValueError):
                pass
        return _cell(number)


def _fill_merged(rows: dict[int, list[Cell]], merges: Sequence[tuple[int, int, int, int]]) -> None:
    """A merged cell holds its value in the top-left corner only; a person means it for every row
    it spans (责任单位 merged down five rows is the unit of all five). The value stays in the
    range's first column: a merge across columns is layout, not a second copy of the value. Rows
    with nothing else in them stay empty."""
    numbers = sorted(rows)
    blank = {n for n, row in rows.items() if all(c is None for c in row)}
    budget = 50_000_000  # cells touched: bounds a file declaring absurd merged ranges
    for min_col, min_row, max_col, max_row in merges:
        if min_col > MAX_COLUMNS:
            continue
        max_col = min(max_col, MAX_COLUMNS)
        top = rows.get(min_row, [])
        value = top[min_col - 1] if min_col <= len(top) else None
        for row_no in numbers[bisect.bisect_left(numbers, min_row):bisect.bisect_right(numbers, max_row)]:
            budget -= max_col - min_col + 1
            if budget < 0:
                raise ValueError("too many merged cells")
            row = rows[row_no]
            if len(row) < max_col:
                row.extend([None] * (max_col - len(row)))
            for column in range(min_col + 1, max_col + 1):
                row[column - 1] = None
            if row_no not in blank:
                row[min_col - 1] = value


def _read_table(
    path: Path, problems: _Problems, meter: Callable[[int, int], None], mapping: Callable[[str], str | None]
) -> _Table:
    suffix = path.suffix.lower()
    if suffix in (".csv", ".tsv", ".txt"):
        return _read_csv(path, problems)
    if suffix in (".xlsx", ".xlsm"):
        return _read_xlsx(path, problems, meter, lambda rows: _looks_like(rows, mapping))
    hint = "（请在 Excel 中另存为 .xlsx）" if suffix in (".xls", ".et", ".ods", ".numbers") else ""
    raise problems.fail(None, None, f"不支持的文件类型「{_quote(suffix) or '无扩展名'}」，"
                                    f"应为 .csv、.xlsx 或制表符分隔的 .txt{hint}")


# ---- tables: header and cells -------------------------------------------------------------------

@dataclass
class _Header:
    row: int
    columns: dict[str, int]  # our column name → index in the row
    width: int  # non-empty header cells
    mapping: Callable[[str], str | None]
    ignored: list[str] = field(default_factory=list)  # header cells naming no column of ours
    duplicates: list[tuple[str, str]] = field(default_factory=list)  # (a column set aside, the one read)

    def repeats(self, cells: list[Cell]) -> bool:
        """A copy of the header further down (two files pasted together, a printed 台账)."""
        return all(
            index < len(cells) and cells[index] is not None and self.mapping(str(cells[index])) == name
            for name, index in self.columns.items()
        )


def _find_header(
    table: _Table, mapping: Callable[[str], str | None], required: Sequence[str], problems: _Problems,
    other_kind: tuple[Callable[[str], str | None], str] | None = None,
) -> tuple[_Header, list[Row]]:
    """Locate the header row (a 台账 often starts with a title row) and map its columns. A header
    in two rows (责任落实 over 责任单位 · 责任人 · 分管领导) is read as one."""
    first_text: str | None = None

    def read(row_no: int, cells: list[Cell]) -> tuple[dict[str, int], list[int]]:
        columns: dict[str, int] = {}
        ranks: dict[str, int] = {}
        set_aside: list[int] = []
        for index, cell in enumerate(cells):
            name = _header_name(cell, mapping)
            if name is None:
                continue
            # A column named exactly (责任单位) wins over one only resembling it (牵头单位), which a
            # real 台账 may have beside it, and one without a note over one with (责任人（签字）);
            # two columns of the same standing are ambiguous.
            rank = _header_rank(str(cell))
            if name in columns and rank == ranks[name]:
                raise problems.fail(row_no, name, f"表头中有两列都是「{name}」（第{columns[name] + 1}列和"
                                                  f"第{index + 1}列），请删除或改名其中一列")
            if name not in columns or rank > ranks[name]:
                if name in columns:
                    set_aside.append(columns[name])
                columns[name], ranks[name] = index, rank
            else:
                set_aside.append(index)
        return columns, set_aside

    for position, (row_no, cells) in enumerate(table.rows):
        if row_no > 20:
            break
        if all(c is None for c in cells):
            continue
        if first_text is None:
            first_text = " ".join(str(c) for c in cells if c is not None)
        columns, set_aside = read(row_no, cells)
        # One recognised word may be a title ("整改措施"); a header names several columns.
        if len(columns) >= min(2, len(required)):
            start = position + 1
            below = next((i for i in range(start, len(table.rows)) if any(c is not None for c in table.rows[i][1])),
                         None)
            if below is not None:
                joined = _with_subheader(cells, table.rows[below][1], mapping)
                if joined is not None:
                    cells, start = joined, below + 1
                    columns, set_aside = read(row_no, cells)
            missing = [c for c in required if c not in columns]
            if missing:
                # Named as the file names its columns (a Chinese 台账: 责任人), with what was found.
                chinese = any(_CJK_TEXT.search(str(c)) for c in cells if c is not None)
                names = [_ZH_NAMES.get(c, c) if chinese else c for c in missing]
                found = "、".join(_quote(c, 20) for c in cells if c is not None)
                other = (f"；这个文件看起来是{other_kind[1]}"
                         if other_kind is not None and _looks_like(table.rows, other_kind[0]) else "")
                raise problems.fail(row_no, ", ".join(names), f"表头缺少必需的列「{'、'.join(names)}」"
                                                             f"（找到的列：{found}）{other}", no_header=bool(other))
            width = sum(1 for c in cells if c is not None)
            problems.labels = {name: _quote(cells[index], 20) for name, index in columns.items()}
            used = set(columns.values())
            ignored = list(dict.fromkeys(_quote(c, 20) for i, c in enumerate(cells)
                                         if c is not None and i not in used and i not in set_aside))
            duplicates = [(_quote(cells[i], 20), problems.labels[str(mapping(str(cells[i])))])
                          for i in sorted(set_aside)]
            return (_Header(row_no, columns, width, mapping, [c for c in ignored if c], duplicates),
                    table.rows[start:])
    hint = ""
    # (A tab-separated file is read as such; a semicolon is what a European Excel writes.)
    if first_text is not None and "," not in first_text and ";" in first_text:
        hint = "；分隔符应为英文逗号“,”"
    if other_kind is not None and _looks_like(table.rows, other_kind[0]):
        hint += f"；这个文件看起来是{other_kind[1]}"
    expected = f"{', '.join(required)}（或 {'、'.join(_ZH_NAMES.get(c, c) for c in required)}）"
    raise problems.fail(None, None, f"找不到表头（应包含 {expected} 等列{hint}）", no_header=True)


def _header_name(cell: Cell, mapping: Callable[[str], str | None]) -> str | None:
    return mapping(str(cell)) if cell is not None and not isinstance(cell, _Uncomputed) else None


def _with_subheader(header: list[Cell], below: list[Cell], mapping: Callable[[str], str | None]) -> list[Cell] | None:
    """The header completed by the row below it when that row is the second row of a two-row
    header: it names a column under a group heading (责任落实 → 责任单位, 责任人) or a blank, and
    holds nothing else but blanks and the cells above it again (Excel's merged cells copied down).
    None when the row below is data."""
    joined = list(header) + [None] * max(0, len(below) - len(header))
    names_more = False
    for index, cell in enumerate(below):
        if cell is None:
            continue
        above = joined[index]
        name = _header_name(cell, mapping)
        if name is None:
            if cell != above:
                return None  # a value under a header: the data begins here
            continue
        if _header_name(above, mapping) not in (None, name):
            return None  # 编号 above 问题: not a header split in two
        names_more = names_more or _header_name(above, mapping) is None
        joined[index] = cell
    return joined if names_more else None


def _looks_like(rows: list[Row], mapping: Callable[[str], str | None]) -> bool:
    """Does a row near the top name at least two columns of the kind of file `mapping` reads?"""
    for row_no, cells in rows:
        if row_no > 20:
            return False
        if sum(1 for c in cells if c is not None and mapping(str(c)) is not None) >= 2:
            return True
    return False


_CJK_TEXT = re.compile(r"[\u4e00-\u9fff]")
#: Our column names as a Chinese header says them, for messages about a Chinese file.
_ZH_NAMES = {**MEASURE_HEADERS_ZH, "name": "姓名", "unit": "单位", "position": "职务", "role": "角色"}
_EXACT_HEADERS = frozenset([*MEASURE_COLUMNS, *MEASURE_HEADERS_ZH.values(), *CADRE_COLUMNS, *_CADRE_HEADERS_ZH])
# A note in brackets closing a header: 完成时限（年月日）, 责任人（签字）, deadline (YYYY-MM-DD).
_HEADER_NOTE = re.compile(r"(.+?)[（(][^（）()]*[）)]")


def _header_key(header: str) -> tuple[str, bool]:
    """A header as matched against the names we know, without its spaces and line breaks (整改⏎状态)
    or a closing note in brackets; and whether it had such a note."""
    key = clean_display(header).replace(" ", "")
    note = _HEADER_NOTE.fullmatch(key)
    return (note.group(1), True) if note else (key, False)


def _header_rank(header: str) -> int:
    """How surely a header names its column: exact (责任单位) before resembling (牵头单位), and
    without a note before with one."""
    key, noted = _header_key(header)
    exact = key in _EXACT_HEADERS or key.lower() in _EXACT_HEADERS
    return 2 * exact + (not noted)


def _measure_column(header: str) -> str | None:
    key, _ = _header_key(header)
    lowered = key.lower()
    if lowered in MEASURE_COLUMNS:
        return lowered
    for column, zh in MEASURE_HEADERS_ZH.items():
        if key == zh:
            return column
    return _MEASURE_ALIASES.get(key)


def _cadre_column(header: str) -> str | None:
    key, _ = _header_key(header)
    if key.lower() in CADRE_COLUMNS:
        return key.lower()
    return _CADRE_HEADERS_ZH.get(key) or _CADRE_ALIASES.get(key)


def _column_limit(column: Any) -> int | None:
    return getattr(column.type, "length", None)


def _looks_like_rows(text: str, width: int) -> bool:
    """A CSV cell spanning lines that hold whole comma-separated rows: an unpaired quote has
    swallowed the rows in between (a real line break inside a cell holds prose, not a row)."""
    return width >= 3 and any(line.count(",") >= width - 1 for line in text.splitlines()[1:])


def _check_cells(row_no: int, cells: list[Cell], header: _Header, kind: str, problems: _Problems) -> set[str]:
    """Problems with the cells themselves, whatever column they are in; the bad columns."""
    bad: set[str] = set()
    for name, index in header.columns.items():
        if index >= len(cells):
            continue
        value = cells[index]
        if not isinstance(value, str):
            continue
        message = None
        if isinstance(value, _Uncomputed):
            message = (f"公式「{_quote(value)}」没有计算结果（文件不是由 Excel 保存的）："
                       "请在 Excel 中打开后保存，或复制后“选择性粘贴为数值”")
        elif value in _EXCEL_ERRORS:
            message = f"单元格是 Excel 错误值「{value}」，请修正公式或改为文本"
        elif _BAD_CHARS.search(value):
            message = "含有不允许的字符（空字符或不成对的代理字符）"
        elif len(value) > MAX_CELL_CHARS:
            message = f"内容过长（最多 {MAX_CELL_CHARS} 个字符）"
        elif kind == "csv" and "\n" in value and _looks_like_rows(value, header.width):
            message = "单元格中包含多行逗号分隔的内容，可能是引号未配对，吞掉了后面的行"
        if message:
            problems.add(row_no, name, message)
            bad.add(name)
    return bad


def _value(cells: list[Cell], columns: dict[str, int], name: str) -> Cell:
    index = columns.get(name)
    if index is None or index >= len(cells):
        return None
    return cells[index]


def _str(value: Cell) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.isoformat(" ", "minutes" if value.second == 0 and not value.microsecond else "seconds")
    return value.isoformat() if isinstance(value, dt.date) else clean_display(value)


def _long_text(value: Cell) -> str:
    """问题, 整改措施 and 进展 keep their line breaks (a numbered list typed with Alt+Enter)."""
    return clean_multiline(value) if isinstance(value, str) else _str(value)


def _report(progress: Progress | None, done: int, total: int) -> None:
    if progress is not None:
        progress(done, total)


async def _load_table(
    path: Path, problems: _Problems, meter: _Meter, share: float, mapping: Callable[[str], str | None]
) -> _Table:
    """Read and decode the whole file off the event loop (a large XLSX takes seconds); reading
    an XLSX is reported as the first `share` of the progress. `mapping` names the columns of the
    kind of file expected, to find its sheet in a workbook."""

    def on_rows(done: int, expected: int) -> None:
        if expected > 0:
            meter.size = max(meter.size, expected)
            meter(share * done / expected)

    return await asyncio.to_thread(_read_table, path, problems, on_rows, mapping)


# ---- cadres -------------------------------------------------------------------------------------

async def import_cadres(
    session: AsyncSession, path: Path, progress: Progress | None = None, *, actor: Cadre | None = None
) -> ImportReport:
    """Upsert cadres by name. A column the file lacks, or an empty 角色 cell, leaves what an
    existing cadre has: a list of names and units must not demote every leader and admin.
    `actor` is the admin importing in chat, who cannot take away their own admin role."""
    problems = _Problems(path.name)
    table = await _load_table(path, problems, _Meter(None), 0, _cadre_column)
    header, rows = _find_header(table, _cadre_column, ("name",), problems,
                                other_kind=(_measure_column, "整改台账，请用 zhenggai import measures 导入"))
    columns = header.columns
    parsed: dict[str, tuple[int, dict[str, Any]]] = {}
    limits = {c: _column_limit(Cadre.__table__.c[c]) for c in CADRE_COLUMNS if c != "role"}
    for row_no, cells in rows:
        if all(c is None for c in cells) or header.repeats(cells):
            continue
        bad = _check_cells(row_no, cells, header, table.kind, problems)
        if "name" in bad:
            continue
        name = person_name(_str(_value(cells, columns, "name")))
        if not name:
            problems.add(row_no, "name", "姓名不能为空")
            continue
        values: dict[str, Any] = {"name": name}
        for column in ("unit", "position"):
            if column in columns:
                values[column] = _str(_value(cells, columns, column))
        for column, limit in limits.items():
            if limit and len(values.get(column, "")) > limit and column not in bad:
                problems.add(row_no, column, f"内容过长（最多 {limit} 个字符）")
        role_text = _str(_value(cells, columns, "role")).lower().replace(" ", "")
        if role_text:
            role = _ROLE_WORDS.get(role_text)
            if role is None and "role" not in bad:
                problems.add(row_no, "role", f"未知的角色「{_quote(role_text)}」，应为 管理员（admin）、"
                                             "分管领导（leader）或 责任人（cadre）")
            values["role"] = role
        if name in parsed:
            problems.add(row_no, "name", f"姓名「{_quote(name)}」与第{parsed[name][0]}行重复")
        parsed[name] = (row_no, values)
    problems.raise_if_any()

    report = ImportReport("干部", ignored=header.ignored, duplicates=header.duplicates,
                          encoding=table.encoding, sheet_note=table.sheet_note)
    # Keyed as names are now stored, so a 张 伟 imported before matches 张伟 (and is renamed so).
    existing = {person_name(c.name): c for c in await session.scalars(select(Cadre))}
    _check_admins_remain(existing, parsed, actor, problems)
    for done, (name, (_, values)) in enumerate(parsed.items(), start=1):
        cadre = existing.get(name)
        if cadre is None:
            session.add(Cadre(**{"unit": "", "position": "", "role": Role.CADRE, **values}))
            report.created += 1
        elif any(getattr(cadre, k) != v for k, v in values.items()):
            for key, value in values.items():
                setattr(cadre, key, value)
            report.updated += 1
        else:
            report.unchanged += 1
        _report(progress, done, len(parsed))
    await session.flush()
    return report


def _check_admins_remain(existing: dict[str, Cadre], parsed: dict[str, tuple[int, dict[str, Any]]],
                        actor: Cadre | None, problems: _Problems) -> None:
    """Refuse a cadre list that would leave the bot without an admin, or take the importing admin's
    own role away: either locks the bureau out of imports, exports and invitations."""
    demoted = {name: row for name, (row, values) in parsed.items()
               if name in existing and existing[name].role is Role.ADMIN
               and values.get("role", Role.ADMIN) is not Role.ADMIN}
    own = person_name(actor.name) if actor is not None else None
    if own in demoted:
        problems.add(demoted[own], "role", "不能取消您本人的管理员角色（如需调整，请由其他管理员导入）")
    remaining = {name for name, c in existing.items() if c.role is Role.ADMIN} - demoted.keys()
    remaining |= {name for name, (_, values) in parsed.items() if values.get("role") is Role.ADMIN}
    if demoted and not remaining:
        for name, row in demoted.items():
            problems.add(row, "role", f"导入后将没有任何管理员：「{_quote(name)}」是最后的管理员之一，请至少保留一名")
    problems.raise_if_any()


# ---- measures -----------------------------------------------------------------------------------

def _status_key(text: str) -> str:
    return clean_display(text).replace(" ", "").replace("（", "(").replace("）", ")").lower()


def parse_status(text: str) -> MeasureStatus | None:
    """A status as written in a 台账 or typed: Chinese label or English code; '' → 未开始."""
    key = _status_key(text)
    if not key:
        return MeasureStatus.NOT_STARTED
    return _STATUS_WORDS.get(key)


#: Said by staff, but meaning either 未开始 or 进行中: the file must say which.
_AMBIGUOUS_STATUS = frozenset({"未完成", "没完成", "未办结"})


def _status_problem(text: str) -> str:
    if _status_key(text) in _AMBIGUOUS_STATUS:
        return f"状态「{_quote(text)}」不明确：还没开始的请写“未开始”，正在整改的请写“进行中”"
    return (f"未知的状态「{_quote(text)}」，应为 未开始（未整改）、进行中（整改中、正在整改）、"
            "已完成（已整改）、已销号 之一")


#: Statuses in the order a measure moves through them (as `MeasureStatus` declares them); an
#: import may not move one back.
_STATUS_ORDER = {status: rank for rank, status in enumerate(MeasureStatus)}


@dataclass
class _MeasureRow:
    row: int
    values: dict[str, Any]


_COMPARED = ("code", "problem", "measure", "category", "unit", "deadline", "status", "progress")
_CHUNK = 1000


async def import_measures(
    session: AsyncSession, path: Path, progress: Progress | None = None, *, actor: Cadre | None = None
) -> ImportReport:
    """Upsert measures by code. An empty 状态 leaves an existing measure's status as it is, and no
    row may move a status back (已完成 → 进行中): the file is older than what was done in the bot.
    `actor` is the admin importing in chat: named in the audit trail, and, as in chat, unable to
    sign off (已销号) a measure they are responsible for themselves."""
    problems = _Problems(path.name)
    meter = _Meter(progress)
    # Share of the progress bar per stage: reading an XLSX is slow, reading a CSV is not.
    read_share = 0.5 if path.suffix.lower() in (".xlsx", ".xlsm") else 0.0
    check_share = 0.5 if read_share == 0 else 0.2
    table = await _load_table(path, problems, meter, read_share, _measure_column)
    required = ("code", "problem", "measure", "owner")
    header, rows = _find_header(table, _measure_column, required, problems,
                                other_kind=(_cadre_column, "干部名单，请用 zhenggai import cadres 导入"))
    columns = header.columns
    meter.size = max(meter.size, len(rows))
    # 张　伟, padded to line up with three-character names, is 张伟.
    cadres = {person_name(c.name): c for c in await session.scalars(select(Cadre))}
    limits = {c: _column_limit(Measure.__table__.c[c]) for c in ("code", "category", "unit")}

    parsed: dict[str, _MeasureRow] = {}
    skipped: list[str] = []
    for index, (row_no, cells) in enumerate(rows, start=1):
        if index % _CHUNK == 0:
            meter(read_share + check_share * index / len(rows))
        if all(c is None for c in cells) or header.repeats(cells):
            continue
        heading = _heading(cells, columns)
        if heading is not None:
            skipped.append(heading)
            continue
        bad = _check_cells(row_no, cells, header, table.kind, problems)
        if "code" in bad:
            continue
        values: dict[str, Any] = {}
        # Codes are kept as the bureau writes them (XC-2024-01); comparisons use the canonical key.
        code = unicodedata.normalize("NFKC", _str(_value(cells, columns, "code"))).replace(" ", "")
        if not code_key(code):
            problems.add(row_no, "code", "编号不能为空" if not code else f"编号「{_quote(code)}」中没有字母或数字")
            continue
        values["code"] = code
        for column in ("problem", "measure"):
            values[column] = _long_text(_value(cells, columns, column))
            if not values[column] and column not in bad:
                problems.add(row_no, column, "不能为空")
        for column in ("category", "unit"):
            values[column] = _str(_value(cells, columns, column))
        values["progress"] = _long_text(_value(cells, columns, "progress"))
        for column, limit in limits.items():
            if limit and len(values[column]) > limit and column not in bad:
                problems.add(row_no, column, f"内容过长（最多 {limit} 个字符）")

        owner_name = person_name(_str(_value(cells, columns, "owner")))
        owner = cadres.get(owner_name)
        if "owner" in bad:
            pass
        elif not owner_name:
            problems.add(row_no, "owner", "责任人不能为空")
        elif owner is None:
            problems.add(row_no, "owner", f"未知的责任人「{_quote(owner_name)}」（请先导入干部名单）")
        values["owner"] = owner
        leader_name = person_name(_str(_value(cells, columns, "leader")))
        leader = cadres.get(leader_name) if leader_name else None
        if leader_name and leader is None and "leader" not in bad:
            problems.add(row_no, "leader", f"未知的分管领导「{_quote(leader_name)}」（请先导入干部名单）")
        values["leader"] = leader
        if leader is not None and owner is not None and leader.id == owner.id:
            # Nobody may sign off their own measure: with themselves as leader, no leader could.
            problems.add(row_no, "leader", f"分管领导与责任人不能是同一人「{_quote(leader_name)}」")
        if not values["unit"] and owner is not None and "unit" not in bad:
            values["unit"] = owner.unit

        deadline = _value(cells, columns, "deadline")
        if "deadline" not in bad:
            values["deadline"] = _deadline(row_no, deadline, problems)
        status_text = _str(_value(cells, columns, "status"))
        status = parse_status(status_text) if status_text else None
        if status_text and status is None and "status" not in bad:
            problems.add(row_no, "status", _status_problem(status_text))
        values["status"] = status  # None: not stated (a new measure has not started)

        key = code_key(code)
        if key in parsed:
            problems.add(row_no, "code", f"编号「{_quote(code)}」与第{parsed[key].row}行重复")
        else:
            parsed[key] = _MeasureRow(row_no, values)
    problems.raise_if_any()
    if not parsed:
        raise problems.fail(None, None, "文件中没有任何整改措施")

    report = ImportReport("整改措施", ignored=header.ignored, duplicates=header.duplicates, skipped=skipped,
                          encoding=table.encoding, sheet_note=table.sheet_note)
    start = read_share + check_share
    await _write_measures(session, parsed, cadres.values(), report, problems,
                          lambda fraction: meter(start + (1 - start) * fraction), actor)
    meter(1.0)
    return report


#: A section heading of a 台账 (一、教师待遇方面, （二）校舍安全): merged across the row, no measure.
_CN_ORDINAL = "[一二三四五六七八九十]+"
_SECTION = re.compile(rf"{_CN_ORDINAL}[、.．]|[（(]{_CN_ORDINAL}[)）]|第{_CN_ORDINAL}[部类项]分?")
_TOTALS = frozenset({"合计", "小计", "总计", "共计"})


def _heading(cells: list[Cell], columns: dict[str, int]) -> str | None:
    """The text of a row that is no measure: a section heading standing alone in its row, or a
    total (合计 in the code column); None for any other row (checked as a measure)."""
    filled = [c for c in cells if c is not None]
    code = cells[columns["code"]] if columns["code"] < len(cells) else None
    if isinstance(code, str) and code.replace(" ", "").replace("\u3000", "") in _TOTALS:
        return code
    if len(filled) == 1 and isinstance(filled[0], str) and _SECTION.match(filled[0].strip()):
        return filled[0]
    return None


def _deadline(row_no: int, value: Cell, problems: _Problems) -> dt.date | None:
    if isinstance(value, str) and len(value) > 40:
        problems.add(row_no, "deadline", f"无法识别的日期「{_quote(value, 20)}」，应为 {FILE_DATE_FORMS}")
        return None
    try:
        return parse_file_deadline(clean_display(value) if isinstance(value, str) else value)
    except DateFormatError as exc:
        problems.add(row_no, "deadline", clean_display(str(exc)))
        return None


async def _write_measures(
    session: AsyncSession, parsed: dict[str, _MeasureRow], cadres: Iterable[Cadre], report: ImportReport,
    problems: _Problems, progress: Callable[[float], None], actor: Cadre | None = None,
) -> None:
    """Insert new measures and update changed ones in bulk (SQLAlchemy core, a thousand rows a
    statement), with one `measure_events` row per created or changed measure."""
    await session.flush()  # anything the caller added (cadres just imported) must exist first
    names = {c.id: c.name for c in cadres}
    measures = cast(Table, Measure.__table__)
    events = cast(Table, MeasureEvent.__table__)
    existing = {
        code_key(row.code): row
        for row in await session.execute(
            select(measures.c.id, measures.c.version, measures.c.owner_id, measures.c.leader_id,
                   *(measures.c[k] for k in _COMPARED))
        )
    }
    creates: list[dict[str, Any]] = []
    updates: list[tuple[Any, _MeasureRow, dict[str, list[Any]]]] = []
    actor_id = actor.id if actor is not None else None
    # Excel turns a code typed as 001 into the number 1: such a "new" code is an existing one.
    numeric = {int(k): row.code for k, row in existing.items() if k.isdigit()}
    for key, item in parsed.items():
        values = item.values
        old = existing.get(key)
        if old is None and key.isdigit() and int(key) in numeric:
            known = _quote(numeric[int(key)])
            problems.add(item.row, "code", f"编号「{_quote(values['code'])}」与已有的「{known}」只差前导零"
                                           "（Excel 会去掉纯数字编号前面的 0）：请把编号列设为文本并改回原编号，"
                                           "或改用 XLSX 文件")
            continue
        if (actor is not None and values["owner"].id == actor.id and values["status"] is MeasureStatus.CLOSED
                and (old is None or old.status is not MeasureStatus.CLOSED)):
            problems.add(item.row, "status", f"「{_quote(values['code'])}」由您本人负责，不能由您本人销号"
                                             "（请由分管领导或其他管理员销号）")
        if old is None:
            values["status"] = values["status"] or MeasureStatus.NOT_STARTED
            creates.append(values)
            continue
        if values["status"] is None:
            values["status"] = old.status
        elif _STATUS_ORDER[values["status"]] < _STATUS_ORDER[old.status]:
            problems.add(item.row, "status", f"「{_quote(values['code'])}」现为「{old.status.label}」，文件中为"
                                             f"「{values['status'].label}」：导入不能把状态改回去（文件可能早于"
                                             "机器人中的办理）。请先导出最新台账再改；需要退回的请在机器人中退回")
            continue
        changes: dict[str, list[Any]] = {}
        for column in _COMPARED:
            before, after = getattr(old, column), values[column]
            if before != after:
                changes[column] = [_jsonable(before), _jsonable(after)]
        owner: Cadre = values["owner"]
        leader: Cadre | None = values["leader"]
        if old.owner_id != owner.id:
            changes["owner"] = [names.get(old.owner_id, ""), owner.name]
        if old.leader_id != (leader.id if leader else None):
            changes["leader"] = [names.get(old.leader_id, "") if old.leader_id else "", leader.name if leader else ""]
        if changes:
            updates.append((old, item, changes))
        else:
            report.unchanged += 1
    problems.raise_if_any()
    report.details = _changes_described(creates, updates)
    total = max(1, len(creates) + len(updates))
    done = 0
    now = utcnow()

    def fields(values: dict[str, Any]) -> dict[str, Any]:
        row = {k: values[k] for k in _COMPARED}
        row["owner_id"] = values["owner"].id
        row["leader_id"] = values["leader"].id if values["leader"] is not None else None
        return row

    for chunk in _chunks(creates, _CHUNK):
        # No RETURNING: SQLite cannot promise its order and SQLAlchemy would fall back to one
        # INSERT per row. Codes are unique, so the new ids are read back by code instead.
        await session.execute(insert(measures), [
            {**fields(v), "version": 1, "created_at": now, "updated_at": now} for v in chunk
        ])
        ids = dict((await session.execute(
            select(measures.c.code, measures.c.id).where(measures.c.code.in_([v["code"] for v in chunk]))
        )).tuples().all())
        await session.execute(insert(events), [
            _event(ids[v["code"]], now, None, v["status"], "导入新增", {"created": True}, actor_id) for v in chunk
        ])
        report.created += len(chunk)
        done += len(chunk)
        progress(done / total)

    # Changed rows are locked and their version checked: a change someone made since they were
    # read above wins, and the import is refused rather than overwriting it unseen.
    statement = (
        update(measures)
        .where(measures.c.id == bindparam("b_id"), measures.c.version == bindparam("b_version"))
        .values({**{k: bindparam(f"b_{k}") for k in (*_COMPARED, "owner_id", "leader_id")},
                 "version": measures.c.version + 1, "updated_at": now})
    )
    for chunk_updates in _chunks(updates, _CHUNK):
        locked = [old.id for old, _, _ in chunk_updates]
        current = dict((await session.execute(
            select(measures.c.id, measures.c.version).where(measures.c.id.in_(locked)).with_for_update()
        )).tuples().all())
        for old, item, _ in chunk_updates:
            if current.get(old.id) != old.version:
                raise problems.fail(item.row, "code", f"编号「{_quote(item.values['code'])}」的措施在导入过程中"
                                                      "被他人修改，请重新导入")
        await session.execute(statement, [
            {"b_id": old.id, "b_version": old.version, **{f"b_{k}": v for k, v in fields(item.values).items()}}
            for old, item, _ in chunk_updates
        ])
        await session.execute(insert(events), [
            _event(old.id, now, old.status if "status" in changes else None,
                   item.values["status"] if "status" in changes else None,
                   "导入更新：" + "、".join(changes), {"changes": changes}, actor_id)
            for old, item, changes in chunk_updates
        ])
        report.updated += len(chunk_updates)
        done += len(chunk_updates)
        progress(done / total)


#: Changed measures named one by one after an import; beyond, only counted.
DESCRIBED_CHANGES = 10


def _changes_described(creates: list[dict[str, Any]], updates: list[tuple[Any, _MeasureRow, dict[str, list[Any]]]]
                       ) -> list[str]:
    """新增：ZG2025031、… and one line per changed measure (状态 已完成 → 已销号, 进展): an admin sees
    what the file did, and a surprise (a code Excel turned into 2025001) shows at once."""
    lines: list[str] = []
    if creates:
        codes = "、".join(v["code"] for v in creates[:DESCRIBED_CHANGES])
        more = f" 等 {len(creates)} 项" if len(creates) > DESCRIBED_CHANGES else ""
        lines.append(f"新增：{codes}{more}")
    for _, item, changes in updates[:DESCRIBED_CHANGES]:
        said = []
        for column, (before, after) in changes.items():
            name = MEASURE_HEADERS_ZH.get(column, column)
            if column == "status":
                said.append(f"{name} {MeasureStatus(before).label} → {MeasureStatus(after).label}")
            else:
                said.append(name)
        lines.append(f"{item.values['code']}：{'、'.join(said)}")
    if len(updates) > DESCRIBED_CHANGES:
        lines.append(f"……另有 {len(updates) - DESCRIBED_CHANGES} 项更新")
    return lines


def _event(measure_id: int, at: dt.datetime, from_status: MeasureStatus | None, to_status: MeasureStatus | None,
           note: str, details: dict[str, Any], actor_id: int | None = None) -> dict[str, Any]:
    return {"measure_id": measure_id, "actor_id": actor_id, "at": at, "action": "import", "from_status": from_status,
            "to_status": to_status, "note": note, "evidence_kind": None, "evidence_file_id": None,
            "details": details}


def _chunks(items: Sequence[Any], size: int) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _jsonable(value: object) -> object:
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, MeasureStatus):
        return value.value
    return value


#: Rows between two progress reports while an export is built.
_EXPORT_STEP = 2000


async def export_measures(
    session: AsyncSession, path: Path, *, chinese_headers: bool = False, progress: Progress | None = None
) -> int:
    """Write the 台账 as CSV or XLSX with the import's columns; returns the number of rows. The
    file is built off the event loop (100,000 rows take seconds), reporting `progress`."""
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".xlsx"):
        raise ImportFailed([ImportProblem(path.name, None, None,
                                          f"不支持的导出类型「{suffix or '无扩展名'}」，应为 .csv 或 .xlsx")])
    header = [MEASURE_HEADERS_ZH[c] if chinese_headers else c for c in MEASURE_COLUMNS]
    rows = await export_rows(session)
    build = measures_csv if suffix == ".csv" else measures_xlsx
    data = await asyncio.to_thread(build, header, rows, progress)
    await asyncio.to_thread(_write_whole, path, data)
    return len(rows)


async def export_rows(session: AsyncSession) -> list[list[str]]:
    """Every measure as the export's cells, by code. Read as plain columns, not as ORM objects
    with their cadres loaded: a tenth of the memory at 100,000 measures."""
    owner, leader = aliased(Cadre), aliased(Cadre)
    result = await session.execute(
        select(Measure.code, Measure.problem, Measure.measure, Measure.category, Measure.unit, owner.name,
               leader.name, Measure.deadline, Measure.status, Measure.progress)
        .join(owner, Measure.owner_id == owner.id)
        .outerjoin(leader, Measure.leader_id == leader.id)
        .order_by(Measure.code)
    )
    return [
        [code, problem, measure, category, unit, owner_name, leader_name or "",
         deadline.isoformat() if deadline else "", MeasureStatus(status).label, progress]
        for code, problem, measure, category, unit, owner_name, leader_name, deadline, status, progress in result
    ]


def _reporting(rows: Sequence[list[str]], progress: Progress | None) -> Iterable[list[str]]:
    """`rows`, telling `progress` every few thousand."""
    total = len(rows)
    for done, row in enumerate(rows, start=1):
        yield row
        if done % _EXPORT_STEP == 0 or done == total:
            _report(progress, done, total)


def _write_whole(path: Path, data: bytes) -> None:
    """Write `data` to `path` so that it is either the old file or the whole new one: an export
    stopped half-way (Ctrl-C, a full disk) must not leave half a 台账 under the old name."""
    partial = path.with_name(f".{path.name}.partial")
    try:
        partial.write_bytes(data)
        os.replace(partial, path)
    except BaseException as exc:
        partial.unlink(missing_ok=True)
        if isinstance(exc, OSError):
            # Name the file the user asked for, not the temporary one.
            raise OSError(exc.errno, exc.strerror, str(path)) from exc
        raise


def measures_csv(header: list[str], rows: Sequence[list[str]], progress: Progress | None = None) -> bytes:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer)
    writer.writerow(header)
    writer.writerows([_csv_cell(v) for v in row] for row in _reporting(rows, progress))
    # utf-8-sig: Excel on Chinese Windows only recognises UTF-8 CSV with a BOM.
    return buffer.getvalue().encode("utf-8-sig")


def _csv_cell(value: str) -> str:
    """A cell Excel would take for a formula (=, +, -, @, tab, CR first) after an apostrophe, which
    Excel shows and never runs. The importer drops one of the apostrophes before those characters,
    so a value that already starts with apostrophes and one of them gets one more, and every value
    comes back as it was."""
    return "'" + value if _NEEDS_APOSTROPHE.match(value) else value


def measures_xlsx(header: list[str], rows: Sequence[list[str]], progress: Progress | None = None) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("整改台账")
    bold = Font(bold=True)
    from openpyxl.cell import WriteOnlyCell

    header_cells = []
    for name in header:
        cell = WriteOnlyCell(sheet, value=name)
        cell.font = bold
        header_cells.append(cell)
    sheet.append(header_cells)
    wrapped = Alignment(wrap_text=True, vertical="top")
    for row in _reporting(rows, progress):
        # A leading '=' would make Excel evaluate the text as a formula: store such text verbatim.
        # (Other text, + - @ first included, is stored as a string, which Excel never evaluates.)
        cells = [WriteOnlyCell(sheet, value=v) if not v.startswith("=") else _literal(sheet, v) for v in row]
        for cell in cells:
            if "\n" in str(cell.value):
                cell.alignment = wrapped  # lines of a 整改措施 shown as lines
        sheet.append(cells)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _literal(sheet: Any, value: str) -> Any:
    from openpyxl.cell import WriteOnlyCell

    cell = WriteOnlyCell(sheet, value=value)
    cell.data_type = "s"
    return cell


# ---- regulations --------------------------------------------------------------------------------

class _YamlLoader(yaml.SafeLoader):
    """Safe YAML in which a plain scalar is the text the author typed.

    YAML 1.1 would turn `no` / `yes` / `on` / `off` into booleans (a bare `no:` key becomes
    False), `010` into 8, `1:30` into 90 and `2025-13-45` into a crash; here they stay text and
    the importer interprets each field itself (dates, article numbers). Nulls and merge keys
    (`<<: *defaults`) keep their meaning.
    """


_YAML_KEPT_TAGS = ("tag:yaml.org,2002:null", "tag:yaml.org,2002:merge")
_YamlLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag in _YAML_KEPT_TAGS]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}

# PyYAML's messages are English; these are the ones a person editing a file by hand meets.
_YAML_PROBLEMS = (
    ("'\\t'", "含有制表符（Tab）：YAML 只能用空格缩进"),
    ("cannot start any token", "有无法识别的字符（如 Tab 缩进、行首的 @ 或 `）"),
    ("mapping values are not allowed", "此处不应出现冒号（值中含“: ”时请给整个值加引号）"),
    ("could not find expected ':'", "缺少冒号“:”"),
    ("expected <block end>", "缩进不一致"),
    ("did not find expected key", "缩进不一致或缺少“- ”"),
    ("did not find expected '-'", "列表项缺少“- ”或缩进不一致"),
    ("did not find expected node content", "缺少内容（检查逗号和括号）"),
    ("expected ',' or ']'", "方括号 [ ] 没有正确闭合"),
    ("expected ',' or '}'", "花括号 { } 没有正确闭合"),
    ("found unexpected end of stream", "引号或括号没有闭合"),
    ("found unknown escape character", "双引号字符串中有无法识别的转义符（反斜杠 \\）"),
    ("expected escape sequence", "双引号字符串中有无法识别的转义符（反斜杠 \\）"),
    ("found undefined alias", "使用了未定义的别名（*）"),
    ("found duplicate anchor", "锚点（&）名称重复"),
    ("expected a single document", "文件中有多个 YAML 文档（---），只能有一个"),
    ("found unhashable key", "映射的键不能是列表或映射"),
    ("could not determine a constructor", "使用了不支持的 YAML 标签（!!）"),
    ("unacceptable character", "含有不允许的控制字符"),
    ("special characters are not allowed", "含有不允许的控制字符"),
    ("found character", "有无法识别的字符"),
    ("while scanning a quoted scalar", "引号没有闭合"),
    ("while scanning a simple key", "缺少冒号“:”"),
    ("while parsing a block", "缩进不一致"),
    ("while parsing a flow", "括号没有正确闭合"),
)


def _yaml_problem(exc: BaseException) -> tuple[int | None, str]:
    mark = getattr(exc, "problem_mark", None)
    row: int | None = mark.line + 1 if mark is not None else None
    if isinstance(exc, yaml.reader.ReaderError):
        row = None
    english = " ".join(str(getattr(exc, attribute, "") or "") for attribute in ("problem", "context"))
    english = english.strip() or str(exc)
    reason = next((zh for en, zh in _YAML_PROBLEMS if en in english), "请检查缩进、冒号和引号")
    return row, f"YAML 格式错误：{reason}"


def _yaml_children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def _check_yaml_nodes(root: yaml.Node, problems: _Problems) -> None:
    """Refuse alias bombs and alias cycles, and report keys given twice in one mapping (PyYAML
    would silently keep the last). Iterative: a deeply nested file must not exhaust the stack."""
    sizes: dict[int, int] = {}
    on_path = {id(root)}
    stack: list[tuple[yaml.Node, Iterable[yaml.Node]]] = [(root, iter(_yaml_children(root)))]
    while stack:
        node, children = stack[-1]
        child = next(iter(children), None)
        if child is None:
            stack.pop()
            on_path.discard(id(node))
            sizes[id(node)] = 1 + sum(sizes[id(c)] for c in _yaml_children(node))
            if sizes[id(node)] - len(sizes) > MAX_YAML_ALIAS_NODES:
                raise problems.fail(None, None, "别名（*）展开后的内容过多，疑似恶意文件")
            if isinstance(node, yaml.MappingNode):
                seen: dict[str, int] = {}
                for key, _ in node.value:
                    if not isinstance(key, yaml.ScalarNode) or key.tag == "tag:yaml.org,2002:merge":
                        continue
                    line = key.start_mark.line + 1
                    if key.value in seen:
                        problems.add(line, _quote(key.value, 20), f"键「{_quote(key.value, 20)}」在同一处出现了"
                                                                  f"两次（另一处在第{seen[key.value]}行）")
                    seen.setdefault(key.value, line)
            continue
        if id(child) in sizes:
            continue
        if id(child) in on_path:
            raise problems.fail(child.start_mark.line + 1, None, "别名（*）引用了包含它自身的内容")
        on_path.add(id(child))
        stack.append((child, iter(_yaml_children(child))))
    problems.raise_if_any()


def _load_yaml(text: str, problems: _Problems) -> tuple[object, yaml.Node | None]:
    loader: _YamlLoader | None = None
    try:
        loader = _YamlLoader(text)  # reads the whole text, refusing control characters
        node = loader.get_single_node()
        if node is None:
            return None, None
        _check_yaml_nodes(node, problems)
        return loader.construct_document(node), node
    except ImportFailed:
        raise
    except yaml.YAMLError as exc:
        row, message = _yaml_problem(exc)
        raise problems.fail(row, None, message) from None
    except RecursionError:
        raise problems.fail(None, None, "YAML 格式错误：嵌套层次过深") from None
    except Exception:  # an explicit tag with a bad value (!!int abc, !!timestamp x)
        log.debug("YAML construction failed", exc_info=True)
        raise problems.fail(None, None, "YAML 格式错误：有无法解析的值（请检查 !! 标签）") from None
    finally:
        if loader is not None:
            loader.dispose()


def _regulation_nodes(root: yaml.Node | None) -> list[yaml.Node]:
    if isinstance(root, yaml.MappingNode):
        for key, value in root.value:
            if isinstance(key, yaml.ScalarNode) and key.value == "regulations":
                root = value
    return list[yaml.Node](root.value) if isinstance(root, yaml.SequenceNode) else []


def _node_line(node: yaml.Node | None) -> int | None:
    return node.start_mark.line + 1 if node is not None else None


def _mapping_value(node: yaml.Node | None, name: str) -> yaml.Node | None:
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode) and key.value == name:
                return cast(yaml.Node, value)
    return None


async def import_regulations(
    session: AsyncSession, path: Path, progress: Progress | None = None, *, actor: Cadre | None = None
) -> ImportReport:
    # `actor` is accepted as by the other importers; regulations keep no audit trail.
    del actor
    problems = _Problems(path.name)
    if path.suffix.lower() not in (".yaml", ".yml"):
        raise problems.fail(None, None, f"不支持的文件类型「{_quote(path.suffix) or '无扩展名'}」，应为 .yaml")
    data_bytes = await asyncio.to_thread(_read_bytes, path, problems, MAX_YAML_BYTES)
    if data_bytes.startswith((_ZIP_MAGIC, _CFB_MAGIC)):
        raise problems.fail(None, None, "这是 Office 文件而不是 YAML 文本文件")
    text, encoding = _decode(data_bytes, problems)
    data, root = await asyncio.to_thread(_load_yaml, text, problems)
    if isinstance(data, dict) and isinstance(data.get("regulations"), list):
        data = data["regulations"]
    if not isinstance(data, list) or not data:
        raise problems.fail(None, None, "应为规章制度的列表（每项含 key、title、articles）")
    nodes = _regulation_nodes(root)

    parsed: dict[str, tuple[int, dict[str, Any], list[tuple[int, str]]]] = {}
    for index, item in enumerate(data):
        node = nodes[index] if index < len(nodes) else None
        row = _node_line(node)
        where = f"第{index + 1}项"
        parsed_item = _parse_regulation(item, node, row, where, problems)
        if parsed_item is None:
            continue
        values, articles = parsed_item
        key = values["key"]
        if key in parsed:
            problems.add(row, "key", f"{where}：key「{_quote(key)}」与第{parsed[key][0]}行重复")
        elif key:
            parsed[key] = (row or 0, values, articles)
    problems.raise_if_any()

    report = ImportReport("规章制度", encoding=encoding)
    existing = {r.key: r for r in await session.scalars(select(Regulation))}
    for done, (key, (_, values, articles)) in enumerate(parsed.items(), start=1):
        regulation = existing.get(key)
        if regulation is None:
            regulation = Regulation(**values)
            regulation.articles = [Article(no=no, text=body) for no, body in articles]
            session.add(regulation)
            report.created += 1
        else:
            await session.refresh(regulation, ["articles"])
            changed = any(getattr(regulation, k) != v for k, v in values.items())
            for k, v in values.items():
                setattr(regulation, k, v)
            current = {a.no: a for a in regulation.articles}
            wanted = dict(articles)
            for no, article in current.items():
                if no not in wanted:
                    regulation.articles.remove(article)
                    changed = True
                elif article.text != wanted[no]:
                    article.text = wanted[no]
                    changed = True
            for no, body in articles:
                if no not in current:
                    regulation.articles.append(Article(no=no, text=body))
                    changed = True
            if changed:
                report.updated += 1
            else:
                report.unchanged += 1
        _report(progress, done, len(parsed))
    await session.flush()
    return report


def _yaml_text(
    value: object, row: int | None, column: str, label: str, problems: _Problems
) -> str | None:
    """A scalar field as text; None (and a problem) for a list, a mapping or bad characters."""
    if value is None:
        return ""
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, str) or (isinstance(value, int | float) and not isinstance(value, bool)):
        text = str(value)
        if _BAD_CHARS.search(text):
            problems.add(row, column, f"{label}：{column} 含有不允许的字符（空字符或不成对的代理字符）")
            return None
        return text
    kind = {dict: "映射", list: "列表", bool: "布尔值", bytes: "二进制数据"}.get(type(value), type(value).__name__)
    problems.add(row, column, f"{label}：{column} 应为文字，不能是{kind}")
    return None


def _parse_regulation(
    item: object, node: yaml.Node | None, row: int | None, where: str, problems: _Problems
) -> tuple[dict[str, Any], list[tuple[int, str]]] | None:
    if not isinstance(item, dict):
        problems.add(row, None, f"{where}：应为含 key、title、articles 的映射")
        return None
    item = {str(k): v for k, v in item.items()}
    values: dict[str, Any] = {}
    for name, limit in (("key", 64), ("title", 256), ("issuer", 128)):
        raw = _yaml_text(item.get(name), row, name, where, problems)
        text = clean_display(raw or "")
        if raw is None:
            pass
        elif not text and name != "issuer":
            problems.add(row, name, f"{where}：缺少 {name}")
        elif len(text) > limit:
            problems.add(row, name, f"{where}：{name} 过长（最多 {limit} 个字符）")
        elif name == "key" and not _REGULATION_KEY.fullmatch(text):
            problems.add(row, name, f"{where}：key「{_quote(text)}」应为英文字母、数字和 - _ . 组成的标识")
        values[name] = text
    values["summary"] = (_yaml_text(item.get("summary"), row, "summary", where, problems) or "").strip()
    effective = _yaml_text(item.get("effective"), row, "effective", where, problems)
    values["effective"] = None
    if effective:
        if len(effective) > 40:
            problems.add(row, "effective", f"{where}：无法识别的日期「{_quote(effective, 20)}」")
        else:
            try:
                values["effective"] = parse_deadline(clean_display(effective))
            except DateFormatError as exc:
                problems.add(row, "effective", f"{where}：{clean_display(str(exc))}")
    keywords = item.get("keywords") or []
    if isinstance(keywords, str):
        keywords = keywords.replace("，", ",").replace("、", ",").split(",")
    if not isinstance(keywords, list):
        problems.add(row, "keywords", f"{where}：keywords 应为列表")
        keywords = []
    words = [_yaml_text(k, row, "keywords", where, problems) for k in keywords]
    values["keywords"] = [clean_display(k) for k in words if k and clean_display(k)]

    articles_raw = item.get("articles")
    articles_node = _mapping_value(node, "articles")
    article_nodes = articles_node.value if isinstance(articles_node, yaml.SequenceNode) else []
    articles: list[tuple[int, str]] = []
    if not isinstance(articles_raw, list) or not articles_raw:
        problems.add(row, "articles", f"{where}：缺少 articles（条款列表）")
        return values, articles
    seen: set[int] = set()
    for position, article in enumerate(articles_raw, start=1):
        # Problems are filed under the regulation's line; the message names the article's own.
        own = _node_line(article_nodes[position - 1]) if position <= len(article_nodes) else None
        label = f"{where} articles 第{position}条目" + (f"（第{own}行）" if own and own != row else "")
        line = row
        if not isinstance(article, dict):
            problems.add(line, "articles", f"{label}：应为含 no 和 text 的映射")
            continue
        article = {str(k): v for k, v in article.items()}
        no_text = _yaml_text(article.get("no"), line, "articles.no", label, problems)
        body = _yaml_text(article.get("text"), line, "articles.text", label, problems)
        if no_text is None or body is None:
            continue
        no = parse_article_no(no_text) if len(no_text) < 40 else None
        if no is None or no > MAX_ARTICLE_NO:
            problems.add(line, "articles.no",
                         f"{label}：条号「{_quote(no_text)}」应为 1 到 {MAX_ARTICLE_NO} 之间的整数")
            continue
        body = body.strip()
        if not body:
            problems.add(line, "articles.text", f"{label}：第{no}条内容为空")
        if no in seen:
            problems.add(line, "articles.no", f"{label}：条号 {no} 重复")
        seen.add(no)
        articles.append((no, body))
    return values, articles


#: Each importer by the kind of file it takes, as `zhenggai import KIND` and the chat name them.
IMPORTERS: dict[str, Callable[..., Awaitable[ImportReport]]] = {
    "regulations": import_regulations, "cadres": import_cadres, "measures": import_measures,
}
