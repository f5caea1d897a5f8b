"""bot.db.create_engine on SQLite: statements run in one hand-off to aiosqlite's thread
(`_aiosqlite_in_one_hop`) and still behave as the driver's own execute() in every way the
services rely on: rows, RETURNING, rowcount (the optimistic version check), lastrowid,
errors translated to SQLAlchemy's, server-side cursors (stream) left to the adapter. A COMMIT or
ROLLBACK with no transaction open stays on the event loop (`_aiosqlite_idle_ends_in_place`)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiosqlite
import pytest
from sqlalchemy import Engine, event, text
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine

from bot import db


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    engine = db.create_engine(f"sqlite+aiosqlite:///{tmp_path / 'one-hop.db'}")
    async with engine.begin() as conn:
        await conn.exec_driver_sql("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT UNIQUE, version INT)")
        await conn.exec_driver_sql("INSERT INTO t (name, version) VALUES ('a', 1), ('b', 1), ('c', 1)")
    yield engine
    await engine.dispose()


@pytest.fixture
def hand_offs(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of the functions run on aiosqlite's thread, in order."""
    seen: list[str] = []
    run = aiosqlite.Connection._execute

    async def counted(self: aiosqlite.Connection, fn: object, *args: object, **kwargs: object) -> object:
        seen.append(getattr(fn, "__name__", repr(fn)))
        return await run(self, fn, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(aiosqlite.Connection, "_execute", counted)
    return seen


def test_the_one_hop_execution_is_installed_only_for_aiosqlite() -> None:
    sqlite_engine = db.create_engine("sqlite+aiosqlite://")
    assert event.contains(sqlite_engine.sync_engine, "do_execute", db._aiosqlite_in_one_hop)
    postgres_engine = db.create_engine("postgresql+asyncpg://u:p@127.0.0.1:1/x")
    assert not event.contains(postgres_engine.sync_engine, "do_execute", db._aiosqlite_in_one_hop)


async def test_rows_come_back_in_order_and_in_full(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        rows = (await conn.execute(text("SELECT name FROM t ORDER BY id"))).scalars().all()
        assert rows == ["a", "b", "c"]
        assert (await conn.execute(text("SELECT name FROM t WHERE id = :i"), {"i": 2})).scalar_one() == "b"
        assert (await conn.execute(text("SELECT name FROM t WHERE id = 99"))).first() is None


async def test_updates_report_their_rowcount_and_inserts_their_id(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        bumped = await conn.execute(text("UPDATE t SET version = version + 1 WHERE name = 'a' AND version = 1"))
        stale = await conn.execute(text("UPDATE t SET version = version + 1 WHERE name = 'a' AND version = 1"))
        assert (bumped.rowcount, stale.rowcount) == (1, 0)
        inserted = await conn.execute(text("INSERT INTO t (name, version) VALUES ('d', 1)"))
        assert inserted.lastrowid == 4
        returned = await conn.execute(text("INSERT INTO t (name, version) VALUES ('e', 1) RETURNING id, name"))
        assert returned.all() == [(5, "e")]


async def test_driver_errors_become_sqlalchemy_errors_and_roll_back(engine: AsyncEngine) -> None:
    with pytest.raises(IntegrityError):
        async with engine.begin() as conn:
            await conn.execute(text("INSERT INTO t (name, version) VALUES ('x', 1)"))
            await conn.execute(text("INSERT INTO t (name, version) VALUES ('a', 1)"))
    with pytest.raises(OperationalError):
        async with engine.connect() as conn:
            await conn.execute(text("SELECT nope FROM t"))
    async with engine.connect() as conn:
        assert (await conn.execute(text("SELECT count(*) FROM t"))).scalar_one() == 3  # 'x' rolled back


async def test_streamed_results_still_use_the_adapters_server_side_cursor(engine: AsyncEngine) -> None:
    handled: list[bool] = []

    def watch(_connection: object, cursor: object, *_args: object) -> None:
        handled.append(getattr(cursor, "server_side", None) is True)

    event.listen(Engine, "before_cursor_execute", watch)
    try:
        async with engine.connect() as conn:
            result = await conn.stream(text("SELECT name FROM t ORDER BY id"))
            assert [row async for row in result.scalars()] == ["a", "b", "c"]
    finally:
        event.remove(Engine, "before_cursor_execute", watch)
    assert handled == [True]


async def test_a_read_only_unit_of_work_makes_one_trip_to_the_database_thread(
        engine: AsyncEngine, hand_offs: list[str]) -> None:
    factory = db.create_session_factory(engine)
    async with engine.connect():
        pass  # the pooled connection exists before counting
    hand_offs.clear()
    async with db.transaction(factory) as session:
        assert (await session.execute(text("SELECT name FROM t WHERE id = 1"))).scalar_one() == "a"
    # The statement only: the commit and the pool's rollback-on-return had nothing to end.
    assert hand_offs == ["steps"]


async def test_a_write_is_still_committed_and_a_failed_one_rolled_back(
        engine: AsyncEngine, hand_offs: list[str], tmp_path: Path) -> None:
    factory = db.create_session_factory(engine)
    async with db.transaction(factory) as session:
        await session.execute(text("UPDATE t SET version = 2 WHERE name = 'a'"))
    assert "commit" in hand_offs
    with pytest.raises(RuntimeError):
        async with db.transaction(factory) as session:
            await session.execute(text("UPDATE t SET version = 3 WHERE name = 'b'"))
            raise RuntimeError("the handler failed")
    assert "rollback" in hand_offs
    await engine.dispose()
    reopened = db.create_engine(f"sqlite+aiosqlite:///{tmp_path / 'one-hop.db'}")
    try:
        async with reopened.connect() as conn:
            versions = dict((await conn.execute(text("SELECT name, version FROM t"))).tuples().all())
        assert versions == {"a": 2, "b": 1, "c": 1}
    finally:
        await reopened.dispose()
