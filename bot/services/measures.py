"""The life of a 整改措施: progress, reported done, verified (销号) or returned, deadline extensions.

    未开始 ──progress──▶ 进行中
    未开始 / 进行中 ──done──▶ 已完成 ──verify──▶ 已销号
                              ├──reject──▶ 进行中 (with a reason)
                              └──undo────▶ the status before `done` (the reporter only)

Who may do what (actor = a cadre id; admin/leader/cadre is `Cadre.role`, "leader" below means
the measure's own 分管领导):

    card                     any cadre (公示-level information)
    trail, progress, done,   owner, leader, admin
    evidence
    undo                     whoever reported it done
    verify                   leader, admin — never the owner nor whoever reported it done
    reject                   leader, admin
    request extension        owner, leader
    withdraw extension       whoever made the pending request, before an admin decides
    decide extension         admin — not on a request they made themselves

Every change appends exactly one `MeasureEvent` and bumps `Measure.version`, also for changes
that leave the row's columns alone (evidence, extension requests), so two concurrent operations
on one measure can never both succeed: on PostgreSQL the row lock (`SELECT … FOR UPDATE`)
serialises them and the second sees the new status; on SQLite the version check turns the
loser's write into a ConflictError.
"""

from __future__ import annotations

import datetime as dt
import enum
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Subquery, bindparam, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload
from sqlalchemy.orm.attributes import flag_modified
from sqlalchemy.orm.exc import StaleDataError

from bot.errors import ConflictError, InvalidInput, InvalidTransition, NotFound, PermissionDenied
from bot.models import (
    Cadre,
    ExtensionRequest,
    ExtensionStatus,
    Measure,
    MeasureEvent,
    MeasureStatus,
    Role,
    utcnow,
)
from bot.services.cadres import admin_ids, get_cadre
from bot.services.text import clean_display, cn_date, code_key

log = logging.getLogger(__name__)

OPEN_STATUSES = (MeasureStatus.NOT_STARTED, MeasureStatus.IN_PROGRESS)
EVIDENCE_KINDS = ("photo", "video", "document")
#: How each kind of evidence is named to people.
EVIDENCE_NAMES = {"photo": "照片", "video": "视频", "document": "文件"}
#: Longest note, progress report or reason accepted (a Telegram message holds 4096 characters).
MAX_TEXT = 2000


@dataclass(frozen=True)
class Evidence:
    """A file sent through Telegram: kind is "photo", "video" or "document" (`EVIDENCE_KINDS`)."""

    kind: str
    file_id: str
    file_name: str | None = None


@dataclass(frozen=True)
class Transition:
    """What a change did, and whom to tell (cadre ids, never the actor)."""

    measure: Measure
    event: MeasureEvent
    notify: list[int]


@dataclass(frozen=True)
class ExtensionOutcome:
    request: ExtensionRequest
    measure: Measure
    event: MeasureEvent
    notify: list[int]


class Action(enum.StrEnum):
    """What an actor may do to a measure right now (for buttons on a card)."""

    TRAIL = "trail"
    PROGRESS = "progress"
    DONE = "done"
    UNDO = "undo"
    EVIDENCE = "evidence"
    VERIFY = "verify"
    REJECT = "reject"
    EXTEND = "extend"


@dataclass(frozen=True)
class MeasureView:
    measure: Measure
    actions: frozenset[Action]
    pending_extension: ExtensionRequest | None


# ---- permissions (pure) -------------------------------------------------------------------------

def _owns(actor: Cadre, measure: Measure) -> bool:
    return measure.owner_id == actor.id


def _leads(actor: Cadre, measure: Measure) -> bool:
    return measure.leader_id is not None and measure.leader_id == actor.id


def _is_admin(actor: Cadre) -> bool:
    return actor.role == Role.ADMIN


def may_work_on(actor: Cadre, measure: Measure) -> bool:
    """Report progress, report done, add evidence, read the trail."""
    return _owns(actor, measure) or _leads(actor, measure) or _is_admin(actor)


def may_judge(actor: Cadre, measure: Measure) -> bool:
    """Verify (销号) or return (退回) — subject to separation of duties for verify."""
    return _leads(actor, measure) or _is_admin(actor)


def may_request_extension(actor: Cadre, measure: Measure) -> bool:
    return _owns(actor, measure) or _leads(actor, measure)


can_view_trail = may_work_on


