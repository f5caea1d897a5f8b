"""The real bot, end to end: the unmodified PTB Application polling our Bot API sandbox over
HTTP on loopback, on the sample data, on SQLite and PostgreSQL.

`harness` gives a running bot; `harness.bind("张伟")` makes a sandbox user bound through a real
invitation code; `harness.say(user, "…")` sends a message and returns the bot's replies.

Speed: the sample data is imported once per session into a template (a SQLite file, a
PostgreSQL template database) and every test gets a copy; outbox delivery is paced for a
test (no one-second gap per chat) but otherwise the production `Delivery`.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import os
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from bot import db
from bot.app import BotApplication, Services, build_application, start_application, stop_application
from bot.config import Settings, load_settings
from bot.db import SessionFactory, transaction
from bot.delivery import Pacer
from bot.models import (
    Cadre,
    ExtensionRequest,
    Invite,
    Measure,
    MeasureEvent,
    OutboxMessage,
    PendingInput,
)
from bot.sandbox import BotMessage, RateLimits, Sandbox, SandboxUser
from bot.services import cadres
from bot.services.seed import seed_sample_data
from tests.conftest import DATA, TEMPLATE_DB, _admin_execute
from tests.pg_server import PostgresServer

TODAY = dt.date(2026, 11, 27)
BOT_USERNAME = "zhenggai_test_bot"
SEEDED_TEMPLATE_DB = "zhenggai_seeded_template"
_databases = itertools.count(1)


# ---- the harness ----------------------------------------------------------------------------------

@dataclass
class Harness:
    app: BotApplication
    sandbox: Sandbox
    settings: Settings
    factory: SessionFactory
    users: dict[str, SandboxUser] = field(default_factory=dict)

    @property
    def services(self) -> Services:
        services = self.app.bot_data.services
        assert services is not None
        return services

    async def invite_code(self, name: str) -> str:
        async with transaction(self.factory) as session:
            invite = await cadres.create_invite(session, name, actor_id=None, ttl_days=1,
                                                bot_username=self.sandbox.bot_username)
        return invite.code

    async def bind(self, name: str, *, fresh: bool = False) -> SandboxUser:
        """A Telegram user bound to the cadre `name` through a real invite and /start.

        `fresh`: a new Telegram account even if `name` was bound before (the binding moves)."""
        if name in self.users and not fresh:
            return self.users[name]
        user = self.sandbox.add_user(name)
        replies = await self.say(user, f"/start {await self.invite_code(name)}")
        assert "绑定成功" in replies[0].body, replies[0].body
        self.users[name] = user
        return user

    def stranger(self, name: str = "路人") -> SandboxUser:
        return self.sandbox.add_user(name)

    async def say(self, user: SandboxUser, text: str, *, count: int = 1, chat_id: int | None = None,
                  reply_to: int | None = None, timeout: float = 10.0) -> list[BotMessage]:
        await self.sandbox.send_text(user.id, text, chat_id=chat_id, reply_to=reply_to)
        return await self.sandbox.wait_for_messages(chat_id or user.id, count=count, timeout=timeout)

    async def one(self, user: SandboxUser, text: str, **kwargs: Any) -> BotMessage:
        """`say` expecting exactly one reply."""
        [reply] = await self.say(user, text, **kwargs)
        return reply

    async def tap(self, user: SandboxUser, message: BotMessage, label: str | None = None, *,
                  data: str | None = None, chat_id: int | None = None,
                  timeout: float = 10.0) -> tuple[BotMessage, str]:
        """Press a button (by a label it contains, or raw callback data); wait until the bot
        answered the query — the last thing it does for a press. Returns the pressed message as
        it looks afterwards and the toast text ("" when none)."""
        chat = chat_id or user.id
        if data is None:
            index = next((i for i, text in enumerate(message.button_texts) if label and label in text), None)
            assert index is not None, f"no button {label!r} in {message.button_texts}"
            query_id = await self.sandbox.press(user.id, message.message_id, chat_id=chat, index=index)
        else:
            query_id = await self.sandbox.press(user.id, message.message_id, chat_id=chat, data=data)
        await self.sandbox.wait_until(lambda: query_id in self.sandbox.callback_answers, timeout=timeout)
        return self.sandbox.message(chat, message.message_id), self.toast(query_id)

    async def press(self, user: SandboxUser, message: BotMessage, label: str, *, chat_id: int | None = None,
                    timeout: float = 10.0) -> BotMessage:
        """Press the button whose text contains `label`; returns the message as it looks afterwards."""
        current, _ = await self.tap(user, message, label, chat_id=chat_id, timeout=timeout)
        return current

    def toast(self, query_id: str) -> str:
        return str(self.sandbox.callback_answers[query_id].text or "")

    async def deliver(self) -> None:
        """Run the outbox delivery now instead of waiting for its tick (after a delivery already
        running in the background — `deliver_soon` — has finished): on return, everything due
        was sent and its outcome recorded."""
        await self.services.delivery.deliver_due(wait=True)

    async def notified(self, user: SandboxUser, count: int = 1, *, timeout: float = 10.0) -> list[BotMessage]:
        """Deliver the outbox and return the next `count` messages `user` got."""
        await self.deliver()
        return await self.sandbox.wait_for_messages(user.id, count=count, timeout=timeout)

    async def measure(self, code: str) -> Measure:
        async with transaction(self.factory) as session:
            measure = await session.scalar(select(Measure).where(Measure.code == code))
            assert measure is not None
            return measure

    async def events(self, code: str) -> list[MeasureEvent]:
        async with transaction(self.factory) as session:
            measure = await session.scalar(select(Measure).where(Measure.code == code))
            assert measure is not None
            return list(await session.scalars(
                select(MeasureEvent).where(MeasureEvent.measure_id == measure.id).order_by(MeasureEvent.id)))

    async def cadre(self, name: str) -> Cadre:
        async with transaction(self.factory) as session:
            cadre = await session.scalar(select(Cadre).where(Cadre.name == name))
            assert cadre is not None
            return cadre

    async def outbox(self, name: str | None = None) -> list[OutboxMessage]:
        """Queued notifications, oldest first (to cadre `name` only, when given)."""
        async with transaction(self.factory) as session:
            query = select(OutboxMessage).order_by(OutboxMessage.id)
            if name is not None:
                query = query.join(Cadre, OutboxMessage.cadre_id == Cadre.id).where(Cadre.name == name)
            return list(await session.scalars(query))

    async def pending_inputs(self, user: SandboxUser | None = None) -> list[PendingInput]:
        async with transaction(self.factory) as session:
            query = select(PendingInput).order_by(PendingInput.id)
            if user is not None:
                query = query.where(PendingInput.telegram_user_id == user.id)
            return list(await session.scalars(query))

    async def extension_requests(self, code: str | None = None) -> list[ExtensionRequest]:
        async with transaction(self.factory) as session:
            query = select(ExtensionRequest).order_by(ExtensionRequest.id)
            if code is not None:
                query = query.join(Measure, ExtensionRequest.measure_id == Measure.id).where(Measure.code == code)
            return list(await session.scalars(query))

    async def snapshot(self) -> dict[str, Any]:
        """Everything an action may change (but not the question log `misses`): compare two
        snapshots to prove a refused action changed nothing."""
        async with transaction(self.factory) as session:
            measures = (await session.execute(select(
                Measure.code, Measure.status, Measure.version, Measure.deadline, Measure.progress,
                Measure.owner_id, Measure.leader_id).order_by(Measure.code))).all()
            bindings = (await session.execute(select(Cadre.name, Cadre.telegram_user_id).order_by(Cadre.id))).all()
            counts = {}
            for name, model in (("events", MeasureEvent), ("outbox", OutboxMessage), ("pending", PendingInput),
                                ("extensions", ExtensionRequest), ("invites", Invite)):
                counts[name] = await session.scalar(select(func.count()).select_from(model))
            requests = (await session.execute(select(ExtensionRequest.id, ExtensionRequest.status)
                                              .order_by(ExtensionRequest.id))).all()
            invites = (await session.execute(select(Invite.id, Invite.used_at, Invite.expires_at)
                                             .order_by(Invite.id))).all()
        return {"measures": [tuple(r) for r in measures], "bindings": [tuple(r) for r in bindings],
                "counts": counts, "requests": [tuple(r) for r in requests], "invites": [tuple(r) for r in invites]}

    async def unchanged_by(self, action: Callable[[], Awaitable[Any]]) -> Any:
        """Run `action` and assert the database is exactly as before; returns what it returned."""
        before = await self.snapshot()
        result = await action()
        after = await self.snapshot()
        assert after == before, f"the database changed: {_diff(before, after)}"
        return result


def _diff(before: dict[str, Any], after: dict[str, Any]) -> str:
    parts = []
    for key in before:
        if before[key] != after[key]:
            if isinstance(before[key], list):
                gone = [r for r in before[key] if r not in after[key]]
                new = [r for r in after[key] if r not in before[key]]
                parts.append(f"{key}: -{gone} +{new}")
            else:
                parts.append(f"{key}: {before[key]} → {after[key]}")
    return "; ".join(parts)


async def poll_until(predicate: Callable[[], object], timeout: float = 10.0, interval: float = 0.02) -> None:
    """For conditions the sandbox does not signal (its call log): check every `interval` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise TimeoutError(f"condition not met within {timeout}s")
        await asyncio.sleep(interval)


