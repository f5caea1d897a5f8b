"""Delivering the outbox through Telegram, within Telegram's limits.

Pacing: at most `rate` messages per second overall (Telegram allows about 30) and one
message per chat per `per_chat_interval` seconds (about 1/s per chat; groups 20/min).
Outcomes:
- accepted → marked sent with the message id;
- 429 → put back unchanged for after `retry_after`, and all sending pauses that long;
- 403 (blocked, never pressed Start) → failed for good, the cadre marked unreachable;
- other 4xx → failed for good (a bug or a vanished chat), logged;
- network errors, timeouts, 5xx → retried with exponential backoff, then failed visibly.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import os
import socket
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError, TimedOut

from bot.db import SessionFactory, is_unavailable, transaction
from bot.models import OutboxMessage, utcnow
from bot.services import outbox

log = logging.getLogger(__name__)

#: `rate_limit_args` for `bot.app.RateLimiter`: give a 429 back at once (PTB drops a 0 on the way).
NO_RETRIES = -1


@dataclass
class DeliveryReport:
    sent: int = 0
    retried: int = 0
    failed: int = 0
    rate_limited: int = 0
    sent_ids: list[int] = field(default_factory=list)

    def add(self, other: DeliveryReport) -> None:
        self.sent += other.sent
        self.retried += other.retried
        self.failed += other.failed
        self.rate_limited += other.rate_limited
        self.sent_ids += other.sent_ids


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Pacer:
    """A token bucket for the overall rate plus a minimum interval per chat."""

    def __init__(self, rate: float, per_chat_interval: float, group_interval: float = 3.1) -> None:
        self.interval = 1.0 / rate
        self.per_chat = per_chat_interval
        self.group_interval = group_interval
        self._next_slot = 0.0
        self._next_for_chat: dict[int, float] = defaultdict(float)
        self._paused_until = 0.0
        self._lock = asyncio.Lock()

    def pause(self, seconds: float) -> None:
        self._paused_until = max(self._paused_until, time.monotonic() + seconds)

    async def wait(self, chat_id: int) -> None:
        async with self._lock:
            now = time.monotonic()
            gap = self.group_interval if chat_id < 0 else self.per_chat
            start = max(now, self._next_slot, self._next_for_chat[chat_id], self._paused_until)
            self._next_slot = start + self.interval
            self._next_for_chat[chat_id] = start + gap
        delay = start - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)


def _markup(buttons: list[list[list[str]]] | None) -> InlineKeyboardMarkup | None:
    if not buttons:
        return None
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(text, callback_data=data) for text, data in row] for row in buttons]
    )


class Delivery:
    """Claims due outbox messages and sends them; safe to run in several processes at once."""

    def __init__(self, bot: Bot, factory: SessionFactory, *, rate: float = 28.0,
                 per_chat_interval: float = 1.05, concurrency: int = 24, batch: int = 100,
                 stale_after: dt.timedelta = outbox.STALE_CLAIM) -> None:
        self.bot = bot
        self.stale_after = stale_after
        self.factory = factory
        self.worker = worker_name()
        self.pacer = Pacer(rate, per_chat_interval)
        self.concurrency = concurrency
        self.batch = batch
        self._running = asyncio.Lock()
        self._stopping = False

    async def deliver_due(self, *, max_messages: int = 10_000, wait: bool = False) -> DeliveryReport:
        """Send what is due now (in batches) until nothing is due or `max_messages` were handled.

        When another task of this process is delivering already, return at once (it picks up what
        is due) — or with `wait`, wait for it to finish and then deliver what is still due, so that
        on return everything due was sent and recorded."""
        report = DeliveryReport()
        if self._running.locked() and not wait:
            return report  # another task in this process is already delivering
        async with self._running:
            handled = 0
            while handled < max_messages and not self._stopping:
                async with transaction(self.factory) as session:
                    claimed = await outbox.claim(session, worker=self.worker,
                                                 limit=min(self.batch, max_messages - handled),
                                                 stale_after=self.stale_after)
                if not claimed:
                    break
                handled += len(claimed)
                report.add(await self._send_all(claimed))
        if report.sent or report.failed or report.retried:
            log.info("delivered %d, retrying %d, failed %d, rate-limited %d", report.sent, report.retried,
                     report.failed, report.rate_limited)
        return report

    def request_stop(self) -> None:
        """From a signal handler: no new sends from now on (in-flight ones complete)."""
        self._stopping = True

    async def stop(self, grace: float = 10.0) -> None:
        """Graceful shutdown (SIGTERM): start no new sends, give back claimed-but-unsent messages,
        and let sends already under way finish (up to `grace` seconds) so their outcome is recorded."""
        self._stopping = True
        try:
            await asyncio.wait_for(self._running.acquire(), timeout=grace)
            self._running.release()
        except TimeoutError:
            log.warning("delivery still busy after %.0fs at shutdown; its claims will be retried later", grace)

    async def _send_all(self, messages: list[OutboxMessage]) -> DeliveryReport:
        report = DeliveryReport()
        limit = asyncio.Semaphore(self.concurrency)
        outage: list[BaseException] = []

        async def one(message: OutboxMessage) -> None:
            async with limit:
                if outage:
                    # The database went away: a message sent now could not be recorded and would be
                    # sent again once its claim goes stale. Leave the claim to go stale unsent.
                    return
                try:
                    if self._stopping:
                        # Shutting down: hand the message back untouched rather than start a send.
                        async with transaction(self.factory) as session:
                            await outbox.release(session, message.id, utcnow(), worker=self.worker)
                        return
                    await self._send_one(message, report)
                except Exception as error:
                    if not is_unavailable(error):
                        raise
                    outage.append(error)

        await asyncio.gather(*(one(m) for m in messages))
        if outage:
            log.warning("database unavailable during delivery: %d sent, the rest left for later", report.sent)
            raise outage[0]
        return report

    async def _send_one(self, message: OutboxMessage, report: DeliveryReport) -> None:
        assert message.chat_id is not None  # skipped messages are never claimed
        await self.pacer.wait(message.chat_id)
        # A 429 comes straight back here (not waited out in the rate limiter, holding the claim).
        limited = getattr(self.bot, "rate_limiter", None) is not None
        no_retries: dict[str, Any] = {"rate_limit_args": NO_RETRIES} if limited else {}
        try:
            sent = await self.bot.send_message(message.chat_id, message.text, reply_markup=_markup(message.buttons),
                                               **no_retries)
        except RetryAfter as exc:
            seconds = exc.retry_after.total_seconds() if isinstance(exc.retry_after, dt.timedelta) else exc.retry_after
            self.pacer.pause(float(seconds))
            report.rate_limited += 1
            async with transaction(self.factory) as session:
                await outbox.release(session, message.id, utcnow() + dt.timedelta(seconds=float(seconds)),
                                     worker=self.worker)
            return
        except Forbidden as exc:
            report.failed += 1
            async with transaction(self.factory) as session:
                await outbox.mark_failed(session, message.id, f"无法送达（{exc.message}）", worker=self.worker)
                await outbox.mark_unreachable(session, message.cadre_id)
            log.warning("outbox %s: recipient unreachable: %s", message.id, exc.message)
            return
        except BadRequest as exc:
            report.failed += 1
            async with transaction(self.factory) as session:
                await outbox.mark_failed(session, message.id, f"Telegram 拒绝：{exc.message}", worker=self.worker)
            log.error("outbox %s (%s) rejected by Telegram: %s", message.id, message.key, exc.message)
            return
        except (TimedOut, NetworkError, TelegramError) as exc:
            # A timeout may mean Telegram did accept it; retrying can then duplicate (documented).
            delay = dt.timedelta(seconds=min(600, 10 * 2 ** max(0, message.attempts - 1)))
            async with transaction(self.factory) as session:
                again = await outbox.mark_retry(session, message.id, f"{type(exc).__name__}: {exc}",
                                                utcnow() + delay, worker=self.worker)
            if again:
                report.retried += 1
            else:
                report.failed += 1
            return
        async with transaction(self.factory) as session:
            await outbox.mark_sent(session, message.id, sent.message_id, worker=self.worker)
        report.sent += 1
        report.sent_ids.append(message.id)