def _actions(
    actor: Cadre, measure: Measure, reporter_id: int | None, pending: ExtensionRequest | None
) -> frozenset[Action]:
    allowed: set[Action] = set()
    work = may_work_on(actor, measure)
    if work:
        allowed.add(Action.TRAIL)
    if measure.status in OPEN_STATUSES:
        if work:
            allowed |= {Action.PROGRESS, Action.DONE}
        if may_request_extension(actor, measure) and pending is None:
            allowed.add(Action.EXTEND)
    if measure.status != MeasureStatus.CLOSED and work:
        allowed.add(Action.EVIDENCE)
    if measure.status == MeasureStatus.DONE:
        if reporter_id == actor.id:
            allowed.add(Action.UNDO)
        if may_judge(actor, measure):
            allowed.add(Action.REJECT)
            if not _owns(actor, measure) and reporter_id != actor.id:
                allowed.add(Action.VERIFY)
    return frozenset(allowed)


# ---- small helpers ------------------------------------------------------------------------------

def _text(value: str | None, what: str, *, required: bool) -> str:
    text = clean_display(value or "")
    if required and not text:
        raise InvalidInput(f"请填写{what}")
    if len(text) > MAX_TEXT:
        raise InvalidInput(f"{what}过长（最多 {MAX_TEXT} 字）")
    return text


def _check_evidence(evidence: Evidence | None) -> Evidence | None:
    if evidence is None:
        return None
    if evidence.kind not in EVIDENCE_KINDS:
        raise InvalidInput("佐证材料只能是照片、视频或文件")
    if not evidence.file_id:
        raise InvalidInput("佐证材料缺少文件")
    return evidence


def _recipients(actor_id: int, ids: Iterable[int | None]) -> list[int]:
    """Distinct ids in order, without the actor (who already knows) and without gaps."""
    seen: list[int] = []
    for cadre_id in ids:
        if cadre_id is not None and cadre_id != actor_id and cadre_id not in seen:
            seen.append(cadre_id)
    return seen


def _late_days(deadline: dt.date | None, today: dt.date) -> int:
    return max(0, (today - deadline).days) if deadline else 0


def _iso(day: dt.date | None) -> str | None:
    return day.isoformat() if day else None


async def _find_id(session: AsyncSession, code: str) -> int:
    """A measure's id from a code as typed: 'zg-2025-004' finds ZG2025004 (case and dashes ignored)."""
    key = code_key(code)
    shown = clean_display(code, 32)
    if not key:
        raise InvalidInput("请提供整改措施编号，例如 ZG2025004")
    typed = clean_display(code)
    found = (await session.scalars(select(Measure.id).where(Measure.code.in_({typed, key})))).first()
    if found is not None:
        return found
    # Codes are stored as the bureau writes them (XC-2024-01); compare canonical keys.
    rows = await session.execute(select(Measure.id, Measure.code))
    for measure_id, stored in rows.tuples():
        if code_key(stored) == key:
            return measure_id
    raise NotFound(f"没有编号为 {shown} 的整改措施")


async def _lock(session: AsyncSession, measure_id: int) -> Measure:
    """The measure as it is now, row-locked on PostgreSQL (FOR UPDATE is a no-op on SQLite)."""
    measure = (await session.scalars(
        select(Measure)
        .where(Measure.id == measure_id)
        # OF measures: the eager-loaded leader is an outer join, which PostgreSQL cannot lock.
        .with_for_update(of=Measure)
        .execution_options(populate_existing=True)
    )).first()
    if measure is None:  # deleted between look-up and lock
        raise NotFound("该整改措施已不存在")
    return measure


async def _load(session: AsyncSession, actor_id: int, code: str) -> tuple[Cadre, Measure]:
    actor = await get_cadre(session, actor_id)
    return actor, await _lock(session, await _find_id(session, code))


def _record(
    session: AsyncSession,
    measure: Measure,
    actor: Cadre,
    action: str,
    *,
    from_status: MeasureStatus | None = None,
    to_status: MeasureStatus | None = None,
    note: str = "",
    evidence: Evidence | None = None,
    details: dict[str, Any] | None = None,
    claim: bool = True,
) -> MeasureEvent:
    """Append the event for this change and make sure the change bumps the measure's version."""
    details = dict(details or {})
    if evidence is not None and evidence.file_name:
        details["file_name"] = evidence.file_name
    event = MeasureEvent(
        measure=measure,
        actor=actor,
        action=action,
        from_status=from_status,
        to_status=to_status,
        note=note,
        evidence_kind=evidence.kind if evidence else None,
        evidence_file_id=evidence.file_id if evidence else None,
        details=details or None,
    )
    session.add(event)
    if claim and not session.is_modified(measure, include_collections=False):
        _claim(measure)
    return event


def _claim(measure: Measure) -> None:
    """Make the next flush bump the version although no column changed (evidence, a request),
    so that a concurrent change of this measure loses the version check. updated_at stays."""
    flag_modified(measure, "updated_at")


