"""Deadline reminders (催办), derived from the database on every sweep.

A sweep computes what is due today (a pure function of the open measures, today's date and
the policy), records each due reminder as a `ReminderItem` under its unique key, and queues
one digest per person in the outbox — all in one transaction. Delivery happens afterwards
(bot/delivery.py). Because the keys are unique and the sweep only ever adds what is missing:
- running the sweep twice, or in two processes at once, sends nothing twice;
- after downtime the next sweep catches up on what is still due (the latest stage of each
  measure, not every stage that was missed);
- a measure reported done, or closed, is simply no longer open: its reminders stop; a returned
  measure is open again and they resume.

Policy: owners are reminded 7, 3 and 1 days before the deadline (REMINDER_DAYS_BEFORE), on the
day, and every working day while overdue; from ESCALATE_AFTER_DAYS overdue the leader is told
too; admins get a daily digest of all overdue measures, unreachable cadres and failed
deliveries. Weekends and Chinese public holidays are skipped (chinesecalendar).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

import chinese_calendar
from sqlalchemy import func, insert, select, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from bot.config import Settings
from bot.models import Cadre, Measure, MeasureStatus, Miss, OutboxMessage, OutboxStatus, ReminderItem, Role, utcnow
from bot.services import outbox
from bot.services.outbox import Button

log = logging.getLogger(__name__)

OVERDUE = "overdue"
ESCALATE = "escalate"
DUE_TODAY = "due"
ADMIN_DIGEST = "admin"
#: Upper bound of items listed in one admin digest (the rest is counted).
ADMIN_LIST = 30
_LOCK_ID = 0x7A67_7265  # "zgre": PostgreSQL advisory lock serialising sweeps across processes


@dataclass(frozen=True)
class Policy:
    days_before: tuple[int, ...] = (7, 3, 1)
    escalate_after: int = 3
    skip_non_workdays: bool = True

    @classmethod
    def from_settings(cls, settings: Settings) -> Policy:
        return cls(tuple(sorted(set(settings.reminder_days_before), reverse=True)), settings.escalate_after_days,
                   settings.skip_non_workdays)


@lru_cache(maxsize=4096)
def _chinese_workday(day: dt.date) -> bool | None:
    try:
        return bool(chinese_calendar.is_workday(day))
    except NotImplementedError:
        return None  # a year the package has no data for yet


_warned_years: set[int] = set()


def is_workday(day: dt.date, policy: Policy) -> bool:
    if not policy.skip_non_workdays:
        return True
    official = _chinese_workday(day)
    if official is None:
        if day.year not in _warned_years:
            _warned_years.add(day.year)
            log.warning("no Chinese holiday data for %s (update chinesecalendar): using Monday–Friday", day.year)
        return day.weekday() < 5
    return official


@dataclass(frozen=True)
class Candidate:
    """An open measure with a deadline, as the sweep needs it."""

    measure_id: int
    code: str
    problem: str
    unit: str
    deadline: dt.date
    status: MeasureStatus
    owner_id: int
    owner_name: str
    leader_id: int | None


@dataclass(frozen=True)
class DueItem:
    candidate: Candidate
    cadre_id: int  # the recipient
    kind: str  # before7 / before3 / before1 / due / overdue / escalate
    due_key: dt.date
    days_left: int  # negative: days overdue

    @property
    def key(self) -> tuple[int, int, str, dt.date]:
        return (self.candidate.measure_id, self.cadre_id, self.kind, self.due_key)


def stage(days_left: int, policy: Policy) -> str | None:
    """The reminder a measure is due for with this many days left (None: not yet)."""
    if days_left < 0:
        return OVERDUE
    if days_left == 0:
        return DUE_TODAY
    fitting = [d for d in policy.days_before if d >= days_left]
    return f"before{min(fitting)}" if fitting else None


def due_items(candidates: Iterable[Candidate], today: dt.date, policy: Policy) -> list[DueItem]:
    """What is due today (pure: no database, no clock)."""
    if not is_workday(today, policy):
        return []
    items: list[DueItem] = []
    for c in candidates:
        if not c.status.is_open:
            continue
        days_left = (c.deadline - today).days
        kind = stage(days_left, policy)
        if kind is None:
            continue
        # Before-deadline stages are once per deadline; daily ones once per day.
        key = today if kind in (OVERDUE, DUE_TODAY) else c.deadline
        items.append(DueItem(c, c.owner_id, kind, key, days_left))
        if kind == OVERDUE and -days_left >= policy.escalate_after and c.leader_id and c.leader_id != c.owner_id:
            items.append(DueItem(c, c.leader_id, ESCALATE, today, days_left))
    return items


async def load_candidates(session: AsyncSession, today: dt.date, policy: Policy) -> list[Candidate]:
    """Open measures whose deadline is within the longest reminder horizon (or past)."""
    horizon = today + dt.timedelta(days=max(policy.days_before, default=0))
    owner = aliased(Cadre)
    rows = await session.execute(
        select(Measure.id, Measure.code, Measure.problem, Measure.unit, Measure.deadline, Measure.status,
               Measure.owner_id, owner.name, Measure.leader_id)
        .join(owner, Measure.owner_id == owner.id)
        .where(Measure.status.in_([MeasureStatus.NOT_STARTED, MeasureStatus.IN_PROGRESS]),
               Measure.deadline.is_not(None), Measure.deadline <= horizon)
        .order_by(Measure.deadline, Measure.code)
    )
    return [Candidate(*row) for row in rows.all()]


#: Turns one person's due items into (HTML text, buttons) — supplied by the Telegram layer.
DigestRenderer = Callable[[Cadre, Sequence[DueItem], dt.date], tuple[str, list[list[Button]]]]
#: Renders the admins' daily digest.
AdminRenderer = Callable[["AdminDigest"], str]


@dataclass(frozen=True)
class AdminDigest:
    today: dt.date
    overdue_total: int
    overdue: Sequence[Candidate]
    escalated: int
    unreachable: Sequence[Cadre]
    failed: Sequence[OutboxMessage]
    unanswered: int = 0  # questions asked in the last day the bot could not answer, not yet dealt with


@dataclass
class SweepResult:
    today: dt.date
    workday: bool
    due: list[DueItem] = field(default_factory=list)  # everything due today
    new: list[DueItem] = field(default_factory=list)  # not recorded before this sweep
    digests: int = 0  # outbox messages queued
    unbound: list[str] = field(default_factory=list)  # recipients without Telegram
    names: dict[int, str] = field(default_factory=dict)  # recipient id -> name, for reports
    dry_run: bool = False

    def to_json(self) -> dict[str, object]:
        return {
            "date": self.today.isoformat(), "workday": self.workday, "dry_run": self.dry_run,
            "due": len(self.due), "new": len(self.new), "digests": self.digests, "unbound": sorted(set(self.unbound)),
            "items": [{"code": i.candidate.code, "recipient": self.names.get(i.cadre_id), "kind": i.kind,
                       "days_left": i.days_left} for i in self.new],
        }


async def _lock(session: AsyncSession) -> None:
    """One sweep at a time across processes, so the second sees what the first recorded.

    PostgreSQL: a transaction-scoped advisory lock. SQLite: take the write lock up front (a
    write statement does, even one that changes nothing). The unique keys stay the guarantee.
    """
    if session.bind.dialect.name == "postgresql":
        await session.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": _LOCK_ID})
    else:
        await session.execute(text("DELETE FROM reminder_items WHERE 1 = 0"))


async def sweep(
    session: AsyncSession,
    today: dt.date,
    policy: Policy,
    *,
    render: DigestRenderer,
    render_admin: AdminRenderer | None = None,
    dry_run: bool = False,
) -> SweepResult:
    """Record what is due and queue the digests, in the caller's transaction."""
    result = SweepResult(today, is_workday(today, policy), dry_run=dry_run)
    if not result.workday:
        return result
    await _lock(session)
    candidates = await load_candidates(session, today, policy)
    result.due = due_items(candidates, today, policy)
    result.new = await _not_yet_recorded(session, result.due)
    by_person: dict[int, list[DueItem]] = defaultdict(list)
    for item in result.new:
        by_person[item.cadre_id].append(item)
    people = await _cadres(session, by_person)
    result.names = {cadre_id: cadre.name for cadre_id, cadre in people.items()}
    if dry_run:
        # What the real sweep would send: one digest per person (admins' overviews aside).
        result.digests = len(by_person)
        result.unbound = sorted(c.name for c in people.values() if c.telegram_user_id is None)
        return result
    # Admins get the daily overview once a day — inside their own digest when they have one,
    # so that nobody gets more than one message per sweep.
    overview = await _admin_overview(session, today, candidates, result, render_admin) if render_admin else None
    admins_due = [a for a in await session.scalars(select(Cadre).where(Cadre.role == Role.ADMIN))
                  if overview and not await _overview_sent(session, a.id, today)]
    for admin in admins_due:
        people.setdefault(admin.id, admin)
        by_person.setdefault(admin.id, [])
    # Everything queued here is new (the lock, then _not_yet_recorded), so it is written in bulk:
    # one flush for the digests, one INSERT for the items. A racing writer still trips the unique
    # keys and the whole sweep is retried by the caller.
    earlier = await _digests_today(session, today)
    digests: list[tuple[OutboxMessage, list[DueItem]]] = []
    for cadre_id, items in by_person.items():
        cadre = people[cadre_id]
        with_overview = overview if cadre in admins_due else None
        if items:
            text_html, buttons = render(cadre, items, today)
            if with_overview:
                text_html += "\n\n" + with_overview
            count = earlier.get(cadre_id, 0)
            key = f"reminder:{cadre_id}:{today.isoformat()}" + (f":{count + 1}" if count else "")
        else:
            assert with_overview is not None
            text_html, buttons, key = with_overview, [], _overview_key(cadre_id, today)
        message = outbox.new_message(key=key, kind="reminder" if items else "digest", text=text_html, cadre=cadre,
                                     buttons=buttons)
        digests.append((message, items))
        if with_overview and items:
            # Remember that today's overview went out inside the digest.
            digests.append((outbox.new_message(key=_overview_key(cadre_id, today), kind="digest",
                                               text="（已并入当日催办消息）", cadre=None), []))
        if cadre.telegram_user_id is None:
            result.unbound.append(cadre.name)
    session.add_all([message for message, _ in digests])
    await session.flush()
    result.digests = sum(1 for message, items in digests if items or message.cadre_id is not None)
    rows = [{"measure_id": i.candidate.measure_id, "cadre_id": i.cadre_id, "kind": i.kind, "due_key": i.due_key,
             "sweep_date": today, "outbox_id": message.id} for message, items in digests for i in items]
    for start in range(0, len(rows), 5000):
        await session.execute(insert(ReminderItem), rows[start:start + 5000])
    log.info("reminder sweep %s: %d due, %d new, %d messages queued", today, len(result.due), len(result.new),
             result.digests)
    return result


