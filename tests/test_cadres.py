"""Binding Telegram accounts to cadres: invites, single use, expiry, rate limit, moves, unbinding.

Each step runs in its own real transaction, the way a handler calls it, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib

import pytest
from sqlalchemy import select

from bot.db import SessionFactory, transaction
from bot.errors import InvalidInput, InvalidTransition, NotFound, PermissionDenied
from bot.models import BindAttempt, Cadre, Invite, Role
from bot.services import cadres
from bot.services.cadres import CODE_ALPHABET, INVALID_CODE_MESSAGE, BindResult, InviteResult

NOW = dt.datetime(2026, 11, 27, 1, 0, tzinfo=dt.UTC)
BOT = "zhenggai_bot"
ALICE, BOB = 111_000_111, 222_000_222  # Telegram user ids


async def invite(factory: SessionFactory, name: str, *, actor: int | None = None, now: dt.datetime = NOW,
                 ttl_days: int = 7) -> InviteResult:
    async with transaction(factory) as session:
        return await cadres.create_invite(session, name, actor_id=actor, ttl_days=ttl_days, bot_username=BOT,
                                          now=now)


async def bind(factory: SessionFactory, code: str, user: int, now: dt.datetime = NOW) -> BindResult:
    async with transaction(factory) as session:
        return await cadres.bind(session, code, user, now)


async def cadre(factory: SessionFactory, name: str) -> Cadre:
    async with factory() as session:
        return (await session.scalars(select(Cadre).where(Cadre.name == name))).one()


async def attempts(factory: SessionFactory, user: int) -> list[bool]:
    async with factory() as session:
        rows = await session.scalars(
            select(BindAttempt.success).where(BindAttempt.telegram_user_id == user).order_by(BindAttempt.id))
        return list(rows)


async def test_invite_code_is_stored_hashed(seeded: SessionFactory) -> None:
    result = await invite(seeded, "张伟")
    assert result.name == "张伟"
    assert len(result.code) == 10 and set(result.code) <= set(CODE_ALPHABET)
    assert not set(result.code) & set("0O1IL")
    assert result.link == f"https://t.me/{BOT}?start={result.code}"
    assert result.expires_at == NOW + dt.timedelta(days=7)
    async with seeded() as session:
        (stored,) = await session.scalars(select(Invite))
        assert stored.code_hash == hashlib.sha256(result.code.encode()).hexdigest()
        assert result.code not in {stored.code_hash, str(stored.id)}
        assert stored.expires_at == NOW + dt.timedelta(days=7) and stored.used_at is None
        assert stored.created_by_id is None  # the command line
        assert stored.cadre_id == (await cadre(seeded, "张伟")).id


async def test_codes_are_not_repeated(seeded: SessionFactory) -> None:
    codes = {(await invite(seeded, "张伟")).code for _ in range(5)}
    assert len(codes) == 5


async def test_only_admins_issue_invites(seeded: SessionFactory) -> None:
    zhang, wei = await cadre(seeded, "张伟"), await cadre(seeded, "韦丽萍")
    with pytest.raises(PermissionDenied, match="只有管理员可以生成邀请码"):
        await invite(seeded, "邓小燕", actor=zhang.id)
    result = await invite(seeded, "邓小燕", actor=wei.id)
    async with seeded() as session:
        (stored,) = await session.scalars(select(Invite))
    assert stored.created_by_id == wei.id
    assert (await bind(seeded, result.code, ALICE)).unwrap().name == "邓小燕"


async def test_unknown_cadre_gets_no_invite(seeded: SessionFactory) -> None:
    with pytest.raises(NotFound, match="干部名单中没有「王五」。新干部请先由管理员导入干部名单"):
        await invite(seeded, "王五")


@pytest.mark.parametrize(("typed", "close"), [("张", "张伟"), ("张卫", "张伟"), ("卢建", "卢建平")])
async def test_a_name_not_on_the_list_names_those_close_to_it_and_invites_nobody(
        seeded: SessionFactory, typed: str, close: str) -> None:
    with pytest.raises(NotFound, match=f"干部名单中没有「{typed}」。名单中相近的：.*{close}"):
        await invite(seeded, typed)
    async with seeded() as session:
        assert list(await session.scalars(select(Invite))) == []


async def test_a_chinese_name_typed_with_a_space_is_that_cadre(seeded: SessionFactory) -> None:
    for typed in ("张 伟", "张\u3000伟"):
        assert (await invite(seeded, typed)).name == "张伟"


async def test_binding_with_a_good_code_binds_the_account(seeded: SessionFactory) -> None:
    async with transaction(seeded) as session:  # unreachable since an old 403
        zhang = (await session.scalars(select(Cadre).where(Cadre.name == "张伟"))).one()
        zhang.unreachable_since = NOW - dt.timedelta(days=3)
    code = (await invite(seeded, "张伟")).code
    later = NOW + dt.timedelta(hours=2)
    result = await bind(seeded, code, ALICE, later)
    assert result.ok and result.unwrap().name == "张伟"
    stored = await cadre(seeded, "张伟")
    assert stored.telegram_user_id == ALICE and stored.bound_at == later and stored.unreachable_since is None
    async with seeded() as session:
        (used,) = await session.scalars(select(Invite))
        assert used.used_at == later
        found = await cadres.cadre_by_telegram(session, ALICE)
        assert found is not None and found.name == "张伟"
        assert await cadres.cadre_by_telegram(session, BOB) is None
    assert await attempts(seeded, ALICE) == [True]


async def test_code_is_accepted_as_typed(seeded: SessionFactory) -> None:
    code = (await invite(seeded, "张伟")).code
    typed = f"  {code[:5].lower()} - {code[5:]} "
    assert (await bind(seeded, typed, ALICE)).unwrap().name == "张伟"
    code = (await invite(seeded, "邓小燕")).code
    full_width = "".join(chr(ord(c) + 0xFEE0) for c in code)  # typed with a Chinese IME
    assert (await bind(seeded, full_width, BOB)).unwrap().name == "邓小燕"


async def test_wrong_used_and_expired_codes_give_the_same_message(seeded: SessionFactory) -> None:
    used = (await invite(seeded, "张伟")).code
    assert (await bind(seeded, used, ALICE)).ok
    expired = (await invite(seeded, "邓小燕", ttl_days=7)).code
    failures = [
        await bind(seeded, "ABCDEFGHJK", BOB),
        await bind(seeded, used, BOB),
        await bind(seeded, expired, BOB, NOW + dt.timedelta(days=7, seconds=1)),
    ]
    messages = set()
    for failure in failures:
        assert not failure.ok
        with pytest.raises(InvalidInput) as error:
            failure.unwrap()
        messages.add(str(error.value))
    assert messages == {INVALID_CODE_MESSAGE}
    # Each failure was committed by the caller's transaction (a result, not an exception).
    assert await attempts(seeded, BOB) == [False, False, False]
    assert (await cadre(seeded, "邓小燕")).telegram_user_id is None
    assert (await cadre(seeded, "张伟")).telegram_user_id == ALICE


async def test_sixth_failed_code_within_an_hour_is_refused(seeded: SessionFactory) -> None:
    good = (await invite(seeded, "张伟")).code
    for minute in range(5):
        assert not (await bind(seeded, f"WRONG{minute}CODE", ALICE, NOW + dt.timedelta(minutes=minute))).ok
    # Even the right code is not looked at now: guessing must not go on.
    with pytest.raises(InvalidInput, match="尝试次数过多，请一小时后再试"):
        await bind(seeded, good, ALICE, NOW + dt.timedelta(minutes=10))
    assert (await cadre(seeded, "张伟")).telegram_user_id is None
    assert await attempts(seeded, ALICE) == [False] * 5
    # Another account is not affected; an hour after the first failures this one may try again.
    assert not (await bind(seeded, "WRONGCODE9", BOB, NOW + dt.timedelta(minutes=10))).ok
    assert (await bind(seeded, good, ALICE, NOW + dt.timedelta(minutes=61))).unwrap().name == "张伟"


async def test_account_bound_to_another_cadre_is_refused(seeded: SessionFactory) -> None:
    assert (await bind(seeded, (await invite(seeded, "张伟")).code, ALICE)).ok
    code = (await invite(seeded, "邓小燕")).code
    with pytest.raises(InvalidTransition, match="您的 Telegram 账号已绑定为「张伟」"):
        await bind(seeded, code, ALICE)
    assert (await cadre(seeded, "邓小燕")).telegram_user_id is None
    assert (await bind(seeded, code, BOB)).unwrap().name == "邓小燕"  # the code was not used up


async def test_binding_a_cadre_again_moves_the_binding(seeded: SessionFactory) -> None:
    assert (await bind(seeded, (await invite(seeded, "张伟")).code, ALICE)).ok
    later = NOW + dt.timedelta(days=1)
    code = (await invite(seeded, "张伟", now=later)).code  # new phone
    assert (await bind(seeded, code, BOB, later)).unwrap().name == "张伟"
    zhang = await cadre(seeded, "张伟")
    assert zhang.telegram_user_id == BOB and zhang.bound_at == later
    async with seeded() as session:
        assert await cadres.cadre_by_telegram(session, ALICE) is None


async def test_reissuing_an_invite_retires_the_old_code(seeded: SessionFactory) -> None:
    old = (await invite(seeded, "张伟")).code
    new = (await invite(seeded, "张伟", now=NOW + dt.timedelta(minutes=5))).code
    assert not (await bind(seeded, old, ALICE, NOW + dt.timedelta(minutes=6))).ok
    assert (await bind(seeded, new, ALICE, NOW + dt.timedelta(minutes=7))).ok


async def test_two_accounts_racing_with_one_code_bind_once(seeded: SessionFactory) -> None:
    code = (await invite(seeded, "张伟")).code
    results = await asyncio.gather(bind(seeded, code, ALICE), bind(seeded, code, BOB), return_exceptions=True)
    assert sum(isinstance(r, BindResult) and r.ok for r in results) == 1, results
    zhang = await cadre(seeded, "张伟")
    assert zhang.telegram_user_id in (ALICE, BOB)
    async with seeded() as session:
        (stored,) = await session.scalars(select(Invite))
        assert stored.used_at is not None


async def test_unbind_detaches_the_account_and_retires_open_invites(seeded: SessionFactory) -> None:
    wei = await cadre(seeded, "韦丽萍")
    zhang = await cadre(seeded, "张伟")
    assert (await bind(seeded, (await invite(seeded, "张伟")).code, ALICE)).ok
    pending = (await invite(seeded, "张伟", now=NOW + dt.timedelta(minutes=1))).code
    with pytest.raises(PermissionDenied, match="只有管理员可以解除绑定"):
        async with transaction(seeded) as session:
            await cadres.unbind(session, "张伟", actor_id=zhang.id)
    async with transaction(seeded) as session:
        unbound = await cadres.unbind(session, "张伟", actor_id=wei.id, now=NOW + dt.timedelta(minutes=2))
    assert unbound.telegram_user_id is None
    stored = await cadre(seeded, "张伟")
    assert stored.telegram_user_id is None and stored.bound_at is None
    assert not (await bind(seeded, pending, ALICE, NOW + dt.timedelta(minutes=3))).ok
    with pytest.raises(InvalidTransition, match="「张伟」尚未绑定 Telegram 账号"):
        async with transaction(seeded) as session:
            await cadres.unbind(session, "张伟", actor_id=None)


async def test_admins_and_the_list_of_cadres(seeded: SessionFactory) -> None:
    async with seeded() as session:
        admins = await cadres.admins(session)
        everyone = await cadres.list_cadres(session)
        admin_ids = await cadres.admin_ids(session)
    assert [a.name for a in admins] == ["韦丽萍", "刘洋"]
    assert admin_ids == [a.id for a in admins]
    assert len(everyone) == 22 and everyone[0].name == "黄志刚"
    assert {c.role for c in everyone} == {Role.ADMIN, Role.LEADER, Role.CADRE}