async def _flush(session: AsyncSession, measure: Measure) -> None:
    code = measure.code  # read now: a failed flush expires the object and closes the transaction
    try:
        await session.flush()
    except StaleDataError as exc:
        log.info("measure %s changed concurrently; refusing the stale write", code)
        raise ConflictError(f"{code} 刚刚被他人修改，请刷新后重试") from exc


async def _last_done_event(session: AsyncSession, measure_id: int) -> MeasureEvent | None:
    """The event that put the measure into 已完成 most recently (a person's report or an import)."""
    events = await session.scalars(
        select(MeasureEvent)
        .where(MeasureEvent.measure_id == measure_id, MeasureEvent.to_status == MeasureStatus.DONE)
        .order_by(MeasureEvent.id.desc())
        .limit(1)
    )
    return events.first()


def _log(measure: Measure, actor: Cadre, action: str, before: MeasureStatus, after: MeasureStatus) -> None:
    log.info("measure %s: %s by cadre %s (%s → %s, version %s)", measure.code, action, actor.id,
             before.value, after.value, measure.version)


# ---- queries ------------------------------------------------------------------------------------

_BY_DEADLINE = (Measure.deadline.is_(None), Measure.deadline, Measure.code)
# Still to do, then awaiting sign-off, then signed off (MeasureStatus.stage); each by deadline.
_BY_URGENCY = (case({status: status.stage for status in MeasureStatus}, value=Measure.status), *_BY_DEADLINE)
#: Built once: /mine runs it for every cadre who asks (see pending.sender on why).
_OF_OWNER = select(Measure).where(Measure.owner_id == bindparam("owner_id")).order_by(*_BY_URGENCY)


def sign_offs(*within: ColumnElement[bool]) -> Subquery:
    """(measure_id, closed_at) of each measure's latest sign-off — a transition to 已销号, not a
    measure imported as closed — among the events `within` allows (e.g. this week's)."""
    return (
        select(MeasureEvent.measure_id, func.max(MeasureEvent.at).label("closed_at"))
        .where(MeasureEvent.to_status == MeasureStatus.CLOSED, MeasureEvent.from_status.is_not(None), *within)
        .group_by(MeasureEvent.measure_id)
        .subquery()
    )


async def get_measure(session: AsyncSession, code: str) -> Measure:
    """The measure with this code (case, dashes and full-width digits do not matter); NotFound otherwise."""
    measure = await session.get(Measure, await _find_id(session, code))
    if measure is None:
        raise NotFound(f"没有编号为 {clean_display(code, 32)} 的整改措施")
    return measure


async def _measures(session: AsyncSession, *conditions: ColumnElement[bool]) -> list[Measure]:
    return list(await session.scalars(select(Measure).where(*conditions).order_by(*_BY_DEADLINE)))


async def measures_of_owner(session: AsyncSession, cadre_id: int) -> list[Measure]:
    """The cadre's own measures: still to do, then awaiting sign-off, then signed off; each by
    deadline, open-ended ones last."""
    return list(await session.scalars(_OF_OWNER, {"owner_id": cadre_id}))


async def open_measures_of_owner(session: AsyncSession, cadre_id: int) -> list[Measure]:
    """The cadre's measures still to be done (未开始/进行中), in the same order."""
    return [m for m in await measures_of_owner(session, cadre_id) if m.status.is_open]


async def measures_of_leader(session: AsyncSession, cadre_id: int) -> list[Measure]:
    """Measures this cadre supervises as 分管领导, in the order of `measures_of_owner`."""
    return list(await session.scalars(select(Measure).where(Measure.leader_id == cadre_id).order_by(*_BY_URGENCY)))


async def overdue(
    session: AsyncSession,
    today: dt.date,
    *,
    owner_id: int | None = None,
    leader_id: int | None = None,
    unit: str | None = None,
) -> list[Measure]:
    """Open measures whose deadline has passed (a measure due today is not overdue yet)."""
    conditions: list[ColumnElement[bool]] = [
        Measure.status.in_(OPEN_STATUSES),
        Measure.deadline.is_not(None),
        Measure.deadline < today,
    ]
    if owner_id is not None:
        conditions.append(Measure.owner_id == owner_id)
    if leader_id is not None:
        conditions.append(Measure.leader_id == leader_id)
    if unit is not None:
        conditions.append(Measure.unit == unit.strip())
    return await _measures(session, *conditions)


async def awaiting_verification(session: AsyncSession, actor_id: int) -> list[Measure]:
    """Measures reported done that this actor may verify now (a leader's or admin's 待销号 list)."""
    actor = await get_cadre(session, actor_id)
    if _is_admin(actor):
        candidates = await _measures(session, Measure.status == MeasureStatus.DONE)
    else:
        candidates = await _measures(session, Measure.status == MeasureStatus.DONE, Measure.leader_id == actor.id)
    result = []
    for measure in candidates:
        if _owns(actor, measure):
            continue
        done = await _last_done_event(session, measure.id)
        if done is None or done.actor_id != actor.id:
            result.append(measure)
    return result


