"""Fit the answer engine's ranking weights (`answers.RANK_WEIGHTS`) and validate them across bureaus.

Run: .venv/bin/python -m benchmarks.ranking [--steps 300] [--l2 0.01]

The engine ranks each candidate by a weighted sum of signals (`answers.Signal`): how much of the
question it accounts for, its BM25 score, what its own text says, answer cues, and so on. This
tool asks every question of the readable labelled sets once (the sample, the held-out set and six
other bureaus' sets; the four sets kept unread as the estimate for a new bureau are never loaded),
records each ranked candidate's signals, and fits the weights with a softmax loss on two choices
the ranking makes:
- the right family first among all candidates (the regulation, whichever of its articles; or the measure);
- among the expected regulation's articles, the right article first.
Whether the regulation itself or its best article answers is settled after ranking, by rules.
The fit starts from, and is held near (L2), the hand-set weights the engine had before any fit,
so it can only move weights the data gives reasons to move.

Validation is leave-one-bureau-out and end to end: each set is asked again through `ask` with the
weights fitted on the other seven, and its top-1 is compared with the hand-set weights and with
the weights in the code. Prints the figures, the weights fitted on all sets, and the command used.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from benchmarks.question_sets import ASKER, DOCUMENT_KINDS, SETS, TODAY, bureau
from bot.config import load_settings
from bot.services import answers
from bot.services.answers import AnswerEngine, QueryWord
from bot.services.retrieval import Analyzer
from tests.questions.harness import _acceptable, _matches, evaluate, load_questions

#: The weights set by hand before any fit: the origin of the fit and a baseline.
HAND_WEIGHTS = (1.0, 0.05, 1.0, 0.25, 0.15, 0.03, 0.1, 0.2, 0.01, -0.05)
SCALE = 10.0  # softmax temperature: rank differences are hundredths, the loss wants units

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


class _Recording(AnswerEngine):
    """The engine, keeping the candidates of the last ranking it made."""

    def __init__(self, analyzer: Analyzer, timezone: dt.tzinfo | None = None) -> None:
        super().__init__(analyzer, timezone)
        self.rankings: list[list[Any]] = []

    def _rank(self, body: str, content: list[QueryWord], today: dt.date) -> list[Any]:
        ranked = super()._rank(body, content, today)
        self.rankings.append(ranked)
        return ranked

    def ranking_of(self, question: str) -> list[Any]:
        """The candidates `ask` ranked for the question; none if it was answered before ranking."""
        self.rankings.clear()
        self.ask(question, asker=ASKER, today=TODAY)
        return self.rankings[-1] if self.rankings else []


@dataclass
class Choice:
    """One softmax: candidates' signals, and which of them are right."""

    signals: FloatArray  # candidates × signals
    right: BoolArray


async def _engine(data: Path) -> _Recording:
    async with bureau(data) as factory:
        loaded = await _Recording.load(factory, load_settings())
    assert isinstance(loaded, _Recording)
    return loaded


def _choices(engine: _Recording, questions: list[dict[str, Any]]) -> list[Choice]:
    """The two choices of each question about a document whose answer the ranking reached."""
    choices: list[Choice] = []
    for item in questions:
        expect = item["expect"]
        if expect is None or expect["kind"] not in DOCUMENT_KINDS:
            continue  # refusals and lists are decided by thresholds and intents, not by ranking
        ranked = engine.ranking_of(str(item["q"]))
        if not ranked:
            continue  # answered before ranking (a code, a small talk, a list)
        docs = [scored.doc for scored in ranked]
        signals = np.array([scored.signals for scored in ranked], dtype=np.float64)
        right = np.array([any(_matches(d.kind, d.key, d.no, e) for e in _acceptable(expect)) for d in docs])
        keys = {d.key for d, ok in zip(docs, right, strict=True) if ok and d.kind != "measure"}
        family = right | np.array([d.kind != "measure" and d.key in keys for d in docs])
        if family.any() and not family.all():
            choices.append(Choice(signals, family))
        siblings = np.array([d.kind == "article" and d.key in keys for d in docs])
        if expect["kind"] == "article" and siblings.sum() > 1 and right[siblings].any():
            choices.append(Choice(signals[siblings], right[siblings]))
    return choices


