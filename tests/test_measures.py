"""Measure workflow: progress, done, undo, evidence, verify (销号), reject (退回), extensions.

Every test runs on SQLite and PostgreSQL with the sample data (张伟 owns ZG2025006/008/009/013
under leader 陈建华; admins 韦丽萍 and 刘洋), each step in its own real transaction, and checks
the database afterwards, not only what the service returned.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from bot.db import SessionFactory, transaction
from bot.errors import ConflictError, InvalidInput, InvalidTransition, NotFound, PermissionDenied
from bot.models import Cadre, ExtensionRequest, ExtensionStatus, Measure, MeasureEvent, MeasureStatus
from bot.services import measures
from bot.services.measures import Action, Evidence, ExtensionOutcome, Transition

TODAY = dt.date(2026, 11, 27)
PHOTO = Evidence("photo", "AgACAgUAAxkBAAIB-photo-file-id", "现场照片.jpg")


@dataclass(frozen=True)
class Row:
    action: str
    actor: str | None
    from_status: MeasureStatus | None
    to_status: MeasureStatus | None
    note: str
    details: dict[str, Any] | None


@dataclass(frozen=True)
class State:
    status: MeasureStatus
    version: int
    deadline: dt.date | None
    progress: str
    updated_at: dt.datetime
    events: list[Row]


async def ids(factory: SessionFactory, *names: str) -> list[int]:
    async with factory() as session:
        found = {c.name: c.id for c in await session.scalars(select(Cadre).where(Cadre.name.in_(names)))}
    return [found[name] for name in names]


async def state(factory: SessionFactory, code: str) -> State:
    """The measure and its whole trail as stored, read in a fresh session."""
    async with factory() as session:
        measure = (await session.scalars(select(Measure).where(Measure.code == code))).one()
        names = {c.id: c.name for c in await session.scalars(select(Cadre))}
        events = await session.scalars(
            select(MeasureEvent).where(MeasureEvent.measure_id == measure.id).order_by(MeasureEvent.id)
        )
        rows = [
            Row(e.action, names.get(e.actor_id) if e.actor_id else None, e.from_status, e.to_status, e.note,
                e.details)
            for e in events
        ]
        return State(measure.status, measure.version, measure.deadline, measure.progress, measure.updated_at, rows)


# ---- progress -----------------------------------------------------------------------------------

async def test_first_progress_report_moves_a_not_started_measure_in_progress(seeded: SessionFactory) -> None:
    (zhang,) = await ids(seeded, "张伟")
    before = await state(seeded, "ZG2025008")
    assert before.status == MeasureStatus.NOT_STARTED
    async with transaction(seeded) as session:
        result = await measures.add_progress(session, zhang, "ZG2025008", "  已起草布局调整规划初稿  ")
    assert result.notify == []
    assert result.event.action == "progress" and result.event.actor is not None
    after = await state(seeded, "ZG2025008")
    assert after.status == MeasureStatus.IN_PROGRESS
    assert after.progress == "已起草布局调整规划初稿"
    assert after.version == before.version + 1
    assert after.events[len(before.events):] == [
        Row("progress", "张伟", MeasureStatus.NOT_STARTED, MeasureStatus.IN_PROGRESS, "已起草布局调整规划初稿", None)
    ]


async def test_progress_on_a_started_measure_keeps_the_status_and_remembers_the_old_text(
    seeded: SessionFactory,
) -> None:
    (leader,) = await ids(seeded, "陈建华")
    before = await state(seeded, "ZG2025009")
    async with transaction(seeded) as session:
        await measures.add_progress(session, leader, "zg2025009", "二期工程已开工")
    after = await state(seeded, "ZG2025009")
    assert after.status == MeasureStatus.IN_PROGRESS and after.progress == "二期工程已开工"
    (event,) = after.events[len(before.events):]
    assert event.actor == "陈建华" and event.from_status is None and event.to_status is None
    assert event.details == {"previous": before.progress}


async def test_progress_needs_text_and_a_right_to_report(seeded: SessionFactory) -> None:
    zhang, deng = await ids(seeded, "张伟", "邓小燕")
    before = await state(seeded, "ZG2025009")
    with pytest.raises(InvalidInput, match="请填写进展情况"):
        async with transaction(seeded) as session:
            await measures.add_progress(session, zhang, "ZG2025009", " \n ")
    with pytest.raises(PermissionDenied, match="ZG2025009 的责任人是张伟"):
        async with transaction(seeded) as session:
            await measures.add_progress(session, deng, "ZG2025009", "代为填报")
    assert await state(seeded, "ZG2025009") == before


# ---- done ---------------------------------------------------------------------------------------

async def test_owner_reports_done_with_evidence_and_the_leader_and_admins_are_told(seeded: SessionFactory) -> None:
    zhang, leader, wei, liu = await ids(seeded, "张伟", "陈建华", "韦丽萍", "刘洋")
    before = await state(seeded, "ZG2025009")
    async with transaction(seeded) as session:
        result = await measures.mark_done(session, zhang, "ZG-2025-009", "新校区已投入使用", PHOTO, TODAY)
    assert isinstance(result, Transition)
    assert result.notify == [leader, wei, liu]
    assert result.measure.status == MeasureStatus.DONE
    assert result.event.evidence_kind == "photo" and result.event.evidence_file_id == PHOTO.file_id
    after = await state(seeded, "ZG2025009")
    assert after.status == MeasureStatus.DONE and after.version == before.version + 1
    assert after.events[len(before.events):] == [
        Row("done", "张伟", MeasureStatus.IN_PROGRESS, MeasureStatus.DONE, "新校区已投入使用",
            {"previous": before.progress, "file_name": "现场照片.jpg"})
    ]
    # The completion note is the newest 进展, on the card the leader signs off from.
    assert after.progress == "新校区已投入使用"


async def test_done_rejects_another_cadres_measure(seeded: SessionFactory) -> None:
    deng, other_leader = await ids(seeded, "邓小燕", "李明德")
    before = await state(seeded, "ZG2025009")
    for actor in (deng, other_leader):
        with pytest.raises(PermissionDenied, match="ZG2025009 的责任人是张伟，您不能报告完成"):
            async with transaction(seeded) as session:
                await measures.mark_done(session, actor, "ZG2025009", None, None, TODAY)
    assert await state(seeded, "ZG2025009") == before


async def test_leader_may_report_done_on_the_owners_behalf(seeded: SessionFactory) -> None:
    zhang, leader, wei, liu = await ids(seeded, "张伟", "陈建华", "韦丽萍", "刘洋")
    async with transaction(seeded) as session:
        result = await measures.mark_done(session, leader, "ZG2025008", "", None, TODAY)
    assert result.notify == [wei, liu, zhang]  # the owner learns someone reported for them
    after = await state(seeded, "ZG2025008")
    assert after.status == MeasureStatus.DONE
    assert after.events[-1] == Row("done", "陈建华", MeasureStatus.NOT_STARTED, MeasureStatus.DONE, "",
                                   {"on_behalf_of": zhang})


async def test_double_done_says_already_reported(seeded: SessionFactory) -> None:
    (zhang,) = await ids(seeded, "张伟")
    async with transaction(seeded) as session:
        await measures.mark_done(session, zhang, "ZG2025009", None, None, TODAY)
    once = await state(seeded, "ZG2025009")
    with pytest.raises(InvalidTransition) as error:
        async with transaction(seeded) as session:
            await measures.mark_done(session, zhang, "ZG2025009", None, None, TODAY)
    assert str(error.value) == "ZG2025009 已报告完成，正在等待销号"
    assert await state(seeded, "ZG2025009") == once


async def test_done_on_a_closed_measure_needs_no_repeat(seeded: SessionFactory) -> None:
    (zhang,) = await ids(seeded, "张伟")
    with pytest.raises(InvalidTransition) as error:
        async with transaction(seeded) as session:
            await measures.mark_done(session, zhang, "ZG2025006", None, None, TODAY)
    assert str(error.value) == "ZG2025006 已销号，无需重复操作"


async def test_late_done_records_how_many_days_late(seeded: SessionFactory) -> None:
    (zhang,) = await ids(seeded, "张伟")  # ZG2025009 is due 2026-12-05
    async with transaction(seeded) as session:
        await measures.mark_done(session, zhang, "ZG2025009", None, None, dt.date(2026, 12, 10))
    assert (await state(seeded, "ZG2025009")).events[-1].details == {"days_late": 5}


async def test_evidence_must_be_a_photo_a_video_or_a_document(seeded: SessionFactory) -> None:
    (zhang,) = await ids(seeded, "张伟")
    with pytest.raises(InvalidInput, match="照片、视频或文件"):
        async with transaction(seeded) as session:
            await measures.mark_done(session, zhang, "ZG2025009", None, Evidence("voice", "x"), TODAY)
    assert (await state(seeded, "ZG2025009")).status == MeasureStatus.IN_PROGRESS


# ---- undo ---------------------------------------------------------------------------------------

async def test_undo_returns_to_the_status_before_done(seeded: SessionFactory) -> None:
    zhang, leader, wei, liu = await ids(seeded, "张伟", "陈建华", "韦丽萍", "刘洋")
    before = await state(seeded, "ZG2025008")
    async with transaction(seeded) as session:
        await measures.mark_done(session, zhang, "ZG2025008", None, None, TODAY)
    async with transaction(seeded) as session:
        result = await measures.undo_done(session, zhang, "ZG2025008")
    assert result.notify == [leader, wei, liu]
    after = await state(seeded, "ZG2025008")
    assert after.status == MeasureStatus.NOT_STARTED and after.version == before.version + 2
    done, undo = after.events[len(before.events):]
    assert done.action == "done" and undo.action == "undo" and undo.actor == "张伟"
    assert (undo.from_status, undo.to_status) == (MeasureStatus.DONE, MeasureStatus.NOT_STARTED)


async def test_only_the_reporter_may_undo(seeded: SessionFactory) -> None:
    zhang, leader = await ids(seeded, "张伟", "陈建华")
    async with transaction(seeded) as session:
        await measures.mark_done(session, leader, "ZG2025009", None, None, TODAY)
    with pytest.raises(PermissionDenied, match="只有报告人可以撤回"):
        async with transaction(seeded) as session:
            await measures.undo_done(session, zhang, "ZG2025009")
    # ZG2025013 came in as 已完成 from the import: nobody reported it here, nobody can undo it.
    with pytest.raises(PermissionDenied):
        async with transaction(seeded) as session:
            await measures.undo_done(session, zhang, "ZG2025013")
    assert (await state(seeded, "ZG2025009")).status == MeasureStatus.DONE


async def test_a_note_added_while_awaiting_sign_off_keeps_it_done_and_undo_restores_the_old_progress(
    seeded: SessionFactory
) -> None:
    zhang, = await ids(seeded, "张伟")
    before = await state(seeded, "ZG2025009")
    async with transaction(seeded) as session:
        await measures.mark_done(session, zhang, "ZG2025009", "两所新校已投入使用", None, TODAY)
    with pytest.raises(InvalidTransition) as again:
        async with transaction(seeded) as session:
            await measures.mark_done(session, zhang, "ZG2025009", "另附验收报告", None, TODAY)
    assert str(again.value) == "ZG2025009 已报告完成，正在等待销号；补充说明请发送“ZG2025009 进展：……”"
    async with transaction(seeded) as session:
        await measures.add_progress(session, zhang, "ZG2025009", "验收报告已上传")
    after = await state(seeded, "ZG2025009")
    assert (after.status, after.progress) == (MeasureStatus.DONE, "验收报告已上传")
    with pytest.raises(InvalidInput, match="无需重复填报"):
        async with transaction(seeded) as session:
            await measures.add_progress(session, zhang, "ZG2025009", "验收报告已上传")

    assert before.progress != after.progress
    other = (await state(seeded, "ZG2025008")).progress
    async with transaction(seeded) as session:
        await measures.mark_done(session, zhang, "ZG2025008", "规划已批复", None, TODAY)
    assert (await state(seeded, "ZG2025008")).progress == "规划已批复"
    async with transaction(seeded) as session:
        await measures.undo_done(session, zhang, "ZG2025008")
    assert (await state(seeded, "ZG2025008")).progress == other  # withdrawn, and its note with it


async def test_undo_after_verification_is_refused(seeded: SessionFactory) -> None:
    zhang, leader = await ids(seeded, "张伟", "陈建华")
    async with transaction(seeded) as session:
        await measures.mark_done(session, zhang, "ZG2025009", None, None, TODAY)
    async with transaction(seeded) as session:
        await measures.verify(session, leader, "ZG2025009", "", TODAY)
    with pytest.raises(InvalidTransition, match="ZG2025009 已销号，不能撤回"):
        async with transaction(seeded) as session:
            await measures.undo_done(session, zhang, "ZG2025009")


# ---- evidence -----------------------------------------------------------------------------------

async def test_evidence_is_appended_without_touching_status_or_updated_at(seeded: SessionFactory) -> None:
    zhang, leader, wei, liu = await ids(seeded, "张伟", "陈建华", "韦丽萍", "刘洋")
    before = await state(seeded, "ZG2025013")
    document = Evidence("document", "BQACAgUAAxkBAAIC-doc", "两免一补发放表.xlsx")
    async with transaction(seeded) as session:
        result = await measures.add_evidence(session, zhang, "ZG2025013", document, "补充发放明细")
    assert result.notify == [leader, wei, liu]  # awaiting sign-off: the verifiers want to see it
    after = await state(seeded, "ZG2025013")
    assert after.status == MeasureStatus.DONE and after.updated_at == before.updated_at
    assert after.version == before.version + 1  # claimed, so a concurrent change loses
    assert after.events[len(before.events):] == [
        Row("evidence", "张伟", None, None, "补充发放明细", {"file_name": "两免一补发放表.xlsx"})
    ]
    with pytest.raises(InvalidTransition, match="ZG2025006 已销号，不能再补充佐证材料"):
        async with transaction(seeded) as session:
            await measures.add_evidence(session, zhang, "ZG2025006", document)


# ---- verify and reject --------------------------------------------------------------------------

async def test_leader_verifies_a_done_measure_and_the_owner_is_told(seeded: SessionFactory) -> None:
    zhang, leader = await ids(seeded, "张伟", "陈建华")
    before = await state(seeded, "ZG2025013")
    async with transaction(seeded) as session:
        result = await measures.verify(session, leader, "ZG2025013", "材料齐全", TODAY)
    assert result.notify == [zhang]
    after = await state(seeded, "ZG2025013")
    assert after.status == MeasureStatus.CLOSED and after.version == before.version + 1
    (event,) = after.events[len(before.events):]
    assert (event.action, event.actor, event.from_status, event.to_status, event.note) == (
        "verify", "陈建华", MeasureStatus.DONE, MeasureStatus.CLOSED, "材料齐全")
    assert event.details == {"verified_on": "2026-11-27", "reported_by": None}


async def test_verify_requires_done_status(seeded: SessionFactory) -> None:
    (leader,) = await ids(seeded, "陈建华")
    before = await state(seeded, "ZG2025009")
    with pytest.raises(InvalidTransition) as error:
        async with transaction(seeded) as session:
            await measures.verify(session, leader, "ZG2025009", None, TODAY)
    assert str(error.value) == "ZG2025009 尚未报告完成（当前状态：进行中），不能销号"
    with pytest.raises(InvalidTransition) as error:
        async with transaction(seeded) as session:
            await measures.verify(session, leader, "ZG2025006", None, TODAY)
    assert str(error.value) == "ZG2025006 已销号，无需重复操作"
    assert await state(seeded, "ZG2025009") == before


async def test_only_the_measures_leader_or_an_admin_may_verify(seeded: SessionFactory) -> None:
    zhang, deng, other_leader = await ids(seeded, "张伟", "邓小燕", "李明德")
    before = await state(seeded, "ZG2025013")
    for actor in (zhang, deng, other_leader):
        with pytest.raises(PermissionDenied, match="只有 ZG2025013 的分管领导（陈建华）或管理员可以销号"):
            async with transaction(seeded) as session:
                await measures.verify(session, actor, "ZG2025013", None, TODAY)
    assert await state(seeded, "ZG2025013") == before


async def test_owner_cannot_verify_own_measure(seeded: SessionFactory) -> None:
    liu, wei = await ids(seeded, "刘洋", "韦丽萍")  # 刘洋 is an admin and owns ZG2025023
    async with transaction(seeded) as session:
        await measures.mark_done(session, liu, "ZG2025023", "42件已全部办结", None, TODAY)
    reported = await state(seeded, "ZG2025023")
    with pytest.raises(PermissionDenied, match="ZG2025023 由您负责，不能由您本人销号"):
        async with transaction(seeded) as session:
            await measures.verify(session, liu, "ZG2025023", None, TODAY)
    assert await state(seeded, "ZG2025023") == reported
    async with transaction(seeded) as session:
        result = await measures.verify(session, wei, "ZG2025023", None, TODAY)
    assert result.notify == [liu]
    assert (await state(seeded, "ZG2025023")).events[-1].actor == "韦丽萍"


async def test_whoever_reported_done_cannot_verify_it(seeded: SessionFactory) -> None:
    zhang, leader, wei = await ids(seeded, "张伟", "陈建华", "韦丽萍")
    async with transaction(seeded) as session:
        await measures.mark_done(session, leader, "ZG2025009", None, None, TODAY)
    with pytest.raises(PermissionDenied, match="ZG2025009 的完成情况是您报告的，不能由您本人销号"):
        async with transaction(seeded) as session:
            await measures.verify(session, leader, "ZG2025009", None, TODAY)
    async with transaction(seeded) as session:
        result = await measures.verify(session, wei, "ZG2025009", None, TODAY)
    assert result.notify == [zhang, leader]
    after = await state(seeded, "ZG2025009")
    assert after.status == MeasureStatus.CLOSED
    assert after.events[-1].details == {"verified_on": "2026-11-27", "reported_by": leader}


async def test_reject_requires_a_reason(seeded: SessionFactory) -> None:
    (leader,) = await ids(seeded, "陈建华")
    before = await state(seeded, "ZG2025013")
    for reason in ("", "  \t "):
        with pytest.raises(InvalidInput, match="请填写退回原因"):
            async with transaction(seeded) as session:
                await measures.reject(session, leader, "ZG2025013", reason)
    assert await state(seeded, "ZG2025013") == before


async def test_reject_returns_the_measure_in_progress_and_tells_the_owner_why(seeded: SessionFactory) -> None:
    zhang, wei = await ids(seeded, "张伟", "韦丽萍")
    before = await state(seeded, "ZG2025013")
    async with transaction(seeded) as session:
        result = await measures.reject(session, wei, "ZG2025013", "缺少学生签收名单")
    assert result.notify == [zhang]
    assert result.event.note == "缺少学生签收名单"
    after = await state(seeded, "ZG2025013")
    assert after.status == MeasureStatus.IN_PROGRESS and after.version == before.version + 1
    assert after.events[len(before.events):] == [
        Row("reject", "韦丽萍", MeasureStatus.DONE, MeasureStatus.IN_PROGRESS, "缺少学生签收名单", None)
    ]
    with pytest.raises(InvalidTransition, match="尚未报告完成（当前状态：进行中），无需退回"):
        async with transaction(seeded) as session:
            await measures.reject(session, wei, "ZG2025013", "再退一次")


async def test_a_cadre_cannot_reject(seeded: SessionFactory) -> None:
    (zhang,) = await ids(seeded, "张伟")
    with pytest.raises(PermissionDenied, match="只有 ZG2025013 的分管领导（陈建华）或管理员可以退回"):
        async with transaction(seeded) as session:
            await measures.reject(session, zhang, "ZG2025013", "我自己退回")


# ---- concurrency --------------------------------------------------------------------------------

async def _attempt(factory: SessionFactory, call: Any) -> Transition | Exception:
    try:
        async with transaction(factory) as session:
            result: Transition = await call(session)
            return result
    except (ConflictError, InvalidTransition) as exc:
        return exc


async def test_concurrent_verify_and_reject_have_exactly_one_winner(seeded: SessionFactory) -> None:
    leader, wei = await ids(seeded, "陈建华", "韦丽萍")
    before = await state(seeded, "ZG2025013")
    results = await asyncio.gather(
        _attempt(seeded, lambda s: measures.verify(s, leader, "ZG2025013", None, TODAY)),
        _attempt(seeded, lambda s: measures.reject(s, wei, "ZG2025013", "材料不全")),
    )
    winners = [r for r in results if isinstance(r, Transition)]
    losers = [r for r in results if isinstance(r, Exception)]
    assert len(winners) == 1 and len(losers) == 1, results
    assert isinstance(losers[0], ConflictError | InvalidTransition)
    if isinstance(losers[0], ConflictError):
        assert str(losers[0]) == "ZG2025013 刚刚被他人修改，请刷新后重试"
    after = await state(seeded, "ZG2025013")
    assert after.version == before.version + 1
    (event,) = after.events[len(before.events):]
    assert event.action == winners[0].event.action
    assert after.status == (MeasureStatus.CLOSED if event.action == "verify" else MeasureStatus.IN_PROGRESS)


async def test_a_double_tap_on_done_records_one_event(seeded: SessionFactory) -> None:
    (zhang,) = await ids(seeded, "张伟")
    before = await state(seeded, "ZG2025009")
    results = await asyncio.gather(*(
        _attempt(seeded, lambda s: measures.mark_done(s, zhang, "ZG2025009", None, None, TODAY)) for _ in range(2)
    ))
    assert sum(isinstance(r, Transition) for r in results) == 1, results
    after = await state(seeded, "ZG2025009")
    assert after.version == before.version + 1
    assert [e.action for e in after.events[len(before.events):]] == ["done"]


async def test_evidence_racing_a_verification_cannot_both_win(seeded: SessionFactory) -> None:
    zhang, leader = await ids(seeded, "张伟", "陈建华")
    before = await state(seeded, "ZG2025013")
    results = await asyncio.gather(
        _attempt(seeded, lambda s: measures.verify(s, leader, "ZG2025013", None, TODAY)),
        _attempt(seeded, lambda s: measures.add_evidence(s, zhang, "ZG2025013", PHOTO)),
    )
    after = await state(seeded, "ZG2025013")
    added = [e.action for e in after.events[len(before.events):]]
    assert after.version == before.version + len(added)
    if len(added) == 1:  # the loser saw a stale version (or, evidence second, the closed measure)
        assert sum(isinstance(r, Transition) for r in results) == 1
    else:  # evidence went first and was committed; the verification came after it
        assert added == ["evidence", "verify"]
    assert after.status == (MeasureStatus.CLOSED if "verify" in added else MeasureStatus.DONE)


# ---- extensions ---------------------------------------------------------------------------------

async def test_extension_approval_moves_deadline(seeded: SessionFactory) -> None:
    zhang, wei, liu, chen = await ids(seeded, "张伟", "韦丽萍", "刘洋", "陈建华")
    before = await state(seeded, "ZG2025009")
    assert before.deadline == dt.date(2026, 12, 5)
    async with transaction(seeded) as session:
        asked = await measures.request_extension(
            session, zhang, "ZG2025009", dt.date(2027, 1, 31), "二期工程受雨季影响延误", TODAY)
    assert asked.notify == [wei, liu, chen]  # the admins decide; the measure's leader is told
    assert asked.request.status == ExtensionStatus.PENDING
    async with seeded() as session:
        pending = await measures.pending_extensions(session)
    assert [(p.measure.code, p.requested_by.name, p.new_deadline) for p in pending] == [
        ("ZG2025009", "张伟", dt.date(2027, 1, 31))]
    async with transaction(seeded) as session:
        decided = await measures.decide_extension(session, wei, asked.request.id, True, "同意", TODAY)
    assert decided.notify == [zhang]
    after = await state(seeded, "ZG2025009")
    assert after.deadline == dt.date(2027, 1, 31)
    assert after.status == MeasureStatus.IN_PROGRESS and after.version == before.version + 2
    request, approval = after.events[len(before.events):]
    assert (request.action, request.actor, request.note) == ("extend_request", "张伟", "二期工程受雨季影响延误")
    assert request.details == {"request_id": asked.request.id, "old_deadline": "2026-12-05",
                               "new_deadline": "2027-01-31"}
    assert (approval.action, approval.actor, approval.note) == ("extend_approve", "韦丽萍", "同意")
    async with seeded() as session:
        stored = await session.get(ExtensionRequest, asked.request.id)
        assert stored is not None
        assert stored.status == ExtensionStatus.APPROVED and stored.decided_by_id == wei
        assert stored.old_deadline == dt.date(2026, 12, 5) and stored.decided_at is not None
        assert await measures.pending_extensions(session) == []


async def test_refused_extension_keeps_the_deadline(seeded: SessionFactory) -> None:
    zhang, leader, liu = await ids(seeded, "张伟", "陈建华", "刘洋")
    async with transaction(seeded) as session:
        asked = await measures.request_extension(
            session, leader, "ZG2025009", dt.date(2027, 3, 1), "统筹调整", TODAY)
    async with transaction(seeded) as session:
        decided = await measures.decide_extension(session, liu, asked.request.id, False, "请按期完成", TODAY)
    assert decided.notify == [leader, zhang]  # the requester, and the owner it concerns
    after = await state(seeded, "ZG2025009")
    assert after.deadline == dt.date(2026, 12, 5)
    assert after.events[-1] == Row("extend_refuse", "刘洋", None, None, "请按期完成", {
        "request_id": asked.request.id, "old_deadline": "2026-12-05", "new_deadline": "2027-03-01"})


async def test_signing_off_closes_a_pending_extension_request(seeded: SessionFactory) -> None:
    zhang, leader, liu = await ids(seeded, "张伟", "陈建华", "刘洋")
    async with transaction(seeded) as session:
        asked = await measures.request_extension(session, zhang, "ZG2025009", dt.date(2027, 3, 1), "资金未到位", TODAY)
    async with transaction(seeded) as session:
        await measures.mark_done(session, zhang, "ZG2025009", None, None, TODAY)
    async with transaction(seeded) as session:
        await measures.verify(session, leader, "ZG2025009", None, TODAY)
    async with transaction(seeded) as session:
        assert await measures.pending_extensions(session) == []
        request = await session.get(ExtensionRequest, asked.request.id)
        assert request is not None and request.status is ExtensionStatus.REFUSED
        assert (request.decided_by_id, request.decision_note) == (leader, "措施已销号，延期申请自动关闭")
    assert liu  # the admins have nothing left to decide


async def test_second_decision_on_extension_is_refused(seeded: SessionFactory) -> None:
    zhang, wei, liu = await ids(seeded, "张伟", "韦丽萍", "刘洋")
    async with transaction(seeded) as session:
        asked = await measures.request_extension(session, zhang, "ZG2025009", dt.date(2027, 1, 31), "延误", TODAY)
    async with transaction(seeded) as session:
        await measures.decide_extension(session, wei, asked.request.id, True, None, TODAY)
    decided = await state(seeded, "ZG2025009")
    with pytest.raises(InvalidTransition, match="该延期申请已处理（已批准）"):
        async with transaction(seeded) as session:
            await measures.decide_extension(session, liu, asked.request.id, False, None, TODAY)
    assert await state(seeded, "ZG2025009") == decided


async def test_only_one_pending_extension_per_measure(seeded: SessionFactory) -> None:
    zhang, leader = await ids(seeded, "张伟", "陈建华")
    async with transaction(seeded) as session:
        await measures.request_extension(session, zhang, "ZG2025009", dt.date(2027, 1, 31), "延误", TODAY)
    with pytest.raises(InvalidTransition, match=r"已有一条待审批的延期申请（张伟 申请延至 2027年1月31日）"):
        async with transaction(seeded) as session:
            await measures.request_extension(session, leader, "ZG2025009", dt.date(2027, 2, 28), "再延", TODAY)
    # To the one who asked, the request is theirs, not 张伟's in the third person.
    with pytest.raises(InvalidTransition, match=r"已有一条待审批的延期申请（您已申请延至 2027年1月31日）"):
        async with transaction(seeded) as session:
            await measures.request_extension(session, zhang, "ZG2025009", dt.date(2027, 2, 28), "再延", TODAY)
    async with seeded() as session:
        count = await session.scalar(select(func.count()).select_from(ExtensionRequest))
    assert count == 1


async def test_extension_needs_a_later_date_and_a_reason(seeded: SessionFactory) -> None:
    (zhang,) = await ids(seeded, "张伟")
    before = await state(seeded, "ZG2025009")
    cases = [
        (dt.date(2026, 12, 5), "延误", "必须晚于当前时限（2026年12月5日）"),
        (TODAY, "延误", "必须晚于今天"),
        (dt.date(2027, 1, 31), "   ", "请填写延期理由"),
    ]
    for new_deadline, reason, message in cases:
        with pytest.raises(InvalidInput, match=message):
            async with transaction(seeded) as session:
                await measures.request_extension(session, zhang, "ZG2025009", new_deadline, reason, TODAY)
    assert await state(seeded, "ZG2025009") == before


async def test_extension_is_for_open_measures_and_their_owner_or_leader(seeded: SessionFactory) -> None:
    zhang, wei, deng = await ids(seeded, "张伟", "韦丽萍", "邓小燕")
    with pytest.raises(InvalidTransition, match="ZG2025013 已报告完成，无需申请延期"):
        async with transaction(seeded) as session:
            await measures.request_extension(session, zhang, "ZG2025013", dt.date(2027, 6, 1), "x", TODAY)
    for actor in (wei, deng):
        with pytest.raises(PermissionDenied, match="只有 ZG2025009 的责任人或分管领导可以申请延期"):
            async with transaction(seeded) as session:
                await measures.request_extension(session, actor, "ZG2025009", dt.date(2027, 6, 1), "x", TODAY)


async def test_only_admins_decide_and_never_on_their_own_request(seeded: SessionFactory) -> None:
    leader, liu, wei = await ids(seeded, "陈建华", "刘洋", "韦丽萍")
    async with transaction(seeded) as session:  # 刘洋 is an admin who owns ZG2025023
        asked = await measures.request_extension(session, liu, "ZG2025023", dt.date(2027, 1, 15), "待协调", TODAY)
    huang, = await ids(seeded, "黄志刚")
    assert asked.notify == [wei, huang]
    with pytest.raises(PermissionDenied, match="只有管理员可以审批延期申请"):
        async with transaction(seeded) as session:
            await measures.decide_extension(session, leader, asked.request.id, True, None, TODAY)
    with pytest.raises(PermissionDenied, match="不能审批自己提出的延期申请"):
        async with transaction(seeded) as session:
            await measures.decide_extension(session, liu, asked.request.id, True, None, TODAY)
    with pytest.raises(NotFound, match="没有编号为 999 的延期申请"):
        async with transaction(seeded) as session:
            await measures.decide_extension(session, wei, 999, True, None, TODAY)
    async with transaction(seeded) as session:
        await measures.decide_extension(session, wei, asked.request.id, True, None, TODAY)
    assert (await state(seeded, "ZG2025023")).deadline == dt.date(2027, 1, 15)


# ---- withdrawing an extension request -------------------------------------------------------------

async def test_requester_withdraws_pending_extension_and_may_ask_again(seeded: SessionFactory) -> None:
    zhang, wei, liu, chen = await ids(seeded, "张伟", "韦丽萍", "刘洋", "陈建华")
    async with transaction(seeded) as session:
        asked = await measures.request_extension(session, zhang, "ZG2025009", dt.date(2207, 3, 31), "日期写错", TODAY)
    before = await state(seeded, "ZG2025009")
    async with transaction(seeded) as session:
        withdrawn = await measures.withdraw_extension(session, zhang, "zg-2025-009")
    # Told as they were told of the request: the admins and the measure's leader.
    assert withdrawn.notify == [wei, liu, chen] == asked.notify
    assert withdrawn.request.id == asked.request.id and withdrawn.request.status is ExtensionStatus.WITHDRAWN
    after = await state(seeded, "ZG2025009")
    assert (after.status, after.deadline, after.progress) == (before.status, before.deadline, before.progress)
    assert after.version == before.version + 1
    assert after.events[len(before.events):] == [Row("extend_withdraw", "张伟", None, None, "", {
        "request_id": asked.request.id, "old_deadline": "2026-12-05", "new_deadline": "2207-03-31"})]
    async with seeded() as session:
        stored = await session.get(ExtensionRequest, asked.request.id)
        assert stored is not None and stored.status is ExtensionStatus.WITHDRAWN
        assert stored.decided_by_id == zhang and stored.decided_at is not None
        assert await measures.pending_extensions(session) == []
        measure = await measures.get_measure(session, "ZG2025009")
        assert (await measures.pending_matters(session, measure)).extension is None  # the card's line is gone
        view = await measures.view_measure(session, zhang, "ZG2025009")
        assert view.pending_extension is None and Action.EXTEND in view.actions
    # The partial unique index covers pending rows only: a new request is accepted.
    async with transaction(seeded) as session:
        again = await measures.request_extension(session, zhang, "ZG2025009", dt.date(2027, 3, 31), "资金未到位", TODAY)
    assert again.request.id != asked.request.id
    async with seeded() as session:
        assert [r.id for r in await measures.pending_extensions(session)] == [again.request.id]


async def test_only_the_requester_may_withdraw_an_extension_request(seeded: SessionFactory) -> None:
    zhang, chen, wei, deng = await ids(seeded, "张伟", "陈建华", "韦丽萍", "邓小燕")
    async with transaction(seeded) as session:
        await measures.request_extension(session, chen, "ZG2025009", dt.date(2027, 3, 31), "统筹调整", TODAY)
    before = await state(seeded, "ZG2025009")
    # The owner, an admin and a stranger alike: the leader asked, so only the leader may take it back.
    for actor in (zhang, wei, deng):
        with pytest.raises(PermissionDenied, match=r"^ZG2025009 的延期申请（陈建华 申请延至 2027年3月31日）"
                                                   r"不是您提出的，只有申请人本人可以撤回$"):
            async with transaction(seeded) as session:
                await measures.withdraw_extension(session, actor, "ZG2025009")
    assert await state(seeded, "ZG2025009") == before
    async with seeded() as session:
        [pending] = await measures.pending_extensions(session)
        assert pending.requested_by_id == chen
    async with transaction(seeded) as session:
        withdrawn = await measures.withdraw_extension(session, chen, "ZG2025009")
    assert withdrawn.notify == await ids(seeded, "韦丽萍", "刘洋")  # the leader is the actor: not told


async def test_withdrawing_with_nothing_pending_says_so_and_changes_nothing(seeded: SessionFactory) -> None:
    zhang, wei = await ids(seeded, "张伟", "韦丽萍")
    before = await state(seeded, "ZG2025009")
    with pytest.raises(InvalidTransition, match=r"^ZG2025009 没有待审批的延期申请，无需撤回$"):
        async with transaction(seeded) as session:
            await measures.withdraw_extension(session, zhang, "ZG2025009")
    with pytest.raises(NotFound, match="没有编号为 ZG2099001 的整改措施"):
        async with transaction(seeded) as session:
            await measures.withdraw_extension(session, zhang, "ZG2099001")
    assert await state(seeded, "ZG2025009") == before
    # Withdrawn once, or decided: nothing pending any more, and a button naming the request says why.
    async with transaction(seeded) as session:
        first = await measures.request_extension(session, zhang, "ZG2025009", dt.date(2027, 1, 31), "延误", TODAY)
    async with transaction(seeded) as session:
        await measures.withdraw_extension(session, zhang, "ZG2025009", request_id=first.request.id)
    async with transaction(seeded) as session:
        second = await measures.request_extension(session, zhang, "ZG2025009", dt.date(2027, 2, 28), "延误", TODAY)
    async with transaction(seeded) as session:
        await measures.decide_extension(session, wei, second.request.id, False, "请按期完成", TODAY)
    decided = await state(seeded, "ZG2025009")
    cases = [
        (None, r"^ZG2025009 没有待审批的延期申请，无需撤回$"),
        (first.request.id, r"^该延期申请已撤回，无需重复操作$"),
        (second.request.id, r"^该延期申请已处理（未批准），不能再撤回$"),
    ]
    for request_id, message in cases:
        with pytest.raises(InvalidTransition, match=message):
            async with transaction(seeded) as session:
                await measures.withdraw_extension(session, zhang, "ZG2025009", request_id=request_id)
    assert await state(seeded, "ZG2025009") == decided


async def test_a_stale_withdraw_button_never_takes_back_a_newer_request(seeded: SessionFactory) -> None:
    (zhang,) = await ids(seeded, "张伟")
    async with transaction(seeded) as session:
        first = await measures.request_extension(session, zhang, "ZG2025009", dt.date(2027, 1, 31), "延误", TODAY)
    async with transaction(seeded) as session:
        await measures.withdraw_extension(session, zhang, "ZG2025009")
    async with transaction(seeded) as session:
        second = await measures.request_extension(session, zhang, "ZG2025009", dt.date(2027, 3, 31), "延误", TODAY)
    before = await state(seeded, "ZG2025009")
    with pytest.raises(InvalidTransition, match="该延期申请已撤回"):
        async with transaction(seeded) as session:
            await measures.withdraw_extension(session, zhang, "ZG2025009", request_id=first.request.id)
    assert await state(seeded, "ZG2025009") == before
    async with seeded() as session:
        assert [r.id for r in await measures.pending_extensions(session)] == [second.request.id]


async def test_a_decision_on_a_withdrawn_request_says_it_was_withdrawn(seeded: SessionFactory) -> None:
    zhang, wei = await ids(seeded, "张伟", "韦丽萍")
    async with transaction(seeded) as session:
        asked = await measures.request_extension(session, zhang, "ZG2025009", dt.date(2027, 1, 31), "延误", TODAY)
    async with transaction(seeded) as session:
        await measures.withdraw_extension(session, zhang, "ZG2025009")
    withdrawn = await state(seeded, "ZG2025009")
    for approve in (True, False):
        with pytest.raises(InvalidTransition, match=r"^申请人已撤回该延期申请，无需处理$"):
            async with transaction(seeded) as session:
                await measures.decide_extension(session, wei, asked.request.id, approve, None, TODAY)
    # 同意延期 typed of the measure looks up its pending request: none, and it says why.
    with pytest.raises(InvalidTransition, match=r"^ZG2025009：申请人已撤回该延期申请，无需处理$"):
        async with seeded() as session:
            await measures.pending_extension_of(session, "ZG2025009")
    assert await state(seeded, "ZG2025009") == withdrawn
    async with seeded() as session:
        stored = await session.get(ExtensionRequest, asked.request.id)
        assert stored is not None and stored.status is ExtensionStatus.WITHDRAWN


async def test_a_second_request_tells_its_requester_how_to_withdraw_the_first(seeded: SessionFactory) -> None:
    (zhang,) = await ids(seeded, "张伟")
    async with transaction(seeded) as session:
        await measures.request_extension(session, zhang, "ZG2025009", dt.date(2027, 1, 31), "延误", TODAY)
    hint = "请等待管理员处理；如需更改，请先发送“ZG2025009 撤回延期申请”，再重新申请"
    with pytest.raises(InvalidTransition, match=rf"{hint}$"):
        async with transaction(seeded) as session:
            await measures.request_extension(session, zhang, "ZG2025009", dt.date(2027, 2, 28), "再延", TODAY)


async def test_a_withdrawal_racing_an_approval_cannot_both_win(seeded: SessionFactory) -> None:
    zhang, wei = await ids(seeded, "张伟", "韦丽萍")
    # Each order of starting them, on a measure of its own.
    for code, withdraw_first in (("ZG2025009", True), ("ZG2025008", False)):
        async with transaction(seeded) as session:
            asked = await measures.request_extension(session, zhang, code, dt.date(2027, 6, 30), "延误", TODAY)
        before = await state(seeded, code)

        async def withdraw(code: str = code) -> ExtensionOutcome | Exception:
            try:
                async with transaction(seeded) as session:
                    return await measures.withdraw_extension(session, zhang, code)
            except (ConflictError, InvalidTransition) as exc:
                return exc

        async def approve(request_id: int = asked.request.id) -> ExtensionOutcome | Exception:
            try:
                async with transaction(seeded) as session:
                    return await measures.decide_extension(session, wei, request_id, True, None, TODAY)
            except (ConflictError, InvalidTransition) as exc:
                return exc

        results = await asyncio.gather(*((withdraw(), approve()) if withdraw_first else (approve(), withdraw())))
        winners = [r for r in results if isinstance(r, ExtensionOutcome)]
        assert len(winners) == 1, results
        after = await state(seeded, code)
        (event,) = after.events[len(before.events):]
        assert event.action == winners[0].event.action
        async with seeded() as session:
            stored = await session.get(ExtensionRequest, asked.request.id)
            assert stored is not None and stored.status is winners[0].request.status
        approved = event.action == "extend_approve"
        assert stored.status is (ExtensionStatus.APPROVED if approved else ExtensionStatus.WITHDRAWN)
        assert after.deadline == (dt.date(2027, 6, 30) if approved else before.deadline)


# ---- queries ------------------------------------------------------------------------------------

async def test_codes_are_found_however_they_are_typed(seeded: SessionFactory) -> None:
    async with seeded() as session:
        for typed in ("ZG2025004", " zg2025004 ", "zg-2025-004", "ＺＧ２０２５００４"):
            assert (await measures.get_measure(session, typed)).code == "ZG2025004"
        with pytest.raises(NotFound) as error:
            await measures.get_measure(session, "ZG9999")
        assert str(error.value) == "没有编号为 ZG9999 的整改措施"


async def test_overdue_lists_open_measures_past_their_deadline(seeded: SessionFactory) -> None:
    (liang, yang) = await ids(seeded, "梁秀珍", "杨桂芳")
    today = dt.date(2026, 11, 20)  # ZG2025001 is due today: not overdue yet
    async with seeded() as session:
        codes = [m.code for m in await measures.overdue(session, today)]
        assert codes == ["ZG2025030", "ZG2025002", "ZG2025010"]
        assert [m.code for m in await measures.overdue(session, today, leader_id=liang)] == ["ZG2025002"]
        assert [m.code for m in await measures.overdue(session, today, owner_id=yang)] == ["ZG2025010"]
        assert [m.code for m in await measures.overdue(session, today, unit="港北区教育局")] == ["ZG2025030"]


async def test_measures_of_owner_and_leader_come_still_to_do_first_then_by_deadline(seeded: SessionFactory) -> None:
    zhang, leader = await ids(seeded, "张伟", "陈建华")
    async with seeded() as session:
        owned = await measures.measures_of_owner(session, zhang)
        # ZG2025006 (signed off) has the earliest deadline and ZG2025013 (awaiting sign-off) the
        # next: both come after what 张伟 still has to do.
        assert [m.code for m in owned] == ["ZG2025009", "ZG2025008", "ZG2025013", "ZG2025006"]
        assert owned[0].owner.name == "张伟" and owned[0].leader is not None  # eager-loaded
        led = await measures.measures_of_leader(session, leader)
        assert len(led) == 9 and all(m.leader_id == leader for m in led)
        ranks = [0 if m.status.is_open else 1 if m.status is MeasureStatus.DONE else 2 for m in led]
        assert ranks == sorted(ranks) and ranks[0] == 0 and ranks[-1] > 0


async def test_trail_is_private_to_owner_leader_and_admins(seeded: SessionFactory) -> None:
    zhang, leader, wei, deng = await ids(seeded, "张伟", "陈建华", "韦丽萍", "邓小燕")
    async with transaction(seeded) as session:
        await measures.add_progress(session, zhang, "ZG2025009", "进展")
    async with seeded() as session:
        for actor in (zhang, leader, wei, None):
            events = await measures.events_of(session, "ZG2025009", actor_id=actor)
            assert [e.action for e in events] == ["import", "progress"]
            assert events[-1].actor is not None and events[-1].actor.name == "张伟"
        with pytest.raises(PermissionDenied, match="可以查看办理记录"):
            await measures.events_of(session, "ZG2025009", actor_id=deng)


async def test_the_card_lists_what_each_person_may_do(seeded: SessionFactory) -> None:
    zhang, leader, wei, deng = await ids(seeded, "张伟", "陈建华", "韦丽萍", "邓小燕")
    async with seeded() as session:
        done = {name: (await measures.view_measure(session, actor, "ZG2025013")).actions
                for name, actor in (("张伟", zhang), ("陈建华", leader), ("韦丽萍", wei), ("邓小燕", deng))}
        open_ = await measures.view_measure(session, zhang, "ZG2025009")
    assert done["张伟"] == {Action.TRAIL, Action.EVIDENCE}
    assert done["陈建华"] == done["韦丽萍"] == {Action.TRAIL, Action.EVIDENCE, Action.VERIFY, Action.REJECT}
    assert done["邓小燕"] == frozenset()
    assert open_.actions == {Action.TRAIL, Action.PROGRESS, Action.DONE, Action.EVIDENCE, Action.EXTEND}
    assert open_.pending_extension is None


async def test_awaiting_verification_leaves_out_what_one_may_not_verify(seeded: SessionFactory) -> None:
    leader, liu, wei = await ids(seeded, "陈建华", "刘洋", "韦丽萍")
    async with transaction(seeded) as session:
        await measures.mark_done(session, liu, "ZG2025023", None, None, TODAY)
    async with seeded() as session:
        assert [m.code for m in await measures.awaiting_verification(session, leader)] == ["ZG2025013"]
        for_wei = [m.code for m in await measures.awaiting_verification(session, wei)]
        for_liu = [m.code for m in await measures.awaiting_verification(session, liu)]
    assert "ZG2025023" in for_wei and "ZG2025023" not in for_liu
    assert sorted(for_wei) == ["ZG2025012", "ZG2025013", "ZG2025016", "ZG2025021", "ZG2025023", "ZG2025028"]


async def test_the_database_itself_allows_one_pending_extension_per_measure(seeded: SessionFactory) -> None:
    (zhang,) = await ids(seeded, "张伟")
    async with seeded() as session:
        measure_id = (await measures.get_measure(session, "ZG2025009")).id

    def request(status: ExtensionStatus) -> ExtensionRequest:
        return ExtensionRequest(measure_id=measure_id, requested_by_id=zhang, new_deadline=dt.date(2027, 1, 31),
                                reason="r", status=status)

    async with transaction(seeded) as session:  # decided ones do not count
        session.add_all([request(ExtensionStatus.APPROVED), request(ExtensionStatus.REFUSED),
                         request(ExtensionStatus.PENDING)])
    with pytest.raises(IntegrityError):
        async with transaction(seeded) as session:
            session.add(request(ExtensionStatus.PENDING))


async def test_concurrent_extension_requests_leave_one_pending(seeded: SessionFactory) -> None:
    zhang, leader = await ids(seeded, "张伟", "陈建华")
    before = await state(seeded, "ZG2025009")

    async def ask(actor: int, day: int) -> ExtensionOutcome | Exception:
        try:
            async with transaction(seeded) as session:
                return await measures.request_extension(
                    session, actor, "ZG2025009", dt.date(2027, 1, day), "延误", TODAY)
        except (ConflictError, InvalidTransition) as exc:
            return exc

    results = await asyncio.gather(ask(zhang, 20), ask(leader, 31))
    assert sum(isinstance(r, ExtensionOutcome) for r in results) == 1, results
    async with seeded() as session:
        assert len(await measures.pending_extensions(session)) == 1
    after = await state(seeded, "ZG2025009")
    assert [e.action for e in after.events[len(before.events):]] == ["extend_request"]
    assert after.version == before.version + 1


async def test_concurrent_decisions_on_one_request_have_one_winner(seeded: SessionFactory) -> None:
    zhang, wei, liu = await ids(seeded, "张伟", "韦丽萍", "刘洋")
    async with transaction(seeded) as session:
        asked = await measures.request_extension(session, zhang, "ZG2025009", dt.date(2027, 1, 31), "延误", TODAY)
    before = await state(seeded, "ZG2025009")

    async def decide(actor: int, approve: bool) -> ExtensionOutcome | Exception:
        try:
            async with transaction(seeded) as session:
                return await measures.decide_extension(session, actor, asked.request.id, approve, None, TODAY)
        except (ConflictError, InvalidTransition) as exc:
            return exc

    results = await asyncio.gather(decide(wei, True), decide(liu, False))
    winners = [r for r in results if isinstance(r, ExtensionOutcome)]
    assert len(winners) == 1, results
    after = await state(seeded, "ZG2025009")
    (event,) = after.events[len(before.events):]
    assert event.action == winners[0].event.action
    assert after.deadline == (dt.date(2027, 1, 31) if event.action == "extend_approve" else dt.date(2026, 12, 5))
    async with seeded() as session:
        stored = await session.get(ExtensionRequest, asked.request.id)
        assert stored is not None and stored.status == winners[0].request.status != ExtensionStatus.PENDING


async def test_approval_never_shortens_a_deadline_moved_since_the_request(seeded: SessionFactory) -> None:
    zhang, wei = await ids(seeded, "张伟", "韦丽萍")
    async with transaction(seeded) as session:
        asked = await measures.request_extension(session, zhang, "ZG2025009", dt.date(2027, 1, 31), "延误", TODAY)
    async with transaction(seeded) as session:  # a re-imported 台账 moved it further meanwhile
        (await measures.get_measure(session, "ZG2025009")).deadline = dt.date(2027, 2, 28)
    with pytest.raises(InvalidTransition, match="完成时限已是 2027-02-28，不早于申请的时限"):
        async with transaction(seeded) as session:
            await measures.decide_extension(session, wei, asked.request.id, True, None, TODAY)
    async with transaction(seeded) as session:
        refused = await measures.decide_extension(session, wei, asked.request.id, False, "已另行调整", TODAY)
    assert refused.request.status == ExtensionStatus.REFUSED
    assert (await state(seeded, "ZG2025009")).deadline == dt.date(2027, 2, 28)