async def view_measure(session: AsyncSession, actor_id: int, code: str) -> MeasureView:
    """A measure's card for any cadre, with what this actor may do to it right now."""
    actor = await get_cadre(session, actor_id)
    measure = await get_measure(session, code)
    reporter_id = None
    if measure.status == MeasureStatus.DONE:
        done = await _last_done_event(session, measure.id)
        reporter_id = done.actor_id if done else None
    pending = await _pending_extension(session, measure.id)
    return MeasureView(measure, _actions(actor, measure, reporter_id, pending), pending)


async def events_of(session: AsyncSession, code: str, *, actor_id: int | None) -> list[MeasureEvent]:
    """The audit trail, oldest first. actor_id None: an operator on the command line."""
    measure = await get_measure(session, code)
    if actor_id is not None:
        actor = await get_cadre(session, actor_id)
        if not can_view_trail(actor, measure):
            raise PermissionDenied(f"只有 {measure.code} 的责任人、分管领导或管理员可以查看办理记录")
    return list(
        await session.scalars(
            select(MeasureEvent)
            .where(MeasureEvent.measure_id == measure.id)
            .options(selectinload(MeasureEvent.actor))
            .order_by(MeasureEvent.at, MeasureEvent.id)
        )
    )


# ---- changes ------------------------------------------------------------------------------------

async def add_progress(session: AsyncSession, actor_id: int, code: str, text: str) -> Transition:
    """Record the latest progress; the first report moves 未开始 to 进行中. Awaiting sign-off, it is
    a note added to the completion report (the status stays 已完成)."""
    actor, measure = await _load(session, actor_id, code)
    if not may_work_on(actor, measure):
        raise PermissionDenied(f"{measure.code} 的责任人是{measure.owner.name}，您不能填报进展")
    if measure.status == MeasureStatus.CLOSED:
        raise InvalidTransition(f"{measure.code} 已销号，不能再填报进展")
    progress = _text(text, "进展情况", required=True)
    if progress == measure.progress:
        raise InvalidInput(f"{measure.code} 的最新进展已经是这条，无需重复填报")
    before, previous = measure.status, measure.progress
    measure.progress = progress
    if measure.status is not MeasureStatus.DONE:
        measure.status = MeasureStatus.IN_PROGRESS
    moved = before != measure.status
    event = _record(
        session, measure, actor, "progress",
        from_status=before if moved else None, to_status=measure.status if moved else None,
        note=progress, details={"previous": previous} if previous else None,
    )
    await _flush(session, measure)
    _log(measure, actor, "progress", before, measure.status)
    return Transition(measure, event, [])


async def mark_done(
    session: AsyncSession,
    actor_id: int,
    code: str,
    note: str | None,
    evidence: Evidence | None,
    today: dt.date,
) -> Transition:
    """Report the measure done (未开始/进行中 → 已完成). The owner, or the leader or an admin on the
    owner's behalf (the event records who). Tells the leader and the admins — and the owner when
    someone else reported for them."""
    actor, measure = await _load(session, actor_id, code)
    if not may_work_on(actor, measure):
        raise PermissionDenied(f"{measure.code} 的责任人是{measure.owner.name}，您不能报告完成")
    if measure.status == MeasureStatus.DONE:
        more = f"；补充说明请发送“{measure.code} 进展：……”" if note and note.strip() else ""
        raise InvalidTransition(f"{measure.code} 已报告完成，正在等待销号{more}")
    if measure.status == MeasureStatus.CLOSED:
        raise InvalidTransition(f"{measure.code} 已销号，无需重复操作")
    text = _text(note, "说明", required=False)
    evidence = _check_evidence(evidence)
    before = measure.status
    measure.status = MeasureStatus.DONE
    details: dict[str, Any] = {}
    if not _owns(actor, measure):
        details["on_behalf_of"] = measure.owner_id
    if late := _late_days(measure.deadline, today):
        details["days_late"] = late
    if text:
        # The completion note is the newest 进展: the card the leader signs off from shows it.
        details["previous"] = measure.progress
        measure.progress = text
    event = _record(session, measure, actor, "done", from_status=before, to_status=MeasureStatus.DONE,
                    note=text, evidence=evidence, details=details)
    await _flush(session, measure)
    _log(measure, actor, "done", before, measure.status)
    notify = _recipients(actor.id, [measure.leader_id, *await admin_ids(session), measure.owner_id])
    return Transition(measure, event, notify)


