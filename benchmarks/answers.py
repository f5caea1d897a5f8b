"""Answer engine benchmark: index build time and memory, question latency p50/p99.

Run: .venv/bin/python -m benchmarks.answers [--scale] [--database-url URL]

Without --scale: the sample data in data/ (14 regulations, ~30 measures).
With --scale: the sample data plus synthetic 2,000 regulations × 10 articles and 100,000
measures built from the sample texts (recombined sentences, random units and owners), so
the vocabulary and text lengths stay realistic.
Questions: every question of tests/questions/sample.yaml, asked in a loop.
Prints its figures and the command used.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import datetime as dt
import gc
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

import yaml
from sqlalchemy import insert, select

from bot import db
from bot.config import load_settings
from bot.models import Article, Cadre, Measure, MeasureStatus, Regulation, Role
from bot.services.answers import AnswerEngine
from bot.services.seed import seed_sample_data

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "data"


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def sentences() -> list[str]:
    regs = yaml.safe_load((DATA / "regulations.yaml").read_text(encoding="utf-8"))
    out = [a["text"] for r in regs for a in r["articles"]]
    with (DATA / "measures.csv").open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            out += [row["problem"], row["measure"]]
    return out


async def add_synthetic(factory: db.SessionFactory, regulations: int, measures: int, seed: int = 7, *,
                        cadres: int = 10_000) -> None:
    rng = random.Random(seed)
    pool = sentences()
    topics = ["校车安全", "食堂管理", "课后服务", "教材征订", "学籍管理", "校园欺凌", "营养改善", "控辍保学",
              "教师培训", "学前教育", "特殊教育", "职业培训", "校舍维修", "档案管理", "信息化建设", "安全生产"]
    async with db.transaction(factory) as session:
        existing = list(await session.scalars(select(Cadre)))
        units = [f"{place}{kind}" for place in ("港北区", "港南区", "覃塘区", "平南县", "桂平市", "市直")
                 for kind in ("教育局", "第一中学", "第二中学", "实验小学", "职业学校", "幼儿园")]
        extra = [{"name": f"干部{i:05d}", "unit": rng.choice(units), "position": "科员", "role": Role.CADRE}
                 for i in range(cadres)]
        await session.execute(insert(Cadre), extra)
        cadre_ids = [c.id for c in existing] + list(await session.scalars(
            select(Cadre.id).where(Cadre.name.like("干部%"))))
        reg_rows = [{"key": f"synthetic-{i:04d}", "title": f"{rng.choice(units)}{rng.choice(topics)}管理办法（{i}）",
                     "issuer": "贵港市教育局", "summary": rng.choice(pool), "keywords": rng.sample(topics, 3),
                     "updated_at": dt.datetime.now(dt.UTC)} for i in range(regulations)]
        ids = list(await session.scalars(insert(Regulation).returning(Regulation.id, sort_by_parameter_order=True),
                                         reg_rows)) if reg_rows else []
        for start in range(0, len(ids), 500):
            await session.execute(insert(Article), [
                {"regulation_id": rid, "no": no, "text": "".join(rng.sample(pool, 2))}
                for rid in ids[start:start + 500] for no in range(1, 11)])
        statuses = list(MeasureStatus)
        today = dt.date(2026, 11, 27)
        for start in range(0, measures, 5000):
            await session.execute(insert(Measure), [
                {"code": f"SY{start + i:06d}", "problem": rng.choice(pool), "measure": rng.choice(pool),
                 "category": rng.choice(topics), "unit": rng.choice(units), "owner_id": rng.choice(cadre_ids),
                 "leader_id": rng.choice(cadre_ids), "deadline": today + dt.timedelta(days=rng.randint(-60, 200)),
                 "status": rng.choice(statuses), "progress": "", "version": 1,
                 "created_at": dt.datetime.now(dt.UTC), "updated_at": dt.datetime.now(dt.UTC)}
                for i in range(min(5000, measures - start))])


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", action="store_true", help="2,000 regulations × 10 articles, 100,000 measures")
    parser.add_argument("--database-url", help="default: a fresh SQLite file in a temporary directory")
    parser.add_argument("--postgres", action="store_true", help="use a throwaway PostgreSQL server instead")
    parser.add_argument("--rounds", type=int, default=5, help="passes over the question set")
    parser.add_argument("--measures", type=int, default=100_000, help="synthetic measures with --scale")
    parser.add_argument("--regulations", type=int, default=2000, help="synthetic regulations with --scale")
    parser.add_argument("--profile", action="store_true", help="print a cProfile of the index build")
    args = parser.parse_args()
    if args.postgres:
        from benchmarks.pg import postgres_database

        async with postgres_database() as url:
            args.database_url = url
            await run(args)
    else:
        await run(args)


async def run(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite+aiosqlite:///{tmp}/bench.db"
        engine = db.create_engine(url)
        await db.upgrade(engine)
        factory = db.create_session_factory(engine)
        await seed_sample_data(factory, DATA, only_if_empty=False)
        if args.scale:
            started = time.perf_counter()
            await add_synthetic(factory, args.regulations, args.measures)
            print(f"synthetic data written in {time.perf_counter() - started:.1f}s")
        settings = load_settings(database_url=url)
        import logging

        logging.basicConfig(level=logging.WARNING)
        logging.getLogger("bot.services.answers").setLevel(logging.DEBUG)
        gc.collect()
        before = rss_mb()
        started = time.perf_counter()
        if args.profile:
            import cProfile
            import pstats

            profiler = cProfile.Profile()
            profiler.enable()
        answers = await AnswerEngine.load(factory, settings)
        build = time.perf_counter() - started
        if args.profile:
            profiler.disable()
            pstats.Stats(profiler).sort_stats("tottime").print_stats(25)
        after = rss_mb()
        questions = [str(q["q"]) for q in yaml.safe_load(
            (ROOT / "tests" / "questions" / "sample.yaml").read_text(encoding="utf-8"))]
        for question in questions:  # warm caches once, as a running bot would be
            answers.ask(question)
        latencies = []
        for _ in range(args.rounds):
            for question in questions:
                started = time.perf_counter()
                answers.ask(question)
                latencies.append((time.perf_counter() - started) * 1000)
        latencies.sort()
        p99 = latencies[int(len(latencies) * 0.99) - 1]
        print(f"command: {' '.join([Path(sys.executable).name, '-m', 'benchmarks.answers', *sys.argv[1:]])}")
        print(f"database: {url.split('://')[0]}")
        print(f"documents indexed: {answers.document_count():,}  (measures {len(answers.measures):,})")
        print(f"index build (load from database + build): {build:.2f}s")
        print(f"memory: RSS +{after - before:.0f} MB during build, postings {answers.memory_bytes() / 2**20:.0f} MB, "
              f"process RSS {after:.0f} MB")
        print(f"latency over {len(latencies)} questions: p50 {statistics.median(latencies):.2f} ms, "
              f"p99 {p99:.2f} ms, max {latencies[-1]:.2f} ms")
        await engine.dispose()


if __name__ == "__main__":
    asyncio.run(main())
