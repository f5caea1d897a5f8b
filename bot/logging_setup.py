"""Logging: text for people, JSON lines for log collectors; never the bot token."""

from __future__ import annotations

import json
import logging
import re
import sys
import threading
import traceback
from types import TracebackType

# Bot API URLs embed the token (…/bot123456:ABC…/sendMessage); mask it wherever it appears.
_TOKEN_IN_TEXT = re.compile(r"\d{5,}:[A-Za-z0-9_-]{20,}")


#: Secret values in use (the configured token), masked verbatim: a token Telegram rejects may be
#: too short or odd for the pattern (PTB quotes it in InvalidToken), and is still a secret.
_SECRETS: set[str] = set()


def add_secret(value: str) -> None:
    if len(value) >= 6:
        _SECRETS.add(value)


def redact(text: str) -> str:
    for secret in _SECRETS:
        text = text.replace(secret, "<token>")
    return _TOKEN_IN_TEXT.sub("<token>", text)


def _redacting_excepthook(kind: type[BaseException], value: BaseException, tb: TracebackType | None) -> None:
    # An exception nobody caught is printed by Python itself, outside logging: mask it too.
    sys.stderr.write(redact("".join(traceback.format_exception(kind, value, tb))))


def _redacting_thread_hook(args: threading.ExceptHookArgs) -> None:
    if args.exc_value is not None:
        _redacting_excepthook(args.exc_type, args.exc_value, args.exc_traceback)


class RedactingFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return redact(json.dumps(entry, ensure_ascii=False))


def configure_logging(level: str = "INFO", fmt: str = "text") -> None:
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(RedactingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    sys.excepthook = _redacting_excepthook
    threading.excepthook = _redacting_thread_hook
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # httpx logs every request URL at INFO, and Bot API URLs contain the token.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)
    logging.getLogger("jieba").setLevel(logging.WARNING)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)
