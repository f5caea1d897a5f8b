"""Group chats: the bot answers commands, mentions and replies to itself, ignores the rest of the
conversation, and shows measures only at 公示 level (no names, no progress, no buttons)."""

from __future__ import annotations

import asyncio

import pytest

from bot.models import MeasureStatus
from bot.sandbox import BotMessage, SandboxChat, SandboxUser
from tests.bot.conftest import Harness

MENTION = "@zhenggai_test_bot"
PRIVATE_DETAILS = ("责任人：", "分管领导：", "最新进展：", "张伟", "陈建华")


def assert_public(message: BotMessage) -> None:
    for word in PRIVATE_DETAILS:
        assert word not in message.body, (word, message.body)
    assert message.buttons == [], message.button_texts


async def group_of(harness: Harness, *names: str, bot_is_admin: bool = False) -> tuple[SandboxChat,
                                                                                           list[SandboxUser]]:
    members = [await harness.bind(name) for name in names]
    stranger = harness.stranger()
    chat = harness.sandbox.add_group("整改工作群", [m.id for m in members] + [stranger.id], bot_is_admin=bot_is_admin)
    return chat, [*members, stranger]


async def test_commands_mentions_and_replies_are_answered_at_public_level(harness: Harness) -> None:
    group, (owner, leader, _) = await group_of(harness, "张伟", "陈建华")
    card = await harness.one(owner, "/status ZG2025009", chat_id=group.id)
    assert card.body.startswith("📋 ZG2025009") and "完成时限：2026年12月5日" in card.body
    assert_public(card)
    mentioned = await harness.one(leader, f"{MENTION} ZG2025013 进展怎么样", chat_id=group.id)
    assert mentioned.body.startswith("📋 ZG2025013")
    assert_public(mentioned)  # the leader could sign it off in private — not here
    article = await harness.one(owner, f"{MENTION} 请假超过三天要谁批？", chat_id=group.id)
    assert article.body.startswith("《市教育局工作规程》第3条")
    answer = await harness.one(leader, "那请假两天呢", chat_id=group.id, reply_to=article.message_id)
    assert answer.body  # a reply to the bot is addressed to it
    listing = await harness.one(owner, f"{MENTION} 逾期的有哪些", chat_id=group.id)
    assert "ZG2025001" in listing.body and "钟春兰" not in listing.body
    addressed_elsewhere = await harness.one(owner, "/status@zhenggai_test_bot ZG2025001", chat_id=group.id)
    assert_public(addressed_elsewhere)


async def test_other_chatter_is_ignored_even_when_the_bot_sees_everything(harness: Harness) -> None:
    group, (owner, leader, stranger) = await group_of(harness, "张伟", "陈建华", bot_is_admin=True)
    card = await harness.one(owner, "/status ZG2025009", chat_id=group.id)

    async def chatter() -> None:
        for user, text in ((owner, "大家好，今天下午三点开会"), (leader, "ZG2025009 进展怎么样"),
                           (stranger, "请假超过三天要谁批"), (owner, "已完成"), (owner, "ZG2025009 已完成"),
                           (leader, "/mine@some_other_bot")):
            await harness.sandbox.send_text(user.id, text, chat_id=group.id)
        await harness.sandbox.send_photo(owner.id, b"\x89PNG party", caption="ZG2025009 合影", chat_id=group.id)
        # Something addressed to the bot, to know the chatter before it was handled (or ignored).
        reply = await harness.one(owner, "/status ZG2025008", chat_id=group.id)
        assert reply.body.startswith("📋 ZG2025008")
        await asyncio.sleep(0.3)  # updates run concurrently: give a stray answer the time to show up

    await harness.unchanged_by(chatter)
    assert [m.message_id for m in harness.sandbox.messages(group.id)][-2:][0] == card.message_id
    assert (await harness.measure("ZG2025009")).status is MeasureStatus.IN_PROGRESS


