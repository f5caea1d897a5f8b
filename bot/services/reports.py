"""The 公示 summary of the campaign: counts by status and unit, overdue items, and a PNG chart.

`build_report` reads the database in three bounded queries whatever its size: one GROUP BY over
measures (unit × status, with overdue and due-soon counts), one for the detailed overdue and
due-soon rows (capped per list with a window function, cadre names joined only for the rows
kept), and one for the measures 销号 this week. The detailed lists carry their full count, so a
capped list still says how many there are.

`report_text` phrases it as plain Chinese lines (the Telegram layer escapes and formats);
`report_chart_png` draws a horizontal stacked bar per unit with Pillow, using the subset CJK
font shipped in data/fonts/ (see the README there).
"""

from __future__ import annotations

import datetime as dt
import functools
import io
import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

from PIL import Image, ImageDraw, ImageFont
from sqlalchemy import and_, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from bot.config import PROJECT_ROOT
from bot.models import STATUS_LABELS, Cadre, Measure, MeasureEvent, MeasureStatus, utcnow
from bot.services.measures import sign_offs
from bot.services.text import cn_date

log = logging.getLogger(__name__)

#: Where `report_chart_png` looks for its font by default; callers pass `settings.data_dir / "fonts"`.
DEFAULT_FONT_DIR = PROJECT_ROOT / "data" / "fonts"
FONT_FILE = "NotoSansSC-subset.otf"
DEFAULT_TZ = ZoneInfo("Asia/Shanghai")

DUE_SOON_DAYS = 7
#: Rows fetched in detail per list (overdue, due soon, closed this week); the totals are exact regardless.
DETAIL_LIMIT = 50
#: Units drawn or listed one by one; the rest are summed into one "其他" row.
MAX_UNITS = 40
NO_UNIT = "未指定单位"

OPEN_STATUSES = (MeasureStatus.NOT_STARTED, MeasureStatus.IN_PROGRESS)
#: Display order everywhere: from finished to not started.
STATUS_ORDER = (MeasureStatus.CLOSED, MeasureStatus.DONE, MeasureStatus.IN_PROGRESS, MeasureStatus.NOT_STARTED)
#: Longer labels where a status stands alone in a summary line or the legend.
SUMMARY_LABELS = {**STATUS_LABELS, MeasureStatus.DONE: "已完成待销号"}


# ---------------------------------------------------------------------------------------------
# The report


@dataclass(frozen=True)
class StatusCounts:
    """How many measures are in each of the four statuses."""

    closed: int = 0
    done: int = 0
    in_progress: int = 0
    not_started: int = 0

    @classmethod
    def of(cls, counts: dict[MeasureStatus, int]) -> StatusCounts:
        return cls(
            closed=counts.get(MeasureStatus.CLOSED, 0),
            done=counts.get(MeasureStatus.DONE, 0),
            in_progress=counts.get(MeasureStatus.IN_PROGRESS, 0),
            not_started=counts.get(MeasureStatus.NOT_STARTED, 0),
        )

    def get(self, status: MeasureStatus) -> int:
        return int(getattr(self, status.value))

    def items(self) -> Iterator[tuple[MeasureStatus, int]]:
        """(status, count) for all four statuses, zeros included, in display order."""
        for status in STATUS_ORDER:
            yield status, self.get(status)

    def __add__(self, other: StatusCounts) -> StatusCounts:
        return StatusCounts(self.closed + other.closed, self.done + other.done,
                            self.in_progress + other.in_progress, self.not_started + other.not_started)

    @property
    def total(self) -> int:
        return self.closed + self.done + self.in_progress + self.not_started

    @property
    def completed(self) -> int:
        """已完成 (awaiting sign-off) plus 已销号."""
        return self.closed + self.done

    @property
    def completion_rate(self) -> float:
        """(已完成 + 已销号) / total; 0.0 for no measures."""
        return self.completed / self.total if self.total else 0.0


