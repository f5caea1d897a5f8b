"""Evaluate the answers engine against a labelled question set (used by tests and benchmarks)."""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from bot.models import MeasureStatus
from bot.services.answers import Answer, AnswerEngine

QUESTIONS_DIR = Path(__file__).resolve().parent
STATUS_BY_LABEL = {s.label: s for s in MeasureStatus}


def load_questions(path: Path) -> list[dict[str, Any]]:
    return list(yaml.safe_load(path.read_text(encoding="utf-8")))


def _matches(hit_kind: str, hit_key: str, hit_no: int | None, expect: dict[str, Any]) -> bool:
    if hit_kind != expect["kind"] or hit_key != expect["key"]:
        return False
    return expect["kind"] != "article" or hit_no == expect.get("no")


def _acceptable(expect: dict[str, Any]) -> list[dict[str, Any]]:
    return [expect, *expect.get("also", [])]


def list_correct(answer: Answer, expect: dict[str, Any]) -> bool:
    listing = answer.listing
    if listing is None or not answer.answered:
        return False
    wanted_status = STATUS_BY_LABEL.get(expect["status"]) if "status" in expect else None
    return (
        listing.owner == expect.get("owner")
        and listing.leader == expect.get("leader")
        and listing.unit == expect.get("unit")
        and listing.overdue == bool(expect.get("overdue", False))
        and listing.mine == bool(expect.get("mine", False))
        and (wanted_status is None or (listing.statuses is not None and wanted_status in listing.statuses))
    )


def top1_right(answer: Answer, expect: dict[str, Any] | None) -> bool:
    """Whether the bot's reply is right: a refusal refused, a list listed, or the item answered first."""
    if expect is None:
        return not answer.answered
    if expect["kind"] == "list":
        return list_correct(answer, expect)
    hits = answer.hits
    return answer.answered and bool(hits) and any(
        _matches(hits[0].kind, hits[0].key, hits[0].no, e) for e in _acceptable(expect))


@dataclass
class Report:
    total: int = 0
    top1: Counter[str] = field(default_factory=Counter)
    top3: Counter[str] = field(default_factory=Counter)
    count: Counter[str] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)

    def rate(self, counter: Counter[str], kind: str | None = None) -> float:
        if kind is None:
            return sum(counter.values()) / max(1, sum(self.count.values()))
        return counter[kind] / max(1, self.count[kind])

    def table(self) -> str:
        lines = [f"{'kind':<12}{'n':>5}{'top-1':>9}{'top-3':>9}"]
        for kind in sorted(self.count):
            lines.append(f"{kind:<12}{self.count[kind]:>5}{self.rate(self.top1, kind):>9.1%}"
                         f"{self.rate(self.top3, kind):>9.1%}")
        lines.append(f"{'overall':<12}{sum(self.count.values()):>5}{self.rate(self.top1):>9.1%}"
                     f"{self.rate(self.top3):>9.1%}")
        return "\n".join(lines)


def evaluate(engine: AnswerEngine, questions: list[dict[str, Any]], *, asker: str | None = None,
             today: dt.date | None = None) -> Report:
    report = Report()
    by_tag: dict[str, Counter[str]] = defaultdict(Counter)
    for item in questions:
        expect = item["expect"]
        answer = engine.ask(str(item["q"]), asker=asker, today=today)
        kind = "refusal" if expect is None else expect["kind"]
        report.count[kind] += 1
        ok1 = top1_right(answer, expect)
        if expect is None or kind == "list":
            ok3 = ok1
        else:
            ok3 = any(_matches(h.kind, h.key, h.no, e) for h in answer.hits[:3] for e in _acceptable(expect))
        report.top1[kind] += ok1
        report.top3[kind] += ok3
        for tag in item.get("tags", []):
            by_tag[tag]["n"] += 1
            by_tag[tag]["ok"] += ok1
        if not ok1:
            got = (f"list={answer.listing.to_json()}" if answer.listing else
                   ", ".join(f"{h.kind}:{h.key}:{h.no}:{h.score:.2f}" for h in answer.hits[:3]))
            report.failures.append(f"{item['q']!r} expect={expect} answered={answer.answered} got=[{got}]")
    return report
