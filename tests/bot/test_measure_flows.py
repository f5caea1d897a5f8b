"""The life of a measure through the real bot — reported done (typed, by reply, with a photo or
file, by button), signed off or returned, deadlines extended — checking both what people see
and what the database holds afterwards (status, version, events, outbox, pending inputs)."""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import json
import re

import httpx
import pytest
from sqlalchemy import select, update
from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.db import transaction
from bot.models import Cadre, ExtensionStatus, Measure, MeasureStatus, OutboxStatus
from bot.sandbox import BotMessage
from bot.services import measures as service
from tests.bot.conftest import Harness, texts

# ---- done by message ------------------------------------------------------------------------------


async def test_typed_done_acts_at_once_and_tells_leader_and_admins(harness: Harness) -> None:
    owner, leader = await harness.bind("张伟"), await harness.bind("陈建华")
    before = await harness.measure("ZG2025009")
    reply = await harness.one(owner, "/done ZG2025009 港北区新建小学已投入使用")
    assert reply.body.startswith("已报告完成，等待分管领导审核销号")
    assert "☑️ 已完成，待销号" in reply.body and "↩️ 撤回完成" in reply.button_texts
    after = await harness.measure("ZG2025009")
    assert after.status is MeasureStatus.DONE and after.version == before.version + 1
    event = (await harness.events("ZG2025009"))[-1]
    zhang = await harness.cadre("张伟")
    assert (event.action, event.actor_id, event.from_status, event.to_status, event.note) == (
        "done", zhang.id, MeasureStatus.IN_PROGRESS, MeasureStatus.DONE, "港北区新建小学已投入使用")
    assert event.evidence_kind is None
    queued = {m.key: m for m in await harness.outbox()}
    recipients = {name: await harness.cadre(name) for name in ("陈建华", "韦丽萍", "刘洋")}
    assert set(queued) == {f"done:{event.id}:{c.id}" for c in recipients.values()}
    # Unbound admins cannot be reached: recorded as skipped, not lost and not retried.
    assert queued[f"done:{event.id}:{recipients['韦丽萍'].id}"].status is OutboxStatus.SKIPPED
    await harness.deliver()
    [note] = await harness.sandbox.wait_for_messages(leader.id)
    assert "ZG2025009" in note.body and "张伟 报告完成" in note.body and "港北区新建小学已投入使用" in note.body
    assert note.button_texts == ["✔️ 销号", "↩️ 退回", "查看详情", "🕘 办理记录"]
    sent = [m for m in await harness.outbox("陈建华") if m.key.startswith("done:")]
    assert sent[0].status is OutboxStatus.SENT and sent[0].message_id == note.message_id


async def test_undo_puts_it_back_as_it_was(harness: Harness) -> None:
    owner = await harness.bind("张伟")
    reply = await harness.one(owner, "/done zg-2025-8 已经完成调整方案")
    assert (await harness.measure("ZG2025008")).status is MeasureStatus.DONE
    copy = await harness.one(owner, "/status ZG2025008")  # a second card, also offering 撤回完成
    assert "↩️ 撤回完成" in copy.button_texts
    undone, toast = await harness.tap(owner, reply, "撤回完成")
    assert toast == "已撤回完成报告"
    assert "未开始" in undone.body and "✅ 完成" in undone.button_texts
    measure = await harness.measure("ZG2025008")
    assert measure.status is MeasureStatus.NOT_STARTED
    event = (await harness.events("ZG2025008"))[-1]
    assert (event.action, event.from_status, event.to_status) == ("undo", MeasureStatus.DONE,
                                                                  MeasureStatus.NOT_STARTED)
    # Pressed on the other card: nothing left to undo, nothing changes, the card catches up.
    again, toast = await harness.unchanged_by(lambda: harness.tap(owner, copy, "撤回完成"))
    assert "没有可撤回的完成报告" in toast and "↩️ 撤回完成" not in again.button_texts


async def test_replying_done_to_a_card(harness: Harness) -> None:
    owner = await harness.bind("张伟")
    card = await harness.one(owner, "/status ZG2025009")
    reply = await harness.one(owner, "已完成，材料已报送", reply_to=card.message_id)
    assert reply.body.startswith("已报告完成")
    assert (await harness.measure("ZG2025009")).status is MeasureStatus.DONE
    event = (await harness.events("ZG2025009"))[-1]
    assert event.action == "done" and event.note == "材料已报送"


async def test_done_in_reply_to_help_or_a_usage_hint_is_not_about_their_example_code(harness: Harness) -> None:
    owner = await harness.bind("卢建平")  # responsible for ZG2025004, the code the examples use
    before = (await harness.measure("ZG2025004")).status
    for command in ("/help", "/history"):
        shown = await harness.one(owner, command)
        assert "ZG2025004" in shown.body
        reply = await harness.one(owner, "已完成", reply_to=shown.message_id)
        assert not reply.body.startswith("已报告完成") and reply.body.startswith("要报告哪一项已完成？")
    assert (await harness.measure("ZG2025004")).status is before


async def test_a_question_replying_to_a_card_is_not_a_done_report(harness: Harness) -> None:
    owner = await harness.bind("张伟")
    card = await harness.one(owner, "/status ZG2025009")

    async def ask() -> str:
        return (await harness.one(owner, "完成时限是哪天？", reply_to=card.message_id)).body

    answer = await harness.unchanged_by(ask)
    assert not answer.startswith("已报告完成")


async def test_a_code_and_done_words_typed_to_the_bot_report_it_done(harness: Harness) -> None:
    owner = await harness.bind("张伟")
    reply = await harness.one(owner, "zg-2025-9 已完成，扩建工程已验收")
    assert reply.body.startswith("已报告完成") and "↩️ 撤回完成" in reply.button_texts
    assert (await harness.measure("ZG2025009")).status is MeasureStatus.DONE
    event = (await harness.events("ZG2025009"))[-1]
    assert (event.action, event.note) == ("done", "扩建工程已验收")


async def test_done_and_progress_typed_in_traditional_characters(harness: Harness) -> None:
    owner = await harness.bind("张伟")
    progress = await harness.one(owner, "ZG2025008 進展：規劃初稿已完成")
    assert progress.body.startswith("进展已更新")
    assert (await harness.measure("ZG2025008")).progress == "规划初稿已完成"
    done = await harness.one(owner, "ZG2025009 已經完成")
    assert done.body.startswith("已报告完成")
    assert (await harness.measure("ZG2025009")).status is MeasureStatus.DONE


async def test_notes_keep_the_punctuation_they_were_typed_with(harness: Harness) -> None:
    owner, leader = await harness.bind("张伟"), await harness.bind("陈建华")
    await harness.one(owner, "ZG2025008 进展：二期已开工，预计明年8月完工（含操场）")
    assert (await harness.measure("ZG2025008")).progress == "二期已开工，预计明年8月完工（含操场）"
    card = await harness.one(leader, "/status ZG2025013")
    await harness.one(leader, "退回：照片看不清，請補充", reply_to=card.message_id)
    assert (await harness.events("ZG2025013"))[-1].note == "照片看不清，请补充"


async def test_asking_whether_a_measure_is_done_shows_it_and_changes_nothing(harness: Harness) -> None:
    owner = await harness.bind("张伟")
    for question in ("ZG2025009 完成了吗", "ZG2025009 完成情况"):
        card = await harness.unchanged_by(lambda q=question: harness.one(owner, q))
        assert card.body.startswith("📋 ZG2025009") and "✅ 完成" in card.button_texts


async def test_a_code_and_done_words_for_someone_elses_measure_are_refused(harness: Harness) -> None:
    owner = await harness.bind("张伟")
    refusal = await harness.unchanged_by(lambda: harness.one(owner, "ZG2025001 完成"))
    assert refusal.body == "ZG2025001 的责任人是钟春兰，您不能报告完成"


async def test_done_said_alone_offers_ones_own_open_measures(harness: Harness) -> None:
    owner = await harness.bind("张伟")
    choice = await harness.unchanged_by(lambda: harness.one(owner, "完成了"))
    assert choice.body.startswith("要报告哪一项已完成？请选择")
    # His open measures only: not ZG2025006 (signed off) or ZG2025013 (already reported done).
    assert choice.button_texts == ["✅ ZG2025009 完成", "✅ ZG2025008 完成"]
    confirm = await harness.press(owner, choice, "ZG2025008")
    done = await harness.press(owner, confirm, "确认完成")
    assert "已完成，待销号" in done.body
    assert (await harness.measure("ZG2025008")).status is MeasureStatus.DONE
    await harness.one(owner, "/done ZG2025009 已验收")
    nothing_left = await harness.one(owner, "完成")
    assert nothing_left.body.startswith("您目前没有待完成的整改措施") and nothing_left.button_texts == []


async def test_a_done_report_is_taken_back_by_typing_it_or_replying_to_its_card(harness: Harness) -> None:
    owner = await harness.bind("张伟")
    await harness.one(owner, "/done ZG2025009 已验收")
    typed = await harness.one(owner, "ZG2025009 撤回完成")
    assert typed.body.startswith("已撤回完成报告") and "进行中" in typed.body
    assert (await harness.measure("ZG2025009")).status is MeasureStatus.IN_PROGRESS
    card = await harness.one(owner, "/done ZG2025009 已验收")
    replied = await harness.one(owner, "撤回", reply_to=card.message_id)
    assert replied.body.startswith("已撤回完成报告")
    assert [e.action for e in await harness.events("ZG2025009")][-4:] == ["done", "undo", "done", "undo"]
    # ZG2025013 was reported done by someone else (the import): not his to take back.
    refused = await harness.unchanged_by(lambda: harness.one(owner, "ZG2025013 撤回"))
    assert refused.body == "ZG2025013 的完成报告不是您提交的，只有报告人可以撤回"