@dataclass(frozen=True)
class UnitSummary:
    unit: str  # as stored; "" when the measure names no unit (shown as NO_UNIT)
    counts: StatusCounts
    overdue: int
    due_soon: int

    @property
    def total(self) -> int:
        return self.counts.total

    @property
    def completion_rate(self) -> float:
        return self.counts.completion_rate

    @property
    def label(self) -> str:
        return self.unit or NO_UNIT


@dataclass(frozen=True)
class ReportItem:
    """One measure in a detailed list: what a 公示 may show plus the names only staff may see."""

    code: str
    unit: str
    status: MeasureStatus
    deadline: dt.date | None
    owner: str
    leader: str | None
    days_overdue: int | None = None  # today − deadline: positive when overdue, ≤ 0 when due soon
    closed_at: dt.datetime | None = None  # for the closed-this-week list (UTC)

    @property
    def days_left(self) -> int | None:
        return None if self.days_overdue is None else -self.days_overdue


@dataclass(frozen=True)
class ItemList:
    """The first rows of a list and how many rows the full list has."""

    items: tuple[ReportItem, ...]
    total: int

    @property
    def truncated(self) -> bool:
        return self.total > len(self.items)

    def __len__(self) -> int:
        return len(self.items)

    def __iter__(self) -> Iterator[ReportItem]:
        return iter(self.items)


@dataclass(frozen=True)
class Report:
    today: dt.date
    generated_at: dt.datetime  # aware, UTC
    tz: dt.tzinfo
    unit: str | None  # the unit the report was restricted to, if any
    totals: StatusCounts
    units: tuple[UnitSummary, ...]  # most measures first, then by name
    overdue: ItemList  # most overdue first
    due_soon: ItemList  # open, deadline within DUE_SOON_DAYS days from today (inclusive), soonest first
    closed_this_week: ItemList  # 销号 since Monday of today's week, latest first
    week_start: dt.date

    @property
    def total(self) -> int:
        return self.totals.total

    @property
    def overdue_total(self) -> int:
        return self.overdue.total


