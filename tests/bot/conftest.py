"""The real bot, end to end: the unmodified PTB Application polling our Bot API sandbox over
HTTP on loopback, on the sample data, on SQLite and PostgreSQL.

`harness` gives a running bot; `harness.bind("张伟")` makes a sandbox user bound through a real
invitation code; `harness.say(user, "…")` sends a message and returns the bot's replies.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
from sqlalchemy import select

from bot.app import BotApplication, build_application, start_application, stop_application
from bot.config import Settings, load_settings
from bot.db import SessionFactory, transaction
from bot.models import Cadre, Measure, MeasureEvent
from bot.sandbox import BotMessage, RateLimits, Sandbox, SandboxUser
from bot.services import cadres

TODAY = dt.date(2026, 11, 27)


@dataclass
class Harness:
    app: BotApplication
    sandbox: Sandbox
    settings: Settings
    factory: SessionFactory
    users: dict[str, SandboxUser] = field(default_factory=dict)

    async def bind(self, name: str) -> SandboxUser:
        """A Telegram user bound to the cadre `name` through a real invite and /start."""
        if name in self.users:
            return self.users[name]
        user = self.sandbox.add_user(name)
        async with transaction(self.factory) as session:
            invite = await cadres.create_invite(session, name, actor_id=None, ttl_days=1,
                                                bot_username=self.sandbox.bot_username)
        replies = await self.say(user, f"/start {invite.code}")
        assert "绑定成功" in replies[0].text, replies[0].text
        self.users[name] = user
        return user

    def stranger(self, name: str = "路人") -> SandboxUser:
        return self.sandbox.add_user(name)

    async def say(self, user: SandboxUser, text: str, *, count: int = 1, chat_id: int | None = None,
                  reply_to: int | None = None, timeout: float = 10.0) -> list[BotMessage]:
        await self.sandbox.send_text(user.id, text, chat_id=chat_id, reply_to=reply_to)
        return await self.sandbox.wait_for_messages(chat_id or user.id, count=count, timeout=timeout)

    async def press(self, user: SandboxUser, message: BotMessage, label: str, *, chat_id: int | None = None,
                    timeout: float = 10.0) -> BotMessage:
        """Press the button whose text contains `label`; returns the message as it looks afterwards."""
        index = next((i for i, text in enumerate(message.button_texts) if label in text), None)
        assert index is not None, f"no button {label!r} in {message.button_texts}"
        chat = chat_id or user.id
        before = self.sandbox.message(chat, message.message_id).edit_count
        query_id = await self.sandbox.press(user.id, message.message_id, chat_id=chat, index=index)
        await self.sandbox.wait_until(lambda: query_id in self.sandbox.callback_answers, timeout=timeout)
        await asyncio.sleep(0.05)
        current = self.sandbox.message(chat, message.message_id)
        assert current.edit_count >= before
        return current

    def toast(self, query_id: str) -> str:
        return str(self.sandbox.callback_answers[query_id].text or "")

    async def deliver(self) -> None:
        """Run the outbox delivery now instead of waiting for its tick."""
        services = self.app.bot_data.services
        assert services is not None
        await services.delivery.deliver_due()

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


@pytest.fixture
async def sandbox() -> AsyncIterator[Sandbox]:
    async with Sandbox(limits=RateLimits.off(), bot_username="zhenggai_test_bot") as sb:
        yield sb


@pytest.fixture
async def harness(seeded: SessionFactory, db_url: str, sandbox: Sandbox,
                  monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Harness]:
    settings = load_settings(database_url=db_url, telegram_api_base_url=sandbox.url)
    app = build_application(settings, sandbox.token, rate_limiter=False)
    await start_application(app)
    services = app.bot_data.services
    assert services is not None
    # The sample data's deadlines are fixed dates: pin "today" so overdue lists are deterministic.
    monkeypatch.setattr(type(services), "today", lambda self: TODAY)
    assert app.updater is not None
    await app.updater.start_polling(poll_interval=0.0, timeout=1)
    try:
        yield Harness(app, sandbox, settings, seeded)
    finally:
        await app.updater.stop()
        await stop_application(app)
