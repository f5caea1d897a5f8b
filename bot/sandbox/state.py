"""Plain data the sandbox keeps: users, chats, messages, calls, faults and statistics."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

from .entities import Entity
from .files import StoredFile

__all__ = [
    "BotMessage",
    "CallRecord",
    "CallbackAnswer",
    "Fault",
    "FileInfo",
    "Poll",
    "SandboxChat",
    "SandboxStats",
    "SandboxUser",
    "StoredMessage",
    "WebhookConfig",
    "WithDescription",
    "is_loopback_host",
    "json_copy",
    "scope_key",
    "without_reply",
]

_J = TypeVar("_J")


def json_copy(value: _J) -> _J:
    """A deep copy of JSON-shaped data (dicts, lists, scalars): what the sandbox stores and
    returns. copy.deepcopy does the same with a memo and a type dispatch per object, which
    made it the sandbox's largest cost per message sent."""
    return cast(_J, _json_copy(value))


def _json_copy(value: Any) -> Any:
    if type(value) is dict:
        return {key: _json_copy(item) for key, item in value.items()}
    if type(value) is list:
        return [_json_copy(item) for item in value]
    return value


def without_reply(data: dict[str, Any]) -> dict[str, Any]:
    """A copy of a message to nest as reply_to_message: Telegram nests replies one level deep only."""
    inner = json_copy(data)
    inner.pop("reply_to_message", None)
    return inner


JSONDict = dict[str, Any]


@dataclass
class SandboxUser:
    id: int
    first_name: str
    username: str | None = None
    last_name: str | None = None
    language_code: str | None = "zh-hans"
    # Telegram lets a bot write to a user only after the user opened the private chat.
    started: bool = False
    blocked: bool = False

    def to_api(self) -> JSONDict:
        data: JSONDict = {"id": self.id, "is_bot": False, "first_name": self.first_name}
        if self.last_name:
            data["last_name"] = self.last_name
        if self.username:
            data["username"] = self.username
        if self.language_code:
            data["language_code"] = self.language_code
        return data

    def to_json(self) -> JSONDict:
        return {**self.to_api(), "started": self.started, "blocked": self.blocked}


@dataclass
class SandboxChat:
    id: int
    type: str  # "private", "group" or "supergroup"
    title: str | None = None
    username: str | None = None
    member_ids: list[int] = field(default_factory=list)
    admin_ids: list[int] = field(default_factory=list)
    user: SandboxUser | None = None  # the other side of a private chat
    menu_button: JSONDict | None = None

    @property
    def is_group(self) -> bool:
        return self.type != "private"

    def to_api(self) -> JSONDict:
        """The short Chat object embedded in messages."""
        data: JSONDict = {"id": self.id, "type": self.type}
        if self.type == "private" and self.user is not None:
            user = self.user.to_api()
            data["first_name"] = user["first_name"]
            for key in ("last_name", "username"):
                if key in user:
                    data[key] = user[key]
        else:
            data["title"] = self.title or ""
            if self.username:
                data["username"] = self.username
        return data

    def to_json(self) -> JSONDict:
        return {**self.to_api(), "member_ids": list(self.member_ids), "admin_ids": list(self.admin_ids)}


@dataclass
class StoredMessage:
    """A message in a chat, from a user or from the bot, in its current state."""

    data: JSONDict  # the Telegram Message object as the bot would receive it
    from_bot: bool
    raw_text: str | None = None  # text/caption exactly as the bot submitted it
    parse_mode: str | None = None
    file: StoredFile | None = None
    reply_keyboard: JSONDict | None = None  # ReplyKeyboardMarkup/Remove/ForceReply sent with it
    options: JSONDict = field(default_factory=dict)  # disable_notification, protect_content...
    edit_count: int = 0
    deleted: bool = False

    @property
    def message_id(self) -> int:
        return int(self.data["message_id"])

    @property
    def chat_id(self) -> int:
        return int(self.data["chat"]["id"])

    def inline_buttons(self) -> list[JSONDict]:
        markup = self.data.get("reply_markup") or {}
        return [button for row in markup.get("inline_keyboard", []) for button in row]

    def view(self) -> BotMessage:
        data = self.data
        reply_to = data.get("reply_to_message")
        file_info = FileInfo.from_stored(self.file) if self.file is not None else None
        markup = data.get("reply_markup") or {}
        return BotMessage(
            message_id=self.message_id,
            chat_id=self.chat_id,
            text=data.get("text"),
            caption=data.get("caption"),
            raw_text=self.raw_text,
            parse_mode=self.parse_mode,
            entities=json_copy(data.get("entities") or data.get("caption_entities") or []),
            reply_markup=json_copy(markup.get("inline_keyboard", [])),
            reply_keyboard=json_copy(self.reply_keyboard),
            photo=file_info if self.file is not None and self.file.kind == "photo" else None,
            document=file_info if self.file is not None and self.file.kind == "document" else None,
            reply_to_message_id=int(reply_to["message_id"]) if reply_to else None,
            edit_count=self.edit_count,
            deleted=self.deleted,
            date=int(data["date"]),
            from_bot=self.from_bot,
            raw=json_copy(data),
            video=file_info if self.file is not None and self.file.kind == "video" else None,
        )


@dataclass(frozen=True)
class FileInfo:
    file_id: str
    file_unique_id: str
    file_name: str
    mime_type: str
    size: int
    data: bytes
    width: int = 0
    height: int = 0

    @classmethod
    def from_stored(cls, stored: StoredFile) -> FileInfo:
        return cls(
            stored.file_id,
            stored.file_unique_id,
            stored.file_name,
            stored.mime_type,
            stored.size,
            stored.data,
            stored.width,
            stored.height,
        )

    def to_json(self) -> JSONDict:
        return {
            "file_id": self.file_id,
            "file_unique_id": self.file_unique_id,
            "file_name": self.file_name,
            "mime_type": self.mime_type,
            "size": self.size,
            "width": self.width,
            "height": self.height,
            "download": f"/sandbox/files/{self.file_id}",
        }


