"""Fit the answer engine's answer-or-offer decision (`answers.ANSWER_MODEL`) and validate it across bureaus.

Run: .venv/bin/python -m benchmarks.answering [--l2 0.003] [--refusal-weight 1.5]

Once the engine has ranked the candidates for a question, it still has to decide whether the best
one is the answer or only worth offering ("您是不是要问…"). This tool asks every question of the
readable labelled sets twice, once with the bot made to answer and once made to offer, and keeps
the questions where that choice decides whether the reply is right: an answerable question whose
best candidate is right (answering is right), and an off-topic question the ranking found
something for (offering is right). Where the best candidate is wrong, both replies are wrong and
the question teaches nothing. A logistic model of the best candidate's features
(`answers.answer_features`) is fitted on those choices, off-topic ones weighted by
`--refusal-weight` (a wrong answer to an off-topic question misleads; a suggestion does not).

Validation is leave-one-bureau-out and end to end: each set's replies are scored with the model
fitted on the other seven. The four sets kept unread are never loaded (see `question_sets`).
Prints, per set, top-1 overall and correct refusals under the old bare threshold (confidence
0.38), under the model in the code, and under the model fitted without the set; then the model
fitted on all sets, in the form `ANSWER_MODEL` takes, and the command used.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from benchmarks.question_sets import ASKER, SETS, TODAY, bureau
from bot.config import load_settings
from bot.services import answers
from bot.services.answers import AnswerEngine, AnswerFeature
from bot.services.retrieval import Analyzer
from tests.questions.harness import load_questions, top1_right

OLD_THRESHOLD = 0.38  # the bare confidence threshold the model replaced: the baseline
STEPS = 4000  # gradient steps; the loss is convex and flat long before this

FloatArray = npt.NDArray[np.float64]
Model = tuple[float, ...]


class _Steered(AnswerEngine):
    """The engine, made to answer or to offer, keeping what its decision was asked about."""

    def __init__(self, analyzer: Analyzer, timezone: dt.tzinfo | None = None) -> None:
        super().__init__(analyzer, timezone)
        self.forced: bool | None = None
        self.asked: tuple[float, ...] | None = None

    def _sure(self, features: tuple[float, ...]) -> bool:
        self.asked = features
        return super()._sure(features) if self.forced is None else self.forced

    def reply(self, question: str, forced: bool) -> tuple[answers.Answer, tuple[float, ...] | None]:
        self.forced, self.asked = forced, None
        try:
            return self.ask(question, asker=ASKER, today=TODAY), self.asked
        finally:
            self.forced = None


@dataclass
class Bureau:
    """One set's questions, split into those the decision settles and those it cannot change."""

    questions: int = 0
    refusals: int = 0  # off-topic questions
    settled_right: int = 0  # right whatever the decision
    settled_refusals: int = 0  # of which off-topic
    features: list[tuple[float, ...]] = field(default_factory=list)
    answer_right: list[bool] = field(default_factory=list)  # True: answering is right; False: offering is
    off_topic: list[bool] = field(default_factory=list)

    def scored(self, decide: Any) -> tuple[int, int]:
        """Top-1 right and refusals right when `decide(features)` says whether to answer."""
        right, refused = self.settled_right, self.settled_refusals
        for features, answer_right, off_topic in zip(self.features, self.answer_right, self.off_topic, strict=True):
            if bool(decide(features)) == answer_right:
                right += 1
                refused += off_topic
        return right, refused


async def _bureau(data: Path, questions_file: Path) -> Bureau:
    async with bureau(data) as factory:
        engine = await _Steered.load(factory, load_settings())
    assert isinstance(engine, _Steered)
    result = Bureau()
    for item in load_questions(questions_file):
        question, expect = str(item["q"]), item["expect"]
        answered, features = engine.reply(question, forced=True)
        offered, _ = engine.reply(question, forced=False)
        right_answering, right_offering = top1_right(answered, expect), top1_right(offered, expect)
        result.questions += 1
        result.refusals += expect is None
        if features is None or right_answering == right_offering:
            result.settled_right += right_answering
            result.settled_refusals += right_answering and expect is None
            continue
        result.features.append(features)
        result.answer_right.append(right_answering)
        result.off_topic.append(expect is None)
    return result