async def _not_yet_recorded(session: AsyncSession, due: list[DueItem]) -> list[DueItem]:
    if not due:
        return []
    keys = {item.key for item in due}
    recorded: set[tuple[int, int, str, dt.date]] = set()
    measure_ids = sorted({k[0] for k in keys})
    for start in range(0, len(measure_ids), 5000):  # bounded IN lists for large sweeps
        chunk = measure_ids[start:start + 5000]
        rows = await session.execute(
            select(ReminderItem.measure_id, ReminderItem.cadre_id, ReminderItem.kind, ReminderItem.due_key)
            .where(ReminderItem.measure_id.in_(chunk), ReminderItem.due_key >= min(k[3] for k in keys))
        )
        recorded.update((m, c, k, d) for m, c, k, d in rows.all())
    return [item for item in due if item.key not in recorded]


async def _cadres(session: AsyncSession, ids: Iterable[int]) -> dict[int, Cadre]:
    wanted = list(ids)
    found: dict[int, Cadre] = {}
    for start in range(0, len(wanted), 5000):
        for cadre in await session.scalars(select(Cadre).where(Cadre.id.in_(wanted[start:start + 5000]))):
            found[cadre.id] = cadre
    return found


async def _digests_today(session: AsyncSession, today: dt.date) -> dict[int, int]:
    """How many digests each person already got today: a later catch-up sweep gets its own key."""
    rows = await session.execute(
        select(OutboxMessage.cadre_id, func.count())
        .where(OutboxMessage.kind == "reminder", OutboxMessage.key.like(f"reminder:%:{today.isoformat()}%"))
        .group_by(OutboxMessage.cadre_id))
    return {int(cadre_id): int(n) for cadre_id, n in rows.all() if cadre_id is not None}


