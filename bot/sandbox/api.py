"""Bot API method implementations, validating input the way Telegram does.

Every method receives the request parameters in whatever form the client used
(PTB sends form fields with nested objects as JSON strings and ``chat_id`` as a
string; other clients send real JSON), and answers with Telegram's objects or
raises ``ApiError`` with Telegram's error text.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import time
import urllib.parse
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from .entities import Entity, merge_auto_entities, strip_text, utf16_len
from .errors import CONFLICT_POLLING, CONFLICT_WEBHOOK, ApiError
from .files import StoredFile
from .html import EntityParseError, parse_html
from .markdown import parse_markdown, parse_markdown_v2
from .state import (
    CallbackAnswer,
    Poll,
    SandboxChat,
    StoredMessage,
    WebhookConfig,
    WithDescription,
    is_loopback_host,
    json_copy,
    scope_key,
    without_reply,
)

if TYPE_CHECKING:
    from .server import Sandbox, _Request

logger = logging.getLogger(__name__)

JSONDict = dict[str, Any]
Handler = Callable[["_Request"], Awaitable[Any]]

MESSAGE_LIMIT = 4096
CAPTION_LIMIT = 1024
CALLBACK_DATA_LIMIT = 64

_NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup are exactly the same "
    "as a current content and reply markup of the message"
)
_QUERY_TOO_OLD = "query is too old and response timeout expired or query ID is invalid"
_COMMAND_RE = re.compile(r"^[a-z0-9_]{1,32}$")
_SECRET_RE = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
_CHAT_ACTIONS = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)
_UPDATE_TYPES = frozenset(
    {
        "message",
        "edited_message",
        "channel_post",
        "edited_channel_post",
        "business_connection",
        "business_message",
        "edited_business_message",
        "deleted_business_messages",
        "message_reaction",
        "message_reaction_count",
        "inline_query",
        "chosen_inline_result",
        "callback_query",
        "shipping_query",
        "pre_checkout_query",
        "purchased_paid_media",
        "poll",
        "poll_answer",
        "my_chat_member",
        "chat_member",
        "chat_join_request",
        "chat_boost",
        "removed_chat_boost",
    }
)

# Real Bot API methods the sandbox does not implement: answered with a clear 400
# instead of the 404 Telegram gives for names it does not know.
KNOWN_UNSUPPORTED = frozenset(
    [
        "sendAudio",
        "sendAnimation",
        "sendVoice",
        "sendVideoNote",
        "sendPaidMedia",
        "sendMediaGroup",
        "sendLocation",
        "sendVenue",
        "sendContact",
        "sendPoll",
        "sendChecklist",
        "sendDice",
        "sendSticker",
        "sendInvoice",
        "sendGame",
        "sendGift",
        "sendMessageDraft",
        "editMessageMedia",
        "editMessageLiveLocation",
        "stopMessageLiveLocation",
        "editMessageChecklist",
        "stopPoll",
        "setMessageReaction",
        "getUserProfilePhotos",
        "getUserChatBoosts",
        "setUserEmojiStatus",
        "banChatMember",
        "unbanChatMember",
        "restrictChatMember",
        "promoteChatMember",
        "setChatAdministratorCustomTitle",
        "banChatSenderChat",
        "unbanChatSenderChat",
        "setChatPermissions",
        "exportChatInviteLink",
        "createChatInviteLink",
        "editChatInviteLink",
        "createChatSubscriptionInviteLink",
        "editChatSubscriptionInviteLink",
        "revokeChatInviteLink",
        "approveChatJoinRequest",
        "declineChatJoinRequest",
        "setChatPhoto",
        "deleteChatPhoto",
        "setChatTitle",
        "setChatDescription",
        "unpinChatMessage",
        "unpinAllChatMessages",
        "leaveChat",
        "setChatStickerSet",
        "deleteChatStickerSet",
        "getForumTopicIconStickers",
        "createForumTopic",
        "editForumTopic",
        "closeForumTopic",
        "reopenForumTopic",
        "deleteForumTopic",
        "unpinAllForumTopicMessages",
        "editGeneralForumTopic",
        "closeGeneralForumTopic",
        "reopenGeneralForumTopic",
        "hideGeneralForumTopic",
        "unhideGeneralForumTopic",
        "unpinAllGeneralForumTopicMessages",
        "getBusinessConnection",
        "setMyDefaultAdministratorRights",
        "getMyDefaultAdministratorRights",
        "answerInlineQuery",
        "answerWebAppQuery",
        "savePreparedInlineMessage",
        "answerShippingQuery",
        "answerPreCheckoutQuery",
        "getStarTransactions",
        "refundStarPayment",
        "editUserStarSubscription",
        "setPassportDataErrors",
        "setGameScore",
        "getGameHighScores",
        "getStickerSet",
        "getCustomEmojiStickers",
        "uploadStickerFile",
        "createNewStickerSet",
        "addStickerToSet",
        "setStickerPositionInSet",
        "deleteStickerFromSet",
        "replaceStickerInSet",
        "setStickerEmojiList",
        "setStickerKeywords",
        "setStickerMaskPosition",
        "setStickerSetTitle",
        "setStickerSetThumbnail",
        "setCustomEmojiStickerSetThumbnail",
        "deleteStickerSet",
        "getAvailableGifts",
        "verifyUser",
        "verifyChat",
        "removeUserVerification",
        "removeChatVerification",
        "readBusinessMessage",
        "deleteBusinessMessages",
        "copyMessages",
        "forwardMessages",
        "getUserProfileAudios",
    ]
)


class _Params:
    """Typed access to request parameters that may be strings (forms) or JSON values."""

    def __init__(self, values: JSONDict) -> None:
        self.values = values

    def has(self, name: str) -> bool:
        value = self.values.get(name)
        return value is not None and value != ""

    def string(self, name: str) -> str | None:
        value = self.values.get(name)
        if value is None:
            return None
        if isinstance(value, str):
            return value
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, int | float):
            return str(value)
        raise ApiError.bad_request(f'field "{name}" must be of type String')

    def integer(self, name: str) -> int | None:
        value = self.values.get(name)
        if value is None or value == "":
            return None
        if isinstance(value, bool):
            raise ApiError.bad_request(f'field "{name}" must be of type Integer')
        if isinstance(value, int):
            return value
        try:
            return int(str(value).strip())
        except ValueError:
            raise ApiError.bad_request(f'field "{name}" must be of type Integer') from None

    def number(self, name: str) -> float | None:
        value = self.values.get(name)
        if value is None or value == "":
            return None
        try:
            return float(value)
        except (TypeError, ValueError):
            raise ApiError.bad_request(f'field "{name}" must be of type Number') from None

    def flag(self, name: str) -> bool:
        value = self.values.get(name)
        if isinstance(value, bool):
            return value
        if value is None:
            return False
        return str(value).strip().lower() in ("true", "1", "yes", "on")

    def decoded(self, name: str, error: str | None = None) -> Any:
        value = self.values.get(name)
        if value is None or value == "":
            return None
        if isinstance(value, str):
            try:
                return json.loads(value)
            except ValueError:
                raise ApiError.bad_request(error or f"can't parse {name} JSON object") from None
        return value


class BotApi:
    """The method table; ``lookup`` maps a (case-insensitive) method name to its handler."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sb = sandbox
        table: dict[str, Handler] = {
            "getMe": self.get_me,
            "logOut": self.ok,
            "close": self.ok,
            "getUpdates": self.get_updates,
            "setWebhook": self.set_webhook,
            "deleteWebhook": self.delete_webhook,
            "getWebhookInfo": self.get_webhook_info,
            "sendMessage": self.send_message,
            "sendPhoto": self.send_photo,
            "sendDocument": self.send_document,
            "sendVideo": self.send_video,
            "copyMessage": self.copy_message,
            "forwardMessage": self.forward_message,
            "editMessageText": self.edit_message_text,
            "editMessageCaption": self.edit_message_caption,
            "editMessageReplyMarkup": self.edit_message_reply_markup,
            "deleteMessage": self.delete_message,
            "deleteMessages": self.delete_messages,
            "pinChatMessage": self.pin_chat_message,
            "answerCallbackQuery": self.answer_callback_query,
            "sendChatAction": self.send_chat_action,
            "getFile": self.get_file,
            "setMyCommands": self.set_my_commands,
            "getMyCommands": self.get_my_commands,
            "deleteMyCommands": self.delete_my_commands,
            "setChatMenuButton": self.set_chat_menu_button,
            "getChatMenuButton": self.get_chat_menu_button,
            "getChat": self.get_chat,
            "getChatMember": self.get_chat_member,
            "getChatAdministrators": self.get_chat_administrators,
            "getChatMemberCount": self.get_chat_member_count,
            "setMyDescription": self.set_my_description,
            "getMyDescription": self.get_my_description,
            "setMyShortDescription": self.set_my_short_description,
            "getMyShortDescription": self.get_my_short_description,
            "setMyName": self.set_my_name,
            "getMyName": self.get_my_name,
        }
        self._table = {name.lower(): (name, handler) for name, handler in table.items()}
        self._unsupported = {name.lower(): name for name in KNOWN_UNSUPPORTED}

    def lookup(self, method: str) -> tuple[str, Handler] | None:
        found = self._table.get(method.lower())
        if found is not None:
            return found
        known = self._unsupported.get(method.lower())
        if known is not None:
            return known, self._unsupported_handler(known)
        return None

    @staticmethod
    def _unsupported_handler(name: str) -> Handler:
        async def handler(request: _Request) -> Any:
            raise ApiError.bad_request(f"method not supported by the sandbox: {name}")

        return handler

    # ------------------------------------------------------------------ helpers

    def _target_chat(self, p: _Params, *, for_sending: bool = True) -> SandboxChat:
        """Resolve chat_id and apply Telegram's access rules for the bot."""
        raw = p.values.get("chat_id")
        if raw is None or raw == "":
            raise ApiError.bad_request("chat_id is empty")
        chat: SandboxChat | None = None
        if isinstance(raw, str) and raw.strip().startswith("@"):
            name = raw.strip()[1:].lower()
            chat = next(
                (c for c in self.sb.chats.values() if c.username and c.username.lower() == name), None
            )
        else:
            try:
                chat_id = int(str(raw).strip())
            except ValueError:
                raise ApiError.bad_request("chat not found") from None
            chat = self.sb.chats.get(chat_id)
            if chat is None and chat_id in self.sb.users:
                user = self.sb.users[chat_id]
                if not user.started:
                    raise ApiError.forbidden("bot can't initiate conversation with a user")
        if chat is None:
            raise ApiError.bad_request("chat not found")
        if chat.type == "private" and chat.user is not None:
            if chat.user.blocked:
                raise ApiError.forbidden("bot was blocked by the user")
            if not chat.user.started:
                raise ApiError.forbidden("bot can't initiate conversation with a user")
        return chat

    def _format(
        self,
        p: _Params,
        text: str,
        *,
        mode_field: str,
        entities_field: str,
        limit: int,
        too_long: str,
    ) -> tuple[str, list[Entity]]:
        parse_mode = p.string(mode_field)
        explicit = p.decoded(entities_field, f"can't parse {entities_field} JSON object")
        try:
            if parse_mode:
                mode = parse_mode.strip().lower()
                if mode == "html":
                    plain, entities = parse_html(text)
                elif mode == "markdownv2":
                    plain, entities = parse_markdown_v2(text)
                elif mode == "markdown":
                    plain, entities = parse_markdown(text)
                else:
                    raise ApiError.bad_request(f"unsupported parse_mode {parse_mode!r}")
            elif explicit is not None:
                plain, entities = text, self._validate_entities(explicit, text)
            else:
                plain, entities = text, []
        except EntityParseError as error:
            raise ApiError.bad_request(f"can't parse entities: {error}") from None
        plain, entities = strip_text(plain, entities)
        if utf16_len(plain) > limit:
            raise ApiError.bad_request(too_long)
        entities = merge_auto_entities(plain, entities)
        for entity in entities:
            url = entity.get("url", "")
            if entity["type"] == "text_link" and url.startswith("tg://user?id="):
                user = (
                    self.sb.users.get(int(url.split("=", 1)[1])) if url.split("=", 1)[1].isdigit() else None
                )
                if user is not None:
                    entity["type"] = "text_mention"
                    entity.pop("url")
                    entity["user"] = user.to_api()
        return plain, entities

    @staticmethod
    def _validate_entities(raw: Any, text: str) -> list[Entity]:
        if not isinstance(raw, list):
            raise ApiError.bad_request("can't parse entities JSON object")
        total = utf16_len(text)
        entities: list[Entity] = []
        for item in raw:
            if not isinstance(item, dict) or not isinstance(item.get("type"), str):
                raise ApiError.bad_request('can\'t parse MessageEntity: field "type" must be of type String')
            try:
                offset, length = int(item["offset"]), int(item["length"])
            except (KeyError, TypeError, ValueError):
                raise ApiError.bad_request(
                    "can't parse MessageEntity: offset and length are required"
                ) from None
            if offset < 0 or length <= 0 or offset + length > total:
                raise ApiError.bad_request("entity beginning or end is out of the text")
            entities.append(dict(item))
        return entities

    def _message_text(self, p: _Params, field: str = "text") -> tuple[str, list[Entity], str]:
        raw = p.string(field) or ""
        if not raw.strip():
            raise ApiError.bad_request("message text is empty")
        plain, entities = self._format(
            p,
            raw,
            mode_field="parse_mode",
            entities_field="entities",
            limit=MESSAGE_LIMIT,
            too_long="message is too long",
        )
        if not plain:
            raise ApiError.bad_request("message text is empty")
        return plain, entities, raw

    def _caption(self, p: _Params) -> tuple[str | None, list[Entity], str | None]:
        raw = p.string("caption")
        if raw is None or not raw.strip():
            return None, [], raw
        plain, entities = self._format(
            p,
            raw,
            mode_field="parse_mode",
            entities_field="caption_entities",
            limit=CAPTION_LIMIT,
            too_long="message caption is too long",
        )
        return plain or None, entities, raw

    def _reply_markup(
        self, p: _Params, *, inline_only: bool = False
    ) -> tuple[JSONDict | None, JSONDict | None]:
        """Returns (inline markup for the Message, other markup kept aside)."""
        markup = p.decoded("reply_markup", "can't parse reply keyboard markup JSON object")
        if markup is None:
            return None, None
        if not isinstance(markup, dict):
            raise ApiError.bad_request("can't parse reply keyboard markup JSON object")
        if "inline_keyboard" in markup:
            return _validate_inline_keyboard(markup), None
        if inline_only:
            raise ApiError.bad_request("inline keyboard expected")
        if "keyboard" in markup:
            return None, _validate_reply_keyboard(markup)
        if markup.get("remove_keyboard") is True or markup.get("force_reply") is True:
            return None, dict(markup)
        raise ApiError.bad_request("can't parse reply keyboard markup JSON object")

    def _reply_target(self, p: _Params, chat: SandboxChat) -> StoredMessage | None:
        parameters = p.decoded("reply_parameters", "can't parse reply parameters JSON object")
        message_id: int | None = None
        allow_missing = p.flag("allow_sending_without_reply")
        if isinstance(parameters, dict):
            message_id = _maybe_int(parameters.get("message_id"))
            allow_missing = bool(parameters.get("allow_sending_without_reply", allow_missing))
            if parameters.get("chat_id") not in (None, chat.id, str(chat.id)):
                raise ApiError.bad_request("replies to other chats are not supported by the sandbox")
        elif parameters is not None:
            raise ApiError.bad_request("can't parse reply parameters JSON object")
        if message_id is None:
            message_id = p.integer("reply_to_message_id")
        if message_id is None:
            return None
        target = self.sb._find_message(chat.id, message_id)
        if target is None or target.deleted:
            if allow_missing:
                return None
            raise ApiError.bad_request("message to be replied not found")
        return target

    def _check_rate(self, chat: SandboxChat) -> None:
        retry_after = self.sb.limiter.acquire(chat.id, is_group=chat.is_group)
        if retry_after is not None:
            raise ApiError.too_many_requests(retry_after)

    def _new_bot_message(
        self,
        p: _Params,
        chat: SandboxChat,
        content: JSONDict,
        *,
        raw_text: str | None,
        inline_markup: JSONDict | None,
        other_markup: JSONDict | None,
        reply_to: StoredMessage | None,
        file: StoredFile | None = None,
    ) -> JSONDict:
        sb = self.sb
        data: JSONDict = {
            "message_id": sb._allocate_message_id(chat.id),
            "from": sb.bot_user(),
            "chat": chat.to_api(),
            "date": int(time.time()),
        }
        thread_id = p.integer("message_thread_id")
        if thread_id is not None and chat.type == "supergroup":
            data["message_thread_id"] = thread_id
        if reply_to is not None:
            data["reply_to_message"] = without_reply(reply_to.data)
        data.update(content)
        if inline_markup is not None:
            data["reply_markup"] = inline_markup
        if p.flag("protect_content"):
            data["has_protected_content"] = True
        options: JSONDict = {
            name: p.values[name]
            for name in (
                "disable_notification",
                "protect_content",
                "link_preview_options",
                "message_effect_id",
            )
            if name in p.values
        }
        stored = StoredMessage(
            data=data,
            from_bot=True,
            raw_text=raw_text,
            parse_mode=p.string("parse_mode"),
            file=file,
            reply_keyboard=other_markup,
            options=options,
        )
        sb._store(stored)
        sb.stats.deliveries[chat.id] += 1
        sb._emit_event("message", chat.id, message=stored.view().to_json())
        return json_copy(data)

    def _editable(self, p: _Params) -> StoredMessage:
        if p.has("inline_message_id"):
            raise ApiError.bad_request("inline messages are not supported by the sandbox")
        chat = self._target_chat(p)
        message_id = p.integer("message_id")
        if message_id is None:
            raise ApiError.bad_request("message identifier is not specified")
        stored = self.sb._find_message(chat.id, message_id)
        if stored is None or stored.deleted:
            raise ApiError.bad_request("message to edit not found")
        if not stored.from_bot:
            raise ApiError.bad_request("message can't be edited")
        return stored

    def _apply_edit(self, stored: StoredMessage, changes: JSONDict, chat: SandboxChat) -> JSONDict:
        data = stored.data
        for key, value in changes.items():
            if value is None or value == []:
                data.pop(key, None)
            else:
                data[key] = value
        data["edit_date"] = int(time.time())
        stored.edit_count += 1
        self.sb.stats.edits[chat.id] += 1
        self.sb._emit_event("edited", chat.id, message=stored.view().to_json())
        return json_copy(data)

    def _input_file(self, p: _Params, request: _Request, field: str, kind: str) -> StoredFile:
        upload = request.files.get(field)
        value = p.values.get(field)
        if upload is None and isinstance(value, str) and value.startswith("attach://"):
            upload = request.files.get(value[len("attach://") :])
        if upload is not None:
            filename, data, content_type = upload
            if not data:
                raise ApiError.bad_request("file must be non-empty")
            mime = None if content_type in ("", "application/octet-stream") else content_type
            return self.sb.files.add(data, kind=kind, file_name=filename or None, mime_type=mime)
        if not isinstance(value, str) or not value:
            raise ApiError.bad_request(f"there is no {field} in the request")
        stored = self.sb.files.get(value)
        if stored is not None:
            if stored.kind != kind:
                raise ApiError.bad_request(f"can't use file of type {stored.kind.title()} as {kind.title()}")
            return stored
        if value.startswith(("http://", "https://")):
            raise ApiError.bad_request("failed to get HTTP URL content (the sandbox does not fetch URLs)")
        raise ApiError.bad_request("wrong file identifier/HTTP URL specified")

    # ------------------------------------------------------------------ basics

    async def ok(self, request: _Request) -> bool:
        return True

    async def get_me(self, request: _Request) -> JSONDict:
        return {
            **self.sb.bot_user(),
            "can_join_groups": True,
            "can_read_all_group_messages": not self.sb.privacy_mode,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    # ------------------------------------------------------------------ updates

    async def get_updates(self, request: _Request) -> list[JSONDict]:
        sb = self.sb
        p = _Params(request.params)
        if sb._webhook is not None:
            raise ApiError(409, CONFLICT_WEBHOOK)
        limit = min(max(p.integer("limit") or 100, 1), 100)
        timeout = max(p.number("timeout") or 0.0, 0.0)
        allowed = p.decoded("allowed_updates", "can't parse allowed_updates JSON object")
        if allowed is not None:
            sb.allowed_updates = _validate_update_types(allowed)
        sb._confirm_updates(p.integer("offset"))

        poll = Poll()
        previous, sb._poll = sb._poll, poll
        if previous is not None:
            # Telegram answers the older request with a conflict when a newer one arrives.
            previous.terminated = True
            previous.event.set()

        def abandon() -> None:
            poll.abandoned = True
            poll.event.set()

        request.on_close(abandon)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        try:
            while True:
                if poll.terminated:
                    raise ApiError(409, CONFLICT_POLLING)
                if sb._webhook is not None:
                    raise ApiError(409, CONFLICT_WEBHOOK)
                if sb._updates or poll.abandoned or sb._stopping:
                    break
                remaining = deadline - loop.time()
                if remaining <= 0:
                    break
                poll.event.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(poll.event.wait(), remaining)
        finally:
            if sb._poll is poll:
                sb._poll = None
        return json_copy(sb._updates[:limit])

    async def set_webhook(self, request: _Request) -> Any:
        sb = self.sb
        p = _Params(request.params)
        url = (p.string("url") or "").strip()
        if not url:
            return await self.delete_webhook(request)
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ApiError.bad_request("bad webhook: an HTTP or HTTPS URL must be provided for webhook")
        if not sb.allow_remote_webhooks and not is_loopback_host(parts.hostname):
            raise ApiError.bad_request(
                f"bad webhook: the sandbox only delivers to loopback addresses, not {parts.hostname!r} "
                "(start it with allow_remote_webhooks=True to allow other hosts)"
            )
        secret = p.string("secret_token")
        if secret is not None and secret != "" and not _SECRET_RE.match(secret):
            raise ApiError.bad_request("secret token contains unallowed characters")
        max_connections = p.integer("max_connections") or 40
        if not 1 <= max_connections <= 100:
            raise ApiError.bad_request("bad webhook: max_connections must be between 1 and 100")
        allowed = p.decoded("allowed_updates", "can't parse allowed_updates JSON object")
        allowed_updates = _validate_update_types(allowed) if allowed is not None else None
        if p.flag("drop_pending_updates"):
            sb._drop_pending_updates()
        same = sb._webhook is not None and sb._webhook.url == url
        if allowed_updates is not None:
            sb.allowed_updates = allowed_updates
        await sb._set_webhook(WebhookConfig(url, secret or None, max_connections, allowed_updates))
        return WithDescription(True, "Webhook is already set" if same else "Webhook was set")

    async def delete_webhook(self, request: _Request) -> Any:
        p = _Params(request.params)
        had = self.sb._webhook is not None
        await self.sb._delete_webhook()
        if p.flag("drop_pending_updates"):
            self.sb._drop_pending_updates()
        return WithDescription(True, "Webhook was deleted" if had else "Webhook is already deleted")

    async def get_webhook_info(self, request: _Request) -> JSONDict:
        webhook = self.sb._webhook
        info: JSONDict = {
            "url": webhook.url if webhook else "",
            "has_custom_certificate": False,
            "pending_update_count": self.sb.pending_update_count,
        }
        if webhook is not None:
            info["max_connections"] = webhook.max_connections
            if webhook.allowed_updates is not None:
                info["allowed_updates"] = webhook.allowed_updates
            if webhook.last_error_date is not None:
                info["last_error_date"] = webhook.last_error_date
                info["last_error_message"] = webhook.last_error_message
        return info

    # ------------------------------------------------------------------ sending

    async def send_message(self, request: _Request) -> JSONDict:
        p = _Params(request.params)
        chat = self._target_chat(p)
        text, entities, raw = self._message_text(p)
        inline, other = self._reply_markup(p)
        reply_to = self._reply_target(p, chat)
        self._check_rate(chat)
        content: JSONDict = {"text": text}
        if entities:
            content["entities"] = entities
        return self._new_bot_message(
            p, chat, content, raw_text=raw, inline_markup=inline, other_markup=other, reply_to=reply_to
        )

    async def send_photo(self, request: _Request) -> JSONDict:
        return await self._send_media(request, "photo")

    async def send_document(self, request: _Request) -> JSONDict:
        return await self._send_media(request, "document")

    async def send_video(self, request: _Request) -> JSONDict:
        return await self._send_media(request, "video")

    async def _send_media(self, request: _Request, kind: str) -> JSONDict:
        p = _Params(request.params)
        chat = self._target_chat(p)
        caption, entities, raw = self._caption(p)
        inline, other = self._reply_markup(p)
        reply_to = self._reply_target(p, chat)
        stored = self._input_file(p, request, kind, kind)
        self._check_rate(chat)
        content: JSONDict = stored.message_content()
        if caption:
            content["caption"] = caption
            if entities:
                content["caption_entities"] = entities
        return self._new_bot_message(
            p,
            chat,
            content,
            raw_text=raw,
            inline_markup=inline,
            other_markup=other,
            reply_to=reply_to,
            file=stored,
        )

    def _source_message(self, p: _Params) -> StoredMessage:
        source_chat = p.values.get("from_chat_id")
        source_id = _maybe_int(source_chat)
        message_id = p.integer("message_id")
        if source_id is None or source_id not in self.sb.chats:
            raise ApiError.bad_request("chat not found")
        if message_id is None:
            raise ApiError.bad_request("message identifier is not specified")
        stored = self.sb._find_message(source_id, message_id)
        if stored is None or stored.deleted:
            raise ApiError.bad_request("message to copy not found")
        return stored

    async def copy_message(self, request: _Request) -> JSONDict:
        p = _Params(request.params)
        chat = self._target_chat(p)
        source = self._source_message(p)
        inline, other = self._reply_markup(p)
        reply_to = self._reply_target(p, chat)
        content = {k: json_copy(v) for k, v in source.data.items() if k in _CONTENT_KEYS}
        raw_text = source.raw_text
        if "caption" in p.values and ("photo" in content or "document" in content):
            caption, entities, raw_text = self._caption(p)
            content.pop("caption", None)
            content.pop("caption_entities", None)
            if caption:
                content["caption"] = caption
                if entities:
                    content["caption_entities"] = entities
        self._check_rate(chat)
        message = self._new_bot_message(
            p,
            chat,
            content,
            raw_text=raw_text,
            inline_markup=inline,
            other_markup=other,
            reply_to=reply_to,
            file=source.file,
        )
        return {"message_id": message["message_id"]}

    async def forward_message(self, request: _Request) -> JSONDict:
        p = _Params(request.params)
        chat = self._target_chat(p)
        source = self._source_message(p)
        content = {k: json_copy(v) for k, v in source.data.items() if k in _CONTENT_KEYS}
        sender = source.data.get("from") or self.sb.bot_user()
        content["forward_origin"] = {"type": "user", "sender_user": sender, "date": source.data["date"]}
        self._check_rate(chat)
        return self._new_bot_message(
            p,
            chat,
            content,
            raw_text=source.raw_text,
            inline_markup=None,
            other_markup=None,
            reply_to=None,
            file=source.file,
        )

    # ------------------------------------------------------------------ editing

    async def edit_message_text(self, request: _Request) -> JSONDict:
        p = _Params(request.params)
        stored = self._editable(p)
        chat = self.sb.chats[stored.chat_id]
        if "text" not in stored.data:
            raise ApiError.bad_request("there is no text in the message to edit")
        text, entities, raw = self._message_text(p)
        inline, _ = self._reply_markup(p, inline_only=True)
        data = stored.data
        # Leaving out reply_markup removes the inline keyboard, exactly as on Telegram.
        if (text, entities, inline) == (data["text"], data.get("entities", []), data.get("reply_markup")):
            raise ApiError.bad_request(_NOT_MODIFIED)
        self._check_rate(chat)
        stored.raw_text = raw
        stored.parse_mode = p.string("parse_mode")
        return self._apply_edit(stored, {"text": text, "entities": entities, "reply_markup": inline}, chat)

    async def edit_message_caption(self, request: _Request) -> JSONDict:
        p = _Params(request.params)
        stored = self._editable(p)
        chat = self.sb.chats[stored.chat_id]
        data = stored.data
        if "photo" not in data and "document" not in data:
            raise ApiError.bad_request("there is no caption in the message to edit")
        caption, entities, raw = self._caption(p)
        inline, _ = self._reply_markup(p, inline_only=True)
        current = (data.get("caption"), data.get("caption_entities", []), data.get("reply_markup"))
        if (caption, entities, inline) == current:
            raise ApiError.bad_request(_NOT_MODIFIED)
        self._check_rate(chat)
        stored.raw_text = raw
        stored.parse_mode = p.string("parse_mode")
        changes = {"caption": caption, "caption_entities": entities, "reply_markup": inline}
        return self._apply_edit(stored, changes, chat)

    async def edit_message_reply_markup(self, request: _Request) -> JSONDict:
        p = _Params(request.params)
        stored = self._editable(p)
        chat = self.sb.chats[stored.chat_id]
        inline, _ = self._reply_markup(p, inline_only=True)
        if inline == stored.data.get("reply_markup"):
            raise ApiError.bad_request(_NOT_MODIFIED)
        self._check_rate(chat)
        return self._apply_edit(stored, {"reply_markup": inline}, chat)

    async def delete_message(self, request: _Request) -> bool:
        p = _Params(request.params)
        chat = self._target_chat(p)
        message_id = p.integer("message_id")
        if message_id is None:
            raise ApiError.bad_request("message identifier is not specified")
        self._delete(chat, message_id)
        return True

    async def delete_messages(self, request: _Request) -> bool:
        p = _Params(request.params)
        chat = self._target_chat(p)
        ids = p.decoded("message_ids")
        if not isinstance(ids, list) or not 1 <= len(ids) <= 100:
            raise ApiError.bad_request("message_ids must contain 1-100 message identifiers")
        for message_id in ids:
            try:
                self._delete(chat, int(message_id))
            except ApiError:
                continue  # deleteMessages skips messages that cannot be deleted
        return True

    def _delete(self, chat: SandboxChat, message_id: int) -> None:
        stored = self.sb._find_message(chat.id, message_id)
        if stored is None or stored.deleted:
            raise ApiError.bad_request("message to delete not found")
        stored.deleted = True
        self.sb._emit_event("deleted", chat.id, message_id=message_id, from_bot=stored.from_bot)

    async def pin_chat_message(self, request: _Request) -> bool:
        p = _Params(request.params)
        chat = self._target_chat(p)
        message_id = p.integer("message_id")
        stored = self.sb._find_message(chat.id, message_id or 0)
        if stored is None or stored.deleted:
            raise ApiError.bad_request("message to pin not found")
        stored.options["pinned"] = True
        return True

    # ------------------------------------------------------------------ callbacks, actions, files

    async def answer_callback_query(self, request: _Request) -> bool:
        p = _Params(request.params)
        query_id = p.string("callback_query_id") or ""
        pending = self.sb._callback_queries.get(query_id)
        if pending is None or time.monotonic() - pending[1] > self.sb.callback_query_timeout:
            raise ApiError.bad_request(_QUERY_TOO_OLD)
        text = p.string("text")
        if text is not None and len(text) > 200:
            raise ApiError.bad_request("MESSAGE_TOO_LONG")
        url = p.string("url")
        if url is not None and url != "" and not url.startswith(("http://", "https://", "tg://", "t.me/")):
            raise ApiError.bad_request("URL_INVALID")
        del self.sb._callback_queries[query_id]
        answer = CallbackAnswer(
            query_id, pending[0], text, p.flag("show_alert"), url or None, p.integer("cache_time") or 0
        )
        self.sb.callback_answers[query_id] = answer
        self.sb._emit_event("callback_answer", pending[0], **answer.to_json())
        return True

    async def send_chat_action(self, request: _Request) -> bool:
        p = _Params(request.params)
        chat = self._target_chat(p)
        action = p.string("action")
        if not action:
            raise ApiError.bad_request("action is empty")
        if action not in _CHAT_ACTIONS:
            raise ApiError.bad_request("wrong parameter action in request")
        self.sb._emit_event("chat_action", chat.id, action=action)
        return True

    async def get_file(self, request: _Request) -> JSONDict:
        p = _Params(request.params)
        file_id = p.string("file_id")
        if not file_id:
            raise ApiError.bad_request("file_id is empty")
        stored = self.sb.files.get(file_id)
        if stored is None:
            raise ApiError.bad_request("invalid file_id")
        if stored.size > 20 * 1024 * 1024:
            raise ApiError.bad_request("file is too big")
        return stored.file_object()

    # ------------------------------------------------------------------ commands, menu, profile

    def _scope(self, p: _Params) -> tuple[str, str]:
        scope = p.decoded("scope", "can't parse BotCommandScope JSON object")
        if scope is not None and (not isinstance(scope, dict) or "type" not in scope):
            raise ApiError.bad_request("can't parse BotCommandScope JSON object")
        language = p.string("language_code") or ""
        if language and not re.match(r"^[a-z]{2}$", language):
            raise ApiError.bad_request("invalid language code specified")
        return scope_key(scope), language

    async def set_my_commands(self, request: _Request) -> bool:
        p = _Params(request.params)
        commands = p.decoded("commands", "can't parse commands JSON object")
        if not isinstance(commands, list):
            raise ApiError.bad_request("can't parse commands JSON object")
        if len(commands) > 100:
            raise ApiError.bad_request("too many commands specified")
        cleaned: list[JSONDict] = []
        for item in commands:
            if not isinstance(item, dict):
                raise ApiError.bad_request("can't parse BotCommand JSON object")
            command = str(item.get("command", ""))
            description = str(item.get("description", ""))
            if not _COMMAND_RE.match(command):
                raise ApiError.bad_request("BOT_COMMAND_INVALID")
            if not 1 <= len(description.strip()) <= 256:
                raise ApiError.bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
            cleaned.append({"command": command, "description": description})
        self.sb.bot_commands[self._scope(p)] = cleaned
        return True

    async def get_my_commands(self, request: _Request) -> list[JSONDict]:
        return json_copy(self.sb.bot_commands.get(self._scope(_Params(request.params)), []))

    async def delete_my_commands(self, request: _Request) -> bool:
        self.sb.bot_commands.pop(self._scope(_Params(request.params)), None)
        return True

    async def set_chat_menu_button(self, request: _Request) -> bool:
        p = _Params(request.params)
        button = p.decoded("menu_button", "can't parse menu button JSON object") or {"type": "default"}
        if not isinstance(button, dict) or button.get("type") not in ("default", "commands", "web_app"):
            raise ApiError.bad_request("can't parse menu button JSON object")
        if button["type"] == "web_app" and not (
            button.get("text") and isinstance(button.get("web_app"), dict)
        ):
            raise ApiError.bad_request("can't parse menu button JSON object")
        if p.has("chat_id"):
            self._target_chat(p).menu_button = button
        else:
            self.sb.default_menu_button = button
        return True

    async def get_chat_menu_button(self, request: _Request) -> JSONDict:
        p = _Params(request.params)
        if p.has("chat_id"):
            chat = self._target_chat(p)
            if chat.menu_button is not None:
                return json_copy(chat.menu_button)
        return json_copy(self.sb.default_menu_button)

    def _profile_text(self, p: _Params, field: str, limit: int, store: dict[str, str]) -> bool:
        value = p.string(field) or ""
        if len(value) > limit:
            raise ApiError.bad_request(f"{field} is too long")
        language = p.string("language_code") or ""
        if value:
            store[language] = value
        else:
            store.pop(language, None)
        return True

    async def set_my_description(self, request: _Request) -> bool:
        return self._profile_text(_Params(request.params), "description", 512, self.sb.descriptions)

    async def get_my_description(self, request: _Request) -> JSONDict:
        language = _Params(request.params).string("language_code") or ""
        return {"description": self.sb.descriptions.get(language, self.sb.descriptions.get("", ""))}

    async def set_my_short_description(self, request: _Request) -> bool:
        return self._profile_text(
            _Params(request.params), "short_description", 120, self.sb.short_descriptions
        )

    async def get_my_short_description(self, request: _Request) -> JSONDict:
        language = _Params(request.params).string("language_code") or ""
        text = self.sb.short_descriptions.get(language, self.sb.short_descriptions.get("", ""))
        return {"short_description": text}

    async def set_my_name(self, request: _Request) -> bool:
        return self._profile_text(_Params(request.params), "name", 64, self.sb.bot_names)

    async def get_my_name(self, request: _Request) -> JSONDict:
        language = _Params(request.params).string("language_code") or ""
        return {"name": self.sb.bot_names.get(language, self.sb.bot_names.get("", self.sb.bot_name))}

    # ------------------------------------------------------------------ chats and members

    def _chat_lookup(self, p: _Params) -> SandboxChat:
        """getChat & co. work for any chat the bot can see, even if the user blocked it."""
        raw = p.values.get("chat_id")
        if raw is None or raw == "":
            raise ApiError.bad_request("chat_id is empty")
        chat_id = _maybe_int(raw)
        chat = self.sb.chats.get(chat_id) if chat_id is not None else None
        if chat is None or (chat.user is not None and not chat.user.started):
            raise ApiError.bad_request("chat not found")
        return chat

    async def get_chat(self, request: _Request) -> JSONDict:
        chat = self._chat_lookup(_Params(request.params))
        info = chat.to_api()
        info.update(
            {
                "accent_color_id": 0,
                "max_reaction_count": 11,
                "accepted_gift_types": {
                    "unlimited_gifts": False,
                    "limited_gifts": False,
                    "unique_gifts": False,
                    "premium_subscription": False,
                    "gifts_from_channels": False,
                },
            }
        )
        return info

    def _member(self, chat: SandboxChat, user_id: int) -> JSONDict:
        if user_id == self.sb.bot_id:
            user = self.sb.bot_user()
        elif user_id in self.sb.users:
            user = self.sb.users[user_id].to_api()
        else:
            raise ApiError.bad_request("user not found")
        if chat.type == "private":
            status = "member" if user_id in (chat.id, self.sb.bot_id) else "left"
            return {"status": status, "user": user}
        if chat.admin_ids and user_id == chat.admin_ids[0] and user_id != self.sb.bot_id:
            return {"status": "creator", "user": user, "is_anonymous": False}
        if user_id in chat.admin_ids:
            rights = dict.fromkeys(_ADMIN_RIGHTS, True)
            return {
                "status": "administrator",
                "user": user,
                "can_be_edited": False,
                "is_anonymous": False,
                **rights,
            }
        if user_id in chat.member_ids or user_id == self.sb.bot_id:
            return {"status": "member", "user": user}
        return {"status": "left", "user": user}

    async def get_chat_member(self, request: _Request) -> JSONDict:
        p = _Params(request.params)
        chat = self._chat_lookup(p)
        user_id = p.integer("user_id")
        if user_id is None:
            raise ApiError.bad_request("user_id is empty")
        return self._member(chat, user_id)

    async def get_chat_administrators(self, request: _Request) -> list[JSONDict]:
        chat = self._chat_lookup(_Params(request.params))
        if chat.type == "private":
            raise ApiError.bad_request("there are no administrators in the private chat")
        return [self._member(chat, user_id) for user_id in chat.admin_ids]

    async def get_chat_member_count(self, request: _Request) -> int:
        chat = self._chat_lookup(_Params(request.params))
        if chat.type == "private":
            return 2
        return len(set(chat.member_ids) | {self.sb.bot_id})


_CONTENT_KEYS = frozenset({"text", "entities", "photo", "document", "caption", "caption_entities"})
_ADMIN_RIGHTS = (
    "can_manage_chat",
    "can_delete_messages",
    "can_manage_video_chats",
    "can_restrict_members",
    "can_promote_members",
    "can_change_info",
    "can_invite_users",
    "can_post_stories",
    "can_edit_stories",
    "can_delete_stories",
    "can_pin_messages",
)


def _maybe_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None



def _validate_update_types(raw: Any) -> list[str] | None:
    if not isinstance(raw, list) or not all(isinstance(item, str) for item in raw):
        raise ApiError.bad_request("can't parse allowed_updates JSON object")
    unknown = [item for item in raw if item not in _UPDATE_TYPES]
    if unknown:
        logger.warning("allowed_updates contains unknown update types %s; Telegram ignores them", unknown)
    return list(raw) or None


def _validate_inline_keyboard(markup: JSONDict) -> JSONDict:
    rows = markup.get("inline_keyboard")
    if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
        raise ApiError.bad_request(
            'field "inline_keyboard" of the InlineKeyboardMarkup must be an Array of Arrays'
        )
    count = 0
    cleaned_rows: list[list[JSONDict]] = []
    for row in rows:
        cleaned: list[JSONDict] = []
        for button in row:
            if not isinstance(button, dict):
                raise ApiError.bad_request(
                    "can't parse inline keyboard button: InlineKeyboardButton must be an Object"
                )
            text = button.get("text")
            if not isinstance(text, str):
                raise ApiError.bad_request(
                    'can\'t parse inline keyboard button: Field "text" must be of type String'
                )
            if not text.strip():
                raise ApiError.bad_request("BUTTON_TEXT_INVALID")
            actions = [key for key in button if key != "text" and button[key] is not None]
            if not actions:
                raise ApiError.bad_request(
                    "can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard"
                )
            if "callback_data" in button:
                data = button["callback_data"]
                if not isinstance(data, str) or not 1 <= len(data.encode("utf-8")) <= CALLBACK_DATA_LIMIT:
                    raise ApiError.bad_request("BUTTON_DATA_INVALID")
            if "url" in button:
                url = button["url"]
                if not isinstance(url, str) or not re.match(r"^(https?|tg)://\S+$", url):
                    raise ApiError.bad_request("BUTTON_URL_INVALID")
            cleaned.append({k: v for k, v in button.items() if v is not None})
            count += 1
        if cleaned:
            cleaned_rows.append(cleaned)
    if count > 100:
        raise ApiError.bad_request("reply markup is too long")
    return {"inline_keyboard": cleaned_rows}


def _validate_reply_keyboard(markup: JSONDict) -> JSONDict:
    rows = markup.get("keyboard")
    if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
        raise ApiError.bad_request('field "keyboard" of the ReplyKeyboardMarkup must be an Array of Arrays')
    normalized: list[list[JSONDict]] = []
    for row in rows:
        buttons: list[JSONDict] = []
        for button in row:
            item = {"text": button} if isinstance(button, str) else button
            if not isinstance(item, dict) or not isinstance(item.get("text"), str) or not item["text"]:
                raise ApiError.bad_request(
                    'can\'t parse keyboard button: Field "text" must be of type String'
                )
            buttons.append(dict(item))
        normalized.append(buttons)
    result = dict(markup)
    result["keyboard"] = normalized
    return result