async def build_report(
    session: AsyncSession,
    today: dt.date,
    *,
    unit: str | None = None,
    tz: dt.tzinfo = DEFAULT_TZ,
    now: dt.datetime | None = None,
    limit: int = DETAIL_LIMIT,
) -> Report:
    """Summarise the campaign as of `today` (a date in the bureau's time zone `tz`).

    Overdue: open (未开始/进行中) with a deadline before `today`; a measure without a deadline is
    never overdue. `unit` restricts everything to one 责任单位. `limit` caps each detailed list.
    """
    soon = today + dt.timedelta(days=DUE_SOON_DAYS)
    is_open = Measure.status.in_(OPEN_STATUSES)
    unit_filter = [Measure.unit == unit] if unit is not None else []

    # 1. Counts: one row per (unit, status), computed by the database.
    overdue_flag = case((and_(is_open, Measure.deadline < today), 1), else_=0)
    due_flag = case((and_(is_open, Measure.deadline >= today, Measure.deadline <= soon), 1), else_=0)
    counted = await session.execute(
        select(Measure.unit, Measure.status, func.count(), func.sum(overdue_flag), func.sum(due_flag))
        .where(*unit_filter)
        .group_by(Measure.unit, Measure.status)
    )
    per_unit: dict[str, dict[MeasureStatus, int]] = {}
    overdue_by_unit: dict[str, int] = {}
    due_by_unit: dict[str, int] = {}
    for unit_name, status, count, overdue, due in counted:
        name = unit_name or ""
        per_unit.setdefault(name, {})[status] = int(count)
        overdue_by_unit[name] = overdue_by_unit.get(name, 0) + int(overdue or 0)
        due_by_unit[name] = due_by_unit.get(name, 0) + int(due or 0)
    units = sorted(
        (UnitSummary(name, StatusCounts.of(counts), overdue_by_unit[name], due_by_unit[name])
         for name, counts in per_unit.items()),
        key=lambda u: (-u.total, u.unit),
    )
    totals = sum((u.counts for u in units), StatusCounts())

    # 2. Overdue and due-soon rows: ranked per list inside the database, names joined afterwards.
    owner, leader = aliased(Cadre), aliased(Cadre)
    is_overdue = case((Measure.deadline < today, 1), else_=0)
    ranked = (
        select(Measure.code, Measure.unit, Measure.status, Measure.deadline, Measure.owner_id, Measure.leader_id,
               is_overdue.label("overdue"),
               func.row_number().over(partition_by=is_overdue, order_by=(Measure.deadline, Measure.code))
               .label("rank"))
        .where(is_open, Measure.deadline.is_not(None), Measure.deadline <= soon, *unit_filter)
        .subquery()
    )
    detail = await session.execute(
        select(ranked.c.code, ranked.c.unit, ranked.c.status, ranked.c.deadline, ranked.c.overdue,
               owner.name, leader.name)
        .join(owner, owner.id == ranked.c.owner_id)
        .outerjoin(leader, leader.id == ranked.c.leader_id)
        .where(ranked.c.rank <= limit)
        .order_by(ranked.c.deadline, ranked.c.code)
    )
    overdue_items: list[ReportItem] = []
    due_items: list[ReportItem] = []
    for code, unit_name, status, deadline, overdue, owner_name, leader_name in detail:
        item = ReportItem(code, unit_name or "", status, deadline, owner_name, leader_name,
                          days_overdue=(today - deadline).days)
        (overdue_items if overdue else due_items).append(item)

    # 3. 销号 this week: a real transition to closed (not a measure imported as closed) since Monday.
    week_start = today - dt.timedelta(days=today.weekday())
    since = dt.datetime.combine(week_start, dt.time(), tzinfo=tz)
    until = dt.datetime.combine(today + dt.timedelta(days=1), dt.time(), tzinfo=tz)
    closings = sign_offs(MeasureEvent.at >= since, MeasureEvent.at < until)
    closed_rows = (await session.execute(
        select(Measure.code, Measure.unit, Measure.deadline, owner.name, leader.name, closings.c.closed_at,
               func.count().over().label("total"))
        .join(closings, closings.c.measure_id == Measure.id)
        .join(owner, owner.id == Measure.owner_id)
        .outerjoin(leader, leader.id == Measure.leader_id)
        .where(Measure.status == MeasureStatus.CLOSED, *unit_filter)
        .order_by(closings.c.closed_at.desc(), Measure.code)
        .limit(limit)
    )).all()
    closed_items = tuple(
        ReportItem(code, unit_name or "", MeasureStatus.CLOSED, deadline, owner_name, leader_name,
                   closed_at=closed_at)
        for code, unit_name, deadline, owner_name, leader_name, closed_at, _ in closed_rows
    )

    return Report(
        today=today,
        generated_at=(now or utcnow()).astimezone(dt.UTC),
        tz=tz,
        unit=unit,
        totals=totals,
        units=tuple(units),
        overdue=ItemList(tuple(overdue_items), sum(u.overdue for u in units)),
        due_soon=ItemList(tuple(due_items), sum(u.due_soon for u in units)),
        closed_this_week=ItemList(closed_items, int(closed_rows[0][-1]) if closed_rows else 0),
        week_start=week_start,
    )


# ---------------------------------------------------------------------------------------------
# Text


def _percent(rate: float) -> str:
    return f"{rate * 100:.0f}%"


def summary_line(counts: StatusCounts, overdue: int) -> str:
    """共 30 项：已销号 5，已完成待销号 5，进行中 13，未开始 7；逾期 5 项"""
    parts = "，".join(f"{SUMMARY_LABELS[status]} {n}" for status, n in counts.items())
    return f"共 {counts.total} 项：{parts}；逾期 {overdue} 项"


def _unit_line(label: str, counts: StatusCounts, overdue: int) -> str:
    parts = "，".join(f"{STATUS_LABELS[status]} {n}" for status, n in counts.items() if n)
    line = f"{label}：共 {counts.total} 项（{parts}），完成率 {_percent(counts.completion_rate)}"
    return line + (f"，逾期 {overdue} 项" if overdue else "")


