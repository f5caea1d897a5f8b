"""Reminder policy and sweeps, with time under the test's control."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest
from sqlalchemy import func, select, update

from bot.config import load_settings
from bot.db import SessionFactory, transaction
from bot.models import Cadre, Measure, MeasureStatus, OutboxMessage, ReminderItem
from bot.services.reminders import Candidate, Policy, due_items, is_workday, stage
from handlers.reminders import run_sweep

POLICY = Policy(days_before=(7, 3, 1), escalate_after=3, skip_non_workdays=True)
FRIDAY = dt.date(2026, 11, 27)
SATURDAY = dt.date(2026, 11, 28)
MONDAY = dt.date(2026, 11, 30)


def candidate(deadline: dt.date, *, status: MeasureStatus = MeasureStatus.IN_PROGRESS, leader: int | None = 2
              ) -> Candidate:
    return Candidate(1, "ZG1", "问题", "单位", deadline, status, 1, "张伟", leader)


@pytest.mark.parametrize(("days_left", "expected"), [(30, None), (8, None), (7, "before7"), (5, "before7"),
                                                     (3, "before3"), (2, "before3"), (1, "before1"), (0, "due"),
                                                     (-1, "overdue"), (-40, "overdue")])
def test_stage_for_days_left(days_left: int, expected: str | None) -> None:
    assert stage(days_left, POLICY) == expected


def test_weekends_and_public_holidays_are_skipped_and_adjusted_workdays_are_not() -> None:
    assert is_workday(FRIDAY, POLICY)
    assert not is_workday(SATURDAY, POLICY)
    assert not is_workday(dt.date(2026, 10, 1), POLICY)  # National Day
    assert is_workday(dt.date(2026, 9, 20), POLICY) is not None  # decided by the calendar, not by weekday
    assert is_workday(SATURDAY, Policy(skip_non_workdays=False))
    assert due_items([candidate(SATURDAY)], SATURDAY, POLICY) == []


def test_years_without_holiday_data_fall_back_to_monday_to_friday() -> None:
    assert is_workday(dt.date(2031, 3, 3), POLICY)  # a Monday
    assert not is_workday(dt.date(2031, 3, 1), POLICY)  # a Saturday


def test_leader_is_told_only_after_the_escalation_threshold() -> None:
    two_days = due_items([candidate(FRIDAY - dt.timedelta(days=2))], FRIDAY, POLICY)
    assert [i.kind for i in two_days] == ["overdue"]
    three_days = due_items([candidate(FRIDAY - dt.timedelta(days=3))], FRIDAY, POLICY)
    assert [(i.kind, i.cadre_id) for i in three_days] == [("overdue", 1), ("escalate", 2)]


def test_done_and_closed_measures_are_not_reminded() -> None:
    overdue = FRIDAY - dt.timedelta(days=5)
    for status in (MeasureStatus.DONE, MeasureStatus.CLOSED):
        assert due_items([candidate(overdue, status=status)], FRIDAY, POLICY) == []


async def _items(factory: SessionFactory) -> int:
    async with transaction(factory) as session:
        return int(await session.scalar(select(func.count()).select_from(ReminderItem)) or 0)


async def _outbox(factory: SessionFactory) -> int:
    async with transaction(factory) as session:
        return int(await session.scalar(select(func.count()).select_from(OutboxMessage)) or 0)


async def test_a_second_sweep_the_same_day_queues_nothing(seeded: SessionFactory) -> None:
    settings = load_settings()
    first = await run_sweep(seeded, settings, FRIDAY)
    assert first.new and first.digests > 0
    items, messages = await _items(seeded), await _outbox(seeded)
    second = await run_sweep(seeded, settings, FRIDAY)
    assert second.new == [] and second.digests == 0
    assert (await _items(seeded), await _outbox(seeded)) == (items, messages)


async def test_one_digest_per_person_per_sweep(seeded: SessionFactory) -> None:
    result = await run_sweep(seeded, load_settings(), FRIDAY)
    recipients = {i.cadre_id for i in result.new}
    async with transaction(seeded) as session:
        reminders = list(await session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "reminder")))
    assert len(reminders) == len(recipients)
    assert len({m.cadre_id for m in reminders}) == len(reminders)
    # 梁秀珍 leads two escalated measures (ZG2025001, ZG2025002): both in her one message.
    liang = next(m for m in reminders if "ZG2025001" in m.text and "逾期督办" in m.text)
    assert "ZG2025002" in liang.text


async def test_dry_run_lists_without_recording(seeded: SessionFactory) -> None:
    result = await run_sweep(seeded, load_settings(), FRIDAY, dry_run=True)
    assert result.new
    assert await _items(seeded) == 0 and await _outbox(seeded) == 0
    # It says how many messages the real sweep would send: one per person reminded.
    assert result.digests == len({item.cadre_id for item in result.new}) > 0


async def test_nothing_on_a_weekend_and_monday_catches_up(seeded: SessionFactory) -> None:
    settings = load_settings()
    assert (await run_sweep(seeded, settings, SATURDAY)).new == []
    monday = await run_sweep(seeded, settings, MONDAY)
    kinds = {(i.candidate.code, i.kind) for i in monday.new}
    # ZG2025020 (deadline 11-30) is due today; ZG2025023 (12-01) is one day away.
    assert ("ZG2025020", "due") in kinds and ("ZG2025023", "before1") in kinds


async def test_downtime_catches_up_only_the_latest_stage(seeded: SessionFactory) -> None:
    # ZG2025023 has its deadline on 12-01: on 11-24 it was 7 days away, now it is 4.
    settings = load_settings()
    result = await run_sweep(seeded, settings, FRIDAY)
    zg23 = [i.kind for i in result.new if i.candidate.code == "ZG2025023"]
    assert zg23 == ["before7"]


async def test_reporting_done_stops_reminders_and_returning_resumes_them(seeded: SessionFactory) -> None:
    settings = load_settings()
    async with transaction(seeded) as session:
        await session.execute(update(Measure).where(Measure.code == "ZG2025001").values(status=MeasureStatus.DONE))
    first = await run_sweep(seeded, settings, FRIDAY)
    assert "ZG2025001" not in {i.candidate.code for i in first.new}
    async with transaction(seeded) as session:
        await session.execute(update(Measure).where(Measure.code == "ZG2025001")
                              .values(status=MeasureStatus.IN_PROGRESS))
    later = await run_sweep(seeded, settings, FRIDAY)
    assert {i.candidate.code for i in later.new} == {"ZG2025001"}


async def test_a_moved_deadline_starts_the_stages_again(seeded: SessionFactory) -> None:
    settings = load_settings()
    await run_sweep(seeded, settings, FRIDAY)  # ZG2025023 got its 7-day reminder for 12-01
    async with transaction(seeded) as session:
        await session.execute(update(Measure).where(Measure.code == "ZG2025023")
                              .values(deadline=dt.date(2026, 12, 3)))
    again = await run_sweep(seeded, settings, FRIDAY)
    assert [(i.candidate.code, i.kind) for i in again.new] == [("ZG2025023", "before7")]


async def test_admins_get_the_daily_overview_once_within_one_message(seeded: SessionFactory) -> None:
    settings = load_settings()
    await run_sweep(seeded, settings, FRIDAY)
    await run_sweep(seeded, settings, FRIDAY)
    async with transaction(seeded) as session:
        for name in ("韦丽萍", "刘洋"):  # 刘洋 also owns a measure due soon: one message, both parts
            admin = await session.scalar(select(Cadre).where(Cadre.name == name))
            assert admin is not None
            sendable = list(await session.scalars(select(OutboxMessage).where(OutboxMessage.cadre_id == admin.id)))
            assert len(sendable) == 1, name
            assert "逾期未完成：<b>5</b> 项" in sendable[0].text


async def test_two_concurrent_sweeps_record_everything_exactly_once(db_url: str, seeded: SessionFactory) -> None:
    from bot.db import create_engine, create_session_factory

    settings = load_settings(database_url=db_url)
    engines = [create_engine(db_url) for _ in range(2)]
    try:
        factories = [create_session_factory(e) for e in engines]
        results = await asyncio.gather(*(run_sweep(f, settings, FRIDAY) for f in factories))
    finally:
        for engine in engines:
            await engine.dispose()
    assert sum(len(r.new) for r in results) == len(results[0].due)
    assert await _items(seeded) == len(results[0].due)
    async with transaction(seeded) as session:
        keys = list(await session.scalars(select(OutboxMessage.key)))
    assert len(keys) == len(set(keys))


async def test_the_admin_overview_counts_the_days_unanswered_questions_still_to_deal_with(
        seeded: SessionFactory) -> None:
    from bot.services.answers import dismiss_miss, list_misses, record_miss

    async with transaction(seeded) as session:
        await record_miss(session, "火星探测器的燃料配比")
        await record_miss(session, "假快休完了还想多请几天")
        await record_miss(session, "假快休完了还想多请几天")
    async with transaction(seeded) as session:
        mars = next(m for m in await list_misses(session) if m.query.startswith("火星"))
        await dismiss_miss(session, mars.id)  # set aside: nothing left to do about it
    await run_sweep(seeded, load_settings(), FRIDAY)
    async with transaction(seeded) as session:
        admin = await session.scalar(select(Cadre).where(Cadre.name == "韦丽萍"))
        assert admin is not None
        overview = await session.scalar(select(OutboxMessage.text).where(OutboxMessage.cadre_id == admin.id))
    assert overview is not None and "近一天有 1 个问题未能回答或被指出答错：发送 /misses 查看" in overview