async def undoable_reports(session: AsyncSession, actor_id: int) -> list[Measure]:
    """Measures awaiting sign-off whose done report this cadre made (what `undo_done` allows them)."""
    last_done = (
        select(MeasureEvent.measure_id, func.max(MeasureEvent.id).label("event_id"))
        .where(MeasureEvent.to_status == MeasureStatus.DONE)
        .group_by(MeasureEvent.measure_id)
        .subquery()
    )
    return list(await session.scalars(
        select(Measure)
        .join(last_done, last_done.c.measure_id == Measure.id)
        .join(MeasureEvent, MeasureEvent.id == last_done.c.event_id)
        .where(Measure.status == MeasureStatus.DONE, MeasureEvent.actor_id == actor_id)
        .order_by(*_BY_DEADLINE)
    ))


async def undo_done(session: AsyncSession, actor_id: int, code: str) -> Transition:
    """Withdraw a done report (before it is verified); only whoever reported it may."""
    actor, measure = await _load(session, actor_id, code)
    if measure.status == MeasureStatus.CLOSED:
        raise InvalidTransition(f"{measure.code} 已销号，不能撤回")
    if measure.status != MeasureStatus.DONE:
        raise InvalidTransition(f"{measure.code} 当前状态为{measure.status.label}，没有可撤回的完成报告")
    done = await _last_done_event(session, measure.id)
    if done is None or done.actor_id != actor.id:
        raise PermissionDenied(f"{measure.code} 的完成报告不是您提交的，只有报告人可以撤回")
    earlier = done.from_status
    back = earlier if earlier is not None and earlier in OPEN_STATUSES else MeasureStatus.IN_PROGRESS
    measure.status = back
    if done.details and "previous" in done.details and measure.progress == done.note:
        measure.progress = done.details["previous"]  # the report is withdrawn, and its note with it
    event = _record(session, measure, actor, "undo", from_status=MeasureStatus.DONE, to_status=back,
                    details={"undoes_event": done.id})
    await _flush(session, measure)
    _log(measure, actor, "undo", MeasureStatus.DONE, back)
    notify = _recipients(actor.id, [measure.leader_id, *await admin_ids(session), measure.owner_id])
    return Transition(measure, event, notify)


async def add_evidence(
    session: AsyncSession, actor_id: int, code: str, evidence: Evidence, note: str | None = None
) -> Transition:
    """Attach a photo or document to a measure not yet 销号. While it awaits verification the
    verifiers (leader, admins) are told."""
    actor, measure = await _load(session, actor_id, code)
    if not may_work_on(actor, measure):
        raise PermissionDenied(f"{measure.code} 的责任人是{measure.owner.name}，您不能补充佐证材料")
    if measure.status == MeasureStatus.CLOSED:
        raise InvalidTransition(f"{measure.code} 已销号，不能再补充佐证材料")
    checked = _check_evidence(evidence)
    event = _record(session, measure, actor, "evidence", note=_text(note, "说明", required=False),
                    evidence=checked)
    await _flush(session, measure)
    _log(measure, actor, "evidence", measure.status, measure.status)
    notify: list[int] = []
    if measure.status == MeasureStatus.DONE:
        notify = _recipients(actor.id, [measure.leader_id, *await admin_ids(session)])
    return Transition(measure, event, notify)


def named(cadre: Cadre | None) -> str:
    """（李明德） after 分管领导 in a refusal: who to turn to."""
    return f"（{cadre.name}）" if cadre is not None else ""


async def check_verify(session: AsyncSession, actor_id: int, code: str) -> Measure:
    """Raise what `verify` would refuse with, changing nothing: asked before a sign-off is confirmed."""
    actor, measure = await _load(session, actor_id, code)
    await _check_verify(session, actor, measure)
    return measure


async def _check_verify(session: AsyncSession, actor: Cadre, measure: Measure) -> int | None:
    """The sign-off rules; returns who reported the measure done."""
    if not may_judge(actor, measure):
        raise PermissionDenied(f"只有 {measure.code} 的分管领导{named(measure.leader)}或管理员可以销号")
    if measure.status == MeasureStatus.CLOSED:
        raise InvalidTransition(f"{measure.code} 已销号，无需重复操作")
    if measure.status != MeasureStatus.DONE:
        raise InvalidTransition(f"{measure.code} 尚未报告完成（当前状态：{measure.status.label}），不能销号")
    if _owns(actor, measure):
        raise PermissionDenied(f"{measure.code} 由您负责，不能由您本人销号，请由分管领导或其他管理员审核")
    done = await _last_done_event(session, measure.id)
    reporter_id = done.actor_id if done else None
    if reporter_id == actor.id:
        raise PermissionDenied(f"{measure.code} 的完成情况是您报告的，不能由您本人销号，请由其他管理员或分管领导审核")
    return reporter_id


