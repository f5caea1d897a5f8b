"""Answers the bot is waiting for (退回原因, 进展说明, 延期日期和理由), kept in the database.

Keeping them here rather than in a ConversationHandler means the answer may reach any bot
instance and survives a restart.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace

from sqlalchemy import and_, bindparam, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.models import Cadre, PendingInput, utcnow

#: How long the bot waits for an answer before forgetting the question.
WAIT = dt.timedelta(minutes=30)


@dataclass(frozen=True)
class Waiting:
    kind: str
    target: str
    prompt_message_id: int | None
    kept: bool = False  # still open: this message was not taken as its answer


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
    # One UPDATE, not load-and-flush: the answer (or /cancel) may already have consumed the row.
    await session.execute(update(PendingInput).where(PendingInput.id == row_id)
                          .values(prompt_message_id=message_id))


#: Built once: constructing a statement costs about as much as running it (see `sender`).
_SENDER = (select(Cadre, PendingInput)
           .outerjoin(PendingInput, and_(PendingInput.telegram_user_id == Cadre.telegram_user_id,
                                         PendingInput.chat_id == bindparam("chat_id")))
           .where(Cadre.telegram_user_id == bindparam("user_id")))


@dataclass(frozen=True)
class Sender:
    """Who wrote a message: their cadre (None: not bound) and the bot's question it answers."""

    cadre: Cadre | None
    waiting: Waiting | None


async def sender(session: AsyncSession, chat_id: int, telegram_user_id: int, *, reply_to: int | None = None,
                 now: dt.datetime | None = None, keep_open: bool = False) -> Sender:
    """The writer's cadre and `take`'s answer in one query: every text message needs both, and
    a statement saved per message is most of what the database costs a question. The statement
    is built once (`_SENDER`): building it anew for each message cost as much as running it.

    `keep_open`: the message reads as a question of its own, so an open question is reported but
    stays open, unless the message replies to the bot's question itself."""
    row = (await session.execute(_SENDER, {"chat_id": chat_id, "user_id": telegram_user_id})).first()
    if row is None:  # not bound: rare, so the open question (if any) is looked up on its own
        return Sender(None, await take(session, chat_id, telegram_user_id, reply_to=reply_to, now=now))
    cadre, pending = row
    if pending is None:
        return Sender(cadre, None)
    return Sender(cadre, await _consume(session, pending, reply_to, now or utcnow(), keep=keep_open))


async def take(session: AsyncSession, chat_id: int, telegram_user_id: int, *, reply_to: int | None = None,
               now: dt.datetime | None = None) -> Waiting | None:
    """The question this message answers, consumed — if one is open and not expired.

    A reply to some other bot message is not an answer to the open question.
    """
    row = await _row(session, chat_id, telegram_user_id)
    return None if row is None else await _consume(session, row, reply_to, now or utcnow())


async def _row(session: AsyncSession, chat_id: int, telegram_user_id: int) -> PendingInput | None:
    row: PendingInput | None = await session.scalar(select(PendingInput).where(
        PendingInput.chat_id == chat_id, PendingInput.telegram_user_id == telegram_user_id))
    return row


async def _consume(session: AsyncSession, row: PendingInput, reply_to: int | None, now: dt.datetime,
                   *, keep: bool = False) -> Waiting | None:
    if row.expires_at < now:
        await session.delete(row)
        return None
    if reply_to is not None and row.prompt_message_id is not None and reply_to != row.prompt_message_id:
        return None  # a reply to another message: the question stays open
    waiting = Waiting(row.kind, row.target, row.prompt_message_id)
    if keep and (reply_to is None or reply_to != row.prompt_message_id):
        return replace(waiting, kept=True)
    await session.delete(row)
    return waiting


async def peek(session: AsyncSession, chat_id: int, telegram_user_id: int,
               now: dt.datetime | None = None) -> Waiting | None:
    """The open question to this user here, left open (None if there is none or it expired)."""
    row = await _row(session, chat_id, telegram_user_id)
    if row is None or row.expires_at < (now or utcnow()):
        return None
    return Waiting(row.kind, row.target, row.prompt_message_id)


async def clear(session: AsyncSession, chat_id: int, telegram_user_id: int) -> bool:
    """Drop the open question to this user here; False when there was none."""
    # Looked up first: a DELETE takes SQLite's write lock even when nothing matches, and every
    # command drops a question this way, read-only ones included, which must keep working while
    # another process holds that lock.
    if await _row(session, chat_id, telegram_user_id) is None:
        return False
    await session.execute(delete(PendingInput).where(
        PendingInput.chat_id == chat_id, PendingInput.telegram_user_id == telegram_user_id))
    return True
