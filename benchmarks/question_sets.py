"""The readable labelled question sets and their bureaus' data, for the quality benchmarks.

land, water, culture and emergency are the sets kept unread (the estimate for a new bureau):
they are not listed here, so no benchmark can tune to them.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from bot import db
from bot.db import SessionFactory, transaction
from bot.services import ledger
from tests.questions.harness import QUESTIONS_DIR

ROOT = Path(__file__).resolve().parent.parent
TODAY = dt.date(2026, 11, 27)  # the date the question sets were written for
ASKER = "张伟"
#: Readable sets: data directory and questions.
SETS: dict[str, tuple[Path, Path]] = {
    "sample": (ROOT / "data", QUESTIONS_DIR / "sample.yaml"),
    **{name: (QUESTIONS_DIR / name, QUESTIONS_DIR / name / "questions.yaml")
       for name in ("heldout", "transport", "market", "health", "hrss", "environment", "housing")},
}
DOCUMENT_KINDS = ("regulation", "article", "measure")


@asynccontextmanager
async def bureau(data: Path) -> AsyncIterator[SessionFactory]:
    """A fresh SQLite database holding one bureau's regulations, cadres and measures."""
    engine = db.create_engine(f"sqlite+aiosqlite:///{Path(tempfile.mkdtemp()) / 'bureau.db'}")
    try:
        await db.upgrade(engine)
        factory = db.create_session_factory(engine)
        async with transaction(factory) as session:
            await ledger.import_regulations(session, data / "regulations.yaml")
            await ledger.import_cadres(session, data / "cadres.csv")
            await ledger.import_measures(session, data / "measures.csv")
        yield factory
    finally:
        await engine.dispose()
