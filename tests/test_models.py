"""Model invariants that the database itself enforces, on both backends."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError, StatementError

from bot.db import SessionFactory, transaction
from bot.models import Cadre, Measure, MeasureEvent, MeasureStatus, Role


async def _cadre(factory: SessionFactory, name: str = "甲") -> int:
    async with transaction(factory) as session:
        cadre = Cadre(name=name, unit="人事科", position="科员", role=Role.CADRE)
        session.add(cadre)
        await session.flush()
        return cadre.id


async def test_measure_codes_are_unique(factory: SessionFactory) -> None:
    owner = await _cadre(factory)
    async with transaction(factory) as session:
        session.add(Measure(code="A1", problem="p", measure="m", owner_id=owner))
    with pytest.raises(IntegrityError):
        async with transaction(factory) as session:
            session.add(Measure(code="A1", problem="p2", measure="m2", owner_id=owner))


async def test_status_outside_the_four_is_refused_by_the_database(factory: SessionFactory) -> None:
    owner = await _cadre(factory)
    async with transaction(factory) as session:
        session.add(Measure(code="A2", problem="p", measure="m", owner_id=owner))
    with pytest.raises(IntegrityError):
        async with transaction(factory) as session:
            await session.execute(text("UPDATE measures SET status = 'finished' WHERE code = 'A2'"))


async def test_measure_events_are_append_only(factory: SessionFactory) -> None:
    owner = await _cadre(factory)
    async with transaction(factory) as session:
        measure = Measure(code="A3", problem="p", measure="m", owner_id=owner)
        session.add(measure)
        session.add(MeasureEvent(measure=measure, action="create", to_status=MeasureStatus.NOT_STARTED))
    with pytest.raises(RuntimeError, match="append-only"):
        async with transaction(factory) as session:
            event = await session.scalar(select(MeasureEvent))
            assert event is not None
            event.note = "rewritten history"


async def test_times_come_back_timezone_aware_utc(factory: SessionFactory) -> None:
    owner = await _cadre(factory)
    local = dt.datetime(2026, 11, 27, 9, 30, tzinfo=dt.timezone(dt.timedelta(hours=8)))
    async with transaction(factory) as session:
        cadre = await session.get(Cadre, owner)
        assert cadre is not None
        cadre.bound_at = local
    async with factory() as session:
        cadre = await session.get(Cadre, owner)
        assert cadre is not None and cadre.bound_at is not None
        assert cadre.bound_at.utcoffset() == dt.timedelta(0)
        assert cadre.bound_at == local


async def test_naive_datetimes_are_refused(factory: SessionFactory) -> None:
    owner = await _cadre(factory)
    with pytest.raises(StatementError, match="naive"):
        async with transaction(factory) as session:
            cadre = await session.get(Cadre, owner)
            assert cadre is not None
            cadre.bound_at = dt.datetime(2026, 1, 1)


async def test_optimistic_version_rejects_a_stale_write(factory: SessionFactory) -> None:
    from sqlalchemy.orm.exc import StaleDataError

    owner = await _cadre(factory)
    async with transaction(factory) as session:
        session.add(Measure(code="A4", problem="p", measure="m", owner_id=owner))
    async with factory() as first, factory() as second:
        a = await first.scalar(select(Measure).where(Measure.code == "A4"))
        b = await second.scalar(select(Measure).where(Measure.code == "A4"))
        assert a is not None and b is not None
        a.progress = "first"
        await first.commit()
        b.progress = "second"
        with pytest.raises(StaleDataError):
            await second.commit()
