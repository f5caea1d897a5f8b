"""Import and export of the 台账 (measures), cadres and regulations.

Every import is all-or-nothing: the whole file is read and validated first, every problem
is collected with its file, row and column, and only a clean file is written — inside the
caller's transaction, so a failure leaves the database exactly as it was.
"""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import io
import logging
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.errors import ImportFailed, ImportProblem
from bot.models import Article, Cadre, Measure, MeasureEvent, MeasureStatus, Regulation, Role
from bot.services.text import DateFormatError, clean_display, code_key, parse_article_no, parse_deadline

log = logging.getLogger(__name__)

Progress = Callable[[int, int], None]
"""Called as progress(done, total) while rows are validated and written."""

#: Stop collecting after this many problems: the first screenful is what a person fixes first.
MAX_PROBLEMS = 20

MEASURE_COLUMNS = ("code", "problem", "measure", "category", "unit", "owner", "leader", "deadline",
                   "status", "progress")
MEASURE_HEADERS_ZH = {
    "code": "编号", "problem": "问题", "measure": "整改措施", "category": "类别", "unit": "责任单位",
    "owner": "责任人", "leader": "分管领导", "deadline": "完成时限", "status": "状态", "progress": "进展",
}
# Headers seen in real 台账 besides the canonical ones; all map onto our column names.
_MEASURE_ALIASES = {
    "序号编号": "code", "措施编号": "code", "整改编号": "code", "问题编号": "code",
    "存在问题": "problem", "问题描述": "problem", "突出问题": "problem",
    "措施": "measure", "整改内容": "measure",
    "问题类别": "category", "分类": "category",
    "责任部门": "unit", "牵头单位": "unit",
    "具体责任人": "owner", "责任领导": "leader", "分管局领导": "leader", "牵头领导": "leader",
    "完成时间": "deadline", "整改时限": "deadline", "时限": "deadline",
    "整改状态": "status", "完成情况": "status", "整改进展": "progress", "进展情况": "progress",
}
CADRE_COLUMNS = ("name", "unit", "position", "role")
_CADRE_HEADERS_ZH = {"姓名": "name", "单位": "unit", "所在单位": "unit", "职务": "position",
                     "岗位": "position", "角色": "role"}

_STATUS_WORDS: dict[str, MeasureStatus] = {
    "未开始": MeasureStatus.NOT_STARTED, "not_started": MeasureStatus.NOT_STARTED,
    "进行中": MeasureStatus.IN_PROGRESS, "in_progress": MeasureStatus.IN_PROGRESS,
    "整改中": MeasureStatus.IN_PROGRESS, "推进中": MeasureStatus.IN_PROGRESS,
    "已完成": MeasureStatus.DONE, "done": MeasureStatus.DONE, "完成": MeasureStatus.DONE,
    "待销号": MeasureStatus.DONE,
    "已销号": MeasureStatus.CLOSED, "closed": MeasureStatus.CLOSED, "销号": MeasureStatus.CLOSED,
}
_ROLE_WORDS: dict[str, Role] = {
    "admin": Role.ADMIN, "管理员": Role.ADMIN,
    "leader": Role.LEADER, "领导": Role.LEADER, "分管领导": Role.LEADER, "局领导": Role.LEADER,
    "cadre": Role.CADRE, "干部": Role.CADRE, "责任人": Role.CADRE, "": Role.CADRE,
}


@dataclass
class ImportReport:
    kind: str
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    details: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return self.created + self.updated + self.unchanged

    def summary(self) -> str:
        return f"{self.kind}：新增 {self.created}，更新 {self.updated}，未变 {self.unchanged}"


