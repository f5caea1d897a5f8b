"""Data for reminder fan-out tests, shared by tests/reminders and tests/hardening."""

from __future__ import annotations

import datetime as dt
from collections import Counter

from sqlalchemy import func, select

from bot.db import SessionFactory, transaction
from bot.models import Cadre, Measure, MeasureStatus, OutboxMessage, OutboxStatus, Role


async def add_overdue_cadres(factory: SessionFactory, count: int, today: dt.date) -> None:
    """`count` more cadres (测试000…), each owning one measure overdue since the day before
    `today`: a reminder fan-out of at least `count` digests."""
    async with transaction(factory) as session:
        leader = await session.scalar(select(Cadre).where(Cadre.role == Role.LEADER))
        assert leader is not None
        for n in range(count):
            cadre = Cadre(name=f"测试{n:03d}", unit="测试科", position="科员", role=Role.CADRE)
            session.add(cadre)
            session.add(Measure(code=f"BULK{n:03d}", problem="测试问题", measure="测试措施", owner=cadre,
                                leader=leader, deadline=today - dt.timedelta(days=1),
                                status=MeasureStatus.IN_PROGRESS))


async def outbox_statuses(factory: SessionFactory) -> Counter[OutboxStatus]:
    async with transaction(factory) as session:
        rows = await session.execute(select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status))
        return Counter({OutboxStatus(s): int(n) for s, n in rows.all()})
