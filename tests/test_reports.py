"""The 公示 report: counts and lists from the database, the plain text, the chart and its font."""

from __future__ import annotations

import csv
import datetime as dt
import io
import logging
from collections import Counter
from pathlib import Path

import pytest
from PIL import Image, ImageChops, ImageFont
from sqlalchemy import select

from bot.db import SessionFactory, transaction
from bot.models import Cadre, Measure, MeasureEvent, MeasureStatus
from bot.services import reports
from bot.services.reports import Report, StatusCounts, UnitSummary
from tests.conftest import DATA

TODAY = dt.date(2026, 11, 27)  # a Friday: the week runs from Monday 23 November
STATUS_WORDS = {"未开始": MeasureStatus.NOT_STARTED, "进行中": MeasureStatus.IN_PROGRESS,
                "已完成": MeasureStatus.DONE, "已销号": MeasureStatus.CLOSED}
FONT_PATH = reports.DEFAULT_FONT_DIR / reports.FONT_FILE


def sample_measures() -> list[dict[str, str]]:
    with (DATA / "measures.csv").open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def sample_cadres() -> list[dict[str, str]]:
    with (DATA / "cadres.csv").open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def expected_overdue(rows: list[dict[str, str]]) -> list[str]:
    """Codes of open measures past their deadline, most overdue first (ties by code)."""
    open_past = [r for r in rows if r["status"] in ("未开始", "进行中") and r["deadline"]
                 and dt.date.fromisoformat(r["deadline"]) < TODAY]
    return [r["code"] for r in sorted(open_past, key=lambda r: (r["deadline"], r["code"]))]


async def build(factory: SessionFactory, **kwargs: object) -> Report:
    async with transaction(factory) as session:
        return await reports.build_report(session, TODAY, **kwargs)  # type: ignore[arg-type]


# --- the numbers ---------------------------------------------------------------------------


async def test_totals_match_a_direct_count_of_the_sample_file(seeded: SessionFactory) -> None:
    rows = sample_measures()
    report = await build(seeded)

    by_status = Counter(STATUS_WORDS[r["status"]] for r in rows)
    assert report.total == len(rows)
    assert dict(report.totals.items()) == {status: by_status[status] for status in MeasureStatus}
    by_unit = Counter(r["unit"] for r in rows)
    assert {u.unit: u.total for u in report.units} == dict(by_unit)
    assert [u.total for u in report.units] == sorted((u.total for u in report.units), reverse=True)
    for unit in report.units:
        unit_rows = [r for r in rows if r["unit"] == unit.unit]
        done = sum(r["status"] in ("已完成", "已销号") for r in unit_rows)
        assert unit.completion_rate == pytest.approx(done / len(unit_rows))
        assert unit.overdue == len([c for c in expected_overdue(unit_rows)])


async def test_overdue_list_is_exactly_the_open_past_deadline_measures_most_overdue_first(
    seeded: SessionFactory,
) -> None:
    rows = {r["code"]: r for r in sample_measures()}
    report = await build(seeded)

    assert [item.code for item in report.overdue] == expected_overdue(list(rows.values()))
    assert report.overdue.total == len(report.overdue) == 5
    days = [item.days_overdue or 0 for item in report.overdue]
    assert days == sorted(days, reverse=True)
    for item in report.overdue:
        row = rows[item.code]
        assert item.status.is_open
        assert item.owner == row["owner"] and item.leader == row["leader"] and item.unit == row["unit"]
        assert item.days_overdue == (TODAY - dt.date.fromisoformat(row["deadline"])).days > 0


async def test_due_soon_lists_open_measures_due_within_seven_days(seeded: SessionFactory) -> None:
    rows = sample_measures()
    soon = TODAY + dt.timedelta(days=7)
    expected = sorted((r["deadline"], r["code"]) for r in rows if r["status"] in ("未开始", "进行中")
                      and r["deadline"] and TODAY <= dt.date.fromisoformat(r["deadline"]) <= soon)
    report = await build(seeded)
    assert [item.code for item in report.due_soon] == [code for _, code in expected]
    assert all(0 <= (item.days_left or 0) <= 7 for item in report.due_soon)