async def verify(session: AsyncSession, actor_id: int, code: str, note: str | None, today: dt.date) -> Transition:
    """Sign off (销号): 已完成 → 已销号, by the leader or an admin who neither owns the measure nor
    reported it done. Tells the owner (and the reporter, if someone else)."""
    actor, measure = await _load(session, actor_id, code)
    reporter_id = await _check_verify(session, actor, measure)
    text = _text(note, "说明", required=False)
    moot = await _pending_extension(session, measure.id)  # read first: a query flushes pending changes
    measure.status = MeasureStatus.CLOSED
    if moot is not None:
        # Signed off, the measure needs no later deadline: the request is closed, not left for an
        # admin to refuse by hand.
        moot.status = ExtensionStatus.REFUSED
        moot.decided_by_id, moot.decided_at = actor.id, utcnow()
        moot.decision_note = "措施已销号，延期申请自动关闭"
    event = _record(session, measure, actor, "verify", from_status=MeasureStatus.DONE,
                    to_status=MeasureStatus.CLOSED, note=text,
                    details={"verified_on": today.isoformat(), "reported_by": reporter_id})
    await _flush(session, measure)
    _log(measure, actor, "verify", MeasureStatus.DONE, measure.status)
    return Transition(measure, event, _recipients(actor.id, [measure.owner_id, reporter_id]))


async def reject(session: AsyncSession, actor_id: int, code: str, reason: str) -> Transition:
    """Return (退回) a done report: 已完成 → 进行中, with a reason the owner is told."""
    actor, measure = await _load(session, actor_id, code)
    if not may_judge(actor, measure):
        raise PermissionDenied(f"只有 {measure.code} 的分管领导{named(measure.leader)}或管理员可以退回")
    if measure.status == MeasureStatus.CLOSED:
        raise InvalidTransition(f"{measure.code} 已销号，不能退回")
    if measure.status != MeasureStatus.DONE:
        raise InvalidTransition(f"{measure.code} 尚未报告完成（当前状态：{measure.status.label}），无需退回")
    text = _text(reason, "退回原因", required=True)
    done = await _last_done_event(session, measure.id)
    measure.status = MeasureStatus.IN_PROGRESS
    event = _record(session, measure, actor, "reject", from_status=MeasureStatus.DONE,
                    to_status=MeasureStatus.IN_PROGRESS, note=text)
    await _flush(session, measure)
    _log(measure, actor, "reject", MeasureStatus.DONE, measure.status)
    reporter_id = done.actor_id if done else None
    return Transition(measure, event, _recipients(actor.id, [measure.owner_id, reporter_id]))


# ---- deadline extensions ------------------------------------------------------------------------

@dataclass(frozen=True)
class Pending:
    """What a measure's card should say is under way: an extension request not yet decided, and
    the return (退回) that reopened it, while it is still open."""

    extension: ExtensionRequest | None = None
    returned: MeasureEvent | None = None


async def pending_matters(session: AsyncSession, measure: Measure) -> Pending:
    returned = None
    if measure.status.is_open:
        last = await session.scalar(select(MeasureEvent).where(MeasureEvent.measure_id == measure.id)
                                    .order_by(MeasureEvent.id.desc()).limit(1)
                                    .options(selectinload(MeasureEvent.actor)))
        returned = last if last is not None and last.action == "reject" else None
    return Pending(await _pending_extension(session, measure.id), returned)


async def _pending_extension(session: AsyncSession, measure_id: int) -> ExtensionRequest | None:
    requests = await session.scalars(
        select(ExtensionRequest)
        .where(ExtensionRequest.measure_id == measure_id, ExtensionRequest.status == ExtensionStatus.PENDING)
        .execution_options(populate_existing=True)
    )
    return requests.first()


#: What a decision on a request its requester has taken back is told.
WITHDRAWN_ALREADY = "申请人已撤回该延期申请，无需处理"


def withdraw_hint(code: str) -> str:
    """How the requester takes a pending request back, as they would type it."""
    return f"“{code} 撤回延期申请”"


def already_pending(code: str, pending: ExtensionRequest, actor_id: int) -> str:
    """Why a second request is refused while `pending` waits; its requester hears how to take it back."""
    until = cn_date(pending.new_deadline)
    if pending.requested_by_id == actor_id:
        return (f"{code} 已有一条待审批的延期申请（您已申请延至 {until}），请等待管理员处理；"
                f"如需更改，请先发送{withdraw_hint(code)}，再重新申请")
    return f"{code} 已有一条待审批的延期申请（{pending.requested_by.name} 申请延至 {until}），请等待管理员处理"