def _names(item: ReportItem) -> str:
    leader = f"，分管领导 {item.leader}" if item.leader else ""
    return f"，责任人 {item.owner}{leader}"


def _item_lines(title: str, items: ItemList, describe: Callable[[ReportItem], str], public: bool,
                max_items: int) -> list[str]:
    if not items.total:
        return [f"{title}：无"]
    lines = [f"{title}（{items.total} 项）："]
    shown = items.items[:max_items]
    for item in shown:
        lines.append(f"{item.code} {item.unit or NO_UNIT}，{describe(item)}" + ("" if public else _names(item)))
    if items.total > len(shown):
        lines.append(f"……另有 {items.total - len(shown)} 项")
    return lines


def report_text(report: Report, *, public: bool, max_units: int = MAX_UNITS, max_items: int = 20) -> str:
    """Plain text lines. `public=True` shows only 公示 fields (code, unit, status, dates) — no names."""
    title = "整改落实情况公示" if public else "整改落实情况"
    lines = [f"{title}（截至{cn_date(report.today)}）"]
    if report.unit is not None:
        lines.append(f"责任单位：{report.unit or NO_UNIT}")
    lines.append(summary_line(report.totals, report.overdue.total))
    if not report.total:
        return "\n".join(lines)
    # 完成率 is what 整改完成率是多少 asks: said in words, as the chart shows it.
    rate, signed_off = _percent(report.totals.completion_rate), _percent(report.totals.closed / report.total)
    lines.append(f"完成率 {rate}（已销号与已完成待销号），其中已销号 {signed_off}")

    if report.unit is None:
        lines += ["", "各责任单位："]
        shown, rest = _split_units(report.units, max_units)
        lines += [_unit_line(u.label, u.counts, u.overdue) for u in shown]
        if rest:
            lines.append(_unit_line(f"其他 {len(rest)} 个单位", sum((u.counts for u in rest), StatusCounts()),
                                    sum(u.overdue for u in rest)))

    def overdue(item: ReportItem) -> str:
        assert item.deadline is not None
        return f"{item.status.label}，时限 {cn_date(item.deadline)}，逾期 {item.days_overdue} 天"

    def due(item: ReportItem) -> str:
        assert item.deadline is not None
        left = "今天到期" if item.days_left == 0 else f"还剩 {item.days_left} 天"
        return f"{item.status.label}，时限 {cn_date(item.deadline)}，{left}"

    def closed(item: ReportItem) -> str:
        when = item.closed_at.astimezone(report.tz).date() if item.closed_at else report.today
        return f"已销号（{when.month}月{when.day}日）"

    lines += ["", *_item_lines("逾期未完成", report.overdue, overdue, public, max_items)]
    lines += ["", *_item_lines(f"{DUE_SOON_DAYS}日内到期", report.due_soon, due, public, max_items)]
    lines += ["", *_item_lines("本周销号", report.closed_this_week, closed, public, max_items)]
    return "\n".join(lines)


def _split_units(units: Iterable[UnitSummary], limit: int) -> tuple[list[UnitSummary], list[UnitSummary]]:
    """The first `limit` units as they are; when there are more, the last row sums the rest."""
    units = list(units)
    if len(units) <= limit:
        return units, []
    return units[: limit - 1], units[limit - 1:]


# ---------------------------------------------------------------------------------------------
# Chart

Font = ImageFont.FreeTypeFont | ImageFont.ImageFont
RGB = tuple[int, int, int]

# Okabe–Ito colours: told apart with every common colour-vision deficiency, and ordered by lightness.
STATUS_COLOURS: dict[MeasureStatus, RGB] = {
    MeasureStatus.CLOSED: (0, 114, 178),  # blue
    MeasureStatus.DONE: (86, 180, 233),  # sky blue
    MeasureStatus.IN_PROGRESS: (230, 159, 0),  # orange
    MeasureStatus.NOT_STARTED: (190, 190, 190),  # grey
}
OVERDUE_COLOUR: RGB = (213, 94, 0)  # vermillion
BACKGROUND: RGB = (255, 255, 255)
STRIPE: RGB = (244, 246, 248)
INK: RGB = (33, 33, 33)
MUTED: RGB = (110, 110, 110)


