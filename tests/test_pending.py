"""Questions the bot waits on (bot.services.pending) and the one-query lookup of who wrote.

Each step in its own real transaction, as a handler runs it, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select

from bot.db import SessionFactory, transaction
from bot.models import Cadre, PendingInput
from bot.services import pending

NOW = dt.datetime(2026, 11, 27, 1, 0, tzinfo=dt.UTC)
CHAT, OTHER_CHAT = 5_000_001, 5_000_002
ALICE, STRANGER = 111_000_111, 999_000_999  # Telegram user ids: ALICE bound to 张伟, STRANGER to nobody


async def bind_alice(factory: SessionFactory) -> int:
    async with transaction(factory) as session:
        cadre = (await session.scalars(select(Cadre).where(Cadre.name == "张伟"))).one()
        cadre.telegram_user_id = ALICE
        return cadre.id


async def expect(factory: SessionFactory, user: int, *, chat: int = CHAT, prompt: int | None = 77,
                 now: dt.datetime = NOW) -> None:
    async with transaction(factory) as session:
        row = await pending.expect(session, chat, user, "reject_reason", "ZG2025004", now=now)
        if prompt is not None:
            await pending.set_prompt(session, row.id, prompt)


async def sender(factory: SessionFactory, user: int, *, chat: int = CHAT, reply_to: int | None = None,
                 now: dt.datetime = NOW) -> pending.Sender:
    async with transaction(factory) as session:
        return await pending.sender(session, chat, user, reply_to=reply_to, now=now)


async def open_questions(factory: SessionFactory) -> int:
    async with factory() as session:
        return int(await session.scalar(select(func.count()).select_from(PendingInput)) or 0)


async def test_sender_finds_the_cadre_and_consumes_the_open_question(seeded: SessionFactory) -> None:
    cadre_id = await bind_alice(seeded)
    await expect(seeded, ALICE)
    found = await sender(seeded, ALICE)
    assert found.cadre is not None and found.cadre.id == cadre_id
    assert found.waiting == pending.Waiting("reject_reason", "ZG2025004", 77)
    assert await open_questions(seeded) == 0
    again = await sender(seeded, ALICE)
    assert again.cadre is not None and again.waiting is None


async def test_sender_without_an_open_question_still_finds_the_cadre(seeded: SessionFactory) -> None:
    cadre_id = await bind_alice(seeded)
    found = await sender(seeded, ALICE)
    assert found.cadre is not None and found.cadre.id == cadre_id and found.waiting is None


async def test_a_question_asked_in_another_chat_is_not_answered_here(seeded: SessionFactory) -> None:
    await bind_alice(seeded)
    await expect(seeded, ALICE, chat=OTHER_CHAT)
    found = await sender(seeded, ALICE)
    assert found.cadre is not None and found.waiting is None
    assert await open_questions(seeded) == 1


async def test_a_reply_to_another_message_leaves_the_question_open(seeded: SessionFactory) -> None:
    await bind_alice(seeded)
    await expect(seeded, ALICE, prompt=77)
    assert (await sender(seeded, ALICE, reply_to=78)).waiting is None
    assert await open_questions(seeded) == 1
    assert (await sender(seeded, ALICE, reply_to=77)).waiting is not None
    assert await open_questions(seeded) == 0


async def test_an_expired_question_is_dropped_not_answered(seeded: SessionFactory) -> None:
    await bind_alice(seeded)
    await expect(seeded, ALICE)
    found = await sender(seeded, ALICE, now=NOW + pending.WAIT + dt.timedelta(seconds=1))
    assert found.cadre is not None and found.waiting is None
    assert await open_questions(seeded) == 0


async def test_an_unbound_writer_has_no_cadre_but_their_open_question_is_still_taken(seeded: SessionFactory) -> None:
    await expect(seeded, STRANGER)
    found = await sender(seeded, STRANGER)
    assert found.cadre is None
    assert found.waiting is not None and found.waiting.target == "ZG2025004"
    assert await open_questions(seeded) == 0
    assert await sender(seeded, STRANGER) == pending.Sender(None, None)