async def test_undo_said_alone_offers_only_the_reports_one_made(harness: Harness) -> None:
    owner = await harness.bind("张伟")
    nothing = await harness.unchanged_by(lambda: harness.one(owner, "撤回完成"))
    assert nothing.body.startswith("您目前没有等待销号、可以撤回的完成报告") and nothing.button_texts == []
    await harness.one(owner, "/done ZG2025008")
    choice = await harness.unchanged_by(lambda: harness.one(owner, "撤回"))
    assert choice.body.startswith("要撤回哪一项的完成报告") and choice.button_texts == ["↩️ ZG2025008 撤回完成"]
    undone = await harness.press(owner, choice, "ZG2025008")
    assert "未开始" in undone.body
    assert (await harness.measure("ZG2025008")).status is MeasureStatus.NOT_STARTED


async def test_asking_to_extend_or_report_progress_without_a_code_offers_ones_measures(harness: Harness) -> None:
    owner = await harness.bind("张伟")
    extend = await harness.unchanged_by(lambda: harness.one(owner, "我想申请延期"))
    assert extend.body.startswith("要为哪一项申请延期？请选择")
    assert extend.button_texts == ["⏰ ZG2025009 申请延期", "⏰ ZG2025008 申请延期"]
    await harness.tap(owner, extend, "ZG2025009")
    [prompt] = await harness.sandbox.wait_for_messages(owner.id)
    assert "请输入 ZG2025009 的新完成时限和理由" in prompt.body
    requested = await harness.one(owner, "明年3月底，资金未到位")
    assert "已提交 ZG2025009 的延期申请（→ 2027年3月31日）" in requested.body
    progress = await harness.one(owner, "我要报进展")
    assert progress.button_texts == ["📝 ZG2025009 进展", "📝 ZG2025008 进展"]


async def test_asking_to_extend_with_nothing_to_extend_is_a_question_on_the_rules(harness: Harness) -> None:
    nothing_open = await harness.bind("韦丽萍")  # both of hers are signed off
    answer = await harness.unchanged_by(lambda: harness.one(nothing_open, "申请延期"))
    assert answer.body.startswith("《整改措施销号制度》第7条")


async def test_done_in_the_words_cadres_also_use_and_a_bare_zhenggai_stays_a_question(harness: Harness) -> None:
    owner = await harness.bind("张伟")
    for code, said in (("ZG2025009", "搞定了，新校舍已启用"), ("ZG2025008", "已整改到位")):
        reply = await harness.one(owner, f"{code} {said}")
        assert reply.body.startswith("已报告完成"), reply.body
        assert (await harness.measure(code)).status is MeasureStatus.DONE
    asked = await harness.unchanged_by(lambda: harness.one(owner, "整改"))
    assert not asked.body.startswith("要报告哪一项已完成")


async def test_replying_done_to_a_list_asks_which_one(harness: Harness) -> None:
    owner = await harness.bind("张伟")
    listing = await harness.one(owner, "/mine")
    choice = await harness.unchanged_by(lambda: harness.one(owner, "完成了", reply_to=listing.message_id))
    assert "请选择已完成的一项" in choice.body
    assert {"✅ ZG2025008 完成", "✅ ZG2025009 完成"} <= set(choice.button_texts)
    confirm = await harness.press(owner, choice, "ZG2025009")
    assert "确认 ZG2025009 已完成吗" in confirm.body
    done = await harness.press(owner, confirm, "确认完成")
    assert "已完成，待销号" in done.body
    assert (await harness.measure("ZG2025009")).status is MeasureStatus.DONE
    assert (await harness.measure("ZG2025008")).status is MeasureStatus.NOT_STARTED


async def test_a_photo_captioned_done_reports_done_with_evidence(harness: Harness) -> None:
    owner = await harness.bind("张伟")
    sent = await harness.sandbox.send_photo(owner.id, b"\x89PNG site photo", caption="/done ZG2025009 新校舍已启用")
    [reply] = await harness.sandbox.wait_for_messages(owner.id)
    assert reply.body.startswith("已报告完成，佐证材料已保存")
    event = (await harness.events("ZG2025009"))[-1]
    assert (event.action, event.to_status, event.evidence_kind) == ("done", MeasureStatus.DONE, "photo")
    assert event.evidence_file_id == sent["photo"][-1]["file_id"]
    assert event.note == "新校舍已启用"


async def test_the_leader_sees_the_trail_and_the_evidence_before_signing_off(harness: Harness) -> None:
    owner, leader = await harness.bind("张伟"), await harness.bind("陈建华")
    await harness.one(owner, "ZG2025009 进展：新校舍已封顶")
    sent = await harness.sandbox.send_photo(owner.id, b"\x89PNG site photo", caption="/done ZG2025009 新校舍已启用")
    await harness.sandbox.wait_for_messages(owner.id)
    [note] = await harness.notified(leader)
    assert "📎 附佐证材料" in note.body and "📎 查看佐证材料" in note.button_texts
    await harness.tap(leader, note, "查看佐证材料")
    trail, photo = await harness.sandbox.wait_for_messages(leader.id, count=2)
    lines = trail.body.splitlines()
    assert lines[0] == "🕘 ZG2025009 办理记录（共 3 条）："
    assert lines[1].endswith("系统　台账导入（进行中）")
    assert lines[2].endswith("张伟　更新进展：新校舍已封顶")
    assert lines[3].endswith("张伟　报告完成（进行中 → 已完成），说明：新校舍已启用 📎照片")
    # The very photo, sent again by its file_id, named by who sent it.
    assert photo.photo is not None and photo.photo.file_id == sent["photo"][-1]["file_id"]
    assert photo.body.startswith("ZG2025009 佐证材料 · 张伟 ")
    await harness.one(leader, "/reject ZG2025009 照片看不清")
    [returned] = await harness.notified(owner)
    assert "退回原因：照片看不清" in returned.body
    typed = await harness.one(owner, "ZG2025009 办理记录")
    assert typed.body.splitlines()[-1].endswith("陈建华　退回（已完成 → 进行中），原因：照片看不清")
    await harness.sandbox.wait_for_messages(owner.id)  # the photo again


async def test_a_site_video_is_evidence_and_the_leader_gets_the_video_again(harness: Harness) -> None:
    owner, leader = await harness.bind("张伟"), await harness.bind("陈建华")
    sent = await harness.sandbox.send_video(owner.id, b"\x00\x00\x00\x18ftypmp42 site walk",
                                            caption="ZG2025009 已完成，现场视频")
    [reply] = await harness.sandbox.wait_for_messages(owner.id)
    assert reply.body.startswith("已报告完成，佐证材料已保存")
    event = (await harness.events("ZG2025009"))[-1]
    assert (event.action, event.evidence_kind) == ("done", "video")
    assert event.evidence_file_id == sent["video"]["file_id"] and event.note == "现场视频"
    [note] = await harness.notified(leader)
    await harness.tap(leader, note, "查看佐证材料")
    trail, video = await harness.sandbox.wait_for_messages(leader.id, count=2)
    assert trail.body.splitlines()[-1].endswith("说明：现场视频 📎视频")
    assert video.video is not None and video.video.file_id == sent["video"]["file_id"]
    # Added later, it is named as a video too.
    await harness.sandbox.send_video(owner.id, b"\x00\x00\x00\x18ftypmp42 more", caption="ZG2025013 补充视频")
    [saved] = await harness.sandbox.wait_for_messages(owner.id)
    assert saved.body.startswith("已将视频作为 ZG2025013 的佐证材料保存")


async def test_a_voice_note_or_a_sticker_gets_an_answer_in_private_and_silence_in_a_group(harness: Harness) -> None:
    owner, admin = await harness.bind("张伟"), await harness.bind("刘洋")
    for send in (harness.sandbox.send_voice(owner.id, b"OggS voice"), harness.sandbox.send_sticker(owner.id)):
        await send
        [reply] = await harness.sandbox.wait_for_messages(owner.id)
        assert reply.body.startswith("我只能读文字、照片、视频和文件")
    group = harness.sandbox.add_group("整改工作群", [owner.id, admin.id])
    await harness.sandbox.send_voice(owner.id, b"OggS voice", chat_id=group.id)
    await harness.one(owner, "/help")  # handled after the voice note: nothing came to the group
    assert harness.sandbox.messages(group.id) == []


async def test_evidence_added_while_awaiting_sign_off_is_offered_to_the_leader(harness: Harness) -> None:
    owner, leader = await harness.bind("张伟"), await harness.bind("陈建华")
    card = await harness.one(owner, "/done ZG2025009 已完工")
    await harness.notified(leader)
    sent = await harness.sandbox.send_photo(owner.id, b"\x89PNG acceptance", caption="验收单",
                                            reply_to=card.message_id)
    await harness.sandbox.wait_for_messages(owner.id)
    [note] = await harness.notified(leader)
    assert note.body.startswith("📎 ZG2025009") and "张伟 补充了佐证材料。" in note.body and "说明：验收单" in note.body
    assert note.button_texts == ["📎 查看佐证材料"]
    await harness.tap(leader, note, "查看佐证材料")
    trail, photo = await harness.sandbox.wait_for_messages(leader.id, count=2)
    assert trail.body.splitlines()[-1].endswith("张伟　补充佐证材料，说明：验收单 📎照片")
    assert photo.photo is not None and photo.photo.file_id == sent["photo"][-1]["file_id"]


async def test_evidence_telegram_no_longer_has_is_named_and_the_rest_still_sent(harness: Harness) -> None:
    from sqlalchemy import select

    from bot.db import transaction
    from bot.models import Cadre
    from bot.services import measures as service

    owner = await harness.bind("张伟")
    # A file_id another bot (an earlier token) received: this bot cannot send it.
    async with transaction(harness.factory) as session:
        zhang = (await session.scalars(select(Cadre.id).where(Cadre.name == "张伟"))).one()
        await service.add_evidence(session, zhang, "ZG2025009", service.Evidence("photo", "gone-file-id"))
    sent = await harness.sandbox.send_photo(owner.id, b"\x89PNG site", caption="ZG2025009 现场照片")
    await harness.sandbox.wait_for_messages(owner.id)
    _, lost, kept = await harness.say(owner, "ZG2025009 办理记录", count=3)
    assert lost.body.startswith("ZG2025009 佐证材料 · 张伟 ") and "文件已无法获取" in lost.body
    assert kept.photo is not None and kept.photo.file_id == sent["photo"][-1]["file_id"]