def check_undecided(request: ExtensionRequest) -> None:
    """Raise InvalidTransition unless `request` still awaits a decision."""
    if request.status is ExtensionStatus.WITHDRAWN:
        raise InvalidTransition(WITHDRAWN_ALREADY)
    if request.status is not ExtensionStatus.PENDING:
        raise InvalidTransition(f"该延期申请已处理（{request.status.label}），无需重复操作")


async def _latest_extension(session: AsyncSession, measure_id: int) -> ExtensionRequest | None:
    return (await session.scalars(
        select(ExtensionRequest)
        .where(ExtensionRequest.measure_id == measure_id)
        .order_by(ExtensionRequest.id.desc())
        .limit(1)
        .execution_options(populate_existing=True)
    )).first()


async def pending_extension_of(session: AsyncSession, code: str) -> ExtensionRequest:
    """The extension request of measure `code` awaiting a decision (there is at most one)."""
    measure_id = await _find_id(session, code)
    request = await _pending_extension(session, measure_id)
    if request is None:
        latest = await _latest_extension(session, measure_id)
        if latest is not None and latest.status is ExtensionStatus.WITHDRAWN:
            # 同意延期 typed after the requester took it back: say so, not merely "none pending".
            raise InvalidTransition(f"{latest.measure.code}：{WITHDRAWN_ALREADY}")
        raise NotFound(f"{code} 没有待审批的延期申请")
    return request


async def pending_extensions_of_requester(session: AsyncSession, actor_id: int) -> list[ExtensionRequest]:
    """The requests this cadre made that still await a decision (what they may withdraw), oldest first."""
    return list(await session.scalars(
        select(ExtensionRequest)
        .where(ExtensionRequest.status == ExtensionStatus.PENDING, ExtensionRequest.requested_by_id == actor_id)
        .order_by(ExtensionRequest.created_at, ExtensionRequest.id)
    ))


async def pending_extensions(session: AsyncSession) -> list[ExtensionRequest]:
    """Requests awaiting an admin's decision, oldest first."""
    return list(
        await session.scalars(
            select(ExtensionRequest)
            .where(ExtensionRequest.status == ExtensionStatus.PENDING)
            .order_by(ExtensionRequest.created_at, ExtensionRequest.id)
        )
    )


async def get_extension(session: AsyncSession, request_id: int) -> ExtensionRequest:
    request = await session.get(ExtensionRequest, request_id)
    if request is None:
        raise NotFound(f"没有编号为 {request_id} 的延期申请")
    return request


async def request_extension(
    session: AsyncSession, actor_id: int, code: str, new_deadline: dt.date, reason: str, today: dt.date
) -> ExtensionOutcome:
    """Ask to move an open measure's deadline (owner or leader); the admins are told."""
    actor, measure = await _load(session, actor_id, code)
    if not may_request_extension(actor, measure):
        raise PermissionDenied(f"只有 {measure.code} 的责任人或分管领导可以申请延期")
    if measure.status == MeasureStatus.DONE:
        raise InvalidTransition(f"{measure.code} 已报告完成，无需申请延期")
    if measure.status == MeasureStatus.CLOSED:
        raise InvalidTransition(f"{measure.code} 已销号，无需申请延期")
    text = _text(reason, "延期理由", required=True)
    if new_deadline <= today:
        raise InvalidInput(f"新的完成时限（{cn_date(new_deadline)}）必须晚于今天，请写一个更晚的日期")
    if measure.deadline is not None and new_deadline <= measure.deadline:
        raise InvalidInput(
            f"新的完成时限（{cn_date(new_deadline)}）必须晚于当前时限（{cn_date(measure.deadline)}），"
            "请写一个更晚的日期"
        )
    pending = await _pending_extension(session, measure.id)
    if pending is not None:
        raise InvalidTransition(already_pending(measure.code, pending, actor.id))
    request = ExtensionRequest(measure=measure, requested_by=actor, old_deadline=measure.deadline,
                               new_deadline=new_deadline, reason=text, status=ExtensionStatus.PENDING,
                               created_at=utcnow())
    session.add(request)
    # One flush claims the measure (version) and gives the request the id the event names.
    _claim(measure)
    await _flush(session, measure)
    event = _record(session, measure, actor, "extend_request", claim=False, note=text, details={
        "request_id": request.id, "old_deadline": _iso(measure.deadline), "new_deadline": new_deadline.isoformat(),
    })
    await _flush(session, measure)
    _log(measure, actor, "extend_request", measure.status, measure.status)
    # The admins decide; the measure's leader is told as well (the 分管领导 answers for the deadline).
    return ExtensionOutcome(request, measure, event,
                            _recipients(actor.id, [*await admin_ids(session), measure.leader_id]))


