"""Engine, the one session factory, and schema migrations (Alembic)."""

from __future__ import annotations

import logging
import sqlite3
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, DisconnectionError, InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"

SessionFactory = async_sessionmaker[AsyncSession]


def create_engine(url: str, **kwargs: Any) -> AsyncEngine:
    """An async engine; SQLite gets its directory created and safe connection pragmas."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        kwargs.setdefault("connect_args", {"timeout": 30})
    else:
        kwargs.setdefault("pool_pre_ping", True)
    engine = create_async_engine(url, **kwargs)
    if parsed.get_backend_name() == "sqlite":
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        if engine.dialect.driver == "aiosqlite":
            event.listen(engine.sync_engine, "do_execute", _aiosqlite_in_one_hop)
            event.listen(engine.sync_engine, "connect", _aiosqlite_idle_ends_in_place)
    return engine


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # Foreign keys are off by default in SQLite; WAL lets the bot read while a CLI import writes.
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _aiosqlite_in_one_hop(cursor: Any, statement: str, parameters: Any, _context: Any) -> bool:
    """Run a statement on aiosqlite's thread in one hand-off instead of four.

    SQLAlchemy's aiosqlite adapter awaits cursor(), execute(), fetchall() and close() one by
    one, each a trip to aiosqlite's thread and back (~100 µs of event-loop work each); a bot
    handling a message runs a few statements, so those trips were a large part of its cost
    (see benchmarks/README.md, load). This does the same four steps in one trip and leaves the
    adapter's cursor as its own execute() would. Anything unexpected — a server-side cursor,
    an adapter or aiosqlite without the attributes used here — falls back to the adapter.
    """
    if getattr(cursor, "server_side", True):
        return False
    connection = getattr(cursor, "_connection", None)
    run_in_thread = getattr(connection, "_execute", None)
    await_ = getattr(cursor, "await_", None)
    if run_in_thread is None or await_ is None or not hasattr(cursor, "_rows"):
        return False

    def steps() -> tuple[Any, list[Any] | None, int | None, int]:
        raw: sqlite3.Connection = connection._conn  # type: ignore[union-attr]
        dbapi_cursor = raw.cursor()
        try:
            dbapi_cursor.execute(statement, parameters)
            description = dbapi_cursor.description
            rows = dbapi_cursor.fetchall() if description else None
            return description, rows, dbapi_cursor.lastrowid, dbapi_cursor.rowcount
        finally:
            dbapi_cursor.close()

    try:
        description, rows, lastrowid, rowcount = await_(run_in_thread(steps))
    except Exception as error:
        cursor._adapt_connection._handle_exception(error)  # the adapter's own error translation
    if description:
        cursor.description, cursor.lastrowid, cursor.rowcount = description, -1, -1
        cursor._rows = deque(rows or ())
    else:
        cursor.description, cursor.lastrowid, cursor.rowcount = None, lastrowid, rowcount
    return True


async def _nothing_to_end() -> None:
    return None


def _aiosqlite_idle_ends_in_place(dbapi_connection: Any, _record: Any) -> None:
    """Skip the trip to aiosqlite's thread for a COMMIT or ROLLBACK with no transaction open.

    Every unit of work ends in a commit, and the pool then rolls the returned connection back
    (SQLAlchemy cannot tell that the commit already ended the transaction). For a read-only
    message neither has anything to do: sqlite3 itself makes both no-ops when no transaction is
    open, but each still costs a hand-off to the thread and back. `in_transaction` is SQLite's
    own answer (sqlite3_get_autocommit), read without the thread; a pending write always goes
    through. A driver without the attributes used here is left alone.
    """
    driver = getattr(dbapi_connection, "driver_connection", None)
    if driver is None or not isinstance(getattr(type(driver), "in_transaction", None), property):
        return
    for name in ("commit", "rollback"):
        end = getattr(driver, name, None)
        if end is None:
            continue

        def end_if_open(end: Any = end) -> Any:
            return end() if driver.in_transaction else _nothing_to_end()

        setattr(driver, name, end_if_open)


#: SQLSTATE classes of an unreachable server: 08 connection exception, 57P operator intervention
#: (shutting down, starting up, connection terminated by an administrator).
_UNAVAILABLE_STATES = ("08", "57P")


def is_unavailable(error: BaseException) -> bool:
    """Does `error` mean the database cannot be reached right now (down, restarting, locked
    beyond the busy timeout, network trouble) rather than a bug or bad data? Such an error
    passes: pool_pre_ping replaces dead connections once the server is back."""
    if isinstance(error, OperationalError | InterfaceError | DisconnectionError | TimeoutError | OSError):
        return True
    if isinstance(error, DBAPIError) and error.connection_invalidated:
        return True
    # The driver's own error (asyncpg raises some while connecting) or the one SQLAlchemy wraps.
    for source in (error, getattr(error, "orig", None)):
        state = getattr(source, "sqlstate", None) or getattr(source, "pgcode", None)
        if isinstance(state, str) and state.startswith(_UNAVAILABLE_STATES):
            return True
    return False


def create_session_factory(engine: AsyncEngine) -> SessionFactory:
    # expire_on_commit=False: handlers render objects after the transaction has committed.
    return async_sessionmaker(engine, expire_on_commit=False)


@asynccontextmanager
async def transaction(factory: SessionFactory) -> AsyncIterator[AsyncSession]:
    """One unit of work: commit on success, roll back on any exception."""
    async with factory() as session, session.begin():
        yield session


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def _upgrade(connection: Connection, revision: str) -> None:
    config = alembic_config()
    config.attributes["connection"] = connection
    command.upgrade(config, revision)


def _downgrade(connection: Connection, revision: str) -> None:
    config = alembic_config()
    config.attributes["connection"] = connection
    command.downgrade(config, revision)


def _current(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


async def upgrade(engine: AsyncEngine, revision: str = "head") -> None:
    async with engine.begin() as conn:
        await conn.run_sync(_upgrade, revision)


async def downgrade(engine: AsyncEngine, revision: str) -> None:
    async with engine.begin() as conn:
        await conn.run_sync(_downgrade, revision)


async def current_revision(engine: AsyncEngine) -> str | None:
    async with engine.connect() as conn:
        return await conn.run_sync(_current)


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def revisions() -> list[str]:
    """Every migration's revision id, oldest first."""
    return [r.revision for r in reversed(list(ScriptDirectory.from_config(alembic_config()).walk_revisions()))]


async def ensure_schema(engine: AsyncEngine) -> None:
    """Bring the database to the latest schema (cheap when it already is)."""
    if await current_revision(engine) != head_revision():
        log.info("upgrading database schema to %s", head_revision())
        await upgrade(engine)