async def test_the_trail_is_only_for_those_who_work_on_the_measure(harness: Harness) -> None:
    other = await harness.bind("钟春兰")
    refused = await harness.unchanged_by(lambda: harness.one(other, "/history ZG2025009"))
    assert refused.body == "只有 ZG2025009 的责任人、分管领导或管理员可以查看办理记录"
    usage = await harness.one(other, "/history")
    assert usage.body.startswith("用法：/history 编号")


async def test_a_photo_captioned_with_code_and_done_words_reports_done(harness: Harness) -> None:
    owner = await harness.bind("张伟")
    await harness.sandbox.send_photo(owner.id, b"\x89PNG", caption="zg-2025-9 已完成，见照片")
    [reply] = await harness.sandbox.wait_for_messages(owner.id)
    assert reply.body.startswith("已报告完成，佐证材料已保存")
    event = (await harness.events("ZG2025009"))[-1]
    assert (event.action, event.evidence_kind, event.note) == ("done", "photo", "见照片")


async def test_a_photo_replying_to_a_card_is_evidence_only(harness: Harness) -> None:
    owner = await harness.bind("张伟")
    card = await harness.one(owner, "/status ZG2025009")
    before = await harness.measure("ZG2025009")
    sent = await harness.sandbox.send_photo(owner.id, b"\x89PNG progress", reply_to=card.message_id)
    [reply] = await harness.sandbox.wait_for_messages(owner.id)
    assert "已将照片作为 ZG2025009 的佐证材料保存" in reply.body
    after = await harness.measure("ZG2025009")
    assert after.status is before.status and after.version == before.version + 1
    event = (await harness.events("ZG2025009"))[-1]
    assert (event.action, event.from_status, event.to_status) == ("evidence", None, None)
    assert event.evidence_kind == "photo" and event.evidence_file_id == sent["photo"][-1]["file_id"]


async def test_a_photo_reporting_progress_or_sent_when_progress_was_asked_for_records_both(
    harness: Harness
) -> None:
    owner = await harness.bind("张伟")
    await harness.sandbox.send_photo(owner.id, b"\x89PNG site", caption="ZG2025008 进展：规划初稿已完成")
    [reply] = await harness.sandbox.wait_for_messages(owner.id)
    assert "已将照片作为 ZG2025008 的佐证材料保存，进展已更新：规划初稿已完成" in reply.body
    assert (await harness.measure("ZG2025008")).progress == "规划初稿已完成"
    assert [e.action for e in await harness.events("ZG2025008")][-2:] == ["evidence", "progress"]

    card = await harness.one(owner, "/status ZG2025009")
    await harness.tap(owner, card, "进展")
    await harness.sandbox.wait_for_messages(owner.id)
    await harness.sandbox.send_photo(owner.id, b"\x89PNG roof")  # no caption: the progress is still to come
    [reply] = await harness.sandbox.wait_for_messages(owner.id)
    assert "ZG2025009 的佐证材料保存。请接着输入最新进展" in reply.body
    assert (await harness.one(owner, "主体已封顶")).body.startswith("进展已更新")
    assert (await harness.measure("ZG2025009")).progress == "主体已封顶"

    await harness.one(owner, "ZG2025009 已完成")
    await harness.sandbox.send_photo(owner.id, b"\x89PNG done", caption="ZG2025009 验收照片")
    [reply] = await harness.sandbox.wait_for_messages(owner.id)
    assert reply.body.endswith("分管领导审核销号时可以看到。")


async def test_a_document_works_the_same(harness: Harness) -> None:
    owner = await harness.bind("张伟")
    card = await harness.one(owner, "/status ZG2025008")
    sent = await harness.sandbox.send_document(owner.id, b"%PDF-1.4 plan", filename="布局调整规划.pdf",
                                               mime_type="application/pdf", reply_to=card.message_id)
    [reply] = await harness.sandbox.wait_for_messages(owner.id)
    assert "已将文件作为 ZG2025008 的佐证材料保存" in reply.body
    event = (await harness.events("ZG2025008"))[-1]
    assert event.action == "evidence" and event.evidence_kind == "document"
    assert event.evidence_file_id == sent["document"]["file_id"]
    assert event.details == {"file_name": "布局调整规划.pdf"}
    assert (await harness.measure("ZG2025008")).status is MeasureStatus.NOT_STARTED
    await harness.sandbox.send_document(owner.id, b"%PDF-1.4 done", filename="验收.pdf", caption="/done ZG2025008")
    [reply] = await harness.sandbox.wait_for_messages(owner.id)
    assert reply.body.startswith("已报告完成，佐证材料已保存")
    event = (await harness.events("ZG2025008"))[-1]
    assert (event.action, event.evidence_kind, event.details) == ("done", "document", {"file_name": "验收.pdf"})
    # A file naming no measure is kept out of the record, with a hint.
    await harness.unchanged_by(lambda: harness.sandbox.send_document(owner.id, b"x", filename="杂项.txt"))
    [hint] = await harness.sandbox.wait_for_messages(owner.id)
    assert "在说明中写明编号" in hint.body


async def test_done_button_asks_for_confirmation_and_cancel_changes_nothing(harness: Harness) -> None:
    owner = await harness.bind("张伟")
    card = await harness.one(owner, "ZG2025009")
    asking = await harness.unchanged_by(lambda: harness.press(owner, card, "完成"))
    assert "确认 ZG2025009 已完成吗" in asking.body
    assert asking.button_texts == ["✅ 确认完成", "✖️ 取消"]
    cancelled, toast = await harness.unchanged_by(lambda: harness.tap(owner, asking, "取消"))
    assert toast == "已取消" and "✅ 完成" in cancelled.button_texts
    asking = await harness.press(owner, cancelled, "完成")
    done, toast = await harness.tap(owner, asking, "确认完成")
    assert toast == "已报告完成，等待审核销号" and "已完成，待销号" in done.body
    assert (await harness.measure("ZG2025009")).status is MeasureStatus.DONE


async def test_a_measure_in_a_list_opens_its_card_below_and_the_list_stays(harness: Harness) -> None:
    owner = await harness.bind("张伟")
    mine = await harness.one(owner, "/mine")
    assert sorted(mine.button_texts) == ["ZG2025006", "ZG2025008", "ZG2025009", "ZG2025013"]
    after, toast = await harness.unchanged_by(lambda: harness.tap(owner, mine, "ZG2025009"))
    assert toast == "" and after.body == mine.body and after.button_texts == mine.button_texts
    [card] = await harness.sandbox.wait_for_messages(owner.id)
    assert "ZG2025009" in card.body and "✅ 完成" in card.button_texts
    # From there, done by button as from any card.
    asking = await harness.press(owner, card, "完成")
    done, toast = await harness.tap(owner, asking, "确认完成")
    assert toast == "已报告完成，等待审核销号" and "已完成，待销号" in done.body
    assert (await harness.measure("ZG2025009")).status is MeasureStatus.DONE
    # A list asked in words has the same buttons.
    overdue = await harness.one(owner, "逾期的有哪些")
    assert "ZG2025009" not in overdue.button_texts and overdue.button_texts


async def test_a_double_tap_on_confirm_reports_once(harness: Harness) -> None:
    owner = await harness.bind("张伟")
    card = await harness.one(owner, "ZG2025009")
    asking = await harness.press(owner, card, "完成")
    [yes] = [d for d in asking.callback_data if d and d.startswith("v1|dy|")]
    first = await harness.sandbox.press(owner.id, asking.message_id, data=yes)
    second = await harness.sandbox.press(owner.id, asking.message_id, data=yes)
    answers = harness.sandbox.callback_answers
    await harness.sandbox.wait_until(lambda: first in answers and second in answers)
    toasts = sorted([harness.toast(first), harness.toast(second)])
    assert toasts == sorted(["已报告完成，等待审核销号", "ZG2025009 已报告完成，正在等待销号"]), toasts
    assert [e.action for e in await harness.events("ZG2025009")].count("done") == 1
    measure = await harness.measure("ZG2025009")
    assert measure.status is MeasureStatus.DONE
    assert len([m for m in await harness.outbox() if m.key.startswith("done:")]) == 3  # one per recipient


async def test_a_stale_button_on_a_closed_measure_changes_nothing(harness: Harness) -> None:
    owner, leader = await harness.bind("张伟"), await harness.bind("陈建华")
    # Old cards in the chat still offer ✅ 完成 · 📝 进展 · ⏰ 申请延期.
    cards = [await harness.one(owner, "ZG2025009") for _ in range(3)]
    await harness.one(owner, "/done ZG2025009")
    await harness.notified(leader)
    await harness.one(leader, "/verify ZG2025009")
    assert (await harness.measure("ZG2025009")).status is MeasureStatus.CLOSED
    whys = ("已销号，无需重复操作", "已销号，不能再填报进展", "已销号，无需申请延期")
    for card, label, why in zip(cards, ("完成", "进展", "申请延期"), whys, strict=True):
        after, toast = await harness.unchanged_by(functools.partial(harness.tap, owner, card, label))
        assert why in toast, (label, toast)
        # The card shows how things stand: nothing left to do but read its 办理记录.
        assert "✅ 已销号" in after.body and after.button_texts == ["🕘 办理记录"]
    assert await harness.pending_inputs() == []


async def test_buttons_from_another_version_or_garbage_say_expired(harness: Harness) -> None:
    owner = await harness.bind("张伟")
    keyboard = {"inline_keyboard": [[{"text": "旧版完成", "callback_data": "v0|done|ZG2025009"},
                                     {"text": "乱码", "callback_data": "v1|dy|ZG|2025"},
                                     {"text": "无此动作", "callback_data": "v1|zz|ZG2025009"},
                                     {"text": "坏编号", "callback_data": "v1|m|#abc"},
                                     {"text": "未知列表翻页", "callback_data": "v1|lp|zz|1"}]]}
    async with httpx.AsyncClient(trust_env=False) as client:  # a message sent by an earlier version of the bot
        response = await client.post(f"{harness.sandbox.base_url}{harness.sandbox.token}/sendMessage",
                                     json={"chat_id": owner.id, "text": "旧消息", "reply_markup": json.dumps(keyboard)})
    assert response.json()["ok"]
    [old] = await harness.sandbox.wait_for_messages(owner.id)

    async def press_all() -> list[str]:
        return [(await harness.tap(owner, old, data=data))[1] for data in old.callback_data if data]

    assert await harness.unchanged_by(press_all) == ["按钮已过期，请重新查询"] * 5
    assert harness.sandbox.message(owner.id, old.message_id).edit_count == 0


