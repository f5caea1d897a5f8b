"""Shared fixtures: every database test runs on a real SQLite file and a real PostgreSQL server.

The PostgreSQL server is started here (see `pg_server.py`); on a machine without its binaries
those tests are skipped with a message saying so — unless ZHENGGAI_REQUIRE_POSTGRES=1 (CI),
where a missing server is a failure.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

# Tests talk to loopback only; make sure no proxy setting reroutes that traffic.
os.environ["NO_PROXY"] = os.environ["no_proxy"] = "127.0.0.1,localhost"
for variable in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
    os.environ.pop(variable, None)
# The test run must not pick up a developer's .env or real token.
os.environ.pop("TELEGRAM_BOT_TOKEN", None)
os.environ["ZHENGGAI_ENV_FILE"] = os.devnull

from bot import db  # noqa: E402
from bot.db import SessionFactory  # noqa: E402
from bot.services.seed import seed_sample_data  # noqa: E402
from tests.pg_server import PostgresServer, PostgresUnavailable, start_server  # noqa: E402

PROJECT = Path(__file__).resolve().parent.parent
DATA = PROJECT / "data"
TEMPLATE_DB = "zhenggai_template"
_counter = itertools.count(1)


def start_server_or_skip() -> PostgresServer:
    """A private PostgreSQL server; without one the test is skipped (failed where CI requires it)."""
    try:
        return start_server()
    except PostgresUnavailable as exc:
        if os.environ.get("ZHENGGAI_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"PostgreSQL is required here: {exc}")
        pytest.skip(f"PostgreSQL tests skipped: {exc}")


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PostgresServer]:
    server = start_server_or_skip()
    try:
        asyncio.run(_create_template(server))
        yield server
    finally:
        server.stop()


async def _admin_execute(server: PostgresServer, *statements: str) -> None:
    import asyncpg

    connection = await asyncpg.connect(host="127.0.0.1", port=server.port, user=server.user, database="postgres")
    try:
        for statement in statements:
            await connection.execute(statement)
    finally:
        await connection.close()


async def _create_template(server: PostgresServer) -> None:
    await _admin_execute(server, f"CREATE DATABASE {TEMPLATE_DB}")
    engine = db.create_engine(server.url(TEMPLATE_DB))
    await db.upgrade(engine)
    await engine.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"

    async def migrate() -> None:
        engine = db.create_engine(f"sqlite+aiosqlite:///{path}")
        await db.upgrade(engine)
        await engine.dispose()

    asyncio.run(migrate())
    return path


def new_postgres_database(server: PostgresServer, *, migrated: bool = True) -> str:
    name = f"zg_test_{os.getpid()}_{next(_counter)}"
    template = f" TEMPLATE {TEMPLATE_DB}" if migrated else ""
    asyncio.run(_admin_execute(server, f"CREATE DATABASE {name}{template}"))
    return server.url(name)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def db_url(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A migrated, empty database of the parametrised backend."""
    if backend == "sqlite":
        path = tmp_path / "zhenggai.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        return f"sqlite+aiosqlite:///{path}"
    return new_postgres_database(request.getfixturevalue("pg_server"))


@pytest.fixture
def empty_db_url(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A database with no schema at all (for migration tests)."""
    if backend == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}"
    return new_postgres_database(request.getfixturevalue("pg_server"), migrated=False)


@pytest.fixture
async def engine(db_url: str) -> AsyncIterator[AsyncEngine]:
    engine = db.create_engine(db_url)
    yield engine
    await engine.dispose()


@pytest.fixture
def factory(engine: AsyncEngine) -> SessionFactory:
    return db.create_session_factory(engine)


@pytest.fixture
async def seeded(factory: SessionFactory) -> SessionFactory:
    """The sample data from data/ imported, as `make demo` does."""
    await seed_sample_data(factory, DATA)
    return factory