def texts(messages: Sequence[BotMessage]) -> str:
    return "\n".join(m.body for m in messages)


@asynccontextmanager
async def running_bot(url: str, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch, *, rate_limiter: bool = False,
                      reminders: bool = False, **overrides: object) -> AsyncIterator[Harness]:
    """The production Application (handlers, jobs, outbox delivery) polling `sandbox`.

    `rate_limiter`: with the production rate limiter (tests of 429 handling); `reminders`: keep
    the reminder jobs; `overrides`: further settings."""
    settings = load_settings(database_url=url, telegram_api_base_url=sandbox.url, **overrides)
    app = build_application(settings, sandbox.token, rate_limiter=rate_limiter)
    await start_application(app)
    services = app.bot_data.services
    assert services is not None
    # The sample data's deadlines are fixed dates: pin "today" so overdue lists are deterministic.
    monkeypatch.setattr(Services, "today", lambda self: TODAY)
    # Telegram's per-chat pacing (about 1 message/s) would only make the tests wait.
    services.delivery.pacer = Pacer(rate=10_000.0, per_chat_interval=0.0, group_interval=0.0)
    # The reminder sweep (tests/reminders) would interleave its digests with the replies checked here.
    if app.job_queue is not None and not reminders:
        for job in app.job_queue.jobs():
            if (job.name or "").startswith("remind"):
                job.schedule_removal()
    assert app.updater is not None
    await app.updater.start_polling(poll_interval=0.0, timeout=1)
    try:
        yield Harness(app, sandbox, settings, services.factory)
    finally:
        if app.updater.running:
            await app.updater.stop()
        await stop_application(app)