# ---- sign-off ----------------------------------------------------------------------------------------


async def test_leader_signs_off_from_the_notification(harness: Harness) -> None:
    owner, leader = await harness.bind("张伟"), await harness.bind("陈建华")
    await harness.one(owner, "/done ZG2025009 已完工")
    await harness.deliver()
    [note] = await harness.sandbox.wait_for_messages(leader.id)
    detail = await harness.press(leader, note, "查看详情")
    assert detail.body.startswith("📋 ZG2025009") and detail.button_texts == ["✔️ 销号", "↩️ 退回", "🕘 办理记录"]
    # One tap away from a change nobody can take back: asked first, as 完成 is.
    asking, toast = await harness.tap(leader, detail, "销号")
    assert asking.body.startswith("确认为 ZG2025009 销号吗？销号后不能撤回") and toast == ""
    assert asking.button_texts == ["✔️ 确认销号", "✖️ 取消"]
    assert (await harness.measure("ZG2025009")).status is MeasureStatus.DONE
    kept, toast = await harness.tap(leader, asking, "取消")
    assert toast == "已取消" and kept.body.startswith("📋 ZG2025009")
    assert (await harness.measure("ZG2025009")).status is MeasureStatus.DONE
    asking, _ = await harness.tap(leader, kept, "销号")
    verified, toast = await harness.tap(leader, asking, "确认销号")
    assert toast == "已销号" and "✅ 已销号" in verified.body and verified.button_texts == ["🕘 办理记录"]
    event = (await harness.events("ZG2025009"))[-1]
    assert (event.action, event.actor_id, event.from_status, event.to_status) == (
        "verify", (await harness.cadre("陈建华")).id, MeasureStatus.DONE, MeasureStatus.CLOSED)
    await harness.deliver()
    [told] = await harness.sandbox.wait_for_messages(owner.id)
    assert "ZG2025009" in told.body and "陈建华 审核销号" in told.body


async def test_a_leader_signs_off_or_returns_in_words(harness: Harness) -> None:
    owner, leader = await harness.bind("张伟"), await harness.bind("陈建华")
    # The owner cannot sign off his own (ZG2025013, reported done): the refusal /verify gives.
    refused = await harness.unchanged_by(lambda: harness.one(owner, "ZG2025013 销号"))
    assert refused.body == "只有 ZG2025013 的分管领导（陈建华）或管理员可以销号"
    await harness.one(owner, "/done ZG2025009 已完工")
    await harness.deliver()
    [note] = await harness.sandbox.wait_for_messages(leader.id)
    # A bare 同意 could mean anything (in reply to an extension request, that): not a sign-off.
    unclear = await harness.unchanged_by(lambda: harness.one(leader, "同意", reply_to=note.message_id))
    assert unclear.body.startswith("请说明对 ZG2025009 要做什么：销号请回复“同意销号”")
    noted = await harness.unchanged_by(lambda: harness.one(leader, "好的", reply_to=note.message_id))
    assert noted.body == "好的。还有问题随时问我。"
    signed = await harness.one(leader, "同意销号", reply_to=note.message_id)
    assert signed.body.startswith("已销号") and "✅ 已销号" in signed.body
    assert (await harness.measure("ZG2025009")).status is MeasureStatus.CLOSED
    unsaid = await harness.unchanged_by(lambda: harness.one(leader, "ZG2025013 退回"))
    assert unsaid.body == "请同时写明退回原因，例如：ZG2025013 退回，佐证材料不全"
    returned = await harness.one(leader, "ZG2025013 退回，佐证材料不全")
    assert returned.body == "已退回 ZG2025013，已通知责任人。原因：佐证材料不全"
    event = (await harness.events("ZG2025013"))[-1]
    assert (event.action, event.note) == ("reject", "佐证材料不全")


async def test_sign_off_and_return_in_the_words_leaders_also_use(harness: Harness) -> None:
    owner, leader = await harness.bind("张伟"), await harness.bind("陈建华")
    returned = await harness.one(leader, "ZG2025013 打回去重做")  # 打回去, the reason right after it
    assert returned.body == "已退回 ZG2025013，已通知责任人。原因：重做"
    await harness.notified(owner)
    await harness.one(owner, "/done ZG2025013 已重做")
    await harness.notified(leader)
    signed = await harness.one(leader, "zg2025013 审核通过")
    assert signed.body.startswith("已销号")
    await harness.notified(owner)
    await harness.one(owner, "/done ZG2025009 已完工")
    await harness.notified(leader)
    typo = await harness.one(leader, "ZG2025009 同意消号")  # 消 for 销: the IME's slip
    assert typo.body.startswith("已销号")
    assert [(await harness.measure(c)).status for c in ("ZG2025013", "ZG2025009")] == [MeasureStatus.CLOSED] * 2


async def test_verify_command_and_who_may_not(harness: Harness) -> None:
    owner, other_leader = await harness.bind("张伟"), await harness.bind("李明德")
    admin, leader = await harness.bind("刘洋"), await harness.bind("陈建华")
    # ZG2025013 is 张伟's, 已完成, led by 陈建华.

    async def refused() -> list[str]:
        return [(await harness.one(other_leader, "/verify ZG2025013")).body,
                (await harness.one(owner, "/verify ZG2025013")).body,
                (await harness.one(leader, "/verify ZG2025009")).body,  # not reported done
                (await harness.one(leader, "/verify")).body]

    by_other_leader, by_owner, not_done, usage = await harness.unchanged_by(refused)
    assert "只有 ZG2025013 的分管领导（陈建华）或管理员可以销号" in by_other_leader
    assert "只有 ZG2025013 的分管领导（陈建华）或管理员可以销号" in by_owner
    assert "尚未报告完成" in not_done and "用法：/verify" in usage
    reply = await harness.one(leader, "/verify ZG2025013 材料齐全")
    assert reply.body.startswith("已销号") and "✅ 已销号" in reply.body
    event = (await harness.events("ZG2025013"))[-1]
    assert (event.action, event.note) == ("verify", "材料齐全")
    # An admin may sign off what they did not report; not a second time.
    assert "已销号" in (await harness.one(admin, "/verify ZG2025012")).body
    assert (await harness.measure("ZG2025012")).status is MeasureStatus.CLOSED
    again = await harness.unchanged_by(lambda: harness.one(admin, "/verify ZG2025012"))
    assert "已销号，无需重复操作" in again.body


async def test_an_admin_cannot_sign_off_their_own_measure(harness: Harness) -> None:
    admin = await harness.bind("刘洋")  # owns ZG2025023
    reported = await harness.one(admin, "/done ZG2025023 已全部办结")
    assert "✔️ 销号" not in reported.button_texts and "↩️ 退回" not in reported.button_texts
    assert "✔️ 销号" not in (await harness.one(admin, "/status ZG2025023")).button_texts
    refused = await harness.unchanged_by(lambda: harness.one(admin, "/verify ZG2025023"))
    assert "由您负责，不能由您本人销号" in refused.body
    other_admin = await harness.bind("韦丽萍")
    assert "已销号" in (await harness.one(other_admin, "/verify ZG2025023")).body


async def test_return_button_asks_for_a_reason_kept_in_the_database(harness: Harness) -> None:
    owner, leader = await harness.bind("张伟"), await harness.bind("陈建华")
    card = await harness.one(leader, "/status ZG2025013")
    assert card.button_texts == ["✔️ 销号", "↩️ 退回", "🕘 办理记录"]
    before = await harness.snapshot()
    after, toast = await harness.tap(leader, card, "退回")
    assert after.edit_count == 0 and toast == ""
    changed = await harness.snapshot()
    assert changed["measures"] == before["measures"] and changed["counts"]["events"] == before["counts"]["events"]
    [prompt] = await harness.sandbox.wait_for_messages(leader.id)
    assert "请输入退回 ZG2025013 的原因" in prompt.body and "/cancel" in prompt.body
    [waiting] = await harness.pending_inputs(leader)
    assert (waiting.kind, waiting.target, waiting.chat_id, waiting.prompt_message_id) == (
        "reject", "ZG2025013", leader.id, prompt.message_id)
    assert (await harness.measure("ZG2025013")).status is MeasureStatus.DONE  # nothing yet
    reply = await harness.one(leader, "佐证材料不全，请补充发放花名册")
    assert "已退回 ZG2025013" in reply.body and "佐证材料不全" in reply.body
    assert await harness.pending_inputs(leader) == []
    measure = await harness.measure("ZG2025013")
    assert measure.status is MeasureStatus.IN_PROGRESS
    event = (await harness.events("ZG2025013"))[-1]
    assert (event.action, event.actor_id, event.from_status, event.to_status, event.note) == (
        "reject", (await harness.cadre("陈建华")).id, MeasureStatus.DONE, MeasureStatus.IN_PROGRESS,
        "佐证材料不全，请补充发放花名册")
    await harness.deliver()
    [told] = await harness.sandbox.wait_for_messages(owner.id)
    assert "被 陈建华 退回" in told.body and "退回原因：佐证材料不全，请补充发放花名册" in told.body
    assert told.button_texts == ["✅ 完成", "📝 进展"]
    # The next message is a question again.
    assert "《市教育局工作规程》第3条" in (await harness.one(leader, "请假超过三天要谁批")).body