@functools.lru_cache(maxsize=32)
def _freetype(path: Path, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(path), size)


class _Fonts:
    """The chart's font at any size: the shipped CJK subset, or Pillow's default if it is missing."""

    def __init__(self, font_dir: Path) -> None:
        self.path: Path | None = font_dir / FONT_FILE
        if not self.path.is_file():
            log.warning("chart font %s not found: falling back to Pillow's default font (no Chinese glyphs)",
                        self.path)
            self.path = None

    def __call__(self, size: int) -> Font:
        if self.path is None:
            return ImageFont.load_default(size)
        return _freetype(self.path, size)


def load_chart_font(size: int, font_dir: Path = DEFAULT_FONT_DIR) -> Font:
    """The font `report_chart_png` draws with (for callers and tests that measure or render text)."""
    return _Fonts(font_dir)(size)


def _text_width(font: Font, text: str) -> float:
    return float(font.getlength(text))


def _draw_text(draw: ImageDraw.ImageDraw, x: float, middle: float, text: str, font: Font, fill: RGB,
               *, align: str = "left", stroke: int = 0) -> float:
    """Draw `text` vertically centred on `middle`; returns its width. align: left / center / right of x."""
    left, _, right, _ = font.getbbox(text)
    width = right - left
    if align == "center":
        x -= width / 2
    elif align == "right":
        x -= width
    # Centre on the ink of a reference glyph, so every line sits at the same height.
    _, ref_top, _, ref_bottom = font.getbbox("中")
    y = middle - (ref_top + ref_bottom) / 2
    draw.text((x - left, y), text, fill=fill, font=font, stroke_width=stroke, stroke_fill=fill)
    return float(width)


def _fit(fonts: _Fonts, text: str, width: float, size: int, smallest: int) -> tuple[Font, str]:
    """The largest size down to `smallest` at which `text` fits `width`; then cut with an ellipsis."""
    for candidate in range(size, smallest - 1, -2):
        font = fonts(candidate)
        if _text_width(font, text) <= width:
            return font, text
    font = fonts(smallest)
    while len(text) > 1 and _text_width(font, text + "…") > width:
        text = text[:-1]
    return font, text + "…"