class _Problems:
    """Collects problems for one file; raises ImportFailed at the end if any."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.items: list[ImportProblem] = []

    def add(self, row: int | None, column: str | None, message: str) -> None:
        if len(self.items) < MAX_PROBLEMS:
            self.items.append(ImportProblem(self.file, row, column, message))

    def fail(self, row: int | None, column: str | None, message: str) -> ImportFailed:
        self.add(row, column, message)
        return ImportFailed(self.items)

    def raise_if_any(self) -> None:
        if self.items:
            raise ImportFailed(self.items)


# ---- reading files ------------------------------------------------------------------------------

def _decode(data: bytes, problems: _Problems) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        row = data[: exc.start].count(b"\n") + 1
        hint = ""
        try:
            data.decode("gb18030")
            hint = "，看起来是 GBK/GB18030 编码，请用“CSV UTF-8”格式另存后再导入"
        except UnicodeDecodeError:
            pass
        raise problems.fail(row, None, f"文件不是 UTF-8 编码{hint}") from None


def _cell(value: object) -> str | dt.date | None:
    """Normalise a spreadsheet cell: numbers without '.0', dates as dates, text stripped."""
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    text = str(value).strip()
    return text or None


Row = tuple[int, list[str | dt.date | None]]


def _read_csv(path: Path, problems: _Problems) -> Iterator[Row]:
    text = _decode(path.read_bytes(), problems)
    if "\x00" in text:
        row = text[: text.index("\x00")].count("\n") + 1
        raise problems.fail(row, None, "文件含有空字符（NUL），不是文本格式的 CSV")
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        for cells in reader:
            yield reader.line_num, [_cell(c) for c in cells]
    except csv.Error as exc:
        raise problems.fail(reader.line_num, None, f"CSV 格式错误：{exc}") from None


def _read_xlsx(path: Path, problems: _Problems) -> Iterator[Row]:
    import zipfile

    from openpyxl import load_workbook

    try:
        # data_only: a formula cell yields the value Excel last computed for it.
        workbook = load_workbook(path, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        raise problems.fail(None, None, f"无法读取 Excel 文件（{type(exc).__name__}），请确认是 .xlsx 格式") from None
    sheet = workbook.active
    if sheet is None:
        raise problems.fail(None, None, "Excel 文件中没有工作表")
    # A merged cell holds its value in the top-left corner only; a person means it for every row.
    fills: dict[tuple[int, int], object] = {}
    for merged in sheet.merged_cells.ranges:
        value = sheet.cell(merged.min_row, merged.min_col).value
        for r in range(merged.min_row, merged.max_row + 1):
            for c in range(merged.min_col, merged.max_col + 1):
                fills[(r, c)] = value
    for row_index, row in enumerate(sheet.iter_rows(values_only=True), start=1):
        cells = []
        for col_index, value in enumerate(row, start=1):
            cells.append(_cell(fills.get((row_index, col_index), value)))
        yield row_index, cells


def _read_rows(path: Path, problems: _Problems) -> list[Row]:
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return list(_read_csv(path, problems))
    if suffix in (".xlsx", ".xlsm"):
        return list(_read_xlsx(path, problems))
    raise problems.fail(None, None, f"不支持的文件类型「{suffix or '无扩展名'}」，应为 .csv 或 .xlsx")


async def _read_table(path: Path, problems: _Problems) -> Iterator[Row]:
    """Read and decode the whole file off the event loop (large XLSX files take seconds)."""
    return iter(await asyncio.to_thread(_read_rows, path, problems))


def _find_header(
    rows: Iterator[Row], mapping: Callable[[str], str | None], required: Sequence[str], problems: _Problems
) -> tuple[int, dict[str, int], Iterator[Row]]:
    """Locate the header row (a 台账 often starts with a title row) and map its columns."""
    for row_no, cells in rows:
        if all(c is None for c in cells):
            continue
        columns: dict[str, int] = {}
        for index, cell in enumerate(cells):
            name = mapping(str(cell)) if cell is not None else None
            if name and name not in columns:
                columns[name] = index
        if columns:
            missing = [c for c in required if c not in columns]
            if missing:
                raise problems.fail(row_no, ", ".join(missing), "表头缺少必需的列")
            return row_no, columns, rows
        if row_no >= 10:
            break
    raise problems.fail(None, None, f"找不到表头（应包含 {', '.join(required)} 等列）")


def _measure_column(header: str) -> str | None:
    key = clean_display(header).replace(" ", "")
    lowered = key.lower()
    if lowered in MEASURE_COLUMNS:
        return lowered
    for column, zh in MEASURE_HEADERS_ZH.items():
        if key == zh:
            return column
    return _MEASURE_ALIASES.get(key)


def _cadre_column(header: str) -> str | None:
    key = clean_display(header).replace(" ", "")
    return key.lower() if key.lower() in CADRE_COLUMNS else _CADRE_HEADERS_ZH.get(key)


def _column_limit(column: Any) -> int | None:
    return getattr(column.type, "length", None)


def _text(
    cells: list[str | dt.date | None], columns: dict[str, int], name: str
) -> str | dt.date | None:
    index = columns.get(name)
    if index is None or index >= len(cells):
        return None
    return cells[index]


def _str(value: str | dt.date | None) -> str:
    if value is None:
        return ""
    return value.isoformat() if isinstance(value, dt.date) else clean_display(value)


def _report(progress: Progress | None, done: int, total: int) -> None:
    if progress is not None:
        progress(done, total)


# ---- cadres -------------------------------------------------------------------------------------

async def import_cadres(session: AsyncSession, path: Path, progress: Progress | None = None) -> ImportReport:
    problems = _Problems(path.name)
    _, columns, rows = _find_header(await _read_table(path, problems), _cadre_column, ("name",), problems)
    parsed: dict[str, tuple[int, dict[str, Any]]] = {}
    limits = {c: _column_limit(Cadre.__table__.c[c]) for c in CADRE_COLUMNS if c != "role"}
    for row_no, cells in rows:
        if all(c is None for c in cells):
            continue
        name = _str(_text(cells, columns, "name"))
        if not name:
            problems.add(row_no, "name", "姓名不能为空")
            continue
        values: dict[str, Any] = {"name": name}
        for column in ("unit", "position"):
            values[column] = _str(_text(cells, columns, column))
        for column, limit in limits.items():
            if limit and len(values[column]) > limit:
                problems.add(row_no, column, f"内容过长（最多 {limit} 个字符）")
        role_text = _str(_text(cells, columns, "role")).lower()
        role = _ROLE_WORDS.get(role_text)
        if role is None:
            problems.add(row_no, "role", f"未知的角色「{role_text}」，应为 admin、leader 或 cadre")
        values["role"] = role
        if name in parsed:
            problems.add(row_no, "name", f"姓名「{name}」与第{parsed[name][0]}行重复")
        parsed[name] = (row_no, values)
    problems.raise_if_any()

    report = ImportReport("干部")
    existing = {c.name: c for c in await session.scalars(select(Cadre))}
    for done, (name, (_, values)) in enumerate(parsed.items(), start=1):
        cadre = existing.get(name)
        if cadre is None:
            session.add(Cadre(**values))
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


# ---- measures -----------------------------------------------------------------------------------

def parse_status(text: str) -> MeasureStatus | None:
    """A status as written in a 台账 or typed: Chinese label or English code; '' → 未开始."""
    key = clean_display(text).replace(" ", "").lower()
    if not key:
        return MeasureStatus.NOT_STARTED
    return _STATUS_WORDS.get(key)


@dataclass
class _MeasureRow:
    row: int
    values: dict[str, Any]


async def import_measures(
    session: AsyncSession, path: Path, progress: Progress | None = None
) -> ImportReport:
    problems = _Problems(path.name)
    required = ("code", "problem", "measure", "owner")
    _, columns, rows = _find_header(await _read_table(path, problems), _measure_column, required, problems)
    cadres = {c.name: c for c in await session.scalars(select(Cadre))}
    limits = {c: _column_limit(Measure.__table__.c[c]) for c in ("code", "category", "unit")}

    parsed: dict[str, _MeasureRow] = {}
    all_rows = list(rows)
    for index, (row_no, cells) in enumerate(all_rows, start=1):
        if all(c is None for c in cells):
            continue
        values: dict[str, Any] = {}
        # Codes are kept as the bureau writes them (XC-2024-01); comparisons use the canonical key.
        code = unicodedata.normalize("NFKC", _str(_text(cells, columns, "code"))).replace(" ", "")
        if not code_key(code):
            problems.add(row_no, "code", "编号不能为空")
            continue
        values["code"] = code
        for column in ("problem", "measure"):
            values[column] = _str(_text(cells, columns, column))
            if not values[column]:
                problems.add(row_no, column, "不能为空")
        for column in ("category", "unit", "progress"):
            values[column] = _str(_text(cells, columns, column))
        for column, limit in limits.items():
            if limit and len(values[column]) > limit:
                problems.add(row_no, column, f"内容过长（最多 {limit} 个字符）")

        owner_name = _str(_text(cells, columns, "owner"))
        owner = cadres.get(owner_name)
        if not owner_name:
            problems.add(row_no, "owner", "责任人不能为空")
        elif owner is None:
            problems.add(row_no, "owner", f"未知的责任人「{owner_name}」（请先导入干部名单）")
        values["owner"] = owner
        leader_name = _str(_text(cells, columns, "leader"))
        leader = cadres.get(leader_name) if leader_name else None
        if leader_name and leader is None:
            problems.add(row_no, "leader", f"未知的分管领导「{leader_name}」（请先导入干部名单）")
        values["leader"] = leader
        if not values["unit"] and owner is not None:
            values["unit"] = owner.unit

        try:
            values["deadline"] = parse_deadline(_text(cells, columns, "deadline"))
        except DateFormatError as exc:
            problems.add(row_no, "deadline", str(exc))
        status_text = _str(_text(cells, columns, "status"))
        status = parse_status(status_text)
        if status is None:
            problems.add(row_no, "status",
                         f"未知的状态「{status_text}」，应为 未开始、进行中、已完成、已销号 之一")
        values["status"] = status

        key = code_key(code)
        if key in parsed:
            problems.add(row_no, "code", f"编号「{code}」与第{parsed[key].row}行重复")
        parsed[key] = _MeasureRow(row_no, values)
        if index % 1000 == 0:
            _report(progress, index, len(all_rows) * 2)
    problems.raise_if_any()
    if not parsed:
        raise problems.fail(None, None, "文件中没有任何整改措施")

    report = ImportReport("整改措施")
    existing = {code_key(m.code): m for m in await session.scalars(select(Measure))}
    total = len(parsed)
    for done, (key, item) in enumerate(parsed.items(), start=1):
        _apply_measure(session, existing.get(key), item.values, report)
        if done % 1000 == 0 or done == total:
            _report(progress, total + done, total * 2)
            await session.flush()
    return report


_COMPARED = ("code", "problem", "measure", "category", "unit", "deadline", "status", "progress")


def _apply_measure(
    session: AsyncSession, measure: Measure | None, values: dict[str, Any], report: ImportReport
) -> None:
    owner: Cadre = values["owner"]
    leader: Cadre | None = values["leader"]
    if measure is None:
        measure = Measure(owner=owner, leader=leader, **{k: values[k] for k in _COMPARED})
        session.add(measure)
        session.add(MeasureEvent(measure=measure, action="import", to_status=values["status"],
                                 note="导入新增", details={"created": True}))
        report.created += 1
        return
    changes: dict[str, list[Any]] = {}
    for key in _COMPARED:
        old, new = getattr(measure, key), values[key]
        if old != new:
            changes[key] = [_jsonable(old), _jsonable(new)]
    if measure.owner_id != owner.id:
        changes["owner"] = [measure.owner.name, owner.name]
    if measure.leader_id != (leader.id if leader else None):
        changes["leader"] = [measure.leader.name if measure.leader else "", leader.name if leader else ""]
    if not changes:
        report.unchanged += 1
        return
    old_status = measure.status
    for key in _COMPARED:
        setattr(measure, key, values[key])
    measure.owner, measure.leader = owner, leader
    session.add(MeasureEvent(
        measure=measure, action="import",
        from_status=old_status if "status" in changes else None,
        to_status=measure.status if "status" in changes else None,
        note="导入更新：" + "、".join(changes), details={"changes": changes},
    ))
    report.updated += 1


def _jsonable(value: object) -> object:
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, MeasureStatus):
        return value.value
    return value


async def export_measures(session: AsyncSession, path: Path, *, chinese_headers: bool = False) -> int:
    """Write the 台账 as CSV or XLSX with the import's columns; returns the number of rows."""
    measures = list(await session.scalars(select(Measure).order_by(Measure.code)))
    header = [MEASURE_HEADERS_ZH[c] if chinese_headers else c for c in MEASURE_COLUMNS]
    rows = [export_row(m) for m in measures]
    suffix = path.suffix.lower()
    if suffix == ".csv":
        data = measures_csv(header, rows)
    elif suffix == ".xlsx":
        data = measures_xlsx(header, rows)
    else:
        raise ImportFailed([ImportProblem(path.name, None, None,
                                          f"不支持的导出类型「{suffix or '无扩展名'}」，应为 .csv 或 .xlsx")])
    await asyncio.to_thread(path.write_bytes, data)
    return len(rows)


