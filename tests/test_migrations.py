"""Alembic: upgrade from empty and back on both databases; the models and migrations agree."""

from __future__ import annotations

import datetime as dt

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, inspect, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from bot import db
from bot.db import SessionFactory, transaction
from bot.models import Base, Cadre, ExtensionRequest, ExtensionStatus, Measure


async def test_upgrade_from_empty_then_downgrade_to_base(empty_db_url: str) -> None:
    engine = db.create_engine(empty_db_url)
    try:
        assert await db.current_revision(engine) is None
        await db.upgrade(engine)
        assert await db.current_revision(engine) == db.head_revision()
        async with engine.connect() as conn:
            tables = set(await conn.run_sync(lambda c: inspect(c).get_table_names()))
        assert {"regulations", "articles", "cadres", "measures", "measure_events"} <= tables
        await db.downgrade(engine, "base")
        async with engine.connect() as conn:
            left = set(await conn.run_sync(lambda c: inspect(c).get_table_names()))
        assert left <= {"alembic_version"}
    finally:
        await engine.dispose()


def _differences(connection: Connection) -> list[object]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, Base.metadata))


async def test_models_and_migrations_agree(db_url: str) -> None:
    engine = db.create_engine(db_url)
    try:
        async with engine.connect() as conn:
            differences = await conn.run_sync(_differences)
    finally:
        await engine.dispose()
    assert differences == [], f"models and migrations differ; write a migration: {differences}"


async def test_withdrawn_requests_are_allowed_from_0005_and_read_as_refused_below_it(
    engine: AsyncEngine, seeded: SessionFactory
) -> None:
    async with transaction(seeded) as session:
        zhang = (await session.scalars(select(Cadre.id).where(Cadre.name == "张伟"))).one()
        measure_id = (await session.scalars(select(Measure.id).where(Measure.code == "ZG2025009"))).one()
        rows = [ExtensionRequest(measure_id=measure_id, requested_by_id=zhang, new_deadline=dt.date(2027, 1, 31),
                                 reason="r", status=status, decision_note=note)
                for status, note in ((ExtensionStatus.WITHDRAWN, ""), (ExtensionStatus.WITHDRAWN, "日期写错"),
                                     (ExtensionStatus.REFUSED, "请按期完成"), (ExtensionStatus.PENDING, ""))]
        session.add_all(rows)
    statuses = "SELECT status, decision_note FROM extension_requests ORDER BY id"
    await db.downgrade(engine, "0004")
    async with engine.connect() as conn:
        assert (await conn.execute(text(statuses))).all() == [
            ("refused", "申请人已撤回"), ("refused", "申请人已撤回；日期写错"), ("refused", "请按期完成"),
            ("pending", "")]
    # The old constraint is back: the older code never meets a status it does not know.
    insert = text("INSERT INTO extension_requests (measure_id, requested_by_id, new_deadline, reason, status, "
                  "created_at, decision_note) VALUES (:m, :c, '2027-02-28', 'r', 'withdrawn', "
                  "'2026-11-27 00:00:00', '')")
    with pytest.raises(IntegrityError):
        async with engine.begin() as conn:
            await conn.execute(insert, {"m": measure_id, "c": zhang})
    await db.upgrade(engine)
    async with engine.begin() as conn:
        await conn.execute(insert, {"m": measure_id, "c": zhang})
        # One pending request per measure, still: the index survived both copies of the table.
        with pytest.raises(IntegrityError):
            async with conn.begin_nested():
                await conn.execute(text(insert.text.replace("'withdrawn'", "'pending'")), {"m": measure_id, "c": zhang})