async def test_a_pending_question_can_be_cancelled(harness: Harness) -> None:
    leader = await harness.bind("陈建华")
    card = await harness.one(leader, "/status ZG2025013")
    await harness.tap(leader, card, "退回")
    await harness.sandbox.wait_for_messages(leader.id)
    assert len(await harness.pending_inputs(leader)) == 1
    assert (await harness.one(leader, "/cancel")).body == "已取消。"
    assert await harness.pending_inputs(leader) == []
    assert (await harness.one(leader, "/cancel")).body == "当前没有进行中的操作。"
    assert (await harness.measure("ZG2025013")).status is MeasureStatus.DONE


async def test_a_command_or_another_action_drops_the_question_the_bot_was_waiting_for(harness: Harness) -> None:
    leader = await harness.bind("陈建华")
    card = await harness.one(leader, "/status ZG2025013")
    await harness.tap(leader, card, "退回")
    await harness.sandbox.wait_for_messages(leader.id)
    await harness.one(leader, "/help")
    assert await harness.pending_inputs(leader) == []
    answer = await harness.one(leader, "请假超过三天要谁批")
    assert "已退回" not in answer.body and "《市教育局工作规程》第3条" in answer.body
    assert (await harness.measure("ZG2025013")).status is MeasureStatus.DONE

    # 退回, then a change of mind: ✔️ 销号 on the same card. The reason is no longer expected.
    await harness.tap(leader, card, "退回")
    await harness.sandbox.wait_for_messages(leader.id)
    asking = await harness.press(leader, card, "销号")
    await harness.tap(leader, asking, "确认销号")
    assert (await harness.measure("ZG2025013")).status is MeasureStatus.CLOSED
    assert await harness.pending_inputs(leader) == []
    answer = await harness.one(leader, "请假超过三天要谁批")
    assert "不能退回" not in answer.body and "《市教育局工作规程》第3条" in answer.body


async def test_a_long_todo_is_one_list_with_the_true_count(harness: Harness) -> None:
    leader = await harness.bind("陈建华")
    async with transaction(harness.factory) as session:
        chen = await session.scalar(select(Cadre).where(Cadre.name == "陈建华"))
        assert chen is not None
        await session.execute(update(Measure).where(Measure.leader_id == chen.id)
                              .values(status=MeasureStatus.DONE))
        waiting = len((await session.scalars(select(Measure.id).where(Measure.leader_id == chen.id))).all())
    assert waiting > 5
    head = await harness.one(leader, "/todo")
    assert head.body == f"待您处理 {waiting} 项："
    [listing] = await harness.sandbox.wait_for_messages(leader.id)
    assert listing.body.startswith(f"待您审核销号的整改措施共 {waiting} 项：")
    assert len(listing.button_texts) == waiting  # one button a measure opens its card
    with pytest.raises(TimeoutError):  # and no card a measure besides
        await harness.sandbox.wait_for_messages(leader.id, timeout=0.5)


async def test_commands_keep_a_note_after_a_comma_and_ask_for_what_is_missing(harness: Harness) -> None:
    owner = await harness.bind("张伟")
    reply = await harness.one(owner, "/done ZG2025008，规划已批复")
    assert reply.body.startswith("已报告完成")
    assert (await harness.events("ZG2025008"))[-1].note == "规划已批复"
    chooser = await harness.one(owner, "/done")
    assert chooser.body.startswith("要报告哪一项已完成？") and chooser.button_texts == ["✅ ZG2025009 完成"]
    asked = await harness.one(owner, "/extend ZG2025009")
    assert "请输入 ZG2025009 的新完成时限和理由" in asked.body
    await harness.one(owner, "/cancel")
    no_reason = await harness.unchanged_by(lambda: harness.one(owner, "/extend ZG2025009 2027-03-31"))
    assert no_reason.body == "请同时写明延期理由，例如：/extend ZG2025009 2027-03-31 资金尚未到位"
    refused = await harness.unchanged_by(lambda: harness.one(owner, "/extend ZG2025001"))
    assert refused.body == "只有 ZG2025001 的责任人或分管领导可以申请延期"


async def test_reject_command(harness: Harness) -> None:
    leader = await harness.bind("陈建华")
    usage = await harness.unchanged_by(lambda: harness.one(leader, "/reject"))
    assert "用法：/reject 编号 原因" in usage.body
    # The code alone: the reason is asked for, as the ↩️ 退回 button does.
    asked = await harness.one(leader, "/reject ZG2025013")
    assert "请输入退回 ZG2025013 的原因" in asked.body
    assert [p.kind for p in await harness.pending_inputs(leader)] == ["reject"]
    assert (await harness.one(leader, "/cancel")).body == "已取消。"
    reply = await harness.one(leader, "/reject ZG2025013 花名册缺少签字")
    assert "已退回 ZG2025013" in reply.body and "花名册缺少签字" in reply.body
    event = (await harness.events("ZG2025013"))[-1]
    assert (event.action, event.note, event.to_status) == ("reject", "花名册缺少签字", MeasureStatus.IN_PROGRESS)
    owner_id = (await harness.cadre("张伟")).id
    [queued] = [m for m in await harness.outbox() if m.key.startswith("reject:")]
    assert queued.key == f"reject:{event.id}:{owner_id}" and "花名册缺少签字" in queued.text
    assert queued.status is OutboxStatus.SKIPPED  # 张伟 has no Telegram account bound in this test
    again = await harness.unchanged_by(lambda: harness.one(leader, "/reject ZG2025013 再退一次"))
    assert "尚未报告完成" in again.body


# ---- deadline extensions -----------------------------------------------------------------------------


async def test_extension_request_approved_by_an_admin_moves_the_deadline(harness: Harness) -> None:
    owner, admin, leader = await harness.bind("张伟"), await harness.bind("韦丽萍"), await harness.bind("陈建华")
    reply = await harness.one(owner, "/extend ZG2025009 2027-01-31 二期工程资金未到位")
    assert "已提交 ZG2025009 的延期申请（→ 2027年1月31日）" in reply.body
    [request] = await harness.extension_requests("ZG2025009")
    assert (request.status, request.old_deadline, request.new_deadline, request.reason) == (
        ExtensionStatus.PENDING, dt.date(2026, 12, 5), dt.date(2027, 1, 31), "二期工程资金未到位")
    event = (await harness.events("ZG2025009"))[-1]
    assert event.action == "extend_request" and event.details is not None
    assert event.details["request_id"] == request.id
    assert (await harness.measure("ZG2025009")).deadline == dt.date(2026, 12, 5)  # not yet
    await harness.deliver()
    [asked] = await harness.sandbox.wait_for_messages(admin.id)
    assert "延期申请" in asked.body and "申请人：张伟" in asked.body and "2026年12月5日 → 2027年1月31日" in asked.body
    assert asked.button_texts == ["✅ 同意延期", "❌ 不同意"]
    [told] = await harness.sandbox.wait_for_messages(leader.id)  # the 分管领导 is told, without buttons
    assert "申请人：张伟" in told.body and "供知悉，由管理员审批" in told.body and told.button_texts == []
    # /todo shows it to admins too.
    head = await harness.one(admin, "/todo")
    items = int(head.body.removeprefix("待您处理 ").split(" ")[0])
    todo = await harness.sandbox.wait_for_messages(admin.id, count=items)
    request_card = todo[-1]  # the measures awaiting sign-off first, then the requests
    assert "申请人：张伟" in request_card.body and "2027年1月31日" in request_card.body
    assert request_card.button_texts == ["✅ 同意延期", "❌ 不同意"]
    decided, toast = await harness.tap(admin, asked, "同意延期")
    assert toast == "已同意延期" and "已同意" in decided.body and decided.button_texts == []
    measure = await harness.measure("ZG2025009")
    assert measure.deadline == dt.date(2027, 1, 31)
    [request] = await harness.extension_requests("ZG2025009")
    assert request.status is ExtensionStatus.APPROVED and request.decided_by_id == (await harness.cadre("韦丽萍")).id
    event = (await harness.events("ZG2025009"))[-1]
    assert (event.action, event.actor_id) == ("extend_approve", (await harness.cadre("韦丽萍")).id)
    [told] = await harness.notified(owner)
    assert "延期申请" in told.body and "已同意" in told.body
    card = await harness.one(owner, "ZG2025009")
    assert "完成时限：2027年1月31日" in card.body
    # The other copy of the request (from /todo) is now stale: pressing it changes nothing.
    stale, toast = await harness.unchanged_by(lambda: harness.tap(admin, request_card, "不同意"))
    assert "该延期申请已处理" in toast and stale.button_texts == []


async def test_an_admin_decides_an_extension_in_words(harness: Harness) -> None:
    owner, admin = await harness.bind("张伟"), await harness.bind("韦丽萍")
    await harness.one(owner, "/extend ZG2025009 2027-01-31 二期工程资金未到位")
    await harness.deliver()
    [asked] = await harness.sandbox.wait_for_messages(admin.id)
    unclear = await harness.unchanged_by(lambda: harness.one(admin, "同意", reply_to=asked.message_id))
    assert "同意延期" in unclear.body
    approved = await harness.one(admin, "同意延期", reply_to=asked.message_id)
    assert approved.body == "已同意 ZG2025009 的延期申请（→ 2027年1月31日），已通知申请人。"
    assert (await harness.measure("ZG2025009")).deadline == dt.date(2027, 1, 31)
    [request] = await harness.extension_requests("ZG2025009")
    assert request.status is ExtensionStatus.APPROVED
    await harness.deliver()
    [told] = await harness.sandbox.wait_for_messages(owner.id)  # the requester is told
    assert "ZG2025009" in told.body and "2027年1月31日" in told.body
    again = await harness.unchanged_by(lambda: harness.one(admin, "ZG2025009 同意延期"))
    assert again.body == "ZG2025009 没有待审批的延期申请"
    await harness.one(owner, "/extend ZG2025008 2027-08-31 规划待审定")
    await harness.deliver()
    await harness.sandbox.wait_for_messages(admin.id)  # the new request, to the admin
    unsaid = await harness.unchanged_by(lambda: harness.one(admin, "ZG2025008 不同意延期"))
    assert unsaid.body.startswith("请同时写明不同意的理由")
    refused = await harness.one(admin, "ZG2025008 不同意延期，原因：规划已审定")
    assert refused.body == "已拒绝 ZG2025008 的延期申请，已通知申请人。"
    [request] = await harness.extension_requests("ZG2025008")
    assert request.status is ExtensionStatus.REFUSED and request.decision_note == "规划已审定"
    await harness.deliver()
    await harness.sandbox.wait_for_messages(owner.id)
    # Only admins decide: the owner's own words change nothing.
    await harness.one(owner, "/extend ZG2025008 2027-09-30 再次申请")
    denied = await harness.unchanged_by(lambda: harness.one(owner, "ZG2025008 同意延期"))
    assert denied.body == "只有管理员可以审批延期申请"


