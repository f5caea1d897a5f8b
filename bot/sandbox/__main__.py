"""Command line: ``python -m bot.sandbox {serve,chat,demo}``.

serve  run a sandbox Bot API server until interrupted
chat   chat with the bot as one user, through a running sandbox
demo   sandbox + (optionally) the bot as a child process + the terminal chat, offline
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import sys
from pathlib import Path
from typing import BinaryIO

from .chat import TerminalChat
from .limits import RateLimits
from .server import DEFAULT_BOT_USERNAME, DEFAULT_TOKEN, Sandbox

logger = logging.getLogger(__name__)


def _add_server_options(parser: argparse.ArgumentParser, default_port: int) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: %(default)s)")
    parser.add_argument(
        "--port",
        type=int,
        default=default_port,
        help="port to listen on, 0 = any free port (default: %(default)s)",
    )
    parser.add_argument(
        "--token", default=DEFAULT_TOKEN, help="bot token the sandbox accepts (default: %(default)s)"
    )
    parser.add_argument("--bot-username", default=DEFAULT_BOT_USERNAME, help="the bot's @username")
    parser.add_argument("--bot-name", default="整改助手", help="the bot's display name")
    parser.add_argument(
        "--no-rate-limits",
        action="store_true",
        help="disable Telegram-like flood limits (429 Too Many Requests)",
    )
    parser.add_argument(
        "--no-privacy", action="store_true", help="bot sees every group message (privacy mode off)"
    )
    parser.add_argument(
        "--allow-remote-webhooks", action="store_true", help="accept webhook URLs that are not on loopback"
    )


def _sandbox_from(args: argparse.Namespace) -> Sandbox:
    return Sandbox(
        args.token,
        bot_username=args.bot_username,
        bot_name=args.bot_name,
        host=args.host,
        port=args.port,
        limits=RateLimits.off() if args.no_rate_limits else RateLimits(),
        allow_remote_webhooks=args.allow_remote_webhooks,
        privacy_mode=not args.no_privacy,
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bot.sandbox",
        description="Local Telegram Bot API sandbox: run the bot and chat with it without Telegram.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log every request")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser(
        "serve",
        help="run the sandbox server",
        description="Serve the Bot API at http://HOST:PORT/bot<token>/<method> "
        "and the control API at /sandbox/. Point the bot at base_url=http://HOST:PORT/bot and base_file_url=http://HOST:PORT/file/bot.",
    )
    _add_server_options(serve, 8081)

    chat = commands.add_parser(
        "chat",
        help="chat with the bot as one user",
        description="Talk to the bot through a running sandbox (see 'serve'); "
        "type :help inside for commands.",
    )
    chat.add_argument("--url", default="http://127.0.0.1:8081", help="sandbox URL (default: %(default)s)")
    _add_chat_options(chat)

    demo = commands.add_parser(
        "demo",
        help="sandbox + bot + terminal chat in one go",
        description="Start a sandbox, optionally start the bot as a child process, and chat with it. "
        "The command after '--' may use {url}, {token}, {base_url} and {base_file_url} placeholders; it also "
        "gets SANDBOX_URL, SANDBOX_BOT_TOKEN, SANDBOX_BASE_URL and SANDBOX_BASE_FILE_URL in its environment.",
    )
    _add_server_options(demo, 0)
    _add_chat_options(demo)
    demo.add_argument(
        "--bot-log",
        default="var/sandbox-demo-bot.log",
        help="where the bot's output goes (default: %(default)s)",
    )
    demo.add_argument("bot_command", nargs=argparse.REMAINDER, help="command that starts the bot (after --)")
    return parser


def _add_chat_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--user-id", type=int, default=10001, help="your user id (default: %(default)s)")
    parser.add_argument("--name", default="张伟", help="your first name (default: %(default)s)")
    parser.add_argument("--username", default=None, help="your @username (optional)")
    parser.add_argument("--downloads", default="downloads", help="where received files are saved")
    parser.add_argument(
        "--linger", type=float, default=0.0, help="seconds to keep listening after input ends"
    )


def _chat_from(args: argparse.Namespace, url: str) -> TerminalChat:
    return TerminalChat(
        url,
        args.user_id,
        first_name=args.name,
        username=args.username,
        downloads=args.downloads,
        linger=args.linger,
    )


async def _serve(args: argparse.Namespace) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    async with _sandbox_from(args) as sb:
        print(f"Telegram sandbox at {sb.url}  (bot @{sb.bot_username}, token {sb.token})", flush=True)
        print(f"  bot:     base_url={sb.base_url}  base_file_url={sb.base_file_url}", flush=True)
        print(f"  chat:    python -m bot.sandbox chat --url {sb.url}", flush=True)
        print("  control: GET /sandbox/info, see bot/sandbox/README.md. Ctrl-C stops.", flush=True)
        await stop.wait()


def _open_log(path: Path) -> BinaryIO:
    path.parent.mkdir(parents=True, exist_ok=True)
    return path.open("ab")


async def _demo(args: argparse.Namespace) -> int:
    command = list(args.bot_command)
    if command and command[0] == "--":
        command = command[1:]
    async with _sandbox_from(args) as sb:
        values = {
            "url": sb.url,
            "token": sb.token,
            "base_url": sb.base_url,
            "base_file_url": sb.base_file_url,
        }
        child: asyncio.subprocess.Process | None = None
        if command:
            env = dict(os.environ)
            env.update(
                SANDBOX_URL=sb.url,
                SANDBOX_BOT_TOKEN=sb.token,
                SANDBOX_BASE_URL=sb.base_url,
                SANDBOX_BASE_FILE_URL=sb.base_file_url,
                NO_PROXY="127.0.0.1,localhost",
            )
            log_path = Path(args.bot_log)
            with _open_log(log_path) as log:
                child = await asyncio.create_subprocess_exec(
                    *[part.format(**values) for part in command],
                    env=env,
                    stdin=asyncio.subprocess.DEVNULL,
                    stdout=log,
                    stderr=log,
                )
            print(f"机器人进程已启动（PID {child.pid}），日志写入 {log_path}", flush=True)
        else:
            print(f"未指定机器人启动命令：沙盒地址 {sb.url}，令牌 {sb.token}，请自行启动机器人。", flush=True)
        try:
            await _chat_from(args, sb.url).run()
        finally:
            if child is not None and child.returncode is None:
                child.terminate()
                try:
                    await asyncio.wait_for(child.wait(), 10)
                except TimeoutError:
                    child.kill()
                    await child.wait()
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    level = logging.DEBUG if args.verbose else logging.INFO
    if args.command == "serve":
        logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(_serve(args))
        return 0
    # The chat owns the terminal: keep library logging out of the conversation.
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING)
    if args.command == "chat":
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(_chat_from(args, args.url).run())
        return 0
    with contextlib.suppress(KeyboardInterrupt):
        return asyncio.run(_demo(args))
    return 130


if __name__ == "__main__":
    sys.exit(main())
