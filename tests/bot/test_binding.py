"""Binding through the real bot: /start CODE, the one answer for every bad code, the brute-force
limit, /invite, and what an unbound Telegram user can (not) see."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re

from sqlalchemy import select

from bot.db import transaction
from bot.models import BindAttempt, Invite, MeasureStatus
from bot.services import cadres
from bot.services.cadres import INVALID_CODE_MESSAGE, TOO_MANY_ATTEMPTS_MESSAGE
from tests.bot.conftest import Harness

NOT_BOUND = "还没有绑定"
#: Anything that would be data: measure codes, names of the sample cadres, units.
DATA_MARKERS = re.compile(r"ZG20|张伟|陈建华|钟春兰|韦丽萍|基础教育科|港南区教育局|整改措施共")


async def attempts(harness: Harness, telegram_id: int) -> list[bool]:
    async with transaction(harness.factory) as session:
        return list(await session.scalars(select(BindAttempt.success)
                                          .where(BindAttempt.telegram_user_id == telegram_id)
                                          .order_by(BindAttempt.id)))


async def test_start_with_a_code_binds_that_cadre(harness: Harness) -> None:
    user = harness.stranger("新手机")
    code = await harness.invite_code("钟春兰")
    reply = await harness.one(user, f"/start {code}")
    assert "绑定成功" in reply.body and "钟春兰" in reply.body and "港南区教育局" in reply.body
    assert "/mine" in reply.body  # the help for a cadre follows
    cadre = await harness.cadre("钟春兰")
    assert cadre.telegram_user_id == user.id and cadre.bound_at is not None
    async with transaction(harness.factory) as session:
        invite = await session.scalar(select(Invite).where(Invite.cadre_id == cadre.id))
    assert invite is not None and invite.used_at is not None
    assert await attempts(harness, user.id) == [True]
    # A bound user is greeted by name, and their data is there.
    again = await harness.one(user, "/start")
    assert "钟春兰，您好" in again.body
    mine = await harness.one(user, "/mine")
    assert "ZG2025001" in mine.body


async def test_wrong_used_and_expired_codes_get_the_same_answer(harness: Harness) -> None:
    used = await harness.invite_code("张伟")
    await harness.one(harness.stranger("张伟本人"), f"/start {used}")
    async with transaction(harness.factory) as session:
        expired = (await cadres.create_invite(session, "邓小燕", actor_id=None, ttl_days=1, bot_username="x",
                                              now=dt.datetime.now(dt.UTC) - dt.timedelta(days=2))).code
    stranger = harness.stranger()
    before = await harness.snapshot()
    answers = [(await harness.one(stranger, f"/start {code}")).body for code in ("WRONGCODE1", used, expired)]
    assert answers == [INVALID_CODE_MESSAGE] * 3
    assert await harness.snapshot() == before  # nobody bound, no invite used
    assert await attempts(harness, stranger.id) == [False, False, False]  # but every try counted
    assert NOT_BOUND in (await harness.one(stranger, "/mine")).body


async def test_six_wrong_codes_and_even_a_right_one_is_refused(harness: Harness) -> None:
    stranger = harness.stranger("猜码的人")
    for n in range(5):
        assert (await harness.one(stranger, f"/start WRONG{n:05d}")).body == INVALID_CODE_MESSAGE
    assert TOO_MANY_ATTEMPTS_MESSAGE in (await harness.one(stranger, "/start WRONG99999")).body
    good = await harness.invite_code("张伟")
    assert TOO_MANY_ATTEMPTS_MESSAGE in (await harness.one(stranger, f"/start {good}")).body
    assert (await harness.cadre("张伟")).telegram_user_id is None
    assert await attempts(harness, stranger.id) == [False] * 5  # refused unchecked: not even recorded
    # The code was not burnt: its owner can still use it.
    owner = harness.stranger("张伟")
    assert "绑定成功" in (await harness.one(owner, f"/start {good}")).body


async def test_start_with_a_code_in_a_group_is_refused_and_the_code_stays_valid(harness: Harness) -> None:
    user = harness.stranger("张伟")
    group = harness.sandbox.add_group("整改工作群", [user.id])
    code = await harness.invite_code("张伟")
    before = await harness.snapshot()
    reply = await harness.one(user, f"/start {code}", chat_id=group.id)
    assert "私聊" in reply.body and "绑定成功" not in reply.body
    assert await harness.snapshot() == before
    assert "绑定成功" in (await harness.one(user, f"/start {code}")).body


async def test_admin_invites_in_private_and_the_code_binds_that_person(harness: Harness) -> None:
    admin = await harness.bind("韦丽萍")
    reply = await harness.one(admin, "/invite 邓小燕")
    assert "邓小燕" in reply.body and "t.me/zhenggai_test_bot?start=" in reply.body
    match = re.search(r"start=([A-Z0-9]+)", reply.body)
    assert match is not None
    code = match.group(1)
    async with transaction(harness.factory) as session:
        invite = await session.scalar(select(Invite).where(Invite.cadre_id == (await harness.cadre("邓小燕")).id))
    assert invite is not None and invite.created_by_id == (await harness.cadre("韦丽萍")).id
    newcomer = harness.stranger("小燕")
    bound = await harness.one(newcomer, f"/start {code}")
    assert "绑定成功" in bound.body and "邓小燕" in bound.body
    assert (await harness.cadre("邓小燕")).telegram_user_id == newcomer.id
    assert "注意" not in (await harness.one(admin, "/invite 张伟")).body
    # A bound cadre's new code moves the binding to whoever uses it: said when it is made.
    again = await harness.one(admin, "/invite 邓小燕")
    assert "注意：邓小燕 已绑定 Telegram 账号。此邀请码被使用后，绑定将转到使用它的账号" in again.body
    # Mistakes get a clear answer and issue nothing.
    before = await harness.snapshot()
    overview = (await harness.one(admin, "/invite")).body  # who still has to bind, and the usage
    assert "用法：/invite 姓名" in overview and overview.startswith("尚未绑定的干部共 ")
    assert "• 邓小燕" not in overview and "• 李明德（贵港市教育局）\n" in overview
    assert re.search(r"• 张伟（基础教育科） — 已发邀请码，\d\d月\d\d日前有效", overview)
    assert "干部名单中没有「王五」" in (await harness.one(admin, "/invite 王五")).body
    assert await harness.snapshot() == before


async def test_invite_is_refused_to_non_admins_and_in_groups(harness: Harness) -> None:
    cadre, leader, admin = await harness.bind("张伟"), await harness.bind("陈建华"), await harness.bind("刘洋")
    stranger = harness.stranger()
    group = harness.sandbox.add_group("整改工作群", [admin.id, cadre.id])

    async def refusals() -> list[str]:
        return [(await harness.one(cadre, "/invite 邓小燕")).body,
                (await harness.one(leader, "/invite 邓小燕")).body,
                (await harness.one(stranger, "/invite 邓小燕")).body,
                (await harness.one(admin, "/invite 邓小燕", chat_id=group.id)).body]

    by_cadre, by_leader, by_stranger, in_group = await harness.unchanged_by(refusals)
    assert "只有管理员可以生成邀请码" in by_cadre and "只有管理员可以生成邀请码" in by_leader
    assert NOT_BOUND in by_stranger
    assert "私聊" in in_group and "start=" not in in_group


async def test_unbound_users_get_only_start_and_help(harness: Harness) -> None:
    stranger = harness.stranger()
    start = await harness.one(stranger, "/start")
    assert "邀请码" in start.body
    help_ = await harness.one(stranger, "/help")
    assert "/start 邀请码" in help_.body and "/mine" not in help_.body and "/verify" not in help_.body
    tries = ["/mine", "/status ZG2025001", "/status 港南区补贴", "/overdue", "/todo", "/regs", "/report", "/export",
             "/done ZG2025001 已完成", "/verify ZG2025012", "/reject ZG2025012 材料不全",
             "/extend ZG2025001 2027-03-31 资金未到位", "/extend ZG2025001 不是日期 理由", "/done", "/status",
             "请假超过三天要谁批", "ZG2025001", "逾期的有哪些", "张伟负责的", "我的整改"]

    async def ask_everything() -> list[str]:
        return [(await harness.one(stranger, text)).body for text in tries]

    answers = await harness.unchanged_by(ask_everything)
    for text, answer in zip(tries, answers, strict=True):
        assert NOT_BOUND in answer, (text, answer)
        assert not DATA_MARKERS.search(answer), (text, answer)
    # Files too: nothing is stored for an unbound sender.
    await harness.sandbox.send_photo(stranger.id, b"\x89PNG fake", caption="/done ZG2025001")
    [photo_reply] = await harness.sandbox.wait_for_messages(stranger.id)
    assert NOT_BOUND in photo_reply.body
    assert (await harness.measure("ZG2025001")).status is MeasureStatus.IN_PROGRESS


async def test_an_old_card_pressed_after_the_account_was_unbound_does_nothing(harness: Harness) -> None:
    """The card stays in the old phone's chat; the account is no longer anyone."""
    old_phone = await harness.bind("张伟")
    card = await harness.one(old_phone, "/status ZG2025009")
    assert "✅ 完成" in card.button_texts
    await harness.bind("张伟", fresh=True)  # a new account takes over the binding
    assert (await harness.cadre("张伟")).telegram_user_id != old_phone.id

    async def press_everything() -> list[str]:
        toasts = []
        for label in ("完成", "进展", "申请延期"):
            after, toast = await harness.tap(old_phone, card, label)
            assert after.edit_count == 0 and after.body == card.body
            toasts.append(toast)
        return toasts

    for toast in await harness.unchanged_by(press_everything):
        assert NOT_BOUND in toast
    assert await harness.pending_inputs(old_phone) == []