# ---- databases: a seeded template per session, a copy per test -----------------------------------

@pytest.fixture(scope="session")
def seeded_sqlite_template(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("seeded") / "seeded.db"
    shutil.copy(sqlite_template, path)

    async def seed() -> None:
        engine = db.create_engine(f"sqlite+aiosqlite:///{path}")
        await seed_sample_data(db.create_session_factory(engine), DATA)
        async with engine.connect() as conn:  # fold the WAL into the file before copying it
            await conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        await engine.dispose()

    asyncio.run(seed())
    return path


@pytest.fixture(scope="session")
def seeded_postgres_template(pg_server: PostgresServer) -> str:
    asyncio.run(_admin_execute(pg_server, f"CREATE DATABASE {SEEDED_TEMPLATE_DB} TEMPLATE {TEMPLATE_DB}"))

    async def seed() -> None:
        engine = db.create_engine(pg_server.url(SEEDED_TEMPLATE_DB))
        await seed_sample_data(db.create_session_factory(engine), DATA)
        await engine.dispose()  # a template must have no connections when it is copied

    asyncio.run(seed())
    return SEEDED_TEMPLATE_DB


def seeded_copy(backend: str, request: pytest.FixtureRequest, directory: Path) -> str:
    """A fresh database holding the sample data, of `backend`."""
    if backend == "sqlite":
        path = directory / f"zhenggai-{next(_databases)}.db"
        shutil.copy(request.getfixturevalue("seeded_sqlite_template"), path)
        return f"sqlite+aiosqlite:///{path}"
    server: PostgresServer = request.getfixturevalue("pg_server")
    template = request.getfixturevalue("seeded_postgres_template")
    name = f"zg_bot_{os.getpid()}_{next(_databases)}"
    asyncio.run(_admin_execute(server, f"CREATE DATABASE {name} TEMPLATE {template}"))
    return server.url(name)


@pytest.fixture
def seeded_url(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return seeded_copy(backend, request, tmp_path)


@pytest.fixture
async def sandbox() -> AsyncIterator[Sandbox]:
    async with Sandbox(limits=RateLimits.off(), bot_username=BOT_USERNAME) as sb:
        yield sb


@pytest.fixture
async def harness(seeded_url: str, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Harness]:
    async with running_bot(seeded_url, sandbox, monkeypatch) as harness:
        yield harness
