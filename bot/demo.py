"""`zhenggai demo`: sample data in a local SQLite database, and a way to talk to the bot.

Until the Telegram bot lands this is an interactive terminal session over the answers
service: type a question, get the answer the bot would give.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from bot.config import Settings
from bot.db import transaction

PROMPT = "问> "
INTRO = """整改助手 演示（本地 SQLite，示例数据来自 data/）
直接输入问题，例如：
  请假超过三天要谁批？   教師工作紀律   ZG2025004 进展   港南区的整改   逾期的有哪些
输入 :quit 或按 Ctrl-D 退出。"""


async def run_demo(settings: Settings, args: argparse.Namespace) -> int:
    from bot.cli import _open_database
    from bot.services.answers import AnswerEngine, record_miss
    from bot.services.phrasing import format_answer_text
    from bot.services.seed import seed_sample_data

    engine, factory = await _open_database(settings)
    try:
        for report in await seed_sample_data(factory, settings.data_dir):
            print(f"已导入示例数据 — {report.summary()}")
        answers = await AnswerEngine.load(factory, settings)
        print(INTRO)
        loop = asyncio.get_running_loop()
        while True:
            print(PROMPT, end="", flush=True)
            line = await loop.run_in_executor(None, sys.stdin.readline)
            if not line or line.strip() in (":quit", ":q", "退出"):
                print("再见。")
                return 0
            question = line.strip()
            if not question:
                continue
            answer = answers.ask(question)
            async with transaction(factory) as session:
                if not answer.answered and answer.listing is None:
                    await record_miss(session, question)
                print(await format_answer_text(session, answer, answers))
            print()
    finally:
        await engine.dispose()