async def decide_extension(
    session: AsyncSession, actor_id: int, request_id: int, approve: bool, note: str | None, today: dt.date
) -> ExtensionOutcome:
    """An admin approves (the deadline moves) or refuses a pending request; the requester is told,
    and the owner when the leader asked on their behalf."""
    actor = await get_cadre(session, actor_id)
    if not _is_admin(actor):
        raise PermissionDenied("只有管理员可以审批延期申请")
    request = await get_extension(session, request_id)
    # Lock the measure first (the order every change uses), then re-read the request under it.
    measure = await _lock(session, request.measure_id)
    await session.refresh(request)
    check_undecided(request)
    if request.requested_by_id == actor.id:
        raise PermissionDenied("不能审批自己提出的延期申请，请由其他管理员处理")
    text = _text(note, "审批意见", required=False)
    old_deadline = measure.deadline
    if approve:
        if measure.status not in OPEN_STATUSES:
            raise InvalidTransition(f"{measure.code} {measure.status.label}，无需延期，请驳回该申请")
        if measure.deadline is not None and request.new_deadline <= measure.deadline:
            # The deadline moved since the request (a re-imported 台账): approving would shorten it.
            raise InvalidTransition(
                f"{measure.code} 的完成时限已是 {measure.deadline.isoformat()}，不早于申请的时限，请驳回该申请"
            )
        if request.new_deadline <= today:
            raise InvalidTransition(
                f"申请延至的 {request.new_deadline.isoformat()} 已经过去，无法批准，请驳回后由申请人重新申请"
            )
        measure.deadline = request.new_deadline
    request.status = ExtensionStatus.APPROVED if approve else ExtensionStatus.REFUSED
    request.decided_by = actor
    request.decided_at = utcnow()
    request.decision_note = text
    action = "extend_approve" if approve else "extend_refuse"
    event = _record(session, measure, actor, action, note=text, details={
        "request_id": request.id, "old_deadline": _iso(old_deadline),
        "new_deadline": request.new_deadline.isoformat(),
    })
    await _flush(session, measure)
    _log(measure, actor, action, measure.status, measure.status)
    notify = _recipients(actor.id, [request.requested_by_id, measure.owner_id])
    return ExtensionOutcome(request, measure, event, notify)


async def withdraw_extension(
    session: AsyncSession, actor_id: int, code: str, *, request_id: int | None = None
) -> ExtensionOutcome:
    """The requester takes back their pending request before an admin decides; whoever was told
    of the request (the admins, the measure's leader) is told it is withdrawn. `request_id`: the
    request a button names, refused if it is no longer the pending one (a stale button must not
    withdraw a newer request)."""
    # The measure is locked first, as for a decision: a withdrawal racing an approval is
    # serialised on PostgreSQL and loses the version check on SQLite, so only one of them wins.
    actor, measure = await _load(session, actor_id, code)
    pending = await _pending_extension(session, measure.id)
    if request_id is not None and (pending is None or pending.id != request_id):
        named_request = await session.get(ExtensionRequest, request_id, populate_existing=True)
        if named_request is None or named_request.measure_id != measure.id:
            raise NotFound("按钮已过期，请重新查询")
        if named_request.status is ExtensionStatus.WITHDRAWN:
            raise InvalidTransition("该延期申请已撤回，无需重复操作")
        raise InvalidTransition(f"该延期申请已处理（{named_request.status.label}），不能再撤回")
    if pending is None:
        raise InvalidTransition(f"{measure.code} 没有待审批的延期申请，无需撤回")
    if pending.requested_by_id != actor.id:
        raise PermissionDenied(
            f"{measure.code} 的延期申请（{pending.requested_by.name} 申请延至 {cn_date(pending.new_deadline)}）"
            "不是您提出的，只有申请人本人可以撤回"
        )
    pending.status = ExtensionStatus.WITHDRAWN
    # decided_by is who closed the request; for a withdrawal that is the requester. Set, it keeps
    # "decided_at and decided_by are both set on every closed request" true (a sign-off that
    # closes a request records its signer the same way), and the row reads whole on its own.
    pending.decided_by_id, pending.decided_at = actor.id, utcnow()
    event = _record(session, measure, actor, "extend_withdraw", details={
        "request_id": pending.id, "old_deadline": _iso(pending.old_deadline),
        "new_deadline": pending.new_deadline.isoformat(),
    })
    await _flush(session, measure)
    _log(measure, actor, "extend_withdraw", measure.status, measure.status)
    # Those told of the request, as request_extension chose them.
    return ExtensionOutcome(pending, measure, event,
                            _recipients(actor.id, [*await admin_ids(session), measure.leader_id]))
