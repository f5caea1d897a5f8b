"""Webhook mode: bot/webhook.py's own HTTP server in front of the production Application, with the
sandbox POSTing updates to it as Telegram would (secret header included)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import select

from bot import db
from bot.app import Services
from bot.config import load_settings
from bot.models import Measure, MeasureEvent, MeasureStatus
from bot.sandbox import RateLimits, Sandbox
from bot.services import cadres
from bot.webhook import SECRET_HEADER, WEBHOOK_PATH, serve, webhook_secret
from tests.bot.conftest import BOT_USERNAME, TODAY, poll_until
from tests.pg_server import free_port


@contextlib.asynccontextmanager
async def webhook_bot(url: str, sandbox: Sandbox) -> AsyncIterator[str]:
    """serve() running as in production until the block ends; yields the server's base URL."""
    settings = load_settings(database_url=url, telegram_api_base_url=sandbox.url)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    stop = asyncio.Event()
    calls_before = len(sandbox.calls_to("setWebhook"))
    task = asyncio.create_task(serve(settings, sandbox.token, webhook_url=base + WEBHOOK_PATH, listen="127.0.0.1",
                                     port=port, stop=stop))
    try:
        await poll_until(lambda: len(sandbox.calls_to("setWebhook")) > calls_before or task.done(), timeout=15)
        if task.done():
            task.result()  # serve() failed to start: show why
        [call] = sandbox.calls_to("setWebhook")[calls_before:]
        assert call.ok and call.params["url"] == base + WEBHOOK_PATH
        assert call.params["secret_token"] == webhook_secret(settings, sandbox.token)
        yield base
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=15)


@pytest.fixture
async def webhook_sandbox() -> AsyncIterator[Sandbox]:
    async with Sandbox(limits=RateLimits.off(), bot_username=BOT_USERNAME, webhook_retry_delay=0.05) as sb:
        yield sb


async def test_updates_arrive_by_webhook_and_get_answered(seeded_url: str, webhook_sandbox: Sandbox,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Services, "today", lambda self: TODAY)
    sandbox = webhook_sandbox
    engine = db.create_engine(seeded_url)
    factory = db.create_session_factory(engine)
    try:
        async with db.transaction(factory) as session:
            code = (await cadres.create_invite(session, "张伟", actor_id=None, ttl_days=1,
                                               bot_username=BOT_USERNAME)).code
        async with webhook_bot(seeded_url, sandbox) as base:
            user = sandbox.add_user("张伟")
            await sandbox.send_text(user.id, f"/start {code}")
            [bound] = await sandbox.wait_for_messages(user.id, timeout=10)
            assert "绑定成功" in bound.body
            await sandbox.send_text(user.id, "请假超过三天要谁批？")
            [answer] = await sandbox.wait_for_messages(user.id, timeout=10)
            assert answer.body.startswith("《市教育局工作规程》第3条")
            await sandbox.send_text(user.id, "/done ZG2025009 已完工")
            [done] = await sandbox.wait_for_messages(user.id, timeout=10)
            assert done.body.startswith("已报告完成")
            query = await sandbox.press(user.id, done.message_id, data="v1|du|ZG2025009")  # ↩️ 撤回完成
            await sandbox.wait_until(lambda: query in sandbox.callback_answers, timeout=10)
            assert sandbox.callback_answers[query].text == "已撤回完成报告"
            assert sandbox.stats.webhook_posts >= 4 and sandbox.stats.webhook_failures == 0
            assert not sandbox.calls_to("getUpdates")  # nobody polls in webhook mode
            async with httpx.AsyncClient(trust_env=False) as client:
                health = await client.get(f"{base}/healthz")
            assert health.status_code == 200 and health.json()["status"] == "ok"
        async with db.transaction(factory) as session:
            measure = await session.scalar(select(Measure).where(Measure.code == "ZG2025009"))
            assert measure is not None and measure.status is MeasureStatus.IN_PROGRESS
            actions = list(await session.scalars(select(MeasureEvent.action)
                                                 .where(MeasureEvent.measure_id == measure.id)
                                                 .order_by(MeasureEvent.id)))
        assert actions[-2:] == ["done", "undo"]
    finally:
        await engine.dispose()
    # Stopped cleanly: nothing is listening any more.
    async with httpx.AsyncClient(trust_env=False) as client:
        with pytest.raises(httpx.ConnectError):
            await client.get(f"{base}/healthz")


async def test_requests_without_the_secret_are_refused(seeded_url: str, webhook_sandbox: Sandbox) -> None:
    sandbox = webhook_sandbox
    update = {"update_id": 1, "message": {"message_id": 1, "date": 0, "chat": {"id": 5, "type": "private"},
                                          "from": {"id": 5, "is_bot": False, "first_name": "x"}, "text": "/start"}}
    async with webhook_bot(seeded_url, sandbox) as base, httpx.AsyncClient(trust_env=False) as client:
        missing = await client.post(base + WEBHOOK_PATH, json=update)
        wrong = await client.post(base + WEBHOOK_PATH, json=update, headers={SECRET_HEADER: "not-the-secret"})
        health = await client.get(f"{base}/healthz")
    assert missing.status_code == 403 and wrong.status_code == 403
    assert health.status_code == 200 and health.json() == {"status": "ok", "database": True}
    assert not sandbox.calls_to("sendMessage")  # the forged update was never handled
