"""The outbox: messages the bot owes people, stored before they are sent.

A notification (销号 done, a measure returned) or a reminder is written in the same
transaction as the change that causes it, under a unique key, so it can be neither lost
(it is in the database before anything is sent) nor queued twice (the key). Delivery
(`bot/delivery.py`) claims due rows, sends them, and records Telegram's message id.

What can still duplicate: a process that dies after Telegram accepted a message and before
it recorded that. Its claim goes stale and another delivery sends the message again.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.models import Cadre, OutboxMessage, OutboxStatus, utcnow

log = logging.getLogger(__name__)

#: A claim older than this belongs to a process that died: the row may be sent again.
STALE_CLAIM = dt.timedelta(minutes=2)
MAX_ATTEMPTS = 6

Button = tuple[str, str]  # (label, callback_data)


@dataclass(frozen=True)
class Queued:
    message: OutboxMessage
    created: bool  # False: a message with this key was already queued (nothing new written)


def new_message(*, key: str, kind: str, text: str, cadre: Cadre | None = None, chat_id: int | None = None,
                buttons: Sequence[Sequence[Button]] | None = None,
                not_before: dt.datetime | None = None) -> OutboxMessage:
    """An outbox row (not yet added to a session); without a Telegram chat it is recorded as skipped."""
    target = chat_id if chat_id is not None else (cadre.telegram_user_id if cadre is not None else None)
    return OutboxMessage(
        key=key, kind=kind, cadre_id=cadre.id if cadre is not None else None, chat_id=target, text=text,
        buttons=[[list(b) for b in row] for row in buttons] if buttons else None,
        status=OutboxStatus.PENDING if target is not None else OutboxStatus.SKIPPED,
        last_error="" if target is not None else "未绑定 Telegram",
        not_before=not_before or utcnow(), attempts=0,
    )


async def enqueue(
    session: AsyncSession,
    *,
    key: str,
    kind: str,
    text: str,
    cadre: Cadre | None = None,
    chat_id: int | None = None,
    buttons: Sequence[Sequence[Button]] | None = None,
    not_before: dt.datetime | None = None,
) -> Queued:
    """Queue a message once per key; a recipient without a Telegram binding is recorded as skipped."""
    existing = await session.scalar(select(OutboxMessage).where(OutboxMessage.key == key))
    if existing is not None:
        return Queued(existing, created=False)
    message = new_message(key=key, kind=kind, text=text, cadre=cadre, chat_id=chat_id, buttons=buttons,
                          not_before=not_before)
    try:
        # A savepoint: a concurrent writer of the same key must not spoil the caller's transaction.
        async with session.begin_nested():
            session.add(message)
    except IntegrityError:
        existing = await session.scalar(select(OutboxMessage).where(OutboxMessage.key == key))
        if existing is None:
            raise
        return Queued(existing, created=False)
    return Queued(message, created=True)


async def claim(
    session: AsyncSession, *, worker: str, limit: int, now: dt.datetime | None = None,
    stale_after: dt.timedelta = STALE_CLAIM,
) -> list[OutboxMessage]:
    """Mark up to `limit` due messages as being sent by `worker` and return them.

    On PostgreSQL the candidate rows are locked with SKIP LOCKED, so two processes never
    claim the same row; on SQLite the single writer serialises the UPDATE. Commit promptly.
    """
    now = now or utcnow()
    due = or_(
        and_(OutboxMessage.status == OutboxStatus.PENDING, OutboxMessage.not_before <= now),
        and_(OutboxMessage.status == OutboxStatus.SENDING, OutboxMessage.claimed_at < now - stale_after),
    )
    candidates = (
        select(OutboxMessage.id).where(due).order_by(OutboxMessage.id).limit(limit)
        .with_for_update(skip_locked=True)
    )
    ids = list(await session.scalars(candidates))
    if not ids:
        return []
    await session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id.in_(ids), due)
        .values(status=OutboxStatus.SENDING, claimed_by=worker, claimed_at=now,
                attempts=OutboxMessage.attempts + 1)
        .execution_options(synchronize_session=False)
    )
    claimed = await session.scalars(
        select(OutboxMessage)
        .where(OutboxMessage.id.in_(ids), OutboxMessage.claimed_by == worker,
               OutboxMessage.status == OutboxStatus.SENDING, OutboxMessage.claimed_at == now)
        .order_by(OutboxMessage.id)
        .execution_options(populate_existing=True)
    )
    return list(claimed)


async def mark_sent(session: AsyncSession, outbox_id: int, telegram_message_id: int, *, worker: str) -> None:
    await session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == outbox_id, OutboxMessage.claimed_by == worker)
        .values(status=OutboxStatus.SENT, sent_at=utcnow(), message_id=telegram_message_id, last_error="")
    )


async def mark_retry(session: AsyncSession, outbox_id: int, error: str, not_before: dt.datetime, *,
                     worker: str) -> bool:
    """Put a message back for a later attempt; after MAX_ATTEMPTS it fails for good (returns False)."""
    message = await session.get(OutboxMessage, outbox_id, populate_existing=True)
    if message is None or message.claimed_by != worker:
        return True
    if message.attempts >= MAX_ATTEMPTS:
        message.status = OutboxStatus.FAILED
        message.last_error = f"重试 {message.attempts} 次后放弃：{error}"[:1000]
        log.warning("outbox %s (%s) failed after %d attempts: %s", message.id, message.key, message.attempts, error)
        return False
    message.status = OutboxStatus.PENDING
    message.not_before = not_before
    message.last_error = error[:1000]
    return True


async def release(session: AsyncSession, outbox_id: int, not_before: dt.datetime, *, worker: str) -> None:
    """Give a claimed message back without counting an attempt (e.g. Telegram asked us to slow down)."""
    await session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == outbox_id, OutboxMessage.claimed_by == worker)
        .values(status=OutboxStatus.PENDING, not_before=not_before, attempts=OutboxMessage.attempts - 1)
    )


async def mark_failed(session: AsyncSession, outbox_id: int, error: str, *, worker: str) -> None:
    await session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == outbox_id, OutboxMessage.claimed_by == worker)
        .values(status=OutboxStatus.FAILED, last_error=error[:1000])
    )


async def mark_unreachable(session: AsyncSession, cadre_id: int | None, now: dt.datetime | None = None) -> None:
    """Telegram said 403 (blocked, or never pressed Start): stop trying until they write again."""
    if cadre_id is None:
        return
    await session.execute(
        update(Cadre).where(Cadre.id == cadre_id, Cadre.unreachable_since.is_(None))
        .values(unreachable_since=now or utcnow())
    )


async def counts(session: AsyncSession) -> dict[OutboxStatus, int]:
    rows = await session.execute(select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status))
    return {OutboxStatus(status): int(n) for status, n in rows.all()}


async def failures_since(session: AsyncSession, since: dt.datetime) -> list[OutboxMessage]:
    """Messages that could not be delivered (shown to admins, never dropped silently)."""
    return list(await session.scalars(
        select(OutboxMessage)
        .where(OutboxMessage.status == OutboxStatus.FAILED, OutboxMessage.created_at >= since)
        .order_by(OutboxMessage.id)
    ))
