"""What teaching the bot does: an admin ties every question it got wrong to its answer.

Run: .venv/bin/python -m benchmarks.teaching

For each readable labelled set (the sample, the held-out set and six other bureaus'; the four
sets kept unread stay unread) the questions are asked once. Each question about a document that
the bot got wrong reaches `/misses`: by itself when it was left unanswered (no answer, or
candidates only), through the asker's 👎 没答对 when it was answered wrongly. Each is taught its
labelled answer, as an admin would from its card (`answers.teach`). After one refresh the whole
set is asked again. Printed per set: the questions, top-1 before, how many were taught of each
kind, top-1 after, the questions fixed, and the questions that broke — answered right before,
wrong after — which is what a taught question must not cause.

Run with --unanswered-only to leave the wrongly answered ones untaught (nobody pressed 👎).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any

from sqlalchemy import select

from benchmarks.question_sets import ASKER, DOCUMENT_KINDS, SETS, TODAY, bureau
from bot.config import load_settings
from bot.db import SessionFactory, transaction
from bot.models import Miss
from bot.services.answers import AnswerEngine, record_miss, teach
from bot.services.text import normalize
from tests.questions.harness import _acceptable, evaluate, load_questions


def _right(engine: AnswerEngine, questions: list[dict[str, Any]]) -> list[bool]:
    return [sum(evaluate(engine, [item], asker=ASKER, today=TODAY).top1.values()) == 1 for item in questions]


async def _teach(factory: SessionFactory, question: str, expect: dict[str, Any]) -> None:
    target = _acceptable(expect)[0]
    async with transaction(factory) as session:
        await record_miss(session, question)
        # The row record_miss counted the question under (what the 归入 button names).
        miss_id = await session.scalar(select(Miss.id).where(Miss.normalized == normalize(question)[:512]))
        assert miss_id is not None
        await teach(session, miss_id, target["kind"], target["key"], article_no=target.get("no"))


async def run(name: str, data: Path, path: Path, *, reported: bool) -> tuple[int, ...]:
    async with bureau(data) as factory:
        answers = await AnswerEngine.load(factory, load_settings())
        questions = load_questions(path)
        before = _right(answers, questions)
        taught = wrong = 0
        for item, right in zip(questions, before, strict=True):
            expect = item["expect"]
            if right or expect is None or expect["kind"] not in DOCUMENT_KINDS:
                continue
            if answers.ask(str(item["q"]), asker=ASKER, today=TODAY).is_miss:
                taught += 1
            elif reported:
                wrong += 1  # answered wrongly: the asker pressed 👎
            else:
                continue
            await _teach(factory, str(item["q"]), expect)
        async with transaction(factory) as session:
            await answers.refresh(session)
        after = _right(answers, questions)
    fixed = sum(1 for b, a in zip(before, after, strict=True) if a and not b)
    broke = [str(item["q"]) for item, b, a in zip(questions, before, after, strict=True) if b and not a]
    for question in broke:
        print(f"  broke in {name}: {question}")
    return len(questions), sum(before), taught, wrong, sum(after), fixed, len(broke)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--unanswered-only", action="store_true",
                        help="teach only the questions left unanswered (no 👎 pressed)")
    args = parser.parse_args()
    head = ("questions", "before", "unanswered", "👎", "after", "fixed", "broke")
    print(f"{'set':12s}" + "".join(f"{h:>11s}" for h in head))
    totals = [0] * len(head)
    for name, (data, path) in SETS.items():
        row = await run(name, data, path, reported=not args.unanswered_only)
        totals = [t + r for t, r in zip(totals, row, strict=True)]
        print(f"{name:12s}" + "".join(f"{v:11d}" for v in row))
    print(f"{'total':12s}" + "".join(f"{v:11d}" for v in totals))
    print("command:", " ".join([Path(sys.executable).name, "-m", "benchmarks.teaching", *sys.argv[1:]]))


if __name__ == "__main__":
    asyncio.run(main())
