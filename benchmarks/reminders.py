"""Reminder benchmarks: the due set at scale, and a fan-out through the sandbox at Telegram's limits.

Run: .venv/bin/python -m benchmarks.reminders [--measures 100000] [--cadres 10000] [--fan-out 1000]
     [--database-url URL]

1. Sweep: the sample data plus synthetic measures and cadres (benchmarks.answers builds them);
   times computing the due set (query + policy) and the whole sweep (recording and queueing).
2. Fan-out: N bound cadres, each with one overdue measure, swept and delivered through the
   local Bot API sandbox with Telegram's limits switched on (30 msg/s overall, ~1/s per chat):
   messages per second, 429 responses, duplicates.
Prints its figures and the command used.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from sqlalchemy import select

from benchmarks.answers import DATA, add_synthetic
from bot import db
from bot.config import load_settings
from bot.delivery import Delivery
from bot.models import Cadre, Measure, MeasureStatus, Role
from bot.sandbox import RateLimits, Sandbox
from bot.services.reminders import Policy, due_items, load_candidates
from bot.services.seed import seed_sample_data
from handlers.reminders import run_sweep

TODAY = dt.date(2026, 11, 27)


async def sweep_benchmark(url: str, measures: int, cadres: int) -> None:
    engine = db.create_engine(url)
    await db.upgrade(engine)
    factory = db.create_session_factory(engine)
    await seed_sample_data(factory, DATA, only_if_empty=False)
    started = time.perf_counter()
    await add_synthetic(factory, 0, measures, cadres=cadres)
    print(f"synthetic data: {measures:,} measures, {cadres:,} cadres written in {time.perf_counter() - started:.1f}s")
    policy = Policy()
    async with db.transaction(factory) as session:
        started = time.perf_counter()
        candidates = await load_candidates(session, TODAY, policy)
        loaded = time.perf_counter()
        due = due_items(candidates, TODAY, policy)
        computed = time.perf_counter()
    print(f"due set: {len(due):,} reminders from {len(candidates):,} open measures near or past their deadline")
    print(f"  computed in {computed - started:.3f}s (query {loaded - started:.3f}s, policy {computed - loaded:.3f}s)")
    started = time.perf_counter()
    result = await run_sweep(factory, load_settings(database_url=url), TODAY)
    print(f"full sweep (compute, record {len(result.new):,} items, queue {result.digests:,} digests): "
          f"{time.perf_counter() - started:.2f}s")
    started = time.perf_counter()
    again = await run_sweep(factory, load_settings(database_url=url), TODAY)
    print(f"repeat sweep the same day (finds everything recorded, queues {again.digests}): "
          f"{time.perf_counter() - started:.2f}s")
    await engine.dispose()


async def fan_out_benchmark(url: str, count: int) -> None:
    engine = db.create_engine(url)
    await db.upgrade(engine)
    factory = db.create_session_factory(engine)
    async with Sandbox(limits=RateLimits()) as sandbox:
        async with db.transaction(factory) as session:
            leader = Cadre(name="领导", unit="局领导", position="副局长", role=Role.LEADER)
            session.add(leader)
            for n in range(count):
                user = sandbox.add_user(f"干部{n}", started=True)
                cadre = Cadre(name=f"干部{n:05d}", unit="科室", position="科员", role=Role.CADRE,
                              telegram_user_id=user.id)
                session.add(cadre)
                session.add(Measure(code=f"FO{n:05d}", problem="问题", measure="措施", owner=cadre, leader=leader,
                                    deadline=TODAY - dt.timedelta(days=1), status=MeasureStatus.IN_PROGRESS))
        result = await run_sweep(factory, load_settings(database_url=url), TODAY)
        from telegram import Bot

        async with Bot(sandbox.token, base_url=sandbox.base_url, base_file_url=sandbox.base_file_url) as bot:
            delivery = Delivery(bot, factory)
            started = time.perf_counter()
            report = await delivery.deliver_due()
            elapsed = time.perf_counter() - started
        async with db.transaction(factory) as session:
            chats = [c.telegram_user_id for c in await session.scalars(select(Cadre)) if c.telegram_user_id]
        per_chat = Counter({chat: len(sandbox.messages(chat)) for chat in chats})
        duplicates = sum(n - 1 for n in per_chat.values() if n > 1)
        rate = report.sent / elapsed if elapsed else 0.0
        print(f"fan-out: {result.digests:,} digests queued; {report.sent:,} sent in {elapsed:.1f}s = {rate:.1f} msg/s "
              f"({rate / 30:.0%} of Telegram's 30 msg/s)")
        print(f"  429 responses: {sandbox.stats.rate_limited}, retried {report.retried}, failed {report.failed}, "
              f"duplicates: {duplicates}")
    await engine.dispose()


async def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--measures", type=int, default=100_000)
    parser.add_argument("--cadres", type=int, default=10_000)
    parser.add_argument("--fan-out", type=int, default=1000, help="digests to deliver through the sandbox")
    parser.add_argument("--database-url", help="database for the sweep (default: a fresh SQLite file)")
    parser.add_argument("--fan-out-database-url", help="an EMPTY database for the fan-out (default: fresh SQLite)")
    parser.add_argument("--postgres", action="store_true", help="run both parts on throwaway PostgreSQL databases")
    args = parser.parse_args()
    print(f"command: {Path(sys.executable).name} -m benchmarks.reminders {' '.join(sys.argv[1:])}")
    if args.postgres:
        from benchmarks.pg import postgres_databases

        async with postgres_databases("zg_sweep", "zg_fanout") as (sweep_url, fan_out_url):
            await sweep_benchmark(sweep_url, args.measures, args.cadres)
            if args.fan_out:
                await fan_out_benchmark(fan_out_url, args.fan_out)
        return
    with tempfile.TemporaryDirectory() as tmp:
        await sweep_benchmark(args.database_url or f"sqlite+aiosqlite:///{tmp}/sweep.db", args.measures,
                              args.cadres)
        if args.fan_out:
            await fan_out_benchmark(args.fan_out_database_url or f"sqlite+aiosqlite:///{tmp}/fanout.db", args.fan_out)


if __name__ == "__main__":
    asyncio.run(main())
