"""Reminder delivery through the sandbox: Telegram's limits and failures, a crash mid fan-out."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import signal
import sys
from asyncio.subprocess import DEVNULL, PIPE
from collections import Counter
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select, update
from telegram import Bot
from telegram.request import HTTPXRequest

from bot.config import load_settings
from bot.db import SessionFactory, transaction
from bot.delivery import Delivery
from bot.models import Cadre, OutboxMessage, OutboxStatus, utcnow
from bot.sandbox import RateLimits, Sandbox
from handlers.reminders import run_sweep
from tests.cli_runner import PROJECT
from tests.reminders.support import add_overdue_cadres, outbox_statuses

FRIDAY = dt.date(2026, 11, 27)


@pytest.fixture
async def sandbox() -> AsyncIterator[Sandbox]:
    async with Sandbox(limits=RateLimits()) as sb:  # Telegram's limits on
        yield sb


async def bind_everyone(factory: SessionFactory, sandbox: Sandbox) -> dict[str, int]:
    """Every cadre gets a Telegram account that has pressed Start."""
    ids: dict[str, int] = {}
    async with transaction(factory) as session:
        for cadre in await session.scalars(select(Cadre)):
            user = sandbox.add_user(cadre.name, started=True)
            cadre.telegram_user_id = user.id
            ids[cadre.name] = user.id
    return ids


def bot_for(sandbox: Sandbox, read_timeout: float = 5.0) -> Bot:
    """A plain PTB Bot on the sandbox; a short read timeout provokes client-side timeouts."""
    request = HTTPXRequest(read_timeout=read_timeout, connect_timeout=2.0, write_timeout=2.0)
    return Bot(sandbox.token, base_url=sandbox.base_url, base_file_url=sandbox.base_file_url, request=request)


async def test_every_recipient_gets_one_digest_and_message_ids_are_recorded(
    seeded: SessionFactory, sandbox: Sandbox
) -> None:
    ids = await bind_everyone(seeded, sandbox)
    result = await run_sweep(seeded, load_settings(), FRIDAY)
    async with bot_for(sandbox) as bot:
        report = await Delivery(bot, seeded).deliver_due()
    assert report.sent == result.digests and report.failed == 0
    recipients = {result.names[i.cadre_id] for i in result.new}
    for name in recipients:
        [message] = sandbox.messages(ids[name])
        assert "整改催办" in message.text or "督办" in message.text
    async with transaction(seeded) as session:
        sent = list(await session.scalars(select(OutboxMessage).where(OutboxMessage.status == OutboxStatus.SENT)))
    assert sent and all(m.message_id for m in sent)
    # The buttons under a reminder lead back into the bot (callback data it can decode).
    owner_digest = sandbox.messages(ids["钟春兰"])[0]
    assert any("完成" in text for text in owner_digest.button_texts)


async def test_429_is_honoured_and_nothing_is_lost(seeded: SessionFactory, sandbox: Sandbox) -> None:
    await bind_everyone(seeded, sandbox)
    result = await run_sweep(seeded, load_settings(), FRIDAY)
    sandbox.inject("sendMessage", error_code=429, retry_after=1, times=1)
    async with bot_for(sandbox) as bot:
        delivery = Delivery(bot, seeded)
        first = await delivery.deliver_due()
        assert first.rate_limited == 1
        await asyncio.sleep(1.1)
        second = await delivery.deliver_due()
    assert first.sent + second.sent == result.digests
    assert (await outbox_statuses(seeded))[OutboxStatus.SENT] == result.digests


async def test_403_marks_the_cadre_unreachable_stops_retrying_and_tells_admins(
    seeded: SessionFactory, sandbox: Sandbox
) -> None:
    ids = await bind_everyone(seeded, sandbox)
    sandbox.block(ids["钟春兰"])
    await run_sweep(seeded, load_settings(), FRIDAY)
    async with bot_for(sandbox) as bot:
        report = await Delivery(bot, seeded).deliver_due()
        assert report.failed == 1
        again = await Delivery(bot, seeded).deliver_due()
        assert again.sent == again.failed == 0  # not retried
    async with transaction(seeded) as session:
        zhong = await session.scalar(select(Cadre).where(Cadre.name == "钟春兰"))
        assert zhong is not None and zhong.unreachable_since is not None
        failed = await session.scalar(select(OutboxMessage).where(OutboxMessage.status == OutboxStatus.FAILED))
        assert failed is not None and "无法送达" in failed.last_error
    # The next working day's admin digest names her.
    await run_sweep(seeded, load_settings(), dt.date(2026, 11, 30))
    async with transaction(seeded) as session:
        overviews = list(await session.scalars(select(OutboxMessage).where(
            OutboxMessage.key.like("%2026-11-30%"), OutboxMessage.text.like("%每日整改督办汇总%"))))
    assert len(overviews) == 2  # both admins
    assert all("钟春兰" in m.text and "无法送达" in m.text for m in overviews)


async def test_5xx_and_timeouts_retry_with_backoff_then_deliver(seeded: SessionFactory, sandbox: Sandbox) -> None:
    await bind_everyone(seeded, sandbox)
    result = await run_sweep(seeded, load_settings(), FRIDAY)
    sandbox.inject("sendMessage", error_code=502, times=2)
    async with bot_for(sandbox) as bot:
        first = await Delivery(bot, seeded).deliver_due()
    assert first.retried == 2 and first.sent == result.digests - 2
    async with transaction(seeded) as session:  # backoff: not retried before its time
        waiting = list(await session.scalars(select(OutboxMessage).where(OutboxMessage.status == OutboxStatus.PENDING)))
        assert len(waiting) == 2 and all(m.not_before > utcnow() for m in waiting)
        await session.execute(update(OutboxMessage).where(OutboxMessage.status == OutboxStatus.PENDING)
                              .values(not_before=utcnow()))
    async with bot_for(sandbox) as bot:
        second = await Delivery(bot, seeded).deliver_due()
    assert second.sent == 2
    assert (await outbox_statuses(seeded))[OutboxStatus.SENT] == result.digests


async def test_retries_give_up_visibly(seeded: SessionFactory, sandbox: Sandbox) -> None:
    from bot.services import outbox

    await bind_everyone(seeded, sandbox)
    await run_sweep(seeded, load_settings(), FRIDAY)
    sandbox.inject("sendMessage", error_code=500, times=10_000)
    async with bot_for(sandbox) as bot:
        for _ in range(outbox.MAX_ATTEMPTS):
            await Delivery(bot, seeded).deliver_due()
            async with transaction(seeded) as session:
                await session.execute(update(OutboxMessage).where(OutboxMessage.status == OutboxStatus.PENDING)
                                      .values(not_before=utcnow()))
    counts = await outbox_statuses(seeded)
    assert counts[OutboxStatus.PENDING] == 0 and counts[OutboxStatus.SENT] == 0
    async with transaction(seeded) as session:
        failed = list(await session.scalars(select(OutboxMessage).where(OutboxMessage.status == OutboxStatus.FAILED)))
    assert failed and all("放弃" in m.last_error for m in failed)


async def test_a_timeout_after_telegram_accepted_is_the_one_documented_duplicate(
    seeded: SessionFactory, sandbox: Sandbox
) -> None:
    ids = await bind_everyone(seeded, sandbox)
    await run_sweep(seeded, load_settings(), FRIDAY)
    target = ids["钟春兰"]
    # The sandbox answers this chat only after our client gave up waiting, but does deliver.
    sandbox.inject("sendMessage", delay=1.5, times=1, chat_id=target)
    async with bot_for(sandbox, read_timeout=0.5) as bot:
        first = await Delivery(bot, seeded).deliver_due()
        assert first.retried == 1
        await asyncio.sleep(1.2)
        async with transaction(seeded) as session:
            await session.execute(update(OutboxMessage).where(OutboxMessage.status == OutboxStatus.PENDING)
                                  .values(not_before=utcnow()))
        await Delivery(bot, seeded).deliver_due()
    assert len(sandbox.messages(target)) == 2  # the documented case: accepted, not recorded, sent again
    others = [uid for name, uid in ids.items() if name != "钟春兰"]
    assert all(len(sandbox.messages(uid)) <= 1 for uid in others)


@pytest.mark.slow
async def test_a_crash_mid_fan_out_neither_drops_nor_repeats_what_was_recorded(
    db_url: str, seeded: SessionFactory, sandbox: Sandbox
) -> None:
    await add_overdue_cadres(seeded, 60, FRIDAY)
    ids = await bind_everyone(seeded, sandbox)
    # Slow every send a little so the process is surely killed half-way.
    sandbox.inject("sendMessage", delay=0.15, times=10_000)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "TELEGRAM_"))}
    env.update(DATABASE_URL=db_url, TELEGRAM_BOT_TOKEN=sandbox.token, TELEGRAM_API_BASE_URL=sandbox.url,
               OUTBOX_STALE_SECONDS="1", PYTHONIOENCODING="utf-8")
    command = [sys.executable, "-m", "bot", "remind", "--now", "2026-11-27T09:00+08:00"]
    process = await asyncio.create_subprocess_exec(*command, cwd=PROJECT, env=env, stdout=DEVNULL, stderr=DEVNULL)
    try:
        await sandbox.wait_until(lambda: sum(len(sandbox.messages(uid)) for uid in ids.values()) >= 15, timeout=60)
    finally:
        process.send_signal(signal.SIGKILL)  # no chance to clean up, as in a power cut
        await process.wait()
    in_flight = (await outbox_statuses(seeded))[OutboxStatus.SENDING]
    delivered_before = sum(len(sandbox.messages(uid)) for uid in ids.values())
    assert delivered_before >= 15
    await asyncio.sleep(1.1)  # the dead process's claims go stale
    sandbox.clear_faults()
    restarted = await asyncio.create_subprocess_exec(*command, cwd=PROJECT, env=env, stdout=PIPE, stderr=PIPE)
    _, errors = await asyncio.wait_for(restarted.communicate(), timeout=120)
    assert restarted.returncode == 0, errors.decode()
    counts = await outbox_statuses(seeded)
    assert counts[OutboxStatus.PENDING] == counts[OutboxStatus.SENDING] == counts[OutboxStatus.FAILED] == 0
    assert counts[OutboxStatus.SENT] >= 60
    per_chat = Counter({uid: len(sandbox.messages(uid)) for uid in ids.values()})
    async with transaction(seeded) as session:
        owed = {m.chat_id for m in await session.scalars(select(OutboxMessage)) if m.status is OutboxStatus.SENT}
    assert all(per_chat[chat] >= 1 for chat in owed)  # nothing dropped
    duplicates = sum(n - 1 for n in per_chat.values() if n > 1)
    assert duplicates <= in_flight  # only messages in flight at the crash may repeat