async def test_a_stranger_pressing_buttons_in_a_group_gets_nothing(harness: Harness) -> None:
    member = await harness.bind("张伟")
    stranger = harness.stranger()
    group = harness.sandbox.add_group("整改工作群", [member.id, stranger.id])
    index = await harness.one(member, "/regs", chat_id=group.id)
    assert index.buttons
    after, toast = await harness.tap(stranger, index, "1.", chat_id=group.id)
    assert NOT_BOUND in toast and after.edit_count == 0


async def test_invite_everyone_sends_one_sheet_of_codes_for_the_unbound_and_each_code_binds(harness: Harness) -> None:
    admin = await harness.bind("刘洋")
    await harness.bind("张伟")
    sheet = await harness.one(admin, "/invite 全部")
    assert sheet.document is not None and sheet.document.file_name == "邀请码.csv"
    assert sheet.caption is not None and sheet.caption.startswith("已为 20 名未绑定的干部生成邀请码（7 天内有效")
    rows = list(csv.reader(io.StringIO(sheet.document.data.decode("utf-8-sig"))))
    assert rows[0] == ["姓名", "单位", "职务", "邀请码", "链接", "有效期至"]
    names = [row[0] for row in rows[1:]]
    assert len(names) == 20 and "刘洋" not in names and "张伟" not in names and "邓小燕" in names
    code = next(row[3] for row in rows[1:] if row[0] == "邓小燕")
    assert "绑定成功" in (await harness.one(harness.stranger("小燕"), f"/start {code}")).body
    # Issued again, the earlier sheet stops working: one valid code per person.
    await harness.one(admin, "/invite 全部")
    stale = next(row[3] for row in rows[1:] if row[0] == "钟春兰")
    assert "绑定成功" not in (await harness.one(harness.stranger("春兰"), f"/start {stale}")).body


async def test_invite_everyone_is_refused_to_non_admins(harness: Harness) -> None:
    cadre = await harness.bind("张伟")
    refused = await harness.unchanged_by(lambda: harness.one(cadre, "/invite 全部"))
    assert "只有管理员可以生成邀请码" in refused.body