async def test_refusing_an_extension_asks_for_a_reason(harness: Harness) -> None:
    owner, admin = await harness.bind("张伟"), await harness.bind("刘洋")
    await harness.one(owner, "/extend ZG2025009 2027-01-31 资金未到位")
    await harness.deliver()
    [asked] = await harness.sandbox.wait_for_messages(admin.id)
    await harness.tap(admin, asked, "不同意")
    [prompt] = await harness.sandbox.wait_for_messages(admin.id)
    assert "请输入不同意 ZG2025009 延期的理由" in prompt.body
    [request] = await harness.extension_requests("ZG2025009")
    [waiting] = await harness.pending_inputs(admin)
    assert (waiting.kind, waiting.target) == ("extension_refuse", str(request.id))
    reply = await harness.one(admin, "年底前必须完成", reply_to=prompt.message_id)
    assert "已拒绝 ZG2025009 的延期申请" in reply.body
    [request] = await harness.extension_requests("ZG2025009")
    assert request.status is ExtensionStatus.REFUSED and request.decision_note == "年底前必须完成"
    assert (await harness.measure("ZG2025009")).deadline == dt.date(2026, 12, 5)
    await harness.deliver()
    [told] = await harness.sandbox.wait_for_messages(owner.id)
    assert "未同意" in told.body and "年底前必须完成" in told.body


async def test_extension_mistakes_get_clear_answers_and_change_nothing(harness: Harness) -> None:
    owner = await harness.bind("张伟")

    async def mistakes() -> list[str]:
        return [(await harness.one(owner, text)).body for text in (
            "/extend ZG2025009 明年春天 资金未到位",
            "/extend ZG2025009 2027-02-30 资金未到位",
            "/extend ZG2025009 2026-11-01 资金未到位",
            "/extend ZG2025009 2027-01-31",
            "/extend ZG2025001 2027-01-31 不是我的",
            "/extend ZG2025013 2027-01-31 已完成的")]

    bad, impossible, earlier, no_reason, not_mine, done = await harness.unchanged_by(mistakes)
    assert "无法识别的日期「明年春天」" in bad and "2027-03-31、2027年3月底、明年3月底" in bad
    assert "不存在的日期「2027-02-30」" in impossible
    assert "必须晚于今天" in earlier
    assert no_reason == "请同时写明延期理由，例如：/extend ZG2025009 2027-01-31 资金尚未到位"
    assert "只有 ZG2025001 的责任人或分管领导可以申请延期" in not_mine
    assert "已报告完成，无需申请延期" in done
    await harness.one(owner, "/extend ZG2025009 2027-01-31 资金未到位")
    second = await harness.unchanged_by(lambda: harness.one(owner, "/extend ZG2025009 2027-03-31 再延一次"))
    assert "已有一条待审批的延期申请" in second.body


async def test_extension_by_button_then_typed_date_and_reason(harness: Harness) -> None:
    owner = await harness.bind("张伟")
    card = await harness.one(owner, "ZG2025009")
    await harness.tap(owner, card, "申请延期")
    [prompt] = await harness.sandbox.wait_for_messages(owner.id)
    assert "新完成时限和理由" in prompt.body
    bad = await harness.one(owner, "过段时间 资金未到位")
    assert "无法识别的日期「过段时间」" in bad.body
    assert await harness.extension_requests("ZG2025009") == []
    await harness.tap(owner, card, "申请延期")
    await harness.sandbox.wait_for_messages(owner.id)
    # As staff write it: no year, no space, a comma before the reason.
    reply = await harness.one(owner, "2月底，资金未到位")
    assert "已提交 ZG2025009 的延期申请（→ 2027年2月28日）" in reply.body
    [request] = await harness.extension_requests("ZG2025009")
    assert request.reason == "资金未到位"


# ---- withdrawing an extension request ----------------------------------------------------------------

WITHDRAWN_9 = "已撤回 ZG2025009 的延期申请（→ 2027年1月31日），已通知管理员无需审批。如仍需延期，可重新申请。"


async def test_requester_withdraws_a_pending_extension_by_the_button_and_admins_and_leader_are_told(
    harness: Harness
) -> None:
    owner, admin, leader = await harness.bind("张伟"), await harness.bind("韦丽萍"), await harness.bind("陈建华")
    submitted = await harness.one(owner, "/extend ZG2025009 2027-01-31 资金未到位")
    assert submitted.body == "已提交 ZG2025009 的延期申请（→ 2027年1月31日），等待管理员审批。"
    assert submitted.button_texts == ["↩️ 撤回申请"]
    await harness.deliver()
    [asked] = await harness.sandbox.wait_for_messages(admin.id)
    await harness.sandbox.wait_for_messages(leader.id)
    before = await harness.measure("ZG2025009")
    withdrawn, toast = await harness.tap(owner, submitted, "撤回申请")
    assert toast == "已撤回延期申请"
    assert withdrawn.body == WITHDRAWN_9 and withdrawn.button_texts == []
    [request] = await harness.extension_requests("ZG2025009")
    zhang = await harness.cadre("张伟")
    assert request.status is ExtensionStatus.WITHDRAWN and request.decided_by_id == zhang.id
    after = await harness.measure("ZG2025009")
    assert after.deadline == before.deadline == dt.date(2026, 12, 5) and after.version == before.version + 1
    event = (await harness.events("ZG2025009"))[-1]
    assert (event.action, event.actor_id) == ("extend_withdraw", zhang.id)
    # Those told of the request are told it is withdrawn, and that nothing is left to decide.
    for who in (admin, leader):
        [note] = await harness.notified(who)
        assert note.body.startswith("↩️ ZG2025009 ") and note.body.endswith(
            "\n张伟 已撤回延期申请（2026年12月5日 → 2027年1月31日），无需审批。")
        assert note.button_texts == []
    keys = {m.key for m in await harness.outbox()}
    told = [(await harness.cadre(name)).id for name in ("韦丽萍", "刘洋", "陈建华")]
    assert {f"extend_withdraw:{event.id}:{cadre_id}" for cadre_id in told} <= keys
    # /todo no longer lists the request.
    head = await harness.one(admin, "/todo")
    items = int(head.body.removeprefix("待您处理 ").split(" ")[0])
    todo = await harness.sandbox.wait_for_messages(admin.id, count=items)
    assert "申请人：张伟" not in texts(todo)
    assert asked.button_texts == ["✅ 同意延期", "❌ 不同意"]  # the admin's copy stays as it was, until pressed


async def test_an_admins_approval_after_the_withdrawal_says_it_was_withdrawn_and_changes_nothing(
    harness: Harness
) -> None:
    owner, admin = await harness.bind("张伟"), await harness.bind("韦丽萍")
    submitted = await harness.one(owner, "/extend ZG2025009 2027-01-31 资金未到位")
    await harness.deliver()
    [asked] = await harness.sandbox.wait_for_messages(admin.id)
    await harness.tap(owner, submitted, "撤回申请")
    await harness.notified(admin)  # told of the withdrawal
    approve, refuse = asked.callback_data
    assert approve is not None and refuse is not None
    # The request as the admin got it, and a copy of it (from /todo, say) for the other button.
    for message, data in ((asked, approve), (await _message_with_button(harness, admin.id, refuse), refuse)):
        stale, toast = await harness.unchanged_by(functools.partial(harness.tap, admin, message, data=data))
        assert toast == "申请人已撤回该延期申请，无需处理", (data, toast)
        # The message shows how things stand, without buttons.
        assert "张伟 已撤回延期申请" in stale.body and stale.button_texts == []
    assert await harness.pending_inputs(admin) == []  # 不同意 asked for no reason
    for typed, reply_to in (("同意延期", asked.message_id), ("ZG2025009 同意延期", None),
                            ("ZG2025009 不同意延期，资金已到位", None)):
        said = await harness.unchanged_by(lambda t=typed, r=reply_to: harness.one(admin, t, reply_to=r))
        assert said.body == "ZG2025009：申请人已撤回该延期申请，无需处理", typed
    assert (await harness.measure("ZG2025009")).deadline == dt.date(2026, 12, 5)


async def test_a_stale_or_double_tapped_withdraw_button_changes_nothing(harness: Harness) -> None:
    owner = await harness.bind("张伟")
    first = await harness.one(owner, "/extend ZG2025009 2027-01-31 资金未到位")
    [withdraw] = first.callback_data
    assert withdraw is not None and withdraw.startswith("v1|ew|")
    # Two taps at once: one withdrawal, and the other is told so.
    taps = [await harness.sandbox.press(owner.id, first.message_id, data=withdraw) for _ in range(2)]
    answers = harness.sandbox.callback_answers
    await harness.sandbox.wait_until(lambda: all(tap in answers for tap in taps))
    toasts = sorted(harness.toast(tap) for tap in taps)
    assert toasts == ["已撤回延期申请", "该延期申请已撤回，无需重复操作"], toasts
    assert [e.action for e in await harness.events("ZG2025009")][-2:] == ["extend_request", "extend_withdraw"]
    # A new request. The old button, still shown by a copy of that message somewhere, names the old
    # request: it must not take the new one back.
    second = await harness.one(owner, "/extend ZG2025009 2027-02-28 资金未到位")
    assert second.button_texts == ["↩️ 撤回申请"] and second.callback_data != [withdraw]
    copy = await _message_with_button(harness, owner.id, withdraw)
    after, toast = await harness.unchanged_by(lambda: harness.tap(owner, copy, data=withdraw))
    assert toast == "该延期申请已撤回，无需重复操作"
    assert "张伟 已撤回延期申请（2026年12月5日 → 2027年1月31日）" in after.body and after.button_texts == []
    old, new = await harness.extension_requests("ZG2025009")
    assert (old.status, new.status) == (ExtensionStatus.WITHDRAWN, ExtensionStatus.PENDING)
    # Decided meanwhile: the requester's button says so.
    admin = await harness.bind("韦丽萍")  # now, so that no notification comes before the answer
    assert (await harness.one(admin, "ZG2025009 同意延期")).body.startswith("已同意 ZG2025009 的延期申请")
    decided, toast = await harness.unchanged_by(lambda: harness.tap(owner, second, "撤回申请"))
    assert toast == "该延期申请已处理（已批准），不能再撤回"
    assert "已同意" in decided.body and decided.button_texts == []


