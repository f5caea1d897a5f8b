"""Core flows through the real bot: binding, asking, done → verify, refusals."""

from __future__ import annotations

from bot.models import MeasureStatus
from tests.bot.conftest import Harness


async def test_unbound_user_gets_only_start_and_help(harness: Harness) -> None:
    stranger = harness.stranger()
    replies = await harness.say(stranger, "/start")
    assert "邀请码" in replies[0].body
    replies = await harness.say(stranger, "请假超过三天要谁批")
    assert "还没有绑定" in replies[0].body
    replies = await harness.say(stranger, "/mine")
    assert "还没有绑定" in replies[0].body and "ZG20" not in replies[0].body


async def test_a_wrong_code_says_so_without_revealing_anything(harness: Harness) -> None:
    stranger = harness.stranger()
    replies = await harness.say(stranger, "/start WRONGCODE1")
    assert "邀请码无效、已使用或已过期" in replies[0].body


async def test_a_bound_cadre_gets_a_cited_article(harness: Harness) -> None:
    user = await harness.bind("张伟")
    [reply] = await harness.say(user, "请假超过三天要谁批？")
    assert "《市教育局工作规程》第3条" in reply.body
    assert "起施行" in reply.body
    assert reply.buttons  # the other candidates and the regulation


async def test_owner_marks_done_by_button_with_confirmation_then_leader_verifies(harness: Harness) -> None:
    owner = await harness.bind("张伟")
    leader = await harness.bind("陈建华")
    [card] = await harness.say(owner, "ZG2025009 进展")
    assert "ZG2025009" in card.body
    asking = await harness.press(owner, card, "完成")
    assert "确认" in asking.body
    assert (await harness.measure("ZG2025009")).status is MeasureStatus.IN_PROGRESS  # not yet
    done = await harness.press(owner, asking, "确认完成")
    assert "待销号" in done.body
    assert (await harness.measure("ZG2025009")).status is MeasureStatus.DONE
    await harness.deliver()
    [note] = await harness.sandbox.wait_for_messages(leader.id, timeout=5)
    assert "ZG2025009" in note.body and "报告完成" in note.body
    verified = await harness.press(leader, await harness.press(leader, note, "销号"), "确认销号")
    assert "已销号" in verified.body
    measure = await harness.measure("ZG2025009")
    assert measure.status is MeasureStatus.CLOSED
    actions = [e.action for e in await harness.events("ZG2025009")]
    assert actions[-2:] == ["done", "verify"]


async def test_done_rejects_another_cadres_measure(harness: Harness) -> None:
    user = await harness.bind("张伟")
    [reply] = await harness.say(user, "/done ZG2025001 已完成")  # 钟春兰's measure
    assert "ZG2025001" in reply.body and "不能报告完成" in reply.body
    assert (await harness.measure("ZG2025001")).status is MeasureStatus.IN_PROGRESS


async def test_typed_done_acts_at_once_and_offers_undo(harness: Harness) -> None:
    user = await harness.bind("张伟")
    [reply] = await harness.say(user, "/done zg-2025-8 已经完成调整方案")
    assert "已报告完成" in reply.body
    assert (await harness.measure("ZG2025008")).status is MeasureStatus.DONE
    undone = await harness.press(user, reply, "撤回完成")
    assert (await harness.measure("ZG2025008")).status is MeasureStatus.NOT_STARTED
    assert "未开始" in undone.body


async def test_unknown_code_and_garbage_get_clear_answers(harness: Harness) -> None:
    user = await harness.bind("张伟")
    [reply] = await harness.say(user, "/done ZG2099999")
    assert "ZG2099999" in reply.body
    [reply] = await harness.say(user, "<script>alert(1)</script> & ' \"")
    assert "<script>" in reply.body or "没有找到" in reply.body  # escaped, never a parse error
    [reply] = await harness.say(user, "/nosuchcommand")
    assert "没有这个命令" in reply.body
