"""The sandbox: an in-memory Telegram Bot API server plus the users who talk to the bot.

A ``Sandbox`` serves the Bot API over real HTTP (tornado on loopback), so an
unmodified python-telegram-bot ``Application`` can poll it or receive webhooks
from it.  Tests then act as users (``send_text``, ``press``...) and observe what
the bot sent (``messages``, ``wait_for_messages``).  The same operations are
exposed as a small JSON control API under ``/sandbox/`` for out-of-process
clients such as the terminal chat.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import itertools
import json
import logging
import time
import urllib.parse
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from types import TracebackType
from typing import Any, TypeVar

import httpx
import tornado.httpserver
import tornado.netutil
import tornado.web

from .api import BotApi
from .control import control_routes
from .entities import detect_entities, entity_text
from .errors import CONFLICT_POLLING, ApiError, SandboxError
from .files import FileStore, StoredFile
from .limits import RateLimiter, RateLimits
from .state import (
    BotMessage,
    CallbackAnswer,
    CallRecord,
    Fault,
    Poll,
    SandboxChat,
    SandboxStats,
    SandboxUser,
    StoredMessage,
    WebhookConfig,
    WithDescription,
    json_copy,
    scope_key,
    without_reply,
)

logger = logging.getLogger(__name__)

__all__ = ["DEFAULT_BOT_USERNAME", "DEFAULT_TOKEN", "Sandbox"]

DEFAULT_TOKEN = "123456:SANDBOX-TOKEN"
DEFAULT_BOT_USERNAME = "zhenggai_demo_bot"

JSONDict = dict[str, Any]
T = TypeVar("T")

# Update types a bot receives when it never passed allowed_updates (Telegram's default).
_DEFAULT_UPDATE_TYPES = frozenset(
    {
        "message",
        "edited_message",
        "channel_post",
        "edited_channel_post",
        "callback_query",
        "inline_query",
        "chosen_inline_result",
        "shipping_query",
        "pre_checkout_query",
        "poll",
        "poll_answer",
        "my_chat_member",
        "chat_join_request",
        "business_connection",
        "business_message",
        "edited_business_message",
        "deleted_business_messages",
        "purchased_paid_media",
        "message_reaction_count",
    }
)
_EVENT_LOG_LIMIT = 10_000


class Sandbox:
    """A local Telegram Bot API server with scriptable users.

    Use ``async with Sandbox() as sb:`` (or ``await sb.start()`` / ``await sb.stop()``)
    and point the bot at ``f"{sb.url}/bot"`` / ``f"{sb.url}/file/bot"``.
    """

    def __init__(
        self,
        token: str = DEFAULT_TOKEN,
        *,
        bot_username: str = DEFAULT_BOT_USERNAME,
        bot_name: str = "整改助手",
        host: str = "127.0.0.1",
        port: int = 0,
        limits: RateLimits | None = None,
        allow_remote_webhooks: bool = False,
        privacy_mode: bool = True,
        callback_query_timeout: float = 15.0,
        webhook_retry_delay: float = 0.1,
        webhook_timeout: float = 10.0,
    ) -> None:
        bot_id_text, sep, secret = token.partition(":")
        if not (bot_id_text.isdigit() and sep and secret):
            raise ValueError(f"token must look like '123456:ABC', got {token!r}")
        self.token = token
        self.bot_id = int(bot_id_text)
        self.bot_username = bot_username
        self.bot_name = bot_name
        self.host = host
        self.limits = limits if limits is not None else RateLimits()
        self.allow_remote_webhooks = allow_remote_webhooks
        self.privacy_mode = privacy_mode
        self.callback_query_timeout = callback_query_timeout
        self.webhook_retry_delay = webhook_retry_delay
        self.webhook_timeout = webhook_timeout

        self.users: dict[int, SandboxUser] = {}
        self.chats: dict[int, SandboxChat] = {}
        self.files = FileStore()
        self.calls: list[CallRecord] = []
        self.stats = SandboxStats()
        self.callback_answers: dict[str, CallbackAnswer] = {}
        self.limiter = RateLimiter(self.limits)
        self.faults: list[Fault] = []
        # (scope as canonical JSON, language_code) -> list of BotCommand dicts
        self.bot_commands: dict[tuple[str, str], list[JSONDict]] = {}
        self.descriptions: dict[str, str] = {}
        self.short_descriptions: dict[str, str] = {}
        self.bot_names: dict[str, str] = {}
        self.default_menu_button: JSONDict = {"type": "default"}
        self.allowed_updates: list[str] | None = None

        self._port = port
        self._server: tornado.httpserver.HTTPServer | None = None
        self._messages: dict[int, list[StoredMessage]] = {}
        self._message_index: dict[tuple[int, int], StoredMessage] = {}
        self._next_message_id: dict[int, int] = {}
        self._updates: list[JSONDict] = []
        self._update_ids = itertools.count(1)
        self._user_ids = itertools.count(10_001)
        self._group_ids = itertools.count(1)
        self._query_ids = itertools.count(1)
        self._callback_queries: dict[str, tuple[int, float]] = {}
        self._poll: Poll | None = None
        self._webhook: WebhookConfig | None = None
        self._webhook_task: asyncio.Task[None] | None = None
        self._webhook_wakeup = asyncio.Event()
        self._http: httpx.AsyncClient | None = None
        self._changed = asyncio.Event()
        self._seen: dict[int, int] = {}
        self._events: list[JSONDict] = []
        self._event_seq = itertools.count(1)
        self._stopping = False
        self._inflight = 0  # requests being handled, so stop() can let them finish
        self._idle = asyncio.Event()

        self._api = BotApi(self)

    # ------------------------------------------------------------------ lifecycle

    @property
    def port(self) -> int:
        return self._port

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self._port}"

    @property
    def base_url(self) -> str:
        """Value for ``ApplicationBuilder.base_url`` / ``Bot(base_url=...)``."""
        return f"{self.url}/bot"

    @property
    def base_file_url(self) -> str:
        return f"{self.url}/file/bot"

    async def start(self) -> None:
        if self._server is not None:
            return
        app = tornado.web.Application(
            [
                (r"/bot([^/]+)/([A-Za-z_]+)/?", _BotApiHandler, {"sandbox": self}),
                (r"/file/bot([^/]+)/(.+)", _FileDownloadHandler, {"sandbox": self}),
                *control_routes(self),
            ],
            log_function=_log_request,
        )
        sockets = tornado.netutil.bind_sockets(self._port, address=self.host)
        self._port = int(sockets[0].getsockname()[1])
        self._server = tornado.httpserver.HTTPServer(app, max_body_size=60 * 1024 * 1024)
        self._server.add_sockets(sockets)
        self._http = httpx.AsyncClient(trust_env=False, timeout=self.webhook_timeout)
        self._stopping = False
        logger.info("Telegram sandbox listening on %s (bot @%s)", self.url, self.bot_username)

    async def stop(self) -> None:
        if self._server is None:
            return
        self._stopping = True
        if self._poll is not None:
            self._poll.event.set()
        self._notify()
        await self._stop_webhook_worker()
        self._server.stop()
        # Let requests that were just woken up (long polls, event waits) answer before
        # their connections are cut, so clients see a clean response rather than a reset.
        if self._inflight:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._idle.wait(), 1.0)
        await self._server.close_all_connections()
        self._server = None
        if self._http is not None:
            await self._http.aclose()
            self._http = None
        logger.info("Telegram sandbox on port %s stopped", self._port)

    async def __aenter__(self) -> Sandbox:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    # ------------------------------------------------------------------ users and chats

    def bot_user(self) -> JSONDict:
        return {"id": self.bot_id, "is_bot": True, "first_name": self.bot_name, "username": self.bot_username}

    def add_user(
        self,
        first_name: str,
        *,
        user_id: int | None = None,
        username: str | None = None,
        last_name: str | None = None,
        language_code: str | None = "zh-hans",
        started: bool = False,
    ) -> SandboxUser:
        """Create a user; ``started=True`` pretends they already opened the private chat."""
        if user_id is None:
            user_id = next(self._user_ids)
            while user_id in self.users:
                user_id = next(self._user_ids)
        if user_id <= 0:
            raise SandboxError("user ids must be positive (negative ids are groups)")
        if user_id in self.users:
            raise SandboxError(f"user {user_id} already exists")
        user = SandboxUser(user_id, first_name, username, last_name, language_code, started=started)
        self.users[user_id] = user
        if started:
            self._private_chat(user)
        return user

    def user(self, user_id: int) -> SandboxUser:
        try:
            return self.users[user_id]
        except KeyError:
            raise SandboxError(f"unknown user {user_id}; create it with add_user() first") from None

    def add_group(
        self,
        title: str,
        member_ids: Iterable[int] = (),
        *,
        chat_id: int | None = None,
        supergroup: bool = False,
        username: str | None = None,
        admin_ids: Iterable[int] = (),
        bot_is_admin: bool = False,
    ) -> SandboxChat:
        """Create a group the bot is a member of.  The first admin (if any) is its creator."""
        members = list(member_ids)
        for member in members:
            self.user(member)
        if chat_id is None:
            number = next(self._group_ids)
            chat_id = -(1_000_000_000_000 + number) if supergroup else -(4_000_000 + number)
        if chat_id >= 0:
            raise SandboxError("group ids must be negative")
        if chat_id in self.chats:
            raise SandboxError(f"chat {chat_id} already exists")
        admins = list(admin_ids)
        if bot_is_admin:
            admins.append(self.bot_id)
        chat = SandboxChat(
            chat_id,
            "supergroup" if supergroup else "group",
            title=title,
            username=username,
            member_ids=members,
            admin_ids=admins,
        )
        self.chats[chat_id] = chat
        return chat

    def block(self, user_id: int, blocked: bool = True) -> None:
        """The user blocks (or unblocks) the bot: sends then fail with 403."""
        self.user(user_id).blocked = blocked

    def unblock(self, user_id: int) -> None:
        self.block(user_id, False)

    def _private_chat(self, user: SandboxUser) -> SandboxChat:
        chat = self.chats.get(user.id)
        if chat is None:
            chat = SandboxChat(user.id, "private", user=user, member_ids=[user.id])
            self.chats[user.id] = chat
        return chat

    def _chat_for_user(self, user: SandboxUser, chat_id: int | None) -> SandboxChat:
        if chat_id is None or chat_id == user.id:
            # Writing to the bot opens the chat; clients unblock a bot when you message it.
            user.started = True
            user.blocked = False
            return self._private_chat(user)
        chat = self.chats.get(chat_id)
        if chat is None or not chat.is_group:
            raise SandboxError(f"user {user.id} cannot write to chat {chat_id}: no such group")
        if user.id not in chat.member_ids:
            raise SandboxError(f"user {user.id} is not a member of group {chat_id}")
        return chat

    # ------------------------------------------------------------------ acting as users

    async def send_text(
        self,
        user_id: int,
        text: str,
        *,
        chat_id: int | None = None,
        reply_to: int | None = None,
    ) -> JSONDict:
        """The user writes ``text``; returns the Message dict the bot receives."""
        if not text:
            raise SandboxError("Telegram clients cannot send an empty message")
        user = self.user(user_id)
        chat = self._chat_for_user(user, chat_id)
        content: JSONDict = {"text": text}
        entities = detect_entities(text)
        if entities:
            content["entities"] = entities
        return self._user_message(user, chat, content, reply_to, None).data

    async def send_photo(
        self,
        user_id: int,
        data: bytes,
        *,
        filename: str = "photo.jpg",
        caption: str | None = None,
        chat_id: int | None = None,
        reply_to: int | None = None,
    ) -> JSONDict:
        return await self.send_file(user_id, data, "photo", filename=filename, caption=caption, chat_id=chat_id,
                                    reply_to=reply_to)

    async def send_document(
        self,
        user_id: int,
        data: bytes,
        *,
        filename: str,
        mime_type: str | None = None,
        caption: str | None = None,
        chat_id: int | None = None,
        reply_to: int | None = None,
    ) -> JSONDict:
        return await self.send_file(user_id, data, "document", filename=filename, mime_type=mime_type, caption=caption,
                                    chat_id=chat_id, reply_to=reply_to)

    async def send_video(
        self,
        user_id: int,
        data: bytes,
        *,
        filename: str = "video.mp4",
        caption: str | None = None,
        chat_id: int | None = None,
        reply_to: int | None = None,
    ) -> JSONDict:
        return await self.send_file(user_id, data, "video", filename=filename, caption=caption, chat_id=chat_id,
                                    reply_to=reply_to)

    async def send_voice(
        self, user_id: int, data: bytes, *, chat_id: int | None = None, reply_to: int | None = None
    ) -> JSONDict:
        """A voice note: what people often send instead of typing."""
        return await self.send_file(user_id, data, "voice", chat_id=chat_id, reply_to=reply_to)

    async def send_sticker(self, user_id: int, *, chat_id: int | None = None) -> JSONDict:
        return await self.send_file(user_id, b"RIFF-sticker-WEBP", "sticker", chat_id=chat_id)

    async def send_file(self, user_id: int, data: bytes, kind: str, *, filename: str | None = None,
                        mime_type: str | None = None, caption: str | None = None, chat_id: int | None = None,
                        reply_to: int | None = None) -> JSONDict:
        """The user sends a file of `kind` (photo, document, video, voice or sticker)."""
        user = self.user(user_id)
        chat = self._chat_for_user(user, chat_id)
        stored = self.files.add(data, kind=kind, file_name=filename, mime_type=mime_type)
        content: JSONDict = stored.message_content()
        self._add_caption(content, caption)
        return self._user_message(user, chat, content, reply_to, stored).data

    @staticmethod
    def _add_caption(content: JSONDict, caption: str | None) -> None:
        if caption:
            content["caption"] = caption
            entities = detect_entities(caption)
            if entities:
                content["caption_entities"] = entities

    async def press(
        self,
        user_id: int,
        message_id: int,
        *,
        chat_id: int | None = None,
        index: int | None = None,
        data: str | None = None,
    ) -> str:
        """Press an inline button (by flat 0-based ``index`` or by ``data``); returns the query id."""
        if (index is None) == (data is None):
            raise SandboxError("press() needs exactly one of index= or data=")
        user = self.user(user_id)
        chat = self._chat_for_user(user, chat_id)
        stored = self._message_index.get((chat.id, message_id))
        if stored is None or not stored.from_bot:
            raise SandboxError(f"there is no bot message {message_id} in chat {chat.id}")
        if stored.deleted:
            raise SandboxError(f"message {message_id} in chat {chat.id} was deleted")
        buttons = stored.inline_buttons()
        if not buttons:
            raise SandboxError(f"message {message_id} in chat {chat.id} has no inline buttons")
        if index is not None:
            if not 0 <= index < len(buttons):
                raise SandboxError(
                    f"message {message_id} has {len(buttons)} buttons; index {index} is out of range"
                )
            button = buttons[index]
        else:
            matching = [b for b in buttons if b.get("callback_data") == data]
            if not matching:
                available = [b.get("callback_data") for b in buttons]
                raise SandboxError(
                    f"message {message_id} has no button with data {data!r}; it has {available}"
                )
            button = matching[0]
        callback_data = button.get("callback_data")
        if callback_data is None:
            kind = next((k for k in button if k != "text"), "unknown")
            raise SandboxError(f"button {button.get('text')!r} is a {kind} button, not a callback button")
        query_id = str(4_000_000_000_000_000 + next(self._query_ids))
        query: JSONDict = {
            "id": query_id,
            "from": user.to_api(),
            "message": json_copy(stored.data),
            "chat_instance": str(abs(chat.id) * 7919 + 104_729),
            "data": callback_data,
        }
        self._callback_queries[query_id] = (user.id, time.monotonic())
        self._enqueue_update("callback_query", query)
        return query_id

    def _user_message(
        self,
        user: SandboxUser,
        chat: SandboxChat,
        content: JSONDict,
        reply_to: int | None,
        file: StoredFile | None,
    ) -> StoredMessage:
        data: JSONDict = {
            "message_id": self._allocate_message_id(chat.id),
            "from": user.to_api(),
            "chat": chat.to_api(),
            "date": int(time.time()),
        }
        if reply_to is not None:
            target = self._message_index.get((chat.id, reply_to))
            if target is None or target.deleted:
                raise SandboxError(f"cannot reply to message {reply_to}: not found in chat {chat.id}")
            data["reply_to_message"] = without_reply(target.data)
        data.update(content)
        stored = StoredMessage(data=data, from_bot=False, file=file)
        self._store(stored)
        if self._bot_sees(chat, stored):
            self._enqueue_update("message", data)
        else:
            logger.info(
                "privacy mode: the bot does not see message %s in group %s", data["message_id"], chat.id
            )
        return stored

    def _bot_sees(self, chat: SandboxChat, stored: StoredMessage) -> bool:
        """Privacy mode, simplified: groups deliver commands, mentions and replies to the bot."""
        if not chat.is_group or not self.privacy_mode or self.bot_id in chat.admin_ids:
            return True
        data = stored.data
        reply = data.get("reply_to_message")
        if reply and reply.get("from", {}).get("id") == self.bot_id:
            return True
        text = data.get("text") or data.get("caption") or ""
        for entity in data.get("entities") or data.get("caption_entities") or []:
            piece = entity_text(text, entity)
            if entity["type"] == "bot_command":
                _, at, target = piece.partition("@")
                if not at or target.lower() == self.bot_username.lower():
                    return True
            elif entity["type"] == "mention" and piece[1:].lower() == self.bot_username.lower():
                return True
        return False

    # ------------------------------------------------------------------ observing the bot

    def messages(self, chat_id: int, *, include_deleted: bool = False) -> list[BotMessage]:
        """The bot's messages in a chat, oldest first, as they look now."""
        return [m.view() for m in self._bot_messages(chat_id) if include_deleted or not m.deleted]

    def message(self, chat_id: int, message_id: int) -> BotMessage:
        stored = self._message_index.get((chat_id, message_id))
        if stored is None:
            raise SandboxError(f"no message {message_id} in chat {chat_id}")
        return stored.view()

    def history(self, chat_id: int) -> list[BotMessage]:
        """Every message in the chat, from users and the bot, including deleted ones."""
        return [m.view() for m in self._messages.get(chat_id, [])]

    def last_message(self, chat_id: int) -> BotMessage:
        current = self.messages(chat_id)
        if not current:
            raise SandboxError(f"the bot has not sent anything to chat {chat_id}")
        return current[-1]

    def _bot_messages(self, chat_id: int) -> list[StoredMessage]:
        return [m for m in self._messages.get(chat_id, []) if m.from_bot]

    async def wait_for_messages(self, chat_id: int, count: int = 1, timeout: float = 5.0) -> list[BotMessage]:
        """Wait for the next ``count`` bot messages in ``chat_id`` that no earlier wait returned."""
        cursor = self._seen.get(chat_id, 0)

        def arrived() -> list[StoredMessage]:
            return self._bot_messages(chat_id)[cursor:]

        try:
            await self.wait_until(lambda: len(arrived()) >= count, timeout=timeout)
        except TimeoutError:
            got = [m.view() for m in arrived()]
            summary = "; ".join(f"#{m.message_id}: {m.body[:80]!r}" for m in got) or "nothing"
            raise TimeoutError(
                f"expected {count} new bot message(s) in chat {chat_id} within {timeout}s, "
                f"got {len(got)}: {summary}"
            ) from None
        result = arrived()[:count]
        self._seen[chat_id] = cursor + count
        return [m.view() for m in result]

    async def wait_until(self, predicate: Callable[[], T | None], timeout: float = 5.0) -> T:
        """Re-evaluate ``predicate`` on every sandbox change until it is truthy; return its value."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            changed = self._changed
            value = predicate()
            if value:
                return value
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(f"condition not met within {timeout}s")
            try:
                await asyncio.wait_for(changed.wait(), remaining)
            except TimeoutError:
                continue

    async def wait_for_call(self, method: str, timeout: float = 5.0) -> CallRecord:
        """Wait for the next call of ``method`` after now (case-insensitive)."""
        start = len(self.calls)

        def found() -> CallRecord | None:
            return next((c for c in self.calls[start:] if c.method.lower() == method.lower()), None)

        return await self.wait_until(found, timeout=timeout)

    def calls_to(self, method: str) -> list[CallRecord]:
        return [c for c in self.calls if c.method.lower() == method.lower()]

    def commands(self, scope: JSONDict | None = None, language_code: str = "") -> list[JSONDict]:
        return json_copy(self.bot_commands.get((scope_key(scope), language_code), []))

    def _begin_request(self) -> None:
        self._inflight += 1
        self._idle.clear()

    def _end_request(self) -> None:
        self._inflight -= 1
        if self._inflight == 0:
            self._idle.set()

    @property
    def is_stopping(self) -> bool:
        return self._stopping

    @property
    def pending_update_count(self) -> int:
        return len(self._updates)

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    # ------------------------------------------------------------------ faults

    def inject(
        self,
        method: str | None = "sendMessage",
        error_code: int | None = None,
        description: str | None = None,
        retry_after: int | None = None,
        times: int = 1,
        delay: float = 0.0,
        chat_id: int | None = None,
    ) -> Fault:
        """Make the next ``times`` calls of ``method`` (None = any) fail and/or answer after ``delay``.

        A delay without an error code still performs the call after sleeping, like a
        real server whose answer arrives after the client gave up.
        """
        if error_code is None and delay <= 0:
            raise SandboxError("inject() needs an error_code, a delay, or both")
        if error_code == 429 and retry_after is None:
            retry_after = 1
        fault = Fault(method, error_code, description, retry_after, times, delay, chat_id)
        self.faults.append(fault)
        return fault

    def clear_faults(self) -> None:
        self.faults.clear()

    def _take_fault(self, method: str, chat_id: int | None) -> Fault | None:
        for fault in self.faults:
            if fault.matches(method, chat_id):
                fault.times -= 1
                if fault.times <= 0:
                    self.faults.remove(fault)
                return fault
        return None

    # ------------------------------------------------------------------ messages store

    def _allocate_message_id(self, chat_id: int) -> int:
        next_id = self._next_message_id.get(chat_id, 1)
        self._next_message_id[chat_id] = next_id + 1
        return next_id

    def _store(self, stored: StoredMessage) -> None:
        self._messages.setdefault(stored.chat_id, []).append(stored)
        self._message_index[(stored.chat_id, stored.message_id)] = stored
        self._notify()

    def _find_message(self, chat_id: int, message_id: int) -> StoredMessage | None:
        return self._message_index.get((chat_id, message_id))

    def _emit_event(self, kind: str, chat_id: int, **payload: Any) -> None:
        event = {
            "seq": next(self._event_seq),
            "type": kind,
            "chat_id": chat_id,
            "time": time.time(),
            **payload,
        }
        self._events.append(event)
        if len(self._events) > _EVENT_LOG_LIMIT:
            del self._events[: len(self._events) - _EVENT_LOG_LIMIT]
        self._notify()

    def events_after(self, seq: int, chat_id: int | None = None) -> list[JSONDict]:
        # Sequence numbers only grow, so bisect instead of scanning the whole log on every wake-up.
        start = bisect.bisect_right(self._events, seq, key=lambda e: int(e["seq"]))
        return [e for e in self._events[start:] if chat_id is None or e["chat_id"] == chat_id]

    @property
    def last_event_seq(self) -> int:
        return int(self._events[-1]["seq"]) if self._events else 0

    # ------------------------------------------------------------------ updates

    def _enqueue_update(self, kind: str, payload: JSONDict) -> None:
        allowed = self.allowed_updates
        if self._webhook is not None and self._webhook.allowed_updates is not None:
            allowed = self._webhook.allowed_updates
        allowed_set = frozenset(allowed) if allowed else _DEFAULT_UPDATE_TYPES
        if kind not in allowed_set:
            logger.info("dropping %s update: not in allowed_updates %s", kind, sorted(allowed_set))
            return
        update = {"update_id": next(self._update_ids), kind: json_copy(payload)}
        self._updates.append(update)
        if self._poll is not None:
            self._poll.event.set()
        self._webhook_wakeup.set()
        self._notify()

    def _confirm_updates(self, offset: int | None) -> None:
        if offset is None:
            return
        if offset < 0:
            # A negative offset keeps only the last -offset updates, forgetting the rest.
            keep = -offset
            self._updates = self._updates[-keep:] if keep < len(self._updates) else self._updates
        else:
            self._updates = [u for u in self._updates if u["update_id"] >= offset]

    def _drop_pending_updates(self) -> None:
        self._updates.clear()

    # ------------------------------------------------------------------ webhook delivery

    async def _set_webhook(self, webhook: WebhookConfig) -> None:
        await self._stop_webhook_worker()
        self._webhook = webhook
        if self._poll is not None:
            # A long poll in progress must learn that polling is no longer allowed.
            self._poll.event.set()
        self._webhook_wakeup.set()
        self._webhook_task = asyncio.create_task(self._deliver_webhooks(webhook), name="sandbox-webhook")

    async def _delete_webhook(self) -> None:
        await self._stop_webhook_worker()
        self._webhook = None

    async def _stop_webhook_worker(self) -> None:
        task, self._webhook_task = self._webhook_task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _deliver_webhooks(self, webhook: WebhookConfig) -> None:
        """POST pending updates one at a time, in order, retrying with backoff on failure."""
        backoff = self.webhook_retry_delay
        while True:
            if not self._updates:
                self._webhook_wakeup.clear()
                await self._webhook_wakeup.wait()
                continue
            update = self._updates[0]
            error = await self._post_update(webhook, update)
            if error is None:
                if self._updates and self._updates[0] is update:
                    self._updates.pop(0)
                backoff = self.webhook_retry_delay
                self._notify()
                continue
            webhook.last_error_date = int(time.time())
            webhook.last_error_message = error
            self.stats.webhook_failures += 1
            logger.info("webhook delivery of update %s failed: %s", update["update_id"], error)
            self._notify()
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 2.0)

    async def _post_update(self, webhook: WebhookConfig, update: JSONDict) -> str | None:
        assert self._http is not None
        headers = {"Content-Type": "application/json"}
        if webhook.secret_token:
            headers["X-Telegram-Bot-Api-Secret-Token"] = webhook.secret_token
        self.stats.webhook_posts += 1
        try:
            response = await self._http.post(webhook.url, content=json.dumps(update), headers=headers)
        except httpx.TimeoutException:
            return "Read timeout expired"
        except httpx.ConnectError:
            return "Connection refused"
        except httpx.HTTPError as exc:
            return f"Connection error: {exc.__class__.__name__}"
        if 200 <= response.status_code < 300:
            return None
        return f"Wrong response from the webhook: {response.status_code} {response.reason_phrase}"

    # ------------------------------------------------------------------ HTTP entry point

    async def _dispatch(
        self,
        token: str,
        method: str,
        params: JSONDict,
        files: dict[str, tuple[str, bytes, str]],
        on_close: Callable[[Callable[[], None]], None],
    ) -> tuple[int, JSONDict]:
        """Authenticate, apply faults, run one Bot API method; returns (HTTP status, body)."""
        recorded = {k: v for k, v in params.items()}
        for name, (filename, data, _) in files.items():
            recorded[name] = f"<file {filename}, {len(data)} bytes>"
        if token != self.token:
            error = ApiError(401, "Unauthorized")
            return self._record(method, recorded, error.error_code, error.to_json(), error.description)
        implementation = self._api.lookup(method)
        if implementation is None:
            error = ApiError(404, "Not Found")
            return self._record(method, recorded, error.error_code, error.to_json(), error.description)
        canonical, handler = implementation
        self.stats.methods[canonical] += 1
        fault = self._take_fault(canonical, _maybe_int(params.get("chat_id")))
        try:
            if fault is not None and fault.delay > 0:
                await asyncio.sleep(fault.delay)
            if fault is not None and fault.error_code is not None:
                raise _fault_error(fault)
            result = await handler(_Request(params, files, on_close))
        except ApiError as api_error:
            return self._record(
                canonical, recorded, api_error.error_code, api_error.to_json(), api_error.description
            )
        except Exception:
            logger.exception("sandbox crashed while handling %s", canonical)
            crash = ApiError(500, "Internal Server Error: the sandbox crashed, see its log")
            return self._record(canonical, recorded, 500, crash.to_json(), crash.description)
        body: JSONDict = {"ok": True}
        if isinstance(result, WithDescription):
            body["result"] = result.result
            body["description"] = result.description
        else:
            body["result"] = result
        return self._record(canonical, recorded, 200, body, None)

    def _record(
        self, method: str, params: JSONDict, status: int, body: JSONDict, error: str | None
    ) -> tuple[int, JSONDict]:
        if status != 200:
            self.stats.errors[status] += 1
            log = logger.info if status >= 400 else logger.debug
            log("%s -> %s %s", method, status, error)
        self.calls.append(CallRecord(method, params, time.time(), status, error, body.get("result")))
        self._notify()  # wake wait_until/wait_for_call waiters that watch the call log
        return status, body


@dataclass
class _Request:
    params: JSONDict
    files: dict[str, tuple[str, bytes, str]]  # field -> (filename, data, content type)
    on_close: Callable[[Callable[[], None]], None]


BotMethod = Callable[[_Request], Awaitable[Any]]


def _fault_error(fault: Fault) -> ApiError:
    code = fault.error_code or 500
    defaults = {
        400: "Bad Request: injected fault",
        401: "Unauthorized",
        403: "Forbidden: bot was blocked by the user",
        404: "Not Found",
        409: CONFLICT_POLLING,
        500: "Internal Server Error",
        502: "Bad Gateway",
        503: "Service Unavailable",
        504: "Gateway Timeout",
    }
    if code == 429:
        retry_after = fault.retry_after or 1
        return ApiError(
            429, fault.description or f"Too Many Requests: retry after {retry_after}", retry_after=retry_after
        )
    return ApiError(code, fault.description or defaults.get(code, f"Error {code}"))


def _maybe_int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None



def _log_request(handler: tornado.web.RequestHandler) -> None:
    request = handler.request
    logger.debug("%s %s -> %s", request.method, request.path, handler.get_status())


class _BotApiHandler(tornado.web.RequestHandler):
    """Serves /bot<token>/<method> for GET and POST in every body encoding Telegram accepts."""

    def initialize(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self._close_callbacks: list[Callable[[], None]] = []

    def on_connection_close(self) -> None:
        for callback in self._close_callbacks:
            callback()

    async def get(self, token: str, method: str) -> None:
        await self._serve(token, method)

    async def post(self, token: str, method: str) -> None:
        await self._serve(token, method)

    async def _serve(self, token: str, method: str) -> None:
        try:
            params, files = self._parse()
        except ApiError as error:
            self._send(error.error_code, error.to_json())
            return
        self.sandbox._begin_request()
        try:
            status, body = await self.sandbox._dispatch(
                token, method, params, files, self._close_callbacks.append
            )
            self._send(status, body)
        finally:
            self.sandbox._end_request()

    def _parse(self) -> tuple[JSONDict, dict[str, tuple[str, bytes, str]]]:
        request = self.request
        params: JSONDict = {
            name: values[-1].decode("utf-8", "replace") for name, values in request.query_arguments.items()
        }
        content_type = request.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if content_type == "application/json" and request.body:
            try:
                body = json.loads(request.body)
            except ValueError:
                raise ApiError.bad_request("can't parse JSON request body") from None
            if not isinstance(body, dict):
                raise ApiError.bad_request("JSON request body must be an object")
            params.update(body)
        else:
            for name, values in request.body_arguments.items():
                params[name] = values[-1].decode("utf-8", "replace")
        files = {
            name: (uploads[-1].filename, uploads[-1].body, uploads[-1].content_type)
            for name, uploads in request.files.items()
        }
        return params, files

    def _send(self, status: int, body: JSONDict) -> None:
        if self.request.connection is None or self._finished:
            return
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(body, ensure_ascii=False))


class _FileDownloadHandler(tornado.web.RequestHandler):
    def initialize(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox

    def get(self, token: str, file_path: str) -> None:
        if token != self.sandbox.token:
            self._error(ApiError(401, "Unauthorized"))
            return
        stored = self.sandbox.files.by_path(urllib.parse.unquote(file_path))
        if stored is None:
            self._error(ApiError(404, "Not Found"))
            return
        self.set_header("Content-Type", stored.mime_type)
        self.finish(stored.data)

    def _error(self, error: ApiError) -> None:
        self.set_status(error.error_code)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(error.to_json()))
