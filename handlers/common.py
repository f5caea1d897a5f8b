"""What every handler shares: who is asking, sending replies, and turning errors into words."""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncSession
from telegram import Bot, Message, Update
from telegram.constants import ChatType
from telegram.error import BadRequest

from bot.app import BotContext
from bot.db import is_unavailable, transaction
from bot.errors import NotFound, ZhenggaiError
from bot.models import Cadre, Measure, Role
from bot.services import cadres, measures, pending
from handlers.callbacks import Ref
from handlers.render import Reply, esc

log = logging.getLogger(__name__)

DATABASE_DOWN = "暂时无法访问数据库，请稍后再试。"
NOT_BOUND = ("您还没有绑定身份。请向管理员索取邀请码，然后在与机器人的私聊中发送 <code>/start 邀请码</code>"
             "（邀请码相当于密码，请勿发在群里）。\n"
             "发送 /help 查看说明。")

Handler = Callable[[Update, BotContext], Awaitable[None]]
_H = TypeVar("_H", bound=Handler)


@dataclass(frozen=True)
class Attachment:
    """A file Telegram already holds (evidence sent to the bot), sent again by its file_id."""

    kind: str  # "photo", "video" or "document"
    file_id: str
    caption: str = ""


async def send_attachments(bot: Bot, chat_id: int, attachments: Sequence[Attachment]) -> None:
    """Each file as its own message; one Telegram no longer has (another bot's, or deleted) is
    named instead of failing the rest."""
    for item in attachments:
        try:
            if item.kind == "photo":
                await bot.send_photo(chat_id, item.file_id, caption=item.caption or None)
            elif item.kind == "video":
                await bot.send_video(chat_id, item.file_id, caption=item.caption or None)
            else:
                await bot.send_document(chat_id, item.file_id, caption=item.caption or None)
        except BadRequest as exc:
            log.warning("evidence file not sent: %s", exc.message)
            # Telegram's reason is English and technical: logged above, not shown.
            await bot.send_message(chat_id, f"{esc(item.caption)}：文件已无法获取（Telegram 上已不再保存），"
                                            "请责任人重新发送")


@dataclass(frozen=True)
class Pressed:
    """What a button press comes to: the new content of the pressed message (None: leave it)
    and a short answer shown as a toast (None: none). The toast is sent last, after the edit.
    `new_message`: the reply is sent as a new message and the pressed one stays as it is;
    `attachments` follow it."""

    reply: Reply | None = None
    toast: str | None = None
    new_message: bool = False
    attachments: tuple[Attachment, ...] = ()  # sent after the reply (a trail's evidence)


def is_private(update: Update) -> bool:
    return update.effective_chat is not None and update.effective_chat.type == ChatType.PRIVATE


def addressed_to_bot(update: Update, username: str) -> bool:
    """In a group the bot acts only on messages that mention it or reply to it (commands have
    their own handlers); in a private chat on everything."""
    message = update.effective_message
    if message is None:
        return False
    if is_private(update):
        return True
    replied = message.reply_to_message
    if (replied is not None and replied.from_user is not None and bool(username)
            and replied.from_user.username == username):
        return True
    return bool(username) and f"@{username}".lower() in (message.text or message.caption or "").lower()


async def current_cadre(session: AsyncSession, update: Update) -> Cadre | None:
    user = update.effective_user
    if user is None:
        return None
    return heard_from(await cadres.cadre_by_telegram(session, user.id))


def heard_from(cadre: Cadre | None) -> Cadre | None:
    """The cadre who wrote to us: reachable again if a send to them had failed."""
    if cadre is not None and cadre.unreachable_since is not None:
        cadre.unreachable_since = None
    return cadre


def is_admin(cadre: Cadre | None) -> bool:
    return cadre is not None and cadre.role is Role.ADMIN


async def send(update: Update, reply: Reply | str, *, quote: bool = False) -> Message | None:
    """Reply in the chat the update came from, split under Telegram's 4096-character limit."""
    message = update.effective_message
    if message is None:
        return None
    if isinstance(reply, str):
        reply = Reply(reply)
    last: Message | None = None
    for text, keyboard in reply.messages():
        last = await message.reply_text(text, reply_markup=keyboard, do_quote=quote or reply.quote)
    return last


async def tell(update: Update, text: str) -> None:
    """A short answer: to a button press as a toast, otherwise as a message."""
    query = update.callback_query
    if query is not None:
        try:
            await query.answer(text[:200], show_alert=len(text) > 60)
        except BadRequest:
            log.debug("callback query too old to answer: %s", text)
        return
    await send(update, esc(text))


_OWNER_NAMED = re.compile(r"的责任人是[^，,。]+[，,]")
_REQUESTER_NAMED = re.compile(r"（[^（）\s]+ 申请延至")


def public_wording(text: str) -> str:
    """A refusal fit for a group: the services name the people concerned, 公示 level does not."""
    return _REQUESTER_NAMED.sub("（申请延至", _OWNER_NAMED.sub("不是您负责的整改措施，", text))


def user_facing(handler: _H) -> _H:
    """Domain errors become their Chinese message; a database outage becomes a short answer
    saying so (`bot.db.is_unavailable`).

    Anything else propagates to the global error handler (logged with its traceback; the
    user gets a short apology there).
    """

    @functools.wraps(handler)
    async def wrapper(update: Update, context: BotContext) -> None:
        try:
            await handler(update, context)
        except ZhenggaiError as error:
            await tell(update, str(error) if is_private(update) else public_wording(str(error)))
        except Exception as error:
            if not is_unavailable(error):
                raise  # a bug: the error handler logs it, apologises and alerts the admins
            log.warning("database unavailable while handling an update: %s", error)
            await tell(update, DATABASE_DOWN)

    return wrapper  # type: ignore[return-value]


async def drop_question(session: AsyncSession, update: Update) -> None:
    """Forget the answer the bot is waiting for from this user here (退回原因, 进展 …): they chose
    another action, so their next message is not that answer (it was taken as one before)."""
    chat, user = update.effective_chat, update.effective_user
    if chat is not None and user is not None:
        await pending.clear(session, chat.id, user.id)


def new_action(handler: _H) -> _H:
    """For a command: it starts something new, so an open question (see `drop_question`) is dropped."""

    @functools.wraps(handler)
    async def wrapper(update: Update, context: BotContext) -> None:
        async with transaction(context.services.factory) as session:
            await drop_question(session, update)
        await handler(update, context)

    return wrapper  # type: ignore[return-value]


async def measure_of_button(session: AsyncSession, ref: Ref | None) -> Measure:
    """The measure a button refers to (by id, or by code in older buttons)."""
    if ref is None:
        raise NotFound("按钮已过期，请重新查询")
    if ref.id is not None:
        measure = await session.get(Measure, ref.id)
        if measure is None:
            raise NotFound("找不到这条整改措施，请重新查询。")
        return measure
    return await measures.get_measure(session, ref.key or "")