async def _message_with_button(harness: Harness, chat_id: int, data: str) -> BotMessage:
    """A message in the chat showing exactly this button, as an older copy of a message would."""
    markup = InlineKeyboardMarkup([[InlineKeyboardButton("↩️ 撤回申请", callback_data=data)]])
    await harness.app.bot.send_message(chat_id, "（此前的消息）", reply_markup=markup)
    [message] = await harness.sandbox.wait_for_messages(chat_id)
    return message


async def test_requester_withdraws_by_typing_and_may_ask_again(harness: Harness) -> None:
    owner = await harness.bind("张伟")
    await harness.one(owner, "ZG2025009 申请延期到2207年1月31日，原因：资金未到位")  # the year mistyped
    card = await harness.one(owner, "/status ZG2025009")
    assert "⏳ 延期申请待审批：张伟 申请延至 2207年1月31日" in card.body
    again = await harness.unchanged_by(
        lambda: harness.one(owner, "ZG2025009 申请延期到2027年1月31日，原因：资金未到位"))
    assert again.body == ("ZG2025009 已有一条待审批的延期申请（您已申请延至 2207年1月31日），请等待管理员处理；"
                          "如需更改，请先发送“ZG2025009 撤回延期申请”，再重新申请")
    withdrawn = await harness.one(owner, "ZG2025009 撤回延期申请")
    assert withdrawn.body == ("已撤回 ZG2025009 的延期申请（→ 2207年1月31日），已通知管理员无需审批。"
                              "如仍需延期，可重新申请。")
    assert withdrawn.button_texts == []
    [request] = await harness.extension_requests("ZG2025009")
    assert request.status is ExtensionStatus.WITHDRAWN
    # The card no longer says a request is under way, and offers ⏰ 申请延期 again.
    card = await harness.one(owner, "/status ZG2025009")
    assert "延期申请待审批" not in card.body and "⏰ 申请延期" in card.button_texts
    asked = await harness.one(owner, "ZG2025009 申请延期到2027年1月31日，原因：资金未到位")
    assert asked.body.startswith("已提交 ZG2025009 的延期申请（→ 2027年1月31日）")
    old, new = await harness.extension_requests("ZG2025009")
    assert (old.status, new.status, new.new_deadline) == (
        ExtensionStatus.WITHDRAWN, ExtensionStatus.PENDING, dt.date(2027, 1, 31))
    # 办理记录 tells the story.
    trail = await harness.one(owner, "/history ZG2025009")
    assert "张伟　撤回延期申请 2026-12-05 → 2207-01-31" in trail.body
    assert trail.body.index("撤回延期申请") < trail.body.rindex("申请延期 2026-12-05 → 2027-01-31")


async def test_withdrawal_said_in_reply_or_by_command_and_a_bare_withdraw_still_takes_back_a_done_report(
    harness: Harness
) -> None:
    owner = await harness.bind("张伟")
    # 撤回延期 in reply to the card.
    await harness.one(owner, "/extend ZG2025008 2027-06-30 规划未批复")
    card = await harness.one(owner, "/status ZG2025008")
    replied = await harness.one(owner, "撤回延期", reply_to=card.message_id)
    assert replied.body.startswith("已撤回 ZG2025008 的延期申请（→ 2027年6月30日）")
    # /extend 编号 撤回.
    await harness.one(owner, "/extend ZG2025008 2027-07-31 规划未批复")
    by_command = await harness.one(owner, "/extend ZG2025008 撤回")
    assert by_command.body.startswith("已撤回 ZG2025008 的延期申请（→ 2027年7月31日）")
    # A bare 撤回 in reply to the confirmation of the request just made takes that request back.
    submitted = await harness.one(owner, "/extend ZG2025008 2027-08-31 规划未批复")
    bare = await harness.one(owner, "撤回", reply_to=submitted.message_id)
    assert bare.body.startswith("已撤回 ZG2025008 的延期申请（→ 2027年8月31日）")
    assert [r.status for r in await harness.extension_requests("ZG2025008")] == [ExtensionStatus.WITHDRAWN] * 3
    # In reply to a card a bare 撤回 is still 撤回完成, a request pending or not.
    await harness.one(owner, "/extend ZG2025009 2027-01-31 资金未到位")
    done = await harness.one(owner, "/done ZG2025009 已验收")
    undone = await harness.one(owner, "撤回", reply_to=done.message_id)
    assert undone.body.startswith("已撤回完成报告")
    [request] = await harness.extension_requests("ZG2025009")
    assert request.status is ExtensionStatus.PENDING
    assert (await harness.measure("ZG2025009")).status is MeasureStatus.IN_PROGRESS


async def test_withdrawal_by_someone_else_or_with_nothing_pending_is_refused(harness: Harness) -> None:
    owner = await harness.bind("张伟")
    nothing = await harness.unchanged_by(lambda: harness.one(owner, "ZG2025009 撤回延期申请"))
    assert nothing.body == "ZG2025009 没有待审批的延期申请，无需撤回"
    alone = await harness.unchanged_by(lambda: harness.one(owner, "撤回延期申请"))
    assert alone.body == "您目前没有待审批、可以撤回的延期申请。" and alone.button_texts == []
    await harness.one(owner, "/extend ZG2025009 2027-01-31 资金未到位")
    # Bound after the request, so that its notification does not come between their words and the answer.
    leader, admin = await harness.bind("陈建华"), await harness.bind("韦丽萍")
    for who in (leader, admin):
        refused = await harness.unchanged_by(lambda w=who: harness.one(w, "ZG2025009 撤回延期申请"))
        assert refused.body == "ZG2025009 的延期申请（张伟 申请延至 2027年1月31日）不是您提出的，只有申请人本人可以撤回"
    # Said with no code, the requester chooses among the requests they made.
    choice = await harness.unchanged_by(lambda: harness.one(owner, "我要撤回延期申请"))
    assert choice.body.startswith("要撤回哪一项的延期申请？请选择")
    assert choice.button_texts == ["↩️ ZG2025009 撤回延期申请"]
    chosen, toast = await harness.tap(owner, choice, "ZG2025009")
    assert toast == "已撤回延期申请" and chosen.body == WITHDRAWN_9
    [request] = await harness.extension_requests("ZG2025009")
    assert request.status is ExtensionStatus.WITHDRAWN


async def test_progress_by_button(harness: Harness) -> None:
    owner = await harness.bind("张伟")
    card = await harness.one(owner, "ZG2025008")
    await harness.tap(owner, card, "进展")
    [prompt] = await harness.sandbox.wait_for_messages(owner.id)
    assert "请输入 ZG2025008 的最新进展" in prompt.body
    reply = await harness.one(owner, "规划初稿已完成，正在征求意见")
    assert reply.body.startswith("进展已更新") and "最新进展：规划初稿已完成，正在征求意见" in reply.body
    measure = await harness.measure("ZG2025008")
    assert measure.status is MeasureStatus.IN_PROGRESS and measure.progress == "规划初稿已完成，正在征求意见"
    event = (await harness.events("ZG2025008"))[-1]
    assert (event.action, event.from_status, event.to_status) == (
        "progress", MeasureStatus.NOT_STARTED, MeasureStatus.IN_PROGRESS)


async def test_progress_typed_after_a_code_is_recorded_and_a_question_on_it_is_not(harness: Harness) -> None:
    owner = await harness.bind("张伟")
    reply = await harness.one(owner, "ZG2025008 进展：规划初稿已完成")
    assert reply.body.startswith("进展已更新") and "最新进展：规划初稿已完成" in reply.body
    measure = await harness.measure("ZG2025008")
    assert measure.status is MeasureStatus.IN_PROGRESS and measure.progress == "规划初稿已完成"
    assert (await harness.events("ZG2025008"))[-1].action == "progress"
    for question in ("ZG2025008 进展怎么样", "ZG2025008 进度，到哪一步了"):
        card = await harness.unchanged_by(lambda q=question: harness.one(owner, q))
        assert card.body.startswith("📋 ZG2025008")
    refused = await harness.unchanged_by(lambda: harness.one(owner, "ZG2025001 进展：已拨付"))
    assert refused.body == "ZG2025001 的责任人是钟春兰，您不能填报进展"


async def test_progress_said_with_a_space_in_english_or_in_reply_to_the_card_is_recorded(harness: Harness) -> None:
    owner = await harness.bind("张伟")
    for said, kept in (("ZG2025008进展 规划初稿已完成", "规划初稿已完成"),
                       ("ZG2025008 progress: draft plan sent", "draft plan sent")):
        reply = await harness.one(owner, said)
        assert reply.body.startswith("进展已更新"), said
        assert (await harness.measure("ZG2025008")).progress == kept
    card = await harness.one(owner, "/status ZG2025009")
    reply = await harness.one(owner, "进展：主体已封顶", reply_to=card.message_id)
    assert reply.body.startswith("进展已更新") and (await harness.measure("ZG2025009")).progress == "主体已封顶"
    reply = await harness.one(owner, "申请延期到2027年1月31日，原因：工程还没验收", reply_to=card.message_id)
    assert "已提交 ZG2025009 的延期申请（→ 2027年1月31日）" in reply.body
    # Asked in reply, it stays a question on the measure.
    asked = await harness.unchanged_by(lambda: harness.one(owner, "进展 到哪一步了", reply_to=card.message_id))
    assert not asked.body.startswith("进展已更新")