def _overview_key(cadre_id: int, today: dt.date) -> str:
    return f"{ADMIN_DIGEST}:{cadre_id}:{today.isoformat()}"


async def _overview_sent(session: AsyncSession, cadre_id: int, today: dt.date) -> bool:
    key = _overview_key(cadre_id, today)
    return bool(await session.scalar(select(func.count()).select_from(OutboxMessage).where(OutboxMessage.key == key)))


async def _admin_overview(session: AsyncSession, today: dt.date, candidates: Sequence[Candidate],
                          result: SweepResult, render_admin: AdminRenderer) -> str | None:
    """The overdue picture and what could not be delivered; None when there is nothing to report."""
    overdue = [c for c in candidates if c.deadline < today]
    since = utcnow() - dt.timedelta(days=1)
    digest = AdminDigest(
        today=today, overdue_total=len(overdue), overdue=overdue[:ADMIN_LIST],
        escalated=sum(1 for i in result.due if i.kind == ESCALATE),
        unreachable=list(await session.scalars(select(Cadre).where(Cadre.unreachable_since.is_not(None))
                                                .order_by(Cadre.name))),
        failed=await outbox.failures_since(session, since),
        unanswered=await session.scalar(select(func.count()).select_from(Miss).where(
            Miss.resolved.is_(False), Miss.last_at >= since)) or 0,
    )
    if not (digest.overdue_total or digest.unreachable or digest.failed or digest.unanswered):
        return None
    return render_admin(digest)


async def pending_counts(session: AsyncSession) -> dict[str, int]:
    """For operations: how many reminder messages wait, were sent, failed."""
    rows = await session.execute(
        select(OutboxMessage.status, func.count()).where(OutboxMessage.kind.in_(["reminder", "digest"]))
        .group_by(OutboxMessage.status))
    counts = {status.value: 0 for status in OutboxStatus}
    counts.update({OutboxStatus(status).value: int(n) for status, n in rows.all()})
    return counts
