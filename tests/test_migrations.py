"""Alembic: upgrade from empty and back on both databases; the models and migrations agree."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, inspect

from bot import db
from bot.models import Base


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
