"""One router for every inline button: decode, check the presser, act, update the message."""

from __future__ import annotations

import contextlib
import logging

from telegram import Update
from telegram.error import BadRequest

from bot.app import BotContext
from bot.db import transaction
from handlers import measures, misses, questions
from handlers.callbacks import EXPIRED, Action, decode
from handlers.common import Pressed, current_cadre, drop_question, send_attachments, tell

log = logging.getLogger(__name__)

_QUESTION_ACTIONS = {Action.REGULATION, Action.ARTICLE, Action.REG_PAGE, Action.SUGGESTION}
_MISS_ACTIONS = {Action.MISS, Action.TEACH, Action.TEACH_OTHER, Action.MISS_DISMISS}
# Buttons that change something or ask something anew; the others only show things.
_ACTING = {Action.DONE_ASK, Action.DONE_YES, Action.DONE_NO, Action.DONE_UNDO, Action.VERIFY, Action.VERIFY_YES,
           Action.REJECT,
           Action.EXTEND, Action.EXTEND_APPROVE, Action.EXTEND_REFUSE, Action.EXTEND_WITHDRAW, Action.PROGRESS,
           Action.TEACH,
           Action.TEACH_OTHER, Action.MISS_DISMISS}


async def on_button(update: Update, context: BotContext) -> None:
    query = update.callback_query
    if query is None:
        return
    callback = decode(query.data)
    if callback is None:
        # Old or malformed data (e.g. a button from an earlier version): say so, change nothing.
        await tell(update, EXPIRED)
        return
    if callback.action is Action.NOOP:
        await query.answer()
        return
    async with transaction(context.services.factory) as session:
        cadre = await current_cadre(session, update)
        if cadre is not None and callback.action in _ACTING:
            # 退回 then ✔️ 销号: the reason the bot asked for is no longer coming.
            await drop_question(session, update)
    if cadre is None:
        await tell(update, measures.NOT_BOUND_PLAIN)
        return
    if callback.action in _QUESTION_ACTIONS:
        pressed = Pressed(await questions.button(update, context, callback, cadre))
    elif callback.action is Action.WRONG:
        pressed = await questions.wrong_answer(update, context)
    elif callback.action is Action.LIST_PAGE and callback.kind == misses.PAGE_KIND:
        pressed = await misses.page(update, context, callback, cadre)
    elif callback.action is Action.LIST_PAGE:
        pressed = await measures.list_page(update, context, callback, cadre)
    elif callback.action in _MISS_ACTIONS:
        pressed = await misses.button(update, context, callback, cadre)
    else:
        pressed = await measures.button(update, context, callback, cadre)
    if pressed.reply is not None and query.message is not None:
        chunks = pressed.reply.messages()
        try:
            # A button changes the message it sits on (unless its reply is a new message, as a
            # card opened from a list is); long content continues in new messages.
            if not pressed.new_message:
                await query.edit_message_text(chunks[0][0], reply_markup=chunks[0][1])
                chunks = chunks[1:]
            for text, keyboard in chunks:
                await context.bot.send_message(query.message.chat.id, text, reply_markup=keyboard)
        except BadRequest as exc:
            if "not modified" not in exc.message.lower():
                raise
    if pressed.attachments and query.message is not None:
        await send_attachments(context.bot, query.message.chat.id, pressed.attachments)
    # Answered last: the spinner stops once the message shows the outcome.
    if pressed.toast:
        await tell(update, pressed.toast)
        return
    with contextlib.suppress(BadRequest):  # already answered, or too old
        await query.answer()
