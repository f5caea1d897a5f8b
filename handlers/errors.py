"""The global error handler: log with the traceback, apologise briefly, tell the admins."""

from __future__ import annotations

import contextlib
import html
import logging
import math
import time

from telegram import Update
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError

from bot.app import BotContext, retry_seconds
from bot.db import is_unavailable, transaction
from bot.logging_setup import redact
from bot.services import cadres
from handlers.common import DATABASE_DOWN, tell

log = logging.getLogger(__name__)

APOLOGY = "抱歉，处理您的请求时出了点问题，已通知管理员。请稍后再试。"
#: At most one alert to the admins per this many seconds: an outage must not flood their chats.
ALERT_INTERVAL = 300.0
NEVER = -math.inf  # not 0.0: the monotonic clock starts near zero at boot, and the first alert must go out
_last_alert = NEVER
_clock = time.monotonic


async def on_error(update: object, context: BotContext) -> None:
    global _last_alert
    error = context.error
    # Telegram unreachable, overloaded (5xx, timeouts) or throttling us beyond what the rate limiter
    # waits for, or the user blocked the bot: the reply is lost, but nothing is wrong with the bot.
    # No apology (it would fail the same way) and no alert. PTB's BadRequest is a NetworkError too,
    # but a 400 means we sent something Telegram refuses: a bug, handled below.
    if isinstance(error, RetryAfter):
        log.warning("Telegram rate limit: a reply was dropped (retry after %.0f s)", retry_seconds(error))
        return
    if isinstance(error, Forbidden):
        log.warning("the user has blocked the bot or left the chat: %s", error)
        return
    if isinstance(error, NetworkError) and not isinstance(error, BadRequest):
        log.warning("network trouble talking to Telegram: %s", error)
        return
    if error is not None and is_unavailable(error):
        # The database is down (a job, or a task a handler started): not a bug either.
        log.warning("database unavailable: %s", error)
        if isinstance(update, Update):
            with contextlib.suppress(TelegramError):
                await tell(update, DATABASE_DOWN)
        return
    log.error("unhandled error while handling an update", exc_info=error)
    if isinstance(update, Update):
        try:
            await tell(update, APOLOGY)
        except TelegramError:
            log.warning("could not send the apology")
    now = _clock()
    if now - _last_alert < ALERT_INTERVAL or context.bot_data.services is None:
        return
    _last_alert = now
    # An exception's text may hold a Bot API URL, and with it the token: never send that to a chat.
    described = redact(str(error)).replace(context.bot.token, "<token>")
    summary = f"⚠️ 整改助手出错：{html.escape(type(error).__name__)}: {html.escape(described)[:300]}\n详见服务器日志。"
    try:
        async with transaction(context.services.factory) as session:
            admins = [a.telegram_user_id for a in await cadres.admins(session) if a.telegram_user_id]
    except Exception:  # the database may be the very thing that failed
        log.warning("could not look up admins to alert", exc_info=True)
        return
    for chat_id in admins:
        try:
            await context.bot.send_message(chat_id, summary)
        except (Forbidden, TelegramError):
            log.warning("could not alert admin chat %s", chat_id)
