"""Telling the people concerned about a change: queued in the outbox, in the same transaction."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from bot.models import Cadre, ExtensionRequest, ExtensionStatus, Measure, MeasureEvent, Role
from bot.services import outbox
from bot.services.measures import ExtensionOutcome, Transition
from handlers.callbacks import Action, Ref, encode
from handlers.render import cn_date, esc, truncate_text

Buttons = list[list[tuple[str, str]]]


def _head(measure: Measure) -> str:
    return f"<b>{esc(measure.code)}</b> {esc(truncate_text(measure.problem, 40, one_line=True))}"


def _by(event: MeasureEvent) -> str:
    return esc(event.actor.name) if event.actor is not None else "系统"


def _note(event: MeasureEvent, label: str = "说明") -> str:
    return f"\n{label}：{esc(event.note)}" if event.note.strip() else ""


def _judge_buttons(measure: Measure, *, evidence: bool) -> Buttons:
    ref = Ref.of(measure)
    # The evidence is sent with the 办理记录: what the leader looks at before deciding.
    trail = "📎 查看佐证材料" if evidence else "🕘 办理记录"
    return [[("✔️ 销号", encode(Action.VERIFY, ref)), ("↩️ 退回", encode(Action.REJECT, ref))],
            [("查看详情", encode(Action.MEASURE, ref)), (trail, encode(Action.TRAIL, ref))]]


def _owner_buttons(measure: Measure) -> Buttons:
    ref = Ref.of(measure)
    return [[("✅ 完成", encode(Action.DONE_ASK, ref)), ("📝 进展", encode(Action.PROGRESS, ref))]]


def transition_message(what: str, transition: Transition, recipient: Cadre) -> tuple[str, Buttons | None]:
    measure, event = transition.measure, transition.event
    evidence = "\n📎 附佐证材料" if event.evidence_file_id else ""
    if what == "done":
        text = f"☑️ {_head(measure)}\n已由 {_by(event)} 报告完成，请审核销号。{_note(event)}{evidence}"
        mine = recipient.id == measure.owner_id
        return text, None if mine else _judge_buttons(measure, evidence=bool(event.evidence_file_id))
    if what == "verify":
        return f"✅ {_head(measure)}\n已由 {_by(event)} 审核销号。{_note(event)}", None
    if what == "reject":
        return (f"↩️ {_head(measure)}\n被 {_by(event)} 退回，请继续整改。{_note(event, '退回原因')}",
                _owner_buttons(measure))
    if what == "undo":
        return f"↩️ {_head(measure)}\n{_by(event)} 撤回了完成报告，措施恢复为{measure.status.label}。", None
    if what == "evidence":
        return (f"📎 {_head(measure)}\n{_by(event)} 补充了佐证材料。{_note(event)}",
                [[("📎 查看佐证材料", encode(Action.TRAIL, Ref.of(measure)))]])
    if what == "progress":
        return f"📝 {_head(measure)}\n{_by(event)} 更新了进展：{esc(measure.progress)}", None
    return f"{_head(measure)}\n{esc(event.action)}", None


def extension_message(request: ExtensionRequest, measure: Measure) -> tuple[str, Buttons | None]:
    """A request, to the admins deciding it (with buttons); the decision, to the requester; or its
    withdrawal, to those who were told of it."""
    old = cn_date(request.old_deadline) if request.old_deadline else "长期坚持"
    if request.status is ExtensionStatus.WITHDRAWN:
        return (f"↩️ {_head(measure)}\n{esc(request.requested_by.name)} 已撤回延期申请"
                f"（{old} → {cn_date(request.new_deadline)}），无需审批。", None)
    if request.status.value == "pending":
        text = (f"⏰ 延期申请 {_head(measure)}\n申请人：{esc(request.requested_by.name)}\n"
                f"完成时限：{old} → {cn_date(request.new_deadline)}\n理由：{esc(request.reason)}")
        buttons: Buttons = [[("✅ 同意延期", encode(Action.EXTEND_APPROVE, request.id)),
                             ("❌ 不同意", encode(Action.EXTEND_REFUSE, request.id))]]
        return text, buttons
    verdict = "已同意" if request.status.value == "approved" else "未同意"
    note = f"\n说明：{esc(request.decision_note)}" if request.decision_note.strip() else ""
    return (f"⏰ {_head(measure)}\n延期申请（{old} → {cn_date(request.new_deadline)}）{verdict}。{note}", None)


async def queue_transition(session: AsyncSession, what: str, transition: Transition) -> int:
    """Queue one message per person to tell; the key makes a retry of the same change harmless."""
    queued = 0
    for cadre_id in transition.notify:
        recipient = await session.get(Cadre, cadre_id)
        if recipient is None:
            continue
        text, buttons = transition_message(what, transition, recipient)
        result = await outbox.enqueue(session, key=f"{what}:{transition.event.id}:{cadre_id}", kind="notify",
                                      text=text, cadre=recipient, buttons=buttons)
        queued += result.created
    return queued


async def queue_extension(session: AsyncSession, outcome: ExtensionOutcome) -> int:
    queued = 0
    for cadre_id in outcome.notify:
        recipient = await session.get(Cadre, cadre_id)
        if recipient is None:
            continue
        text, buttons = extension_message(outcome.request, outcome.measure)
        if buttons is not None and recipient.role is not Role.ADMIN:
            # The measure's leader, told of a request the admins decide: no buttons that would refuse.
            text, buttons = text + "\n（供知悉，由管理员审批）", None
        result = await outbox.enqueue(session, key=f"{outcome.event.action}:{outcome.event.id}:{cadre_id}",
                                      kind="notify", text=text, cadre=recipient, buttons=buttons)
        queued += result.created
    return queued
