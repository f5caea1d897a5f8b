"""Loading the sample data shipped in `data/` (used by `make demo` and `zhenggai db seed`)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select

from bot.db import SessionFactory, transaction
from bot.errors import ZhenggaiError
from bot.models import Measure, Regulation
from bot.services import ledger

SAMPLE_FILES = ("regulations.yaml", "cadres.csv", "measures.csv")


async def seed_sample_data(
    factory: SessionFactory, data_dir: Path, *, only_if_empty: bool = True
) -> list[ledger.ImportReport]:
    """Import the three sample files in one transaction; nothing when data already exists."""
    missing = [name for name in SAMPLE_FILES if not (data_dir / name).is_file()]
    if missing:
        raise ZhenggaiError(f"示例数据目录 {data_dir} 缺少文件：{', '.join(missing)}")
    async with transaction(factory) as session:
        if only_if_empty:
            regulations = await session.scalar(select(func.count()).select_from(Regulation))
            measures = await session.scalar(select(func.count()).select_from(Measure))
            if regulations or measures:
                return []
        return [
            await ledger.import_regulations(session, data_dir / "regulations.yaml"),
            await ledger.import_cadres(session, data_dir / "cadres.csv"),
            await ledger.import_measures(session, data_dir / "measures.csv"),
        ]