def fit(choices: list[Choice], *, steps: int, l2: float) -> tuple[float, ...]:
    """Weights minimising the softmax loss of the choices (Adam, from the hand-set weights)."""
    width = len(HAND_WEIGHTS)
    longest = max(len(c.right) for c in choices)
    # Padded to one array so that every step is a handful of vectorised operations.
    x = np.zeros((len(choices), longest, width))
    valid = np.zeros((len(choices), longest), dtype=bool)
    right = np.zeros((len(choices), longest), dtype=bool)
    for i, choice in enumerate(choices):
        x[i, : len(choice.right)] = choice.signals
        valid[i, : len(choice.right)] = True
        right[i, : len(choice.right)] = choice.right
    origin = np.array(HAND_WEIGHTS) * SCALE
    w = origin.copy()
    m = np.zeros(width)
    v = np.zeros(width)
    for step in range(1, steps + 1):
        s = np.where(valid, x @ w, -np.inf)
        p = np.exp(s - s.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        q = np.where(right, p, 0.0)
        q /= q.sum(axis=1, keepdims=True)
        grad = np.einsum("gc,gcf->f", p - q, x) / len(choices) + l2 * (w - origin)
        m = 0.9 * m + 0.1 * grad
        v = 0.999 * v + 0.001 * grad * grad
        w -= 0.05 * (m / (1 - 0.9**step)) / (np.sqrt(v / (1 - 0.999**step)) + 1e-8)
    # Rank order is what counts: scale back so that confidence weighs 1, as in the code.
    return tuple(float(f) for f in w / w[answers.Signal.CONFIDENCE])


def _top1(engine: AnswerEngine, questions: list[dict[str, Any]], weights: tuple[float, ...]) -> int:
    saved = answers.RANK_WEIGHTS
    answers.RANK_WEIGHTS = weights
    try:
        return sum(evaluate(engine, questions, asker=ASKER, today=TODAY).top1.values())
    finally:
        answers.RANK_WEIGHTS = saved


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--steps", type=int, default=300, help="optimiser steps per fit (default 300)")
    parser.add_argument("--l2", type=float, default=0.01, help="pull towards the hand-set weights (default 0.01)")
    args = parser.parse_args()
    engines: dict[str, _Recording] = {}
    questions: dict[str, list[dict[str, Any]]] = {}
    choices: dict[str, list[Choice]] = {}
    for name, (data, path) in SETS.items():
        engines[name] = await _engine(data)
        questions[name] = load_questions(path)
        choices[name] = _choices(engines[name], questions[name])
    code = answers.RANK_WEIGHTS
    print(f"{'set':12s} {'questions':>9s} {'hand':>5s} {'code':>5s} {'fitted without it':>18s}")
    totals = np.zeros(4, dtype=int)
    for name in SETS:
        others = [c for other in SETS if other != name for c in choices[other]]
        weights = fit(others, steps=args.steps, l2=args.l2)
        row = np.array([len(questions[name]), _top1(engines[name], questions[name], HAND_WEIGHTS),
                        _top1(engines[name], questions[name], code), _top1(engines[name], questions[name], weights)])
        totals += row
        print(f"{name:12s} {row[0]:9d} {row[1]:5d} {row[2]:5d} {row[3]:18d}")
    print(f"{'total':12s} {totals[0]:9d} {totals[1]:5d} {totals[2]:5d} {totals[3]:18d}")
    everything = [c for name in SETS for c in choices[name]]
    fitted = fit(everything, steps=args.steps, l2=args.l2)
    print("weights fitted on all sets:", "(" + ", ".join(f"{w:.3f}" for w in fitted) + ")")
    print("weights in the code:       ", "(" + ", ".join(f"{w:.3f}" for w in code) + ")")
    print("command:", " ".join([Path(sys.executable).name, "-m", "benchmarks.ranking", *sys.argv[1:]]))


if __name__ == "__main__":
    asyncio.run(main())