async def test_personal_commands_in_a_group(harness: Harness) -> None:
    group, (_, leader, stranger) = await group_of(harness, "张伟", "陈建华")
    # His own list and those he supervises; what awaits his sign-off is none of the group's business.
    mine = await harness.say(leader, "/mine", chat_id=group.id, count=2)
    assert "您分管的未完成整改措施" in mine[1].body
    with pytest.raises(TimeoutError):
        await harness.sandbox.wait_for_messages(group.id, timeout=0.5)
    for message in mine:
        assert_public(message)
    overdue = await harness.one(leader, "/overdue", chat_id=group.id)
    assert "ZG2025030" in overdue.body and "林振华" not in overdue.body
    todo = await harness.unchanged_by(lambda: harness.one(leader, "/todo", chat_id=group.id))
    assert "私聊" in todo.body and "ZG20" not in todo.body
    unbound = await harness.one(stranger, f"{MENTION} 我的整改", chat_id=group.id)
    assert "还没有绑定" in unbound.body and "私聊" in unbound.body and "请勿发在群里" in unbound.body


async def test_a_measures_trail_is_never_shown_in_a_group(harness: Harness) -> None:
    group, (owner, leader, _) = await group_of(harness, "张伟", "陈建华")
    await harness.one(owner, "/done ZG2025009 已验收")  # in private: a note the group must not see
    for who, text in ((leader, "/history ZG2025009"), (owner, f"{MENTION} ZG2025009 办理记录")):
        refused = await harness.unchanged_by(lambda w=who, t=text: harness.one(w, t, chat_id=group.id))
        assert refused.body == "办理记录和佐证材料请在与机器人的私聊中查看"
    assert all("已验收" not in m.body for m in harness.sandbox.messages(group.id))


async def test_done_in_a_group_acts_but_shows_only_the_public_card(harness: Harness) -> None:
    group, (owner, leader, stranger) = await group_of(harness, "张伟", "陈建华")
    reply = await harness.one(owner, "/done ZG2025009 已完工", chat_id=group.id)
    assert reply.body.startswith("已报告完成") and "撤回完成" not in reply.body
    assert_public(reply)
    assert (await harness.measure("ZG2025009")).status is MeasureStatus.DONE
    card = await harness.one(owner, "/status ZG2025008", chat_id=group.id)
    by_reply = await harness.one(owner, "已完成", chat_id=group.id, reply_to=card.message_id)
    assert by_reply.body.startswith("已报告完成")
    assert_public(by_reply)
    # Typed with a mention: the leader reports for the owner of a measure he supervises.
    typed = await harness.one(leader, f"{MENTION} ZG2025030 已完成，危房已拆除", chat_id=group.id)
    assert typed.body.startswith("已报告完成")
    assert_public(typed)
    assert (await harness.measure("ZG2025030")).status is MeasureStatus.DONE
    refused = await harness.unchanged_by(lambda: harness.one(stranger, "/done ZG2025006", chat_id=group.id))
    assert "还没有绑定" in refused.body
    listing = await harness.one(owner, "/mine", chat_id=group.id)
    several = await harness.one(owner, "完成了", chat_id=group.id, reply_to=listing.message_id)
    assert "/done 编号" in several.body and several.buttons == []
    # Files: only when addressed to the bot.
    await harness.sandbox.send_photo(owner.id, b"\x89PNG", caption=f"{MENTION} ZG2025013 发放清单", chat_id=group.id)
    [saved] = await harness.sandbox.wait_for_messages(group.id)
    assert "已将照片作为 ZG2025013 的佐证材料保存" in saved.body
    assert (await harness.events("ZG2025013"))[-1].action == "evidence"
    await harness.deliver()  # the leader's notifications go to his private chat, never to the group
    notes = await harness.sandbox.wait_for_messages(leader.id, count=3)
    assert all(n.chat_id == leader.id for n in notes)


async def test_refusals_in_a_group_name_nobody(harness: Harness) -> None:
    group, (owner, other, _) = await group_of(harness, "张伟", "钟春兰")
    card = await harness.one(owner, "/status ZG2025009", chat_id=group.id)

    async def strangers_claims() -> list[str]:
        return [(await harness.one(other, "已完成", chat_id=group.id, reply_to=card.message_id)).body,
                (await harness.one(other, "/done ZG2025009", chat_id=group.id)).body]

    for refusal in await harness.unchanged_by(strangers_claims):
        assert "ZG2025009 不是您负责的整改措施，您不能报告完成" in refusal and "张伟" not in refusal
    # In private the same refusal may say whose it is.
    private = await harness.one(other, "/done ZG2025009")
    assert "ZG2025009 的责任人是张伟" in private.body