async def test_an_extension_asked_for_in_words_is_requested(harness: Harness) -> None:
    owner = await harness.bind("张伟")
    reply = await harness.one(owner, "ZG2025009 申请延期到2027年1月31日，工程还没验收")
    assert "已提交 ZG2025009 的延期申请（→ 2027年1月31日）" in reply.body
    [request] = await harness.extension_requests("ZG2025009")
    assert (request.status, request.new_deadline, request.reason) == (
        ExtensionStatus.PENDING, dt.date(2027, 1, 31), "工程还没验收")
    no_reason = await harness.unchanged_by(lambda: harness.one(owner, "ZG2025008 延期至2027-06-30"))
    assert no_reason.body.startswith("请同时写明延期理由，例如：ZG2025008 申请延期到2027-06-30")


async def test_an_extension_in_words_reads_the_dates_staff_write(harness: Harness) -> None:
    owner = await harness.bind("张伟")  # today is 2026-11-27; ZG2025008 is due 2027-05-31
    reply = await harness.one(owner, "ZG2025008 申请延期到明年6月底，资金问题")
    assert "已提交 ZG2025008 的延期申请（→ 2027年6月30日）" in reply.body
    by_span = await harness.one(owner, "ZG2025009 延期一个月，等设备到货")  # due 2026-12-05
    assert "已提交 ZG2025009 的延期申请（→ 2027年1月5日）" in by_span.body
    requests = await harness.extension_requests("ZG2025008") + await harness.extension_requests("ZG2025009")
    assert [(r.new_deadline, r.reason) for r in requests] == [
        (dt.date(2027, 6, 30), "资金问题"), (dt.date(2027, 1, 5), "等设备到货")]


async def test_an_extension_asked_about_or_undated_is_not_requested(harness: Harness) -> None:
    owner = await harness.bind("张伟")
    undated = await harness.unchanged_by(lambda: harness.one(owner, "ZG2025008 申请延期，资金没到位"))
    assert undated.body.startswith("请写明延期到哪一天，例如：ZG2025008 申请延期到2027-03-31")
    for question in ("ZG2025008 延期到6月底可以吗", "ZG2025008 延期一个月行不行"):
        card = await harness.unchanged_by(lambda q=question: harness.one(owner, q))
        assert card.body.startswith("📋 ZG2025008")
    assert await harness.extension_requests("ZG2025008") == []


async def test_concurrent_presses_by_owner_and_leader_leave_one_consistent_outcome(harness: Harness) -> None:
    """The owner undoes while the leader signs off: exactly one wins, the other is told."""
    owner, leader = await harness.bind("张伟"), await harness.bind("陈建华")
    mine = await harness.one(owner, "/done ZG2025009")
    theirs = await harness.one(leader, "/status ZG2025009")
    undo = next(d for d in mine.callback_data if d and d.startswith("v1|du|"))
    theirs = await harness.press(leader, theirs, "销号")  # asks to confirm: the race is on the confirmation
    verify = next(d for d in theirs.callback_data if d and d.startswith("v1|vy|"))
    first = await harness.sandbox.press(owner.id, mine.message_id, data=undo)
    second = await harness.sandbox.press(leader.id, theirs.message_id, data=verify)
    answers = harness.sandbox.callback_answers
    await harness.sandbox.wait_until(lambda: first in answers and second in answers)
    await asyncio.sleep(0)
    measure = await harness.measure("ZG2025009")
    actions = [e.action for e in await harness.events("ZG2025009")]
    assert actions[-2] == "done" and actions[-1] in ("undo", "verify")
    assert measure.status is (MeasureStatus.CLOSED if actions[-1] == "verify" else MeasureStatus.IN_PROGRESS)
    loser = harness.toast(second if actions[-1] == "undo" else first)
    assert "ZG2025009" in loser, loser  # 已销号，不能撤回 / 尚未报告完成 … never a database error


async def test_a_long_overdue_list_comes_in_pages_the_buttons_turn(harness: Harness) -> None:
    admin = await harness.bind("刘洋")
    async with transaction(harness.factory) as session:
        owner = await session.scalar(select(Cadre).where(Cadre.name == "张伟"))
        assert owner is not None
        session.add_all(Measure(code=f"ZG2024{n:03d}", problem=f"积压问题{n}", measure="限期整改", owner_id=owner.id,
                                deadline=dt.date(2026, 1, 1) + dt.timedelta(days=n), status=MeasureStatus.IN_PROGRESS)
                        for n in range(1, 41))
    async with transaction(harness.factory) as session:
        total = len(await service.overdue(session, harness.services.today()))
    assert 40 < total <= 60
    first = await harness.one(admin, "/overdue")
    assert first.body.startswith(f"全部逾期整改措施共 {total} 项（第 1/2 页）：")
    assert first.body.count("\n") == 30 and "另有" not in first.body
    assert first.button_texts[-2:] == ["第 1/2 页", "下一页 »"]
    second = await harness.press(admin, first, "下一页")
    assert second.message_id == first.message_id
    assert second.body.startswith(f"全部逾期整改措施共 {total} 项（第 2/2 页）：")
    assert second.body.count("\n") == total - 30
    assert second.button_texts[-2:] == ["« 上一页", "第 2/2 页"]
    shown = {re.search(r"ZG\d{7}", line)[0] for page in (first, second)  # type: ignore[index]
             for line in page.body.splitlines()[1:]}
    assert len(shown) == total  # every overdue measure on one page or the other, none twice
    # Pressed after the list shrank to one page: the page there is, without page buttons.
    async with transaction(harness.factory) as session:
        await session.execute(update(Measure).where(Measure.code.like("ZG2024%")).values(status=MeasureStatus.CLOSED))
    again = await harness.press(admin, second, "上一页")
    assert again.body.startswith(f"全部逾期整改措施共 {total - 40} 项：")
    assert not any("页" in text for text in again.button_texts)
    # A cadre's own list (signed off ones included) pages the same way.
    owner_chat = await harness.bind("张伟")
    mine = await harness.one(owner_chat, "/mine")
    assert "（第 1/2 页）" in mine.body
    assert "（第 2/2 页）" in (await harness.press(owner_chat, mine, "下一页")).body


async def test_a_question_typed_while_the_bot_waits_for_a_reason_is_answered_and_the_wait_goes_on(
    harness: Harness
) -> None:
    leader = await harness.bind("陈建华")
    card = await harness.one(leader, "/status ZG2025013")
    await harness.tap(leader, card, "退回")
    [prompt] = await harness.sandbox.wait_for_messages(leader.id)
    answer, waiting = await harness.say(leader, "请假超过三天要谁批？", count=2)
    assert "《市教育局工作规程》第3条" in answer.body
    assert waiting.body.startswith("（以上是对您问题的回答。我仍在等您输入ZG2025013 的退回原因")
    assert (await harness.measure("ZG2025013")).status is MeasureStatus.DONE
    assert [p.kind for p in await harness.pending_inputs(leader)] == ["reject"]
    # A reason that does not read as a question is taken, as before.
    returned = await harness.one(leader, "佐证材料不全")
    assert returned.body.startswith("已退回 ZG2025013")
    assert (await harness.events("ZG2025013"))[-1].note == "佐证材料不全"

    # In reply to the bot's question, even a question-like text is the answer.
    owner = await harness.bind("张伟")
    card = await harness.one(owner, "/status ZG2025009")
    await harness.tap(owner, card, "进展")
    [prompt] = await harness.sandbox.wait_for_messages(owner.id)
    recorded = await harness.one(owner, "主体已封顶，验收时间待定？", reply_to=prompt.message_id)
    assert "主体已封顶" in recorded.body and await harness.pending_inputs(owner) == []


async def test_extension_messages_speak_in_dates_staff_use_and_examples_that_would_work(harness: Harness) -> None:
    owner = await harness.bind("张伟")
    # ZG2025008 is due 2027-05-31: the prompt's example date must come after it.
    card = await harness.one(owner, "/status ZG2025008")
    await harness.tap(owner, card, "申请延期")
    [prompt] = await harness.sandbox.wait_for_messages(owner.id)
    example = re.search(r"(\d{4}-\d{2}-\d{2}) 资金尚未到位", prompt.body)
    assert example is not None and example[1] > "2027-05-31", prompt.body
    await harness.one(owner, "/cancel")
    earlier = await harness.unchanged_by(lambda: harness.one(owner, "ZG2025008 申请延期到2027年3月31日，原因：审批慢"))
    assert "新的完成时限（2027年3月31日）必须晚于当前时限（2027年5月31日），请写一个更晚的日期" in earlier.body
    by_how_much = await harness.unchanged_by(lambda: harness.one(owner, "ZG2025009 延期两周"))
    assert "例如：ZG2025009 申请延期两周，原因：资金尚未到位" in by_how_much.body, by_how_much.body


async def test_a_card_says_what_is_under_way_an_extension_request_or_the_return_that_reopened_it(
    harness: Harness
) -> None:
    owner, leader = await harness.bind("张伟"), await harness.bind("陈建华")
    returned = await harness.one(leader, "ZG2025013 退回，佐证材料不全")
    assert returned.body.startswith("已退回 ZG2025013")
    await harness.notified(owner)  # told of the return
    await harness.one(owner, "ZG2025008 申请延期到2027年6月30日，原因：规划未批复")
    card = await harness.one(owner, "/status ZG2025008")
    assert "⏳ 延期申请待审批：张伟 申请延至 2027年6月30日，理由：规划未批复" in card.body
    asked = await harness.one(owner, "ZG2025013")
    assert asked.body.startswith("📋 ZG2025013") and "↩️ 已被退回：陈建华，原因：佐证材料不全" in asked.body
    # Reported done again, the return is history (办理记录), no longer the card's news.
    await harness.one(owner, "/done ZG2025013 已补充")
    assert "已被退回" not in (await harness.one(owner, "/status ZG2025013")).body
