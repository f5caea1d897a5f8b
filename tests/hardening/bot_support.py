"""What the hardening tests of the bot share: the real bot on a seeded database, knowing when it
has finished with everything sent so far, and a log of what it logged.

The seeded templates are built once per test process (module-level cache) under names of their
own, so these tests neither need nor disturb the fixtures of tests/bot.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import shutil
import tempfile
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from sqlalchemy import select

from bot import db
from bot.db import transaction
from bot.models import Cadre, Measure, MeasureStatus, Role
from bot.sandbox import BotMessage, CallRecord, RateLimits, Sandbox
from bot.services.seed import seed_sample_data
from handlers.common import DATABASE_DOWN
from handlers.errors import APOLOGY
from handlers.render import MESSAGE_LIMIT, utf16_len
from tests.bot.conftest import BOT_USERNAME, TODAY, Harness, running_bot
from tests.conftest import DATA, TEMPLATE_DB, _admin_execute
from tests.pg_server import PostgresServer

__all__ = ["BOT_USERNAME", "TODAY", "LogWatch", "bot_on", "changeable_codes", "problems_in", "seeded_database",
           "settle"]

PG_TEMPLATE = "zhenggai_hardening_seeded"
_templates: dict[str, str] = {}
_copies = itertools.count(1)


# ---- databases ------------------------------------------------------------------------------------

async def _seed(url: str) -> None:
    engine = db.create_engine(url)
    try:
        await db.ensure_schema(engine)
        await seed_sample_data(db.create_session_factory(engine), DATA)
        if url.startswith("sqlite"):
            async with engine.connect() as conn:  # fold the WAL into the file before copying it
                await conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        await engine.dispose()


def seeded_database(backend: str, request: pytest.FixtureRequest, directory: Path) -> str:
    """A fresh copy of the migrated sample data, of `backend` (templates built once per process).

    Synchronous, for synchronous fixtures: it runs its own event loop, as tests/bot's do."""
    if backend == "sqlite":
        template = _templates.get("sqlite")
        if template is None:
            template = str(Path(tempfile.mkdtemp(prefix="zg-hardening-")) / "seeded.db")
            asyncio.run(_seed(f"sqlite+aiosqlite:///{template}"))
            _templates["sqlite"] = template
        path = directory / f"hardening-{next(_copies)}.db"
        shutil.copy(template, path)
        return f"sqlite+aiosqlite:///{path}"
    server: PostgresServer = request.getfixturevalue("pg_server")
    if "postgres" not in _templates:
        asyncio.run(_admin_execute(server, f"DROP DATABASE IF EXISTS {PG_TEMPLATE}",
                                   f"CREATE DATABASE {PG_TEMPLATE} TEMPLATE {TEMPLATE_DB}"))
        asyncio.run(_seed(server.url(PG_TEMPLATE)))
        _templates["postgres"] = PG_TEMPLATE
    name = f"zg_hard_{os.getpid()}_{next(_copies)}"
    asyncio.run(_admin_execute(server, f"CREATE DATABASE {name} TEMPLATE {PG_TEMPLATE}"))
    return server.url(name)


# ---- the bot --------------------------------------------------------------------------------------

@asynccontextmanager
async def bot_on(url: str, monkeypatch: pytest.MonkeyPatch, *, sandbox: Sandbox | None = None,
                 rate_limiter: bool = False, reminders: bool = False, **settings: object) -> AsyncIterator[Harness]:
    """tests/bot's `running_bot` on a sandbox of its own unless given one."""
    async with _maybe_sandbox(sandbox) as sb, running_bot(url, sb, monkeypatch, rate_limiter=rate_limiter,
                                                           reminders=reminders, **settings) as harness:
        yield harness


@asynccontextmanager
async def _maybe_sandbox(sandbox: Sandbox | None) -> AsyncIterator[Sandbox]:
    if sandbox is not None:
        yield sandbox
        return
    async with Sandbox(limits=RateLimits.off(), bot_username=BOT_USERNAME) as sb:
        yield sb


async def settle(harness: Harness, timeout: float = 30.0) -> None:
    """Wait until the bot has handled every update sent so far (replies sent, errors handled).

    The sandbox forgets an update only when the next getUpdates confirms it, which PTB sends
    after queueing the batch; PTB marks a queued update done after its handlers and the error
    handler ran. So: nothing unconfirmed in the sandbox, then the update queue joined."""
    sandbox = harness.sandbox
    await sandbox.wait_until(lambda: sandbox.pending_update_count == 0, timeout=timeout)
    await asyncio.wait_for(harness.app.update_queue.join(), timeout)


async def changeable_codes(harness: Harness, name: str | None) -> set[str]:
    """Codes of the measures `name` may change at all (not closed; owner, leader or admin)."""
    if name is None:
        return set()
    async with transaction(harness.factory) as session:
        actor = await session.scalar(select(Cadre).where(Cadre.name == name))
        assert actor is not None
        measures = await session.scalars(select(Measure).where(Measure.status != MeasureStatus.CLOSED))
        return {m.code for m in measures
                if actor.role is Role.ADMIN or actor.id in (m.owner_id, m.leader_id)}


# ---- what went wrong ------------------------------------------------------------------------------

class LogWatch(logging.Handler):
    """Collects WARNING and above from every logger while installed (pytest's caplog is per test,
    which is too coarse for one hypothesis example)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def errors(self, since: int = 0) -> list[str]:
        return [f"{r.name}: {r.getMessage()}" for r in self.records[since:] if r.levelno >= logging.ERROR]

    def warnings(self, since: int = 0) -> list[str]:
        return [f"{r.name}: {r.getMessage()}" for r in self.records[since:] if r.levelno == logging.WARNING]

    def __enter__(self) -> LogWatch:
        logging.getLogger().addHandler(self)
        return self

    def __exit__(self, *exc: object) -> None:
        logging.getLogger().removeHandler(self)


def problems_in(calls: Sequence[CallRecord], messages: Sequence[BotMessage], toasts: Sequence[str]) -> list[str]:
    """Everything wrong with what the bot sent: refused calls (bad HTML, too long …), apologies,
    a false database-outage answer, over-long texts."""
    # "not modified": a double tap re-rendering the same card; the bot expects and ignores it.
    found = [f"{c.method} → {c.status} {c.error}" for c in calls
             if not c.ok and "message is not modified" not in (c.error or "")]
    for text in [m.body for m in messages] + list(toasts):
        if APOLOGY in text:
            found.append(f"apology: {text[:80]!r}")
        if DATABASE_DOWN in text:
            found.append(f"database-down answer: {text[:80]!r}")
    for message in messages:
        if utf16_len(message.body) > MESSAGE_LIMIT:
            found.append(f"message {message.message_id} is {utf16_len(message.body)} units long")
        if message.parse_mode is None and "<" in (message.raw_text or ""):
            found.append(f"message {message.message_id} has tags but no parse_mode")
    return found

