"""Asking: cited articles, regulation and measure cards, lists, no answer, suggestions, /regs,
long and hostile input — through the real bot, checking what the user sees."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from bot.db import transaction
from bot.models import ChatTopic, Miss
from bot.services import topics
from tests.bot.conftest import Harness


async def test_an_article_answer_cites_title_article_and_effective_date(harness: Harness) -> None:
    user = await harness.bind("张伟")
    reply = await harness.one(user, "请假超过三天要谁批？")
    assert reply.body.startswith("《市教育局工作规程》第3条（2025年9月1日起施行）")
    assert reply.entities and reply.entities[0]["type"] == "bold"  # the citation is bold
    assert any("全文目录" in text for text in reply.button_texts)
    whole = await harness.press(user, reply, "全文目录")
    assert whole.body.startswith("📘 《市教育局工作规程》") and "施行日期：2025年9月1日" in whole.body


async def test_related_items_under_an_answer_are_only_those_worth_suggesting(harness: Harness) -> None:
    user = await harness.bind("张伟")
    # Two articles of other rules match a fifth of 公车私用怎么处理 (处理): no related items.
    lone = await harness.one(user, "公车私用怎么处理")
    assert lone.body.startswith("《市教育局工作规程》第7条") and "相关" not in lone.body
    assert lone.button_texts == ["📖 《市教育局工作规程》全文目录", "👎 没答对"]
    # 请假超过三天要谁批 has close runners-up in the same rules: they are offered.
    close = await harness.one(user, "请假超过三天要谁批？")
    assert "相关条款：\n1. 《市教育局工作规程》第4条" in close.body


async def test_a_follow_up_in_reply_to_an_answer_asks_within_what_it_answered(harness: Harness) -> None:
    user = await harness.bind("张伟")
    card = await harness.one(user, "市教育局工作规程")
    article = await harness.one(user, "第五条", reply_to=card.message_id)
    assert article.body.startswith("《市教育局工作规程》第5条")
    answer = await harness.one(user, "请假超过三天要谁批？")
    follow_up = await harness.one(user, "那公车怎么用", reply_to=answer.message_id)
    assert follow_up.body.startswith("《市教育局工作规程》第7条")
    # A question naming its own rules is asked as it stands.
    own = await harness.one(user, "《干部教育培训制度》第五条", reply_to=card.message_id)
    assert own.body.startswith("《干部教育培训制度》第5条")
    measure = await harness.one(user, "ZG2025004")
    due = await harness.one(user, "谁负责", reply_to=measure.message_id)
    assert due.body.startswith("📋 ZG2025004")
    # 不对 under an answer matches nothing within it: asked as it stands, not answered with other rules.
    wrong = await harness.one(user, "不对", reply_to=answer.message_id)
    assert wrong.body.startswith("抱歉，没有找到相关的规章制度或整改措施")
    # Thanks under an answer is thanks, not a question within it.
    thanks = await harness.one(user, "谢谢", reply_to=answer.message_id)
    assert thanks.body == "不客气！还有问题随时问我。"
    # Without the reply, 第五条 names no rules, and the last answer was a measure's card: the
    # candidates are offered.
    alone = await harness.one(user, "第五条")
    assert alone.body.startswith("没能确定您要问的内容")


async def test_a_follow_up_typed_without_reply_asks_within_the_last_answer(harness: Harness) -> None:
    user = await harness.bind("张伟")
    answer = await harness.one(user, "公车能开回家吗")
    assert answer.body.startswith("《市教育局工作规程》第7条")
    after = await harness.one(user, "下一条")
    assert after.body.startswith("《市教育局工作规程》第8条")
    fifth = await harness.one(user, "那第五条呢？")
    assert fifth.body.startswith("《市教育局工作规程》第5条")
    before = await harness.one(user, "上一條")  # traditional, as typed
    assert before.body.startswith("《市教育局工作规程》第4条")
    # A question of its own is asked as it stands, and becomes what follows up on.
    other = await harness.one(user, "干部教育培训制度第三条")
    assert other.body.startswith("《干部教育培训制度》第3条")
    assert (await harness.one(user, "下一条")).body.startswith("《干部教育培训制度》第4条")


async def test_a_measure_follow_up_typed_without_reply_asks_of_that_measure_unless_it_names_its_own(
        harness: Harness) -> None:
    user = await harness.bind("张伟")
    await harness.one(user, "ZG2025004")
    due = await harness.one(user, "谁负责？")
    assert due.body.startswith("📋 ZG2025004")
    going = await harness.one(user, "进展怎么样")
    assert going.body.startswith("📋 ZG2025004")
    # 港南区补贴 names another measure: that one, not the last.
    own = await harness.one(user, "港南区补贴谁负责")
    assert own.body.startswith("📋 ZG2025001")
    # A measure has no articles: 第五条 after a measure's card is no follow-up.
    assert (await harness.one(user, "第五条")).body.startswith("没能确定您要问的内容")


async def test_a_follow_up_long_after_the_answer_or_in_a_group_is_a_new_question(harness: Harness) -> None:
    user = await harness.bind("张伟")
    await harness.one(user, "公车能开回家吗")
    async with transaction(harness.services.factory) as session:
        topic = await session.get(ChatTopic, user.id)
        assert topic is not None and topic.scope == "《市教育局工作规程》" and topic.article == 7
        topic.answered_at -= topics.FOLLOW_UP_WITHIN + dt.timedelta(minutes=1)
    assert (await harness.one(user, "第五条")).body.startswith("没能确定您要问的内容")
    group = harness.sandbox.add_group("整改工作群", [user.id])
    await harness.one(user, "@zhenggai_test_bot 公车能开回家吗", chat_id=group.id)
    in_group = await harness.one(user, "@zhenggai_test_bot 第五条", chat_id=group.id)
    assert not in_group.body.startswith("《市教育局工作规程》")


async def test_an_article_opened_by_a_button_is_what_a_follow_up_is_about(harness: Harness) -> None:
    user = await harness.bind("张伟")
    offered = await harness.one(user, "会议室预约")
    picked = await harness.press(user, offered, "1. ")
    assert picked.body.startswith("《为县市区解决问题联系协调工作制度》第5条")
    assert (await harness.one(user, "下一条")).body.startswith("《为县市区解决问题联系协调工作制度》第6条")


async def test_a_regulation_card_lists_its_articles_with_buttons(harness: Harness) -> None:
    user = await harness.bind("张伟")
    reply = await harness.one(user, "教师工作纪律")
    assert reply.body.startswith("📘 《贵港市教师工作纪律》")
    assert "施行日期：2025年9月1日" in reply.body and "条款目录" in reply.body
    assert "第1条" in reply.button_texts
    article = await harness.press(user, reply, "第2条")
    assert article.body.startswith("《贵港市教师工作纪律》第2条")


async def test_measure_cards_carry_a_deadline_badge(harness: Harness) -> None:
    user = await harness.bind("张伟")
    # today is 2026-11-27: ZG2025009 is due 2026-12-05, ZG2025023 2026-12-01, ZG2025001 2026-11-20.
    expected = {"ZG2025009": "🟢 剩 8 天", "ZG2025023": "🟡 剩 4 天", "ZG2025001": "🔴 已逾期 7 天",
                "ZG2025006": "✅ 已销号", "ZG2025013": "☑️ 已完成，待销号"}
    for code, badge in expected.items():
        card = await harness.one(user, code)
        assert card.body.startswith(f"📋 {code}"), card.body
        assert badge in card.body.splitlines()[0], (code, card.body)
        assert "完成时限：" in card.body and "责任人：" in card.body
    own = await harness.one(user, "ZG2025009 进展怎么样")
    assert own.button_texts[:3] == ["✅ 完成", "📝 进展", "⏰ 申请延期"]
    other = await harness.one(user, "ZG2025001")
    assert other.button_texts == []  # not his: nothing to press


async def test_list_questions(harness: Harness) -> None:
    user = await harness.bind("张伟")
    mine = await harness.one(user, "我的整改")
    assert all(code in mine.body for code in ("ZG2025006", "ZG2025008", "ZG2025009", "ZG2025013"))
    assert "共 4 项" in mine.body
    overdue = await harness.one(user, "逾期的有哪些")
    for code in ("ZG2025001", "ZG2025002", "ZG2025010", "ZG2025024", "ZG2025030"):
        assert code in overdue.body
    assert "🔴" in overdue.body and "ZG2025009" not in overdue.body
    unit = await harness.one(user, "港南区的")
    assert "ZG2025001" in unit.body and "共 1 项" in unit.body
    person = await harness.one(user, "张伟负责的")
    assert "共 4 项" in person.body and "ZG2025009" in person.body and "ZG2025001" not in person.body


async def test_a_leader_asks_for_what_they_supervise_and_what_awaits_their_sign_off(harness: Harness) -> None:
    leader = await harness.bind("陈建华")
    awaiting = await harness.one(leader, "待我审核的有哪些")
    assert awaiting.body.startswith("待您审核销号的整改措施共 1 项") and "ZG2025013" in awaiting.body
    led = await harness.one(leader, "我分管的有哪些逾期了")
    assert led.body.startswith("您分管的已逾期的整改措施共 1 项") and "ZG2025030" in led.body
    assert "ZG2025001" not in led.body  # overdue, but 梁秀珍 supervises it


async def test_the_campaigns_figures_asked_in_words_come_as_the_report(harness: Harness) -> None:
    admin, cadre = await harness.bind("刘洋"), await harness.bind("张伟")
    full = await harness.one(admin, "整改完成率是多少")
    assert full.body.startswith("整改落实情况（截至") and "各责任单位：" in full.body
    assert "责任人 钟春兰" in full.body and full.body.endswith("发送 /report 查看图表。")
    public = await harness.one(cadre, "港南区完成了几项")  # not a judge of measures: 公示 level, no names
    assert public.body.startswith("整改落实情况公示（截至") and "责任单位：港南区教育局" in public.body
    assert "ZG2025001" in public.body and "钟春兰" not in public.body


async def test_which_unit_is_most_overdue_is_answered_first_then_the_figures(harness: Harness) -> None:
    admin = await harness.bind("刘洋")
    most = await harness.one(admin, "哪个单位逾期最多")
    # Five units have one overdue measure each on 11-27: they tie, and the sentence says so.
    first, _, rest = most.body.partition("\n\n")
    assert first.startswith("逾期最多的单位：") and first.endswith("等 5 个单位（各 1 项逾期）。")
    assert rest.startswith("整改落实情况（截至") and "各责任单位：" in rest
    slowest = await harness.one(admin, "哪个科室完成率最低")
    assert slowest.body.startswith("完成率最低的单位：") and "（均为0%）。" in slowest.body.split("\n")[0]


async def test_what_falls_due_next_week_is_listed_in_the_chat(harness: Harness) -> None:
    user = await harness.bind("张伟")
    reply = await harness.one(user, "下周到期的有哪些")
    assert reply.body.startswith("下周（11月30日至12月6日）到期的整改措施共 3 项")
    assert all(code in reply.body for code in ("ZG2025020", "ZG2025023", "ZG2025009"))


async def test_whats_on_my_plate_in_words_is_the_todo_of_a_leader_and_the_open_measures_of_a_cadre(
        harness: Harness) -> None:
    cadre, leader = await harness.bind("张伟"), await harness.bind("陈建华")
    for asked in ("我有什么要处理的？", "今天有啥要办的"):
        own = await harness.one(cadre, asked)
        assert own.body.startswith("您待完成的整改措施共 2 项") and "ZG2025009" in own.body and "ZG2025008" in own.body
    head = await harness.one(leader, "待我处理的")
    assert head.body == "待您处理 1 项："
    [awaiting] = await harness.sandbox.wait_for_messages(leader.id)
    assert awaiting.body.startswith("📋 ZG2025013") and "✔️ 销号" in awaiting.button_texts
    # A question that only starts so is still a question.
    rule = await harness.one(leader, "待我处理的请假要谁批")
    assert not rule.body.startswith("待您处理")


async def test_no_answer_says_so_offers_regs_and_is_counted(harness: Harness) -> None:
    user = await harness.bind("张伟")
    reply = await harness.one(user, "火星探测器的燃料配比")
    assert "没有找到相关的规章制度或整改措施" in reply.body and "/regs" in reply.body
    index = await harness.press(user, reply, "浏览制度目录")
    assert index.body.startswith("📚 规章制度目录（共 14 部")
    async with transaction(harness.factory) as session:
        miss = await session.scalar(select(Miss))
    assert miss is not None and miss.count == 1 and "火星" in miss.query
    unknown = await harness.one(user, "ZG2025099 进展")
    assert "没有找到编号为 ZG2025099 的整改措施" in unknown.body


async def test_small_talk_gets_a_courteous_reply_and_is_not_counted_as_a_miss(harness: Harness) -> None:
    user = await harness.bind("张伟")
    hello = await harness.one(user, "你好")
    assert hello.body.startswith("您好！我是整改助手") and "/help" in hello.body
    thanks = await harness.one(user, "好的，谢谢！")
    assert thanks.body == "不客气！还有问题随时问我。" and thanks.button_texts == []
    errand = await harness.one(user, "帮我写个年终总结")
    assert errand.body.startswith("抱歉，订票、写材料这类事情我办不了")
    index = await harness.press(user, errand, "浏览制度目录")
    assert index.body.startswith("📚 规章制度目录（共 14 部")
    async with transaction(harness.factory) as session:
        assert await session.scalar(select(Miss)) is None


async def test_suggestions_are_numbered_and_a_press_shows_the_one_picked(harness: Harness) -> None:
    user = await harness.bind("张伟")
    # 会议 of 会议室 is all that matched, and 预约 no document says: offered, not answered.
    reply = await harness.one(user, "会议室预约")
    assert "您是不是要问" in reply.body and "1. 《为县市区解决问题联系协调工作制度》第5条" in reply.body
    assert reply.button_texts[0].startswith("1. ")
    picked = await harness.press(user, reply, "1. ")
    assert picked.body.startswith("《为县市区解决问题联系协调工作制度》第5条（2025年8月25日起施行）")
    assert "办公室主任联席会议" in picked.body


async def test_regs_pages_and_opens_a_regulation_and_an_article(harness: Harness) -> None:
    user = await harness.bind("张伟")
    first = await harness.one(user, "/regs")
    assert "共 14 部，第 1/2 页" in first.body
    assert "第 1/2 页" in first.button_texts and "下一页 »" in first.button_texts
    assert "« 上一页" not in first.button_texts
    second = await harness.press(user, first, "下一页")
    assert "第 2/2 页" in second.body and "9. " in second.body and "« 上一页" in second.button_texts
    counter, toast = await harness.tap(user, second, "第 2/2 页")  # the inert page counter
    assert counter.edit_count == second.edit_count and toast == ""
    back = await harness.press(user, second, "上一页")
    assert "第 1/2 页" in back.body
    regulation = await harness.press(user, back, "1. ")
    assert regulation.body.startswith("📘 《")
    title = regulation.body.split("》")[0].removeprefix("📘 《")
    article = await harness.press(user, regulation, "第1条")
    assert article.body.startswith(f"《{title}》第1条")


async def test_a_ten_thousand_character_message_is_answered_from_its_start(harness: Harness) -> None:
    user = await harness.bind("张伟")
    question = "请假超过三天要谁批？" + "麻烦您了" * 2500
    assert len(question) > 10_000
    reply = await harness.one(user, question)
    assert reply.body.startswith("《市教育局工作规程》第3条")
    assert "只按前 500 个字回答" in reply.body
    assert all(call.ok for call in harness.sandbox.calls_to("sendMessage"))


async def test_measures_that_fit_a_question_alike_are_listed_not_one_chosen_by_chance(harness: Harness) -> None:
    user = await harness.bind("张伟")
    for asked in ("/status 补贴", "补贴"):
        listing = await harness.one(user, asked)
        assert listing.body.startswith("与您的问题同样相关的整改措施共 2 项："), asked
        assert "ZG2025001" in listing.body and "ZG2025002" in listing.body
        assert listing.button_texts[:2] == ["ZG2025002", "ZG2025001"]  # each opens its card
    # One that fits best is still answered with its card.
    assert (await harness.one(user, "港南区补贴")).body.startswith("📋 ZG2025001")


async def test_html_and_script_text_is_escaped(harness: Harness) -> None:
    user = await harness.bind("张伟")
    hostile = ['<script>alert(1)</script> 请假', '<b>请假</b> & <i>', 'ZG2025009 <a href="x">进展</a>',
               "&lt;&amp; 未闭合 <b", "/status <b>ZG2025009</b>"]
    for text in hostile:
        reply = await harness.one(user, text)
        assert reply.body
    assert all(call.ok for call in harness.sandbox.calls), [c.error for c in harness.sandbox.calls if not c.ok]
    # What the user typed never comes back as markup.
    progress = await harness.one(user, "/done ZG2025009 <b>全部</b>完成 & 已验收")
    assert "已报告完成" in progress.body
    [event] = [e for e in await harness.events("ZG2025009") if e.action == "done"]
    assert event.note == "<b>全部</b>完成 & 已验收"
    card = await harness.one(user, "ZG2025009")
    # Its note is now the card's 最新进展: "</b>" there is text (Telegram links "/b" as a command).
    assert card.entities == [e for e in card.entities if e["type"] in ("bold", "code", "italic", "bot_command")]
    assert "最新进展：<b>全部</b>完成 & 已验收" in card.body


async def test_help_and_the_list_of_regulations_asked_in_words_are_help_and_regs(harness: Harness) -> None:
    user = await harness.bind("张伟")
    helped = await harness.one(user, "帮助")
    assert helped.body == (await harness.one(user, "/help")).body
    listed = await harness.one(user, "有哪些制度？")
    regs = await harness.one(user, "/regs")
    assert listed.body == regs.body and "共 14 部，第 1/2 页" in listed.body
    # In the order of the bureau's file (data/regulations.yaml), not by the ASCII keys.
    assert listed.body.splitlines()[1].startswith("1. 《市教育局党员学习制度》")


async def test_a_follow_up_under_an_article_prefers_that_article_and_steps_to_its_neighbours(harness: Harness) -> None:
    user = await harness.bind("张伟")
    answer = await harness.one(user, "公车能开回家吗")
    assert answer.body.startswith("《市教育局工作规程》第7条")
    who = await harness.one(user, "谁批准", reply_to=answer.message_id)
    assert who.body.startswith("《市教育局工作规程》第7条")  # not 第3条 (leave), which says 批准 too
    before = await harness.one(user, "上一条", reply_to=answer.message_id)
    assert before.body.startswith("《市教育局工作规程》第6条")
    after = await harness.one(user, "下一条", reply_to=answer.message_id)
    assert after.body.startswith("《市教育局工作规程》第8条")


async def test_a_follow_up_under_a_measure_card_may_ask_for_another_list_or_a_rule(harness: Harness) -> None:
    user = await harness.bind("陈建华")
    card = await harness.one(user, "ZG2025030")
    assert card.body.startswith("📋 ZG2025030")
    other = await harness.one(user, "那覃塘区的呢", reply_to=card.message_id)
    assert "ZG2025002" in other.body and "ZG2025030" not in other.body
    rule = await harness.one(user, "按制度逾期了怎么处理", reply_to=card.message_id)
    assert rule.body.startswith("《") and "📋" not in rule.body.splitlines()[0]  # a rule, not the card
    same = await harness.one(user, "谁负责", reply_to=card.message_id)
    assert same.body.startswith("📋 ZG2025030")
