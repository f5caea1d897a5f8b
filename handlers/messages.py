"""Routing plain messages: an answer to the bot's question, 完成 as a reply, a file, or a question."""

from __future__ import annotations

from telegram import Update

from bot.app import BotContext
from bot.db import transaction
from bot.services import pending
from handlers import measures, questions
from handlers.common import heard_from, send
from handlers.render import Reply


async def on_text(update: Update, context: BotContext) -> None:
    message, chat, user = update.effective_message, update.effective_chat, update.effective_user
    if message is None or chat is None or user is None or not message.text:
        return
    text = message.text.strip()
    reply_to = message.reply_to_message.message_id if message.reply_to_message else None
    # Most messages are questions: unless this may be 完成 said in reply to a card, answer it in the
    # transaction that looks for an open question of the bot's (one round trip instead of two), with
    # the asker found by the same query.
    question = None if measures.DONE_WORDS.match(text) else questions.question_in(update, context)
    answer: Reply | str | None = None
    async with transaction(context.services.factory) as session:
        sender = await pending.sender(session, chat.id, user.id, reply_to=reply_to)
        waiting = sender.waiting
        if waiting is None and isinstance(question, questions.Question):
            answer = await questions.reply_to(session, update, context, question, heard_from(sender.cadre))
    if waiting is not None:
        await measures.answer_pending(update, context, waiting, text)
    elif answer is not None:
        await send(update, answer)
    elif isinstance(question, str):
        await send(update, question)
    elif question is None and not await measures.on_reply_text(update, context, text):
        await questions.ask(update, context)


async def on_media(update: Update, context: BotContext) -> None:
    await measures.on_media(update, context)