def fit(bureaus: list[Bureau], *, l2: float, refusal_weight: float) -> Model:
    """Logistic regression on standardised features (L2 on all but the bias), returned in the raw
    features' scale with the bias first, as `ANSWER_MODEL` takes it."""
    x = np.array([f for b in bureaus for f in b.features], dtype=np.float64)
    y = np.array([r for b in bureaus for r in b.answer_right], dtype=np.float64)
    sample = np.array([refusal_weight if o else 1.0 for b in bureaus for o in b.off_topic])
    sample /= sample.mean()
    mean = x.mean(axis=0)
    spread = x.std(axis=0)
    spread[spread == 0] = 1.0  # a feature constant in the data gets no weight, and no division by zero
    z = np.c_[(x - mean) / spread, np.ones(len(x))]
    w = np.zeros(z.shape[1])
    penalty = np.r_[np.ones(z.shape[1] - 1), 0.0]
    for _ in range(STEPS):
        p = 1.0 / (1.0 + np.exp(-(z @ w)))
        w -= 0.5 * (z.T @ (sample * (p - y)) / len(y) + l2 * penalty * w)
    weights = w[:-1] / spread
    bias = w[-1] - float(weights @ mean)
    return (float(bias), *(float(v) for v in weights))


def _by_model(model: Model) -> Any:
    return lambda features: answers.answer_logit(features, model) > 0


def _by_threshold(features: tuple[float, ...]) -> bool:
    return features[AnswerFeature.CONFIDENCE] >= OLD_THRESHOLD


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--l2", type=float, default=0.003, help="L2 penalty on standardised weights (default 0.003)")
    parser.add_argument("--refusal-weight", type=float, default=1.5,
                        help="weight of an off-topic question against an answerable one (default 1.5)")
    args = parser.parse_args()
    bureaus = {name: await _bureau(data, path) for name, (data, path) in SETS.items()}
    code = answers.ANSWER_MODEL
    head = f"{'set':12s} {'questions':>9s} {'threshold 0.38':>15s} {'code':>11s} {'fitted without it':>18s}"
    print(head + "\n" + " " * 23 + "   (top-1 overall, refusals right / off-topic)")
    totals = np.zeros(7, dtype=int)
    for name, this in bureaus.items():
        others = [b for other, b in bureaus.items() if other != name]
        fitted = fit(others, l2=args.l2, refusal_weight=args.refusal_weight)
        row = [this.questions, *this.scored(_by_threshold),
               *(this.scored(_by_model(code)) if code else (0, 0)), *this.scored(_by_model(fitted))]
        totals += np.array(row)
        of = this.refusals
        print(f"{name:12s} {row[0]:9d} {row[1]:7d} {row[2]:3d}/{of:<3d} {row[3]:5d} {row[4]:3d}/{of:<3d}"
              f" {row[5]:10d} {row[6]:3d}/{of:<3d}")
    off_topic = sum(b.refusals for b in bureaus.values())
    print(f"{'total':12s} {totals[0]:9d} {totals[1]:7d} {totals[2]:3d}/{off_topic:<3d} {totals[3]:5d} "
          f"{totals[4]:3d}/{off_topic:<3d} {totals[5]:10d} {totals[6]:3d}/{off_topic:<3d}")
    model = fit(list(bureaus.values()), l2=args.l2, refusal_weight=args.refusal_weight)
    print("model fitted on all sets (bias, then AnswerFeature and Signal weights):")
    print("(" + ", ".join(f"{w:.4g}" for w in model) + ")")
    print("model in the code:")
    print("(" + ", ".join(f"{w:.4g}" for w in code) + ")")
    print("command:", " ".join([Path(sys.executable).name, "-m", "benchmarks.answering", *sys.argv[1:]]))


if __name__ == "__main__":
    asyncio.run(main())
