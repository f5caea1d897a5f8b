"""`zhenggai demo`: the real bot on the sample data, with or without Telegram.

Without TELEGRAM_BOT_TOKEN: a local Bot API sandbox (bot/sandbox) starts in this process, the
unmodified python-telegram-bot Application long-polls it exactly as it would poll Telegram,
and a terminal chat lets you talk to the bot as one of the sample cadres — bound through a
real invitation code. With a token in .env the same bot runs against Telegram instead.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import sys
import zlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Protocol

from sqlalchemy import select

from bot.config import PROJECT_ROOT, Settings
from bot.db import transaction
from bot.models import Cadre, Role

log = logging.getLogger(__name__)
DEMO_LOG = PROJECT_ROOT / "var" / "demo.log"


async def run_demo(settings: Settings, args: argparse.Namespace) -> int:
    from bot.cli import _open_database
    from bot.services.seed import seed_sample_data

    engine, factory = await _open_database(settings)
    try:
        for report in await seed_sample_data(factory, settings.data_dir):
            print(f"已导入示例数据 — {report.summary()}")
        async with transaction(factory) as session:
            people = list(await session.scalars(select(Cadre).order_by(Cadre.role, Cadre.id)))
    finally:
        await engine.dispose()
    if settings.telegram_bot_token is not None:
        print("检测到 TELEGRAM_BOT_TOKEN：连接 Telegram 运行机器人（Ctrl-C 停止）。")
        print("提示：管理员可运行 zhenggai cadre invite 姓名 生成邀请码。")
        return await asyncio.to_thread(_run_polling_blocking, settings)
    cadre = _pick_cadre(people, getattr(args, "as_name", None))
    if cadre is None:
        return 1
    return await _sandbox_session(settings, cadre)


def _run_polling_blocking(settings: Settings) -> int:
    from bot.cli import run_polling

    run_polling(settings)
    return 0


def _pick_cadre(people: list[Cadre], wanted: str | None) -> Cadre | None:
    if not people:
        print("数据库中没有干部，请先导入：zhenggai import cadres data/cadres.csv", file=sys.stderr)
        return None
    if wanted:
        found = next((c for c in people if c.name == wanted), None)
        if found is None:
            print(f"没有名为「{wanted}」的干部。", file=sys.stderr)
        return found
    default = next((c for c in people if c.name == "张伟"), people[0])
    print("\n请选择以哪位干部的身份和机器人聊天：")
    for number, person in enumerate(people, start=1):
        print(f"  {number:>2}. {person.name}（{person.unit} {person.position}，{person.role.label}）")
    print(f"输入编号或姓名，直接回车选择 {default.name}。")
    interactive = sys.stdin.isatty()
    while True:
        answer = _read_choice(interactive)
        if not answer:  # Enter, or the end of the input
            return default
        if answer.isdigit() and 1 <= int(answer) <= len(people):
            return people[int(answer) - 1]
        found = next((c for c in people if c.name == answer), None)
        if found is not None:
            return found
        problem = f"没有编号或姓名为「{answer[:40]}」的干部：请输入 1–{len(people)} 的编号或干部姓名。"
        if not interactive:
            # Piped input: the first line is the choice. Guessing would start the chat as
            # someone else and swallow what was probably meant as the first message.
            print(problem + "（也可以用 --as 姓名 指定）", file=sys.stderr)
            return None
        print(problem)


def _read_choice(interactive: bool) -> str:
    if not interactive:
        return sys.stdin.readline().strip()
    try:
        return input("编号> ").strip()
    except EOFError:
        return ""


def _telegram_id(cadre: Cadre) -> int:
    """A stable pretend Telegram id per cadre, so a second demo run finds the same binding."""
    return 100_000_000 + zlib.crc32(cadre.name.encode()) % 800_000_000


async def _sandbox_session(settings: Settings, cadre: Cadre) -> int:
    from bot.app import build_application, start_application, stop_application
    from bot.db import create_engine, create_session_factory
    from bot.sandbox import DEFAULT_TOKEN, Sandbox, TerminalChat
    from bot.sandbox.chat import stdin_lines
    from bot.services import cadres

    _log_to_file()
    async with Sandbox(bot_username="zhenggai_demo_bot", bot_name="整改助手") as sandbox:
        sandbox_settings = settings.model_copy(update={"telegram_api_base_url": sandbox.url})
        application = build_application(sandbox_settings, DEFAULT_TOKEN)
        user_id = _telegram_id(cadre)
        first_line: str | None = None
        engine = create_engine(settings.database_url)
        try:
            async with transaction(create_session_factory(engine)) as session:
                bound = await cadres.cadre_by_telegram(session, user_id)
                if bound is None or bound.id != cadre.id:
                    invite = await cadres.create_invite(session, cadre.name, actor_id=None, ttl_days=1,
                                                        bot_username="zhenggai_demo_bot")
                    first_line = f"/start {invite.code}"
        finally:
            await engine.dispose()
        await start_application(application)
        assert application.updater is not None
        await application.updater.start_polling(drop_pending_updates=True)
        try:
            print(f"\n机器人已在本地沙盒 {sandbox.url} 上运行（日志：{DEMO_LOG}）。")
            if first_line:
                print(f"已自动发送 {first_line} 用邀请码完成绑定。")
            print(f"角色：{cadre.role.label}。" + _role_hint(cadre.role))
            interactive = sys.stdin.isatty()
            chat = TerminalChat(sandbox.url, user_id, first_name=cadre.name, echo=not interactive,
                                downloads=PROJECT_ROOT / "var" / "downloads")
            chat.lines = _lines(chat, first_line, stdin_lines(), wait_for_replies=not interactive)
            await chat.run()
        finally:
            with contextlib.suppress(Exception):
                await application.updater.stop()
            await stop_application(application)
    return 0


def _role_hint(role: Role) -> str:
    if role is Role.ADMIN:
        return "可试试：/todo、/report、/export、/invite 张伟"
    if role is Role.LEADER:
        return "可试试：/todo、/overdue、/mine、/report"
    return "可试试：/mine、“请假超过三天要谁批”、“ZG2025009 进展”、点按钮“✅ 完成”"


async def _lines(chat: TerminalChatLike, first: str | None, rest: AsyncIterator[str], *,
                 wait_for_replies: bool) -> AsyncIterator[str]:
    """The invitation first, then what the person types. Piped input (a script, a test) waits
    for the bot to answer each line before sending the next, as a person would."""
    if first:
        yield first
        await _quiet(chat)
    async for line in rest:
        yield line
        if wait_for_replies:
            await _quiet(chat)


async def _quiet(chat: TerminalChatLike, limit: float = 8.0) -> None:
    before = chat.printed
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit
    while loop.time() < deadline:
        await asyncio.sleep(0.05)
        if chat.printed > before and loop.time() - chat.last_event_at > 0.6:
            return


class TerminalChatLike(Protocol):
    printed: int

    @property
    def last_event_at(self) -> float: ...


def _log_to_file() -> None:
    """Keep the chat readable: the bot's own logs go to var/demo.log."""
    from bot.logging_setup import RedactingFormatter

    Path(DEMO_LOG).parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(DEMO_LOG, encoding="utf-8")
    handler.setFormatter(RedactingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]

