"""A local Telegram Bot API sandbox: real HTTP, scriptable users, no network.

Typical test use::

    async with Sandbox(limits=RateLimits.off()) as sb:
        app = Application.builder().token(sb.token).base_url(sb.base_url) \\
            .base_file_url(sb.base_file_url).build()
        user = sb.add_user("张伟")
        await sb.send_text(user.id, "/start")
        [reply] = await sb.wait_for_messages(user.id)

See README.md in this directory for the control API and the terminal chat.
"""

from .chat import TerminalChat
from .errors import ApiError, SandboxError
from .html import parse_html, strip_html
from .limits import RateLimits
from .server import DEFAULT_BOT_USERNAME, DEFAULT_TOKEN, Sandbox
from .state import BotMessage, CallbackAnswer, CallRecord, FileInfo, SandboxChat, SandboxStats, SandboxUser

__all__ = [
    "DEFAULT_BOT_USERNAME",
    "DEFAULT_TOKEN",
    "ApiError",
    "BotMessage",
    "CallRecord",
    "CallbackAnswer",
    "FileInfo",
    "RateLimits",
    "Sandbox",
    "SandboxChat",
    "SandboxError",
    "SandboxStats",
    "SandboxUser",
    "TerminalChat",
    "parse_html",
    "strip_html",
]
