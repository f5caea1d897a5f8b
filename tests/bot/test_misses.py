"""/misses: an admin sees the questions the bot could not answer and teaches it in the chat —
the question becomes a phrasing of the item that answers it, effective at once."""

from __future__ import annotations

from sqlalchemy import func, select
from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.db import transaction
from bot.models import Alias, Miss
from bot.sandbox import BotMessage, SandboxUser
from bot.services.answers import dismiss_miss
from tests.bot.conftest import Harness

LEAVE = "假快休完了还想多请几天"  # shares no word with the rule on leave: not answered


async def _with_button(harness: Harness, user: SandboxUser, data: str) -> BotMessage:
    """A message of the bot's carrying exactly this button, as an old or forwarded one might."""
    markup = InlineKeyboardMarkup([[InlineKeyboardButton("按钮", callback_data=data)]])
    await harness.app.bot.send_message(user.id, "（此前的消息）", reply_markup=markup)
    [message] = await harness.sandbox.wait_for_messages(user.id)
    return message


async def _first_card(harness: Harness, admin: SandboxUser) -> BotMessage:
    """/misses, then the most asked question's card (sent below the list)."""
    listed = await harness.one(admin, "/misses")
    await harness.tap(admin, listed, "1")
    [card] = await harness.sandbox.wait_for_messages(admin.id)
    return card


async def _aliases(harness: Harness) -> int:
    async with transaction(harness.services.factory) as session:
        return int(await session.scalar(select(func.count()).select_from(Alias)) or 0)


async def test_an_admin_ties_an_unanswered_question_to_an_article_named_in_words(harness: Harness) -> None:
    admin, cadre = await harness.bind("刘洋"), await harness.bind("张伟")
    refused = await harness.one(cadre, LEAVE)
    assert refused.body.startswith("抱歉，没有找到")
    listed = await harness.one(admin, "/misses")
    assert listed.body.splitlines()[0] == "未能回答或答错的问题（共 1 条，按被问次数排列）："
    assert listed.body.splitlines()[1].startswith(f"1. {LEAVE}　×1，最近 ")
    after, toast = await harness.tap(admin, listed, "1")
    assert toast == "" and after.body == listed.body  # the list stays; the card comes below it
    [card] = await harness.sandbox.wait_for_messages(admin.id)
    assert card.body.startswith("❓ 待处理的问题 #") and f"「{LEAVE}」" in card.body
    assert "现在这样问仍然没有答案" in card.body
    assert card.button_texts == ["✏️ 指定其他", "🗑 忽略"]
    await harness.tap(admin, card, "指定其他")
    [prompt] = await harness.sandbox.wait_for_messages(admin.id)
    assert prompt.body.startswith("请发送这个问题应归入的规章制度、条款或整改措施，例如：“市教育局党员学习制度第五条”")
    assert "“ZG2025001”" in prompt.body  # examples from this bureau's own regulations and measures
    choices = await harness.one(admin, "工作规程第三条")
    assert choices.body == f"「{LEAVE}」归入哪一项？点选确认："
    assert choices.button_texts[0] == "归入 《市教育局工作规程》第3条"
    done, toast = await harness.tap(admin, choices, "第3条")
    assert toast == "已添加说法"
    assert done.body.splitlines() == ["✅ 已归入《市教育局工作规程》第3条，立即生效。", f"「{LEAVE}」",
                                      "现在这样问会直接回答这一项。"]
    # Answered at once, for everyone, and no longer listed.
    answer = await harness.one(cadre, LEAVE)
    assert answer.body.startswith("《市教育局工作规程》第3条")
    assert (await harness.one(admin, "/misses")).body == "目前没有未能回答或答错的问题。"


async def test_a_candidate_on_the_card_teaches_the_bot_with_one_press(harness: Harness) -> None:
    admin = await harness.bind("刘洋")
    offered = await harness.one(admin, "会议室预约")
    assert "您是不是要问" in offered.body  # candidates only: a miss all the same
    card = await _first_card(harness, admin)
    assert "现在这样问只给出候选，不直接回答。" in card.body
    first = card.button_texts[0]
    assert first.startswith("归入 ") and card.button_texts[-2:] == ["✏️ 指定其他", "🗑 忽略"]
    done, toast = await harness.tap(admin, card, first)
    assert toast == "已添加说法" and done.body.endswith("现在这样问会直接回答这一项。")
    answer = await harness.one(admin, "会议室预约")
    assert answer.body.startswith(first.removeprefix("归入 "))


async def test_a_question_set_aside_leaves_the_list_and_setting_it_aside_twice_is_harmless(harness: Harness) -> None:
    admin = await harness.bind("刘洋")
    await harness.one(admin, "火星探测器的燃料配比")
    card = await _first_card(harness, admin)
    dismiss = next(d for d in card.callback_data if d and d.startswith("v1|md|"))
    gone, toast = await harness.tap(admin, card, "忽略")
    assert toast == "已忽略" and gone.body.startswith("🗑 已忽略：「火星探测器的燃料配比」")
    # A second press already on its way when the first removed the buttons does no harm.
    async with transaction(harness.services.factory) as session:
        miss_id = await session.scalar(select(Miss.id))
    assert dismiss == f"v1|md|{miss_id}"
    async with transaction(harness.services.factory) as session:
        assert (await dismiss_miss(session, miss_id)).resolved
    assert (await harness.one(admin, "/misses")).body == "目前没有未能回答或答错的问题。"
    assert await _aliases(harness) == 0
    # As the card promised: asked again, it is listed again.
    await harness.one(admin, "火星探测器的燃料配比")
    assert "火星探测器的燃料配比" in (await harness.one(admin, "/misses")).body