def report_chart_png(
    report: Report,
    *,
    font_dir: Path = DEFAULT_FONT_DIR,
    width: int = 1080,
    max_units: int = MAX_UNITS,
) -> bytes:
    """A PNG of one horizontal stacked bar per unit (已销号 / 已完成 / 进行中 / 未开始, as shares of the
    unit's measures) with the counts in the segments, the total and the overdue count beside each
    bar, a legend and the title. Units beyond `max_units` are
    summed into one "其他" row. Pass `font_dir=settings.data_dir / "fonts"`."""
    fonts = _Fonts(font_dir)
    scale = width / 1080
    pad = round(40 * scale)
    row_h = round(58 * scale)
    bar_h = round(36 * scale)
    header_h = round(250 * scale)
    footer_h = round(70 * scale)

    shown, rest = _split_units(report.units, max_units)
    rows: list[tuple[str, StatusCounts, int]] = [(u.label, u.counts, u.overdue) for u in shown]
    if rest:
        rows.append((f"其他（{len(rest)}个单位）", sum((u.counts for u in rest), StatusCounts()),
                     sum(u.overdue for u in rest)))
    body_h = row_h * max(len(rows), 1)
    height = header_h + body_h + footer_h
    image = Image.new("RGB", (width, height), BACKGROUND)
    draw = ImageDraw.Draw(image)

    # Title, summary line and legend.
    prefix = "" if report.unit is None else report.unit or NO_UNIT
    title = f"{prefix}整改落实情况（截至{cn_date(report.today)}）"
    title_font, title = _fit(fonts, title, width - 2 * pad, round(46 * scale), round(30 * scale))
    _draw_text(draw, pad, round(62 * scale), title, title_font, INK, stroke=max(1, round(scale)))
    totals = report.totals
    summary = (f"共 {totals.total} 项 · 完成率 {_percent(totals.completion_rate)} · "
               f"逾期 {report.overdue.total} 项")
    summary_font, summary = _fit(fonts, summary, width - 2 * pad, round(30 * scale), round(20 * scale))
    _draw_text(draw, pad, round(122 * scale), summary, summary_font, MUTED)

    legend_font = fonts(round(26 * scale))
    legend_y = round(184 * scale)
    swatch = round(24 * scale)
    x: float = pad
    for status in STATUS_ORDER:
        draw.rectangle((x, legend_y - swatch / 2, x + swatch, legend_y + swatch / 2), fill=STATUS_COLOURS[status])
        x += swatch + 8 * scale
        label = f"{SUMMARY_LABELS[status]} {totals.get(status)}"
        x += _draw_text(draw, x, legend_y, label, legend_font, INK) + 26 * scale
    radius = 9 * scale
    draw.ellipse((x, legend_y - radius, x + 2 * radius, legend_y + radius), fill=OVERDUE_COLOUR)
    _draw_text(draw, x + 2 * radius + 8 * scale, legend_y, "逾期", legend_font, OVERDUE_COLOUR)
    draw.line((pad, header_h - 14 * scale, width - pad, header_h - 14 * scale), fill=(210, 210, 210),
              width=max(1, round(2 * scale)))

    # One row per unit: name | stacked bar, total | overdue marker.
    label_w = 290 * scale
    overdue_x = width - pad - 130 * scale
    bar_x0 = pad + label_w + 16 * scale
    bar_max = overdue_x - 112 * scale - bar_x0
    row_font = fonts(round(30 * scale))
    count_font = fonts(round(24 * scale))
    if not rows:
        _draw_text(draw, width / 2, header_h + body_h / 2, "暂无整改措施", row_font, MUTED, align="center")
    for index, (label, counts, overdue) in enumerate(rows):
        top = header_h + index * row_h
        middle = top + row_h / 2
        if index % 2:
            draw.rectangle((0, top, width, top + row_h - 1), fill=STRIPE)
        label_font, label = _fit(fonts, label, label_w, round(30 * scale), round(22 * scale))
        _draw_text(draw, pad, middle, label, label_font, INK)
        x = bar_x0
        for status, n in counts.items():
            if not n:
                continue
            segment = bar_max * n / counts.total
            draw.rectangle((x, middle - bar_h / 2, x + segment, middle + bar_h / 2), fill=STATUS_COLOURS[status])
            text = str(n)
            if _text_width(count_font, text) + 8 * scale <= segment:
                ink: RGB = (255, 255, 255) if status is MeasureStatus.CLOSED else INK
                _draw_text(draw, x + segment / 2, middle, text, count_font, ink, align="center")
            x += segment
        total_font, total = _fit(fonts, f"{counts.total}项", 96 * scale, round(24 * scale), round(16 * scale))
        _draw_text(draw, bar_x0 + bar_max + 10 * scale, middle, total, total_font, MUTED)
        if overdue:
            draw.ellipse((overdue_x, middle - radius, overdue_x + 2 * radius, middle + radius), fill=OVERDUE_COLOUR)
            _draw_text(draw, overdue_x + 2 * radius + 8 * scale, middle, f"逾期{overdue}", count_font, OVERDUE_COLOUR)

    generated = report.generated_at.astimezone(report.tz)
    footer = f"条形为各状态所占比例，右侧为措施总数；生成于 {generated:%Y-%m-%d %H:%M}"
    footer_font, footer = _fit(fonts, footer, width - 2 * pad, round(22 * scale), round(16 * scale))
    _draw_text(draw, pad, height - footer_h / 2, footer, footer_font, MUTED)

    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=6)
    return buffer.getvalue()
