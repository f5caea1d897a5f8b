"""Answers the bot is waiting for (退回原因, 进展说明, 延期日期和理由), kept in the database.

Keeping them here rather than in a ConversationHandler means the answer may reach any bot
instance and survives a restart.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.models import PendingInput, utcnow

#: How long the bot waits for an answer before forgetting the question.
WAIT = dt.timedelta(minutes=30)


@dataclass(frozen=True)
class Waiting:
    kind: str
    target: str
    prompt_message_id: int | None


async def expect(session: AsyncSession, chat_id: int, telegram_user_id: int, kind: str, target: str,
                 *, now: dt.datetime | None = None) -> PendingInput:
    """Wait for this user's next message in this chat; replaces any earlier question."""
    now = now or utcnow()
    await clear(session, chat_id, telegram_user_id)
    row = PendingInput(chat_id=chat_id, telegram_user_id=telegram_user_id, kind=kind, target=target,
                       created_at=now, expires_at=now + WAIT)
    session.add(row)
    await session.flush()
    return row


async def set_prompt(session: AsyncSession, row_id: int, message_id: int) -> None:
    row = await session.get(PendingInput, row_id)
    if row is not None:
        row.prompt_message_id = message_id


async def take(session: AsyncSession, chat_id: int, telegram_user_id: int, *, reply_to: int | None = None,
               now: dt.datetime | None = None) -> Waiting | None:
    """The question this message answers, consumed — if one is open and not expired.

    A reply to some other bot message is not an answer to the open question.
    """
    now = now or utcnow()
    row = await session.scalar(select(PendingInput).where(
        PendingInput.chat_id == chat_id, PendingInput.telegram_user_id == telegram_user_id))
    if row is None:
        return None
    if row.expires_at < now:
        await session.delete(row)
        return None
    if reply_to is not None and row.prompt_message_id is not None and reply_to != row.prompt_message_id:
        return None  # a reply to another message: the question stays open
    await session.delete(row)
    return Waiting(row.kind, row.target, row.prompt_message_id)


async def clear(session: AsyncSession, chat_id: int, telegram_user_id: int) -> bool:
    result = await session.execute(delete(PendingInput).where(
        PendingInput.chat_id == chat_id, PendingInput.telegram_user_id == telegram_user_id))
    return bool(getattr(result, "rowcount", 0))