async def test_only_admins_see_or_teach_unanswered_questions(harness: Harness) -> None:
    cadre = await harness.bind("张伟")
    await harness.one(cadre, LEAVE)
    refused = await harness.one(cadre, "/misses")
    assert refused.body == "只有管理员可以查看和处理未能回答的问题。"
    async with transaction(harness.services.factory) as session:
        miss_id = await session.scalar(select(Miss.id))
    # A forged 归入 button pressed by a cadre changes nothing.
    forged = f"v1|te|{miss_id}|a|bureau-work-rules|3"
    _, toast = await harness.tap(cadre, await _with_button(harness, cadre, forged), data=forged)
    assert toast == "只有管理员可以查看和处理未能回答的问题。"
    assert await _aliases(harness) == 0


async def test_a_button_for_a_question_no_longer_kept_says_so(harness: Harness) -> None:
    admin = await harness.bind("刘洋")
    for stale in ("v1|te|999|a|bureau-work-rules|3", "v1|mi|999", "v1|md|999", "v1|tw|999"):
        _, toast = await harness.tap(admin, await _with_button(harness, admin, stale), data=stale)
        assert toast == "这个问题已不在未答列表中，请发送 /misses 重新查看。", stale
    assert not await harness.pending_inputs(admin)
    assert toast == "这个问题已不在未答列表中，请发送 /misses 重新查看。"
    assert await _aliases(harness) == 0


async def test_a_question_may_be_tied_to_a_measure_named_by_its_code(harness: Harness) -> None:
    admin = await harness.bind("刘洋")
    await harness.one(admin, "学校食堂")
    card = await _first_card(harness, admin)
    await harness.tap(admin, card, "指定其他")
    await harness.sandbox.wait_for_messages(admin.id)
    choices = await harness.one(admin, "ZG2025016")
    assert choices.button_texts[0].startswith("归入 ZG2025016 ")
    done, _ = await harness.tap(admin, choices, "ZG2025016")
    assert done.body.splitlines()[0] == "✅ 已归入ZG2025016 教师廉政建设薄弱，个别教师违规收受学生家长礼品，立即生效。"
    answer = await harness.one(admin, "学校食堂")
    assert answer.body.startswith("📋 ZG2025016")


async def test_an_answer_reported_wrong_goes_to_misses_and_teaching_puts_it_right(harness: Harness) -> None:
    admin, cadre = await harness.bind("刘洋"), await harness.bind("张伟")
    await harness.sandbox.send_text(cadre.id, "开会能不能带手机")
    [answer] = await harness.sandbox.wait_for_messages(cadre.id)
    assert answer.body.startswith("《贵港市教师工作纪律》第2条")  # a rule for teachers in class
    assert answer.reply_to_message_id is not None and answer.button_texts[-1] == "👎 没答对"
    after, toast = await harness.tap(cadre, answer, "没答对")
    assert toast == "已记下这个问题，管理员会补上正确的答案。您也可以换个说法再问一次。"
    assert "👎 没答对" not in after.button_texts and after.button_texts == answer.button_texts[:-1]
    card = await _first_card(harness, admin)
    assert "「开会能不能带手机」" in card.body and "现在这样问会回答：《贵港市教师工作纪律》第2条" in card.body
    await harness.tap(admin, card, "《市教育局工作规程》第2条")
    again = await harness.one(cadre, "开会能不能带手机")
    assert again.body.startswith("《市教育局工作规程》第2条")


async def test_lists_codes_small_talk_and_group_answers_have_no_wrong_button(harness: Harness) -> None:
    cadre, admin = await harness.bind("张伟"), await harness.bind("刘洋")
    for question in ("ZG2025009 进展", "逾期的有哪些", "谢谢", "整改完成率是多少"):
        reply = await harness.one(cadre, question)
        assert "👎 没答对" not in reply.button_texts, question
    group = harness.sandbox.add_group("整改工作群", [cadre.id, admin.id])
    in_group = await harness.one(cadre, "@zhenggai_test_bot 请假超过三天要谁批？", chat_id=group.id)
    assert in_group.body.startswith("《市教育局工作规程》第3条") and "👎 没答对" not in in_group.button_texts


async def test_more_than_ten_unanswered_questions_come_in_pages_numbered_through(harness: Harness) -> None:
    from bot.services.answers import record_miss

    admin = await harness.bind("刘洋")
    async with transaction(harness.factory) as session:
        for n in range(23):
            for _ in range(30 - n):  # asked 30, 29, … times: the order is known
                await record_miss(session, f"第{n + 1}个没答上的问题关于火星基地")
    first = await harness.one(admin, "/misses")
    assert "（共 23 条，按被问次数排列，第 1/3 页）" in first.body
    assert first.button_texts[:10] == [str(n) for n in range(1, 11)] and first.button_texts[-1] == "下一页 »"
    second = await harness.press(admin, first, "下一页")
    assert "第 2/3 页" in second.body and "11. 第11个没答上的问题" in second.body
    assert second.button_texts[:10] == [str(n) for n in range(11, 21)]
    third = await harness.press(admin, second, "下一页")
    assert "21. 第21个" in third.body and "23. 第23个" in third.body
    await harness.tap(admin, third, "22")
    [card] = await harness.sandbox.wait_for_messages(admin.id)
    assert "「第22个没答上的问题关于火星基地」" in card.body