def measures_csv(header: list[str], rows: Iterable[list[str]]) -> bytes:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer)
    writer.writerow(header)
    writer.writerows(rows)
    # utf-8-sig: Excel on Chinese Windows only recognises UTF-8 CSV with a BOM.
    return buffer.getvalue().encode("utf-8-sig")


def export_row(measure: Measure) -> list[str]:
    return [
        measure.code, measure.problem, measure.measure, measure.category, measure.unit,
        measure.owner.name, measure.leader.name if measure.leader else "",
        measure.deadline.isoformat() if measure.deadline else "",
        measure.status.label, measure.progress,
    ]


def measures_xlsx(header: list[str], rows: Iterable[list[str]]) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Font

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
    for row in rows:
        # A leading '=' would make Excel evaluate the text as a formula: store such text verbatim.
        sheet.append([WriteOnlyCell(sheet, value=v) if not v.startswith("=") else _literal(sheet, v)
                      for v in row])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _literal(sheet: Any, value: str) -> Any:
    from openpyxl.cell import WriteOnlyCell

    cell = WriteOnlyCell(sheet, value=value)
    cell.data_type = "s"
    return cell


# ---- regulations --------------------------------------------------------------------------------

def _yaml_lines(text: str) -> list[int]:
    """The line of each top-level list item, for error messages."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return []
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if getattr(key, "value", None) == "regulations":
                node = value
    if not isinstance(node, yaml.SequenceNode):
        return []
    return [item.start_mark.line + 1 for item in node.value]


async def import_regulations(
    session: AsyncSession, path: Path, progress: Progress | None = None
) -> ImportReport:
    problems = _Problems(path.name)
    if path.suffix.lower() not in (".yaml", ".yml"):
        raise problems.fail(None, None, f"不支持的文件类型「{path.suffix or '无扩展名'}」，应为 .yaml")
    text = _decode(await asyncio.to_thread(path.read_bytes), problems)
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        row = mark.line + 1 if mark is not None else None
        reason = getattr(exc, "problem", None) or type(exc).__name__
        raise problems.fail(row, None, f"YAML 格式错误：{reason}") from None
    if isinstance(data, dict) and isinstance(data.get("regulations"), list):
        data = data["regulations"]
    if not isinstance(data, list) or not data:
        raise problems.fail(None, None, "应为规章制度的列表（每项含 key、title、articles）")
    lines = _yaml_lines(text)

    parsed: dict[str, tuple[int, dict[str, Any], list[tuple[int, str]]]] = {}
    for index, item in enumerate(data):
        row = lines[index] if index < len(lines) else None
        where = f"第{index + 1}项"
        parsed_item = _parse_regulation(item, row, where, problems)
        if parsed_item is None:
            continue
        values, articles = parsed_item
        if values["key"] in parsed:
            problems.add(row, "key", f"{where}：key「{values['key']}」与第{parsed[values['key']][0]}行重复")
        parsed[values["key"]] = (row or 0, values, articles)
    problems.raise_if_any()

    report = ImportReport("规章制度")
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


def _parse_regulation(
    item: object, row: int | None, where: str, problems: _Problems
) -> tuple[dict[str, Any], list[tuple[int, str]]] | None:
    if not isinstance(item, dict):
        problems.add(row, None, f"{where}：应为含 key、title、articles 的映射")
        return None
    # YAML 1.1 reads an unquoted `no:` key as the boolean false; accept what the author meant.
    item = {("no" if k is False else str(k)): v for k, v in item.items()}
    values: dict[str, Any] = {}
    for name, limit in (("key", 64), ("title", 256)):
        value = item.get(name)
        text = clean_display(str(value)) if value is not None else ""
        if not text:
            problems.add(row, name, f"{where}：缺少 {name}")
        elif len(text) > limit:
            problems.add(row, name, f"{where}：{name} 过长（最多 {limit} 个字符）")
        values[name] = text
    values["issuer"] = clean_display(str(item.get("issuer") or ""))[:128]
    values["summary"] = str(item.get("summary") or "").strip()
    effective = item.get("effective")
    try:
        values["effective"] = parse_deadline(effective) if effective not in (None, "") else None
    except DateFormatError as exc:
        problems.add(row, "effective", f"{where}：{exc}")
    keywords = item.get("keywords") or []
    if isinstance(keywords, str):
        keywords = [k for k in keywords.replace("，", ",").replace("、", ",").split(",")]
    if not isinstance(keywords, list):
        problems.add(row, "keywords", f"{where}：keywords 应为列表")
        keywords = []
    values["keywords"] = [clean_display(str(k)) for k in keywords if str(k).strip()]

    articles_raw = item.get("articles")
    articles: list[tuple[int, str]] = []
    if not isinstance(articles_raw, list) or not articles_raw:
        problems.add(row, "articles", f"{where}：缺少 articles（条款列表）")
        return values, articles
    seen: set[int] = set()
    for position, article in enumerate(articles_raw, start=1):
        label = f"{where} articles 第{position}条目"
        if not isinstance(article, dict):
            problems.add(row, "articles", f"{label}：应为含 no 和 text 的映射")
            continue
        article = {("no" if k is False else str(k)): v for k, v in article.items()}
        no = parse_article_no(article.get("no"))
        body = str(article.get("text") or "").strip()
        if no is None:
            problems.add(row, "articles.no", f"{label}：条号「{article.get('no')}」应为正整数")
            continue
        if not body:
            problems.add(row, "articles.text", f"{label}：第{no}条内容为空")
        if no in seen:
            problems.add(row, "articles.no", f"{label}：条号 {no} 重复")
        seen.add(no)
        articles.append((no, body))
    return values, articles
