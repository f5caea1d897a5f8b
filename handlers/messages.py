"""Routing plain messages: an answer to the bot's question, 完成 as a reply, a file, or a question."""

from __future__ import annotations

import re

from telegram import Update

from bot.app import BotContext
from bot.db import transaction
from bot.services import pending
from handlers import imports, measures, misses, questions
from handlers.common import addressed_to_bot, heard_from, is_private, send
from handlers.render import Reply, esc


async def on_text(update: Update, context: BotContext) -> None:
    message, chat, user = update.effective_message, update.effective_chat, update.effective_user
    if message is None or chat is None or user is None or not message.text:
        return
    text = message.text.strip()
    wide = _WIDE_COMMAND.match(text)
    if wide and is_private(update):
        # A Chinese keyboard types ／mine, which Telegram does not take for a command; tapping the
        # /mine written back runs it.
        await send(update, f"命令请用半角斜杠：/{wide.group(1).lower()}{esc(wide.group(2))}（点击即可发送）")
        return
    reply_to = message.reply_to_message.message_id if message.reply_to_message else None
    # Most messages are questions: unless this may be 完成 said in reply to a card, answer it in the
    # transaction that looks for an open question of the bot's (one round trip instead of two), with
    # the asker found by the same query.
    said_done = measures.says_done(text) is not None
    # 完成 / 撤回 / 申请延期 / 我要报进展 with no measure named: which one? (in a private chat only)
    bare = measures.bare_action(text) if is_private(update) else None
    # "ZG2025009 完成了" typed to the bot is /done ZG2025009 (and "…进展：…" progress, "…申请延期到
    # 2027年1月31日，…" /extend, "…同意销号" /verify, "…退回，原因" /reject; the last two also in
    # reply to the measure's card or notification), not a question about that measure.
    typed = None
    if addressed_to_bot(update, context.services.bot_username):
        said = questions.without_mentions(text)
        typed = measures.typed_action(context, said) or measures.judged_in_reply(context, message, said)
    question = None if said_done or bare or typed else questions.question_in(update, context)
    # 待我处理的 / 我的待办: /todo (or, for a cadre, what they still owe), which depends on who asks.
    todo = isinstance(question, questions.Question) and measures.asks_todo(question.text)
    answer: Reply | str | None = None
    # 逾期了怎么处理 typed while the bot waits for a return reason is a question, not the reason: it
    # is answered and the bot goes on waiting (a reply to the bot's question is always its answer).
    asks = isinstance(question, questions.Question) and not todo and _ASKS.search(text) is not None
    async with transaction(context.services.factory) as session:
        sender = await pending.sender(session, chat.id, user.id, reply_to=reply_to, keep_open=asks)
        waiting = sender.waiting
        if (waiting is None or waiting.kept) and isinstance(question, questions.Question) and not todo:
            answer = await questions.reply_to(session, update, context, question, heard_from(sender.cadre))
    if waiting is not None and waiting.kept:
        if answer is not None:
            await send(update, answer)
        await send(update, still_waiting(waiting))
    elif waiting is not None and waiting.kind == misses.PENDING_KIND:
        await misses.answer_pending(update, context, waiting.target, text)
    elif waiting is not None:
        await measures.answer_pending(update, context, waiting, text)
    elif typed is not None:
        await measures.act_typed(update, context, typed)
    elif todo:
        await measures.my_todo(update, context)
    elif answer is not None:
        await send(update, answer)
    elif isinstance(question, str):
        await send(update, question)
    elif (question is None and not await measures.on_reply_text(update, context, text)
          and (bare is None or not await measures.offer_choice(update, context, bare))):
        # Nothing to choose from, 申请延期 is a question on the rules for extensions.
        await questions.ask(update, context)


#: A message that asks something of its own: a question mark or particle at its end, or a
#: question word. A return reason, a progress note or an extension reason does not read so.
_ASKS = re.compile(r"[吗呢么？?]\s*$|怎么|如何|为什么|为啥|哪些|哪个|哪里|哪儿|请问|能不能|可不可以|能否|是不是|"
                   r"有没有|是否")

#: What the bot still waits for, by the kind of question it asked.
_WAITING_FOR = {
    "reject": "{target} 的退回原因", "progress": "{target} 的进展情况", "extend": "{target} 的新完成时限和理由",
    "extension_refuse": "不同意延期的理由", misses.PENDING_KIND: "这个问题应归入的制度、条款或整改措施",
}


def still_waiting(waiting: pending.Waiting) -> str:
    what = _WAITING_FOR.get(waiting.kind, "您的回复").format(target=waiting.target)
    return (f"（以上是对您问题的回答。我仍在等您输入{esc(what)}：直接发送即可，或回复刚才的提问消息；"
            "发送 /cancel 取消。）")


#: ／mine, ／done ZG2025009 — a command typed with a full-width slash.
_WIDE_COMMAND = re.compile(r"／([A-Za-z][A-Za-z_]{1,31})((?:\s.*)?)$", re.DOTALL)


async def on_media(update: Update, context: BotContext) -> None:
    # An admin's 台账 file is an import; anything else is evidence for a measure.
    if not await imports.on_document(update, context):
        await measures.on_media(update, context)


#: What the bot says to a voice note, a sticker, a location … in a private chat: silence would
#: look like the bot is down.
CANNOT_READ = ("我只能读文字、照片、视频和文件，暂时听不了语音、也看不懂表情和位置。"
               "请用文字提问，例如“请假超过三天要谁批？”；报告完成请发送“编号 已完成”，"
               "照片或视频可作为佐证材料一并发送。")


async def on_other(update: Update, context: BotContext) -> None:
    await send(update, CANNOT_READ)
