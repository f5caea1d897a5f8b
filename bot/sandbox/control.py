"""JSON control API under /sandbox/ so other processes can act as users and observe the bot.

It mirrors the Python API of ``Sandbox`` one to one; see README.md for the routes.
Only loopback clients are served: the control API can impersonate anyone.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
from typing import TYPE_CHECKING, Any

import tornado.web

from .errors import SandboxError
from .state import is_loopback_host

if TYPE_CHECKING:
    from .server import Sandbox

logger = logging.getLogger(__name__)

JSONDict = dict[str, Any]


def control_routes(sandbox: Sandbox) -> list[tuple[str, type[tornado.web.RequestHandler], JSONDict]]:
    kwargs: JSONDict = {"sandbox": sandbox}
    return [
        (r"/sandbox/?", _InfoHandler, kwargs),
        (r"/sandbox/info", _InfoHandler, kwargs),
        (r"/sandbox/users", _UsersHandler, kwargs),
        (r"/sandbox/groups", _GroupsHandler, kwargs),
        (r"/sandbox/send", _SendHandler, kwargs),
        (r"/sandbox/press", _PressHandler, kwargs),
        (r"/sandbox/messages", _MessagesHandler, kwargs),
        (r"/sandbox/events", _EventsHandler, kwargs),
        (r"/sandbox/block", _BlockHandler, kwargs),
        (r"/sandbox/faults", _FaultsHandler, kwargs),
        (r"/sandbox/stats", _StatsHandler, kwargs),
        (r"/sandbox/calls", _CallsHandler, kwargs),
        (r"/sandbox/callback_answers", _CallbackAnswersHandler, kwargs),
        (r"/sandbox/files/([^/]+)", _FileHandler, kwargs),
    ]


class _ControlHandler(tornado.web.RequestHandler):
    def initialize(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox

    def prepare(self) -> None:
        if not is_loopback_host(self.request.remote_ip or ""):
            self._fail(403, "the sandbox control API only serves loopback clients")

    def body(self) -> JSONDict:
        if not self.request.body:
            return {}
        try:
            value = json.loads(self.request.body)
        except ValueError:
            raise SandboxError("request body must be JSON") from None
        if not isinstance(value, dict):
            raise SandboxError("request body must be a JSON object")
        return value

    def int_arg(self, name: str, default: int | None = None) -> int | None:
        value = self.get_query_argument(name, None)
        if value is None or value == "":
            return default
        try:
            return int(value)
        except ValueError:
            raise SandboxError(f"query argument {name} must be an integer") from None

    def reply(self, result: Any) -> None:
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps({"ok": True, "result": result}, ensure_ascii=False))

    def _fail(self, status: int, message: str) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps({"ok": False, "error": message}, ensure_ascii=False))

    def log_exception(self, typ: Any, value: Any, tb: Any) -> None:
        if isinstance(value, SandboxError | KeyError | TypeError | ValueError):
            return  # reported to the client by write_error; not a server bug
        super().log_exception(typ, value, tb)

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        exc_info = kwargs.get("exc_info")
        error = exc_info[1] if exc_info else None
        if isinstance(error, SandboxError):
            self._fail(400, str(error))
        elif isinstance(error, KeyError):
            self._fail(400, f"missing field {error}")
        elif isinstance(error, TypeError | ValueError):
            self._fail(400, f"bad request: {error}")
        else:
            self._fail(status_code, self._reason)


class _InfoHandler(_ControlHandler):
    def get(self) -> None:
        sb = self.sandbox
        self.reply(
            {
                "url": sb.url,
                "token": sb.token,
                "bot": sb.bot_user(),
                "base_url": sb.base_url,
                "base_file_url": sb.base_file_url,
                "privacy_mode": sb.privacy_mode,
                "last_event_seq": sb.last_event_seq,
            }
        )


class _UsersHandler(_ControlHandler):
    def get(self) -> None:
        self.reply([user.to_json() for user in self.sandbox.users.values()])

    def post(self) -> None:
        body = self.body()
        user_id = body.get("user_id")
        if user_id is not None and int(user_id) in self.sandbox.users and body.get("exist_ok", True):
            self.reply(self.sandbox.users[int(user_id)].to_json())
            return
        user = self.sandbox.add_user(
            str(body["first_name"]),
            user_id=int(user_id) if user_id is not None else None,
            username=body.get("username"),
            last_name=body.get("last_name"),
            language_code=body.get("language_code", "zh-hans"),
            started=bool(body.get("started", False)),
        )
        self.reply(user.to_json())


class _GroupsHandler(_ControlHandler):
    def get(self) -> None:
        self.reply([chat.to_json() for chat in self.sandbox.chats.values() if chat.is_group])

    def post(self) -> None:
        body = self.body()
        chat = self.sandbox.add_group(
            str(body["title"]),
            [int(member) for member in body.get("member_ids", [])],
            chat_id=int(body["chat_id"]) if body.get("chat_id") is not None else None,
            supergroup=bool(body.get("supergroup", False)),
            username=body.get("username"),
            admin_ids=[int(admin) for admin in body.get("admin_ids", [])],
            bot_is_admin=bool(body.get("bot_is_admin", False)),
        )
        self.reply(chat.to_json())


def _decode_base64(value: Any) -> bytes:
    try:
        return base64.b64decode(str(value), validate=True)
    except (binascii.Error, ValueError):
        raise SandboxError("file content must be base64") from None


#: Files a user can send through /sandbox/send, with the name each gets when none is given.
_UPLOAD_NAMES = {"photo": "photo.jpg", "document": "document", "video": "video.mp4"}


class _SendHandler(_ControlHandler):
    async def post(self) -> None:
        body = self.body()
        sb = self.sandbox
        user_id = int(body["user_id"])
        chat_id = int(body["chat_id"]) if body.get("chat_id") is not None else None
        reply_to = int(body["reply_to"]) if body.get("reply_to") is not None else None
        caption = body.get("caption")
        upload = next((kind for kind in _UPLOAD_NAMES if body.get(kind) is not None), None)
        if upload is not None:
            message = await sb.send_file(
                user_id,
                _decode_base64(body[upload]),
                upload,
                filename=body.get("filename") or _UPLOAD_NAMES[upload],
                mime_type=body.get("mime_type") if upload == "document" else None,
                caption=caption,
                chat_id=chat_id,
                reply_to=reply_to,
            )
        elif body.get("text"):
            message = await sb.send_text(user_id, str(body["text"]), chat_id=chat_id, reply_to=reply_to)
        else:
            raise SandboxError("send needs one of text, photo, document or video (base64)")
        self.reply(message)


class _PressHandler(_ControlHandler):
    async def post(self) -> None:
        body = self.body()
        query_id = await self.sandbox.press(
            int(body["user_id"]),
            int(body["message_id"]),
            chat_id=int(body["chat_id"]) if body.get("chat_id") is not None else None,
            index=int(body["index"]) if body.get("index") is not None else None,
            data=body.get("data"),
        )
        self.reply({"callback_query_id": query_id})


class _MessagesHandler(_ControlHandler):
    def get(self) -> None:
        chat_id = self.int_arg("chat_id")
        if chat_id is None:
            raise SandboxError("chat_id is required")
        after = self.int_arg("after", 0) or 0
        include_deleted = self.get_query_argument("include_deleted", "false").lower() in ("1", "true")
        messages = self.sandbox.messages(chat_id, include_deleted=include_deleted)
        self.reply([m.to_json() for m in messages if m.message_id > after])


class _EventsHandler(_ControlHandler):
    async def get(self) -> None:
        after = self.int_arg("after", 0) or 0
        chat_id = self.int_arg("chat_id")
        timeout = min(float(self.get_query_argument("timeout", "0") or 0), 60.0)
        sb = self.sandbox
        sb._begin_request()
        try:
            await sb.wait_until(lambda: sb.events_after(after, chat_id) or sb.is_stopping, timeout=timeout)
        except TimeoutError:
            pass
        finally:
            sb._end_request()
        events = sb.events_after(after, chat_id)
        last = events[-1]["seq"] if events else max(after, 0)
        self.reply({"events": events, "last": last})


class _BlockHandler(_ControlHandler):
    def post(self) -> None:
        body = self.body()
        self.sandbox.block(int(body["user_id"]), bool(body.get("blocked", True)))
        self.reply(self.sandbox.user(int(body["user_id"])).to_json())


class _FaultsHandler(_ControlHandler):
    def get(self) -> None:
        self.reply([fault.to_json() for fault in self.sandbox.faults])

    def post(self) -> None:
        body = self.body()
        fault = self.sandbox.inject(
            method=body.get("method", "sendMessage"),
            error_code=int(body["error_code"]) if body.get("error_code") is not None else None,
            description=body.get("description"),
            retry_after=int(body["retry_after"]) if body.get("retry_after") is not None else None,
            times=int(body.get("times", 1)),
            delay=float(body.get("delay", 0.0)),
            chat_id=int(body["chat_id"]) if body.get("chat_id") is not None else None,
        )
        self.reply(fault.to_json())

    def delete(self) -> None:
        self.sandbox.clear_faults()
        self.reply(True)


class _StatsHandler(_ControlHandler):
    def get(self) -> None:
        sb = self.sandbox
        self.reply({**sb.stats.to_json(), "calls": len(sb.calls), "pending_updates": sb.pending_update_count})


class _CallsHandler(_ControlHandler):
    def get(self) -> None:
        method = self.get_query_argument("method", None)
        after = self.int_arg("after", 0) or 0
        calls = self.sandbox.calls[after:]
        self.reply(
            [
                {
                    "index": after + i,
                    "method": c.method,
                    "params": c.params,
                    "time": c.time,
                    "status": c.status,
                    "error": c.error,
                }
                for i, c in enumerate(calls)
                if method is None or c.method.lower() == method.lower()
            ]
        )


class _CallbackAnswersHandler(_ControlHandler):
    def get(self) -> None:
        self.reply({qid: answer.to_json() for qid, answer in self.sandbox.callback_answers.items()})


class _FileHandler(_ControlHandler):
    def get(self, file_id: str) -> None:
        stored = self.sandbox.files.get(file_id)
        if stored is None:
            self._fail(404, f"unknown file_id {file_id}")
            return
        self.set_header("Content-Type", stored.mime_type)
        self.finish(stored.data)
