"""Top-1 accuracy on labelled question sets must not drop below what we reached.

tests/questions/sample.yaml asks about the sample data in data/; tests/questions/heldout/,
transport/, market/, health/, hrss/, environment/, housing/, land/, water/, culture/ and
emergency/ are other bureaus' data with their own questions (written without seeing the
engine), imported through the same import code. The floors sit just under the measured
figures reported in the README; raise them when the engine improves.
On 2026-12-08 the answer-or-offer decision became a fitted model (`answers.ANSWER_MODEL`): it
raised every floor but transport's refusals (25 of 30, one fewer; 25 more right over the other sets).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from bot.config import load_settings
from bot.db import SessionFactory, transaction
from bot.services import ledger
from bot.services.answers import AnswerEngine
from tests.conftest import DATA
from tests.questions.harness import QUESTIONS_DIR, evaluate, load_questions

TODAY = dt.date(2026, 11, 27)
SETS = {
    # name: (data directory, question file, minimum top-1 over answerable questions, minimum refusals)
    "sample": (DATA, QUESTIONS_DIR / "sample.yaml", 0.94, 0.93),
    "heldout": (QUESTIONS_DIR / "heldout", QUESTIONS_DIR / "heldout" / "questions.yaml", 0.93, 0.88),
    # Written on 2026-12-06 by a helper that saw neither the engine nor the other sets; 72.5%
    # top-1 overall when first asked, before the fixes it prompted.
    "transport": (QUESTIONS_DIR / "transport", QUESTIONS_DIR / "transport" / "questions.yaml", 0.86, 0.8),
    # Likewise, by another helper: 73.0% at the session's start, 77.0% when first asked
    # (d019118, after the transport set's fixes), before the fixes it prompted.
    "market": (QUESTIONS_DIR / "market", QUESTIONS_DIR / "market" / "questions.yaml", 0.91, 0.93),
    # Two more, written on 2026-12-06 (late) by two further helpers in the same way (柳州市卫生健康
    # 委员会, 玉林市人力资源和社会保障局): 69.0% and 64.5% top-1 overall when first asked (b95bccc),
    # before the fixes they prompted. Only their `also` entries were reshaped to the harness's form.
    "health": (QUESTIONS_DIR / "health", QUESTIONS_DIR / "health" / "questions.yaml", 0.83, 0.93),
    "hrss": (QUESTIONS_DIR / "hrss", QUESTIONS_DIR / "hrss" / "questions.yaml", 0.78, 0.86),
    # And two written after those (梧州市生态环境局, 百色市住房和城乡建设局): 73.0% and 72.0% top-1
    # overall when first asked (a458e9c), 76.5% and 73.5% on fa93185 after fixes prompted by the
    # other sets. Their failures were first read on 2026-12-07, when land and water replaced them
    # as the sets nobody has read.
    "environment": (QUESTIONS_DIR / "environment", QUESTIONS_DIR / "environment" / "questions.yaml", 0.85, 0.93),
    "housing": (QUESTIONS_DIR / "housing", QUESTIONS_DIR / "housing" / "questions.yaml", 0.86, 0.93),
    # Written on 2026-12-07 the same way (钦州市自然资源局, 贵港市水利局), after the environment and
    # housing failures had been read at last: 76.0% and 74.0% top-1 overall when first asked
    # (a30e500). Nobody has read their failures: they are the estimate for a bureau never seen.
    "land": (QUESTIONS_DIR / "land", QUESTIONS_DIR / "land" / "questions.yaml", 0.77, 0.86),
    "water": (QUESTIONS_DIR / "water", QUESTIONS_DIR / "water" / "questions.yaml", 0.74, 0.93),
    # Two more, written later the same day (北海市文化广电和旅游局, 防城港市应急管理局): 71.0% and
    # 69.0% on a30e500, 71.5% and 70.0% when first asked on the day's final code (3f5f67c).
    # Unread as well.
    "culture": (QUESTIONS_DIR / "culture", QUESTIONS_DIR / "culture" / "questions.yaml", 0.71, 0.86),
    # On 2026-12-07 (morning, later) the general thesaurus gained land and emergency one answerable
    # question each but cost emergency a refusal (26 of 30), hence its lower refusal floor.
    "emergency": (QUESTIONS_DIR / "emergency", QUESTIONS_DIR / "emergency" / "questions.yaml", 0.7, 0.86),
}


@pytest.mark.parametrize("name", list(SETS))
async def test_top1_accuracy_and_refusals_stay_above_the_floor(factory: SessionFactory, name: str) -> None:
    data, questions_file, min_top1, min_refusals = SETS[name]
    async with transaction(factory) as session:
        await ledger.import_regulations(session, Path(data) / "regulations.yaml")
        await ledger.import_cadres(session, Path(data) / "cadres.csv")
        await ledger.import_measures(session, Path(data) / "measures.csv")
    engine = await AnswerEngine.load(factory, load_settings())
    questions = load_questions(questions_file)
    assert len(questions) >= 150
    report = evaluate(engine, questions, asker="张伟", today=TODAY)
    answerable = sum(v for k, v in report.count.items() if k != "refusal")
    top1 = sum(v for k, v in report.top1.items() if k != "refusal") / answerable
    refusals = report.rate(report.top1, "refusal")
    print(f"\n{name}:\n{report.table()}\nanswerable top-1 {top1:.1%}")
    assert top1 >= min_top1, "\n".join(report.failures[:40])
    assert refusals >= min_refusals, "\n".join(f for f in report.failures if "expect=None" in f)