async def test_a_measure_without_deadline_is_never_overdue(seeded: SessionFactory) -> None:
    async with transaction(seeded) as session:
        owner = await session.scalar(select(Cadre).where(Cadre.name == "张伟"))
        session.add(Measure(code="ZG2025900", problem="长期问题", measure="长期坚持", unit="基础教育科",
                            owner=owner, deadline=None, status=MeasureStatus.NOT_STARTED))
    report = await build(seeded)

    assert report.total == len(sample_measures()) + 1
    assert "ZG2025900" not in {item.code for item in report.overdue}
    assert "ZG2025900" not in {item.code for item in report.due_soon}
    assert report.overdue.total == 5
    unit = next(u for u in report.units if u.unit == "基础教育科")
    assert unit.overdue == 0 and unit.counts.not_started == 2


async def test_long_lists_are_capped_but_keep_their_full_count(seeded: SessionFactory) -> None:
    report = await build(seeded, limit=2)
    assert [item.code for item in report.overdue] == expected_overdue(sample_measures())[:2]
    assert report.overdue.total == 5 and report.overdue.truncated
    text = reports.report_text(report, public=True)
    assert "逾期未完成（5 项）" in text and "……另有 3 项" in text


async def test_a_report_for_one_unit_counts_only_that_unit(seeded: SessionFactory) -> None:
    report = await build(seeded, unit="计划财务科")
    rows = [r for r in sample_measures() if r["unit"] == "计划财务科"]
    assert report.total == len(rows)
    assert [u.unit for u in report.units] == ["计划财务科"]
    assert {item.unit for item in report.overdue} <= {"计划财务科"}
    assert "责任单位：计划财务科" in reports.report_text(report, public=True)


async def test_closed_this_week_counts_real_sign_offs_not_measures_imported_as_closed(
    seeded: SessionFactory,
) -> None:
    # The sample import created five measures already 已销号 "now": none of them was signed off this week.
    assert (await build(seeded)).closed_this_week.total == 0
    async with transaction(seeded) as session:
        for code, at in (("ZG2025012", dt.datetime(2026, 11, 24, 2, tzinfo=dt.UTC)),  # this week
                         ("ZG2025013", dt.datetime(2026, 11, 22, 16, 30, tzinfo=dt.UTC)),  # Mon 00:30 北京时间
                         ("ZG2025016", dt.datetime(2026, 11, 22, 15, 30, tzinfo=dt.UTC))):  # Sun 23:30: last week
            measure = await session.scalar(select(Measure).where(Measure.code == code))
            assert measure is not None
            measure.status = MeasureStatus.CLOSED
            session.add(MeasureEvent(measure=measure, action="close", at=at,
                                     from_status=MeasureStatus.DONE, to_status=MeasureStatus.CLOSED))
    report = await build(seeded)
    assert report.week_start == dt.date(2026, 11, 23)
    assert [item.code for item in report.closed_this_week] == ["ZG2025012", "ZG2025013"]
    assert report.closed_this_week.total == 2
    assert report.totals.closed == 8


async def test_an_empty_database_gives_a_report_of_zeros(factory: SessionFactory) -> None:
    report = await build(factory)
    assert report.totals == StatusCounts() and report.units == () and report.overdue.total == 0
    text = reports.report_text(report, public=True)
    assert "共 0 项：已销号 0，已完成待销号 0，进行中 0，未开始 0；逾期 0 项" in text
    assert Image.open(io.BytesIO(reports.report_chart_png(report))).width == 1080


# --- the text ------------------------------------------------------------------------------


async def test_public_text_has_the_summary_line_and_no_owner_or_leader_names(seeded: SessionFactory) -> None:
    report = await build(seeded)
    public = reports.report_text(report, public=True)
    internal = reports.report_text(report, public=False)

    assert public.splitlines()[:3] == [
        "整改落实情况公示（截至2026年11月27日）",
        "共 30 项：已销号 5，已完成待销号 5，进行中 13，未开始 7；逾期 5 项",
        "完成率 33%（已销号与已完成待销号），其中已销号 17%",
    ]
    for cadre in sample_cadres():
        assert cadre["name"] not in public
    for row in sample_measures():  # no progress notes either
        assert not row["progress"] or row["progress"] not in public
    for code in expected_overdue(sample_measures()):
        assert code in public
    assert "ZG2025030 港北区教育局，进行中，时限 2026年11月5日，逾期 22 天" in public
    assert "责任人 林振华，分管领导 陈建华" in internal