@dataclass(frozen=True)
class BotMessage:
    """A snapshot of one message as the chat shows it (``text`` is already parsed, plain text)."""

    message_id: int
    chat_id: int
    text: str | None
    caption: str | None
    raw_text: str | None
    parse_mode: str | None
    entities: list[Entity]
    reply_markup: list[list[JSONDict]]  # inline keyboard rows of button dicts
    reply_keyboard: JSONDict | None
    photo: FileInfo | None
    document: FileInfo | None
    reply_to_message_id: int | None
    edit_count: int
    deleted: bool
    date: int
    from_bot: bool
    raw: JSONDict
    video: FileInfo | None = None

    @property
    def body(self) -> str:
        """Text or caption, whichever the message has."""
        return self.text if self.text is not None else (self.caption or "")

    @property
    def buttons(self) -> list[JSONDict]:
        return [button for row in self.reply_markup for button in row]

    @property
    def button_texts(self) -> list[str]:
        return [str(button.get("text", "")) for button in self.buttons]

    @property
    def callback_data(self) -> list[str | None]:
        return [button.get("callback_data") for button in self.buttons]

    def to_json(self) -> JSONDict:
        return {
            "message_id": self.message_id,
            "chat_id": self.chat_id,
            "text": self.text,
            "caption": self.caption,
            "raw_text": self.raw_text,
            "parse_mode": self.parse_mode,
            "entities": self.entities,
            "reply_markup": self.reply_markup,
            "reply_keyboard": self.reply_keyboard,
            "photo": self.photo.to_json() if self.photo else None,
            "document": self.document.to_json() if self.document else None,
            "video": self.video.to_json() if self.video else None,
            "reply_to_message_id": self.reply_to_message_id,
            "edit_count": self.edit_count,
            "deleted": self.deleted,
            "date": self.date,
            "from_bot": self.from_bot,
        }


@dataclass(frozen=True)
class CallRecord:
    """One Bot API request as the sandbox saw it."""

    method: str
    params: JSONDict
    time: float
    status: int
    error: str | None = None
    result: Any = None

    @property
    def ok(self) -> bool:
        return self.status == 200


@dataclass
class Fault:
    """Make the next ``times`` matching calls fail (error_code) and/or answer late (delay)."""

    method: str | None
    error_code: int | None
    description: str | None
    retry_after: int | None
    times: int
    delay: float
    chat_id: int | None

    def matches(self, method: str, chat_id: int | None) -> bool:
        if self.times <= 0:
            return False
        if self.method is not None and self.method.lower() != method.lower():
            return False
        return self.chat_id is None or self.chat_id == chat_id

    def to_json(self) -> JSONDict:
        return {
            "method": self.method,
            "error_code": self.error_code,
            "description": self.description,
            "retry_after": self.retry_after,
            "times": self.times,
            "delay": self.delay,
            "chat_id": self.chat_id,
        }


@dataclass(frozen=True)
class CallbackAnswer:
    callback_query_id: str
    user_id: int
    text: str | None
    show_alert: bool
    url: str | None
    cache_time: int

    def to_json(self) -> JSONDict:
        return {
            "callback_query_id": self.callback_query_id,
            "user_id": self.user_id,
            "text": self.text,
            "show_alert": self.show_alert,
            "url": self.url,
            "cache_time": self.cache_time,
        }


@dataclass
class SandboxStats:
    methods: Counter[str] = field(default_factory=Counter)  # calls per Bot API method
    errors: Counter[int] = field(default_factory=Counter)  # answers per error code
    deliveries: Counter[int] = field(default_factory=Counter)  # new bot messages per chat id
    edits: Counter[int] = field(default_factory=Counter)  # edits per chat id
    webhook_posts: int = 0
    webhook_failures: int = 0

    @property
    def rate_limited(self) -> int:
        """Number of 429 answers (flood control and injected ones)."""
        return self.errors[429]

    @property
    def total_deliveries(self) -> int:
        return sum(self.deliveries.values())

    def to_json(self) -> JSONDict:
        return {
            "methods": dict(self.methods),
            "errors": {str(code): count for code, count in self.errors.items()},
            "rate_limited": self.rate_limited,
            "deliveries": {str(chat): count for chat, count in self.deliveries.items()},
            "total_deliveries": self.total_deliveries,
            "edits": {str(chat): count for chat, count in self.edits.items()},
            "webhook_posts": self.webhook_posts,
            "webhook_failures": self.webhook_failures,
        }


@dataclass
class Poll:
    """One waiting getUpdates request."""

    event: asyncio.Event = field(default_factory=asyncio.Event)
    terminated: bool = False  # a newer getUpdates took over
    abandoned: bool = False  # the client hung up


@dataclass
class WebhookConfig:
    url: str
    secret_token: str | None
    max_connections: int
    allowed_updates: list[str] | None
    last_error_date: int | None = None
    last_error_message: str | None = None


@dataclass
class WithDescription:
    """A successful result that also carries Telegram's ``description`` (e.g. "Webhook was set")."""

    result: Any
    description: str


_LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})


def is_loopback_host(host: str) -> bool:
    return host.lower() in _LOOPBACK_HOSTS or host.startswith("127.")


def scope_key(scope: JSONDict | None) -> str:
    return json.dumps(scope or {"type": "default"}, sort_keys=True)