# --- the chart and its font ----------------------------------------------------------------


def has_glyph(font: ImageFont.FreeTypeFont, char: str) -> bool:
    """True when `char` draws something other than the font's .notdef box."""
    mask = font.getmask(char)
    notdef = font.getmask("\ue000")  # a private-use code point: never in the subset
    return mask.getbbox() is not None and (mask.size != notdef.size or bytes(mask) != bytes(notdef))


def test_the_subset_font_covers_every_character_of_the_cadres_and_unit_names() -> None:
    font = ImageFont.truetype(str(FONT_PATH), 48)
    assert not has_glyph(font, "\U00020000")  # the check tells a missing glyph apart (CJK Ext. B)
    chars = set((DATA / "cadres.csv").read_text(encoding="utf-8"))
    chars |= {char for row in sample_measures() for char in row["unit"] + row["owner"] + row["leader"]}
    chars |= set("整改落实情况公示截至年月日已销号完成待进行中未开始逾期其他个单位共项率㎡，。（）《》、：；“”…")
    missing = sorted(c for c in chars if not c.isspace() and not has_glyph(font, c))
    assert missing == []


def test_the_font_ships_with_its_license_and_readme() -> None:
    fonts = reports.DEFAULT_FONT_DIR
    assert "SIL OPEN FONT LICENSE Version 1.1" in (fonts / "LICENSE-NotoSansSC.txt").read_text(encoding="utf-8")
    readme = (fonts / "README.md").read_text(encoding="utf-8")
    assert "fonts-noto-cjk" in readme and "tools/subset_font.py" in readme
    assert FONT_PATH.stat().st_size < 2_500_000


def title_area(png: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(png))
    return image.convert("L").crop((0, 0, image.width, 100))


async def test_the_chart_is_a_png_with_the_chinese_title_drawn(
    seeded: SessionFactory, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    report = await build(seeded)
    png = reports.report_chart_png(report)
    image = Image.open(io.BytesIO(png))
    assert image.format == "PNG" and image.width == 1080
    assert image.height > 250 + 58 * len(report.units)
    title = title_area(png)
    ink = sum(title.histogram()[:128])  # dark pixels
    assert ink > 2000

    with caplog.at_level(logging.WARNING, logger="bot.services.reports"):
        fallback = reports.report_chart_png(report, font_dir=tmp_path)  # no font there
    assert "chart font" in caplog.text
    assert Image.open(io.BytesIO(fallback)).width == 1080
    assert ImageChops.difference(title, title_area(fallback)).getbbox() is not None

    cjk = reports.load_chart_font(46)
    assert isinstance(cjk, ImageFont.FreeTypeFont)
    assert has_glyph(cjk, "整") and has_glyph(cjk, "改")


def synthetic_report(units: int) -> Report:
    summaries = tuple(
        UnitSummary(f"第{i + 1}责任单位", StatusCounts(closed=i % 5, done=i % 3, in_progress=7, not_started=i % 4 + 1),
                    overdue=i % 3, due_soon=0)
        for i in range(units)
    )
    empty = reports.ItemList((), 0)
    return Report(today=TODAY, generated_at=dt.datetime(2026, 11, 27, 1, tzinfo=dt.UTC), tz=reports.DEFAULT_TZ,
                  unit=None, totals=sum((u.counts for u in summaries), StatusCounts()), units=summaries,
                  overdue=empty, due_soon=empty, closed_this_week=empty, week_start=dt.date(2026, 11, 23))


def test_a_chart_of_many_units_stops_at_forty_rows() -> None:
    forty = Image.open(io.BytesIO(reports.report_chart_png(synthetic_report(40))))
    sixty = Image.open(io.BytesIO(reports.report_chart_png(synthetic_report(60))))
    assert forty.size == sixty.size == (1080, forty.height)
    text = reports.report_text(synthetic_report(60), public=True)
    assert "其他 21 个单位：" in text and "第39责任单位" in text and "第40责任单位" not in text
