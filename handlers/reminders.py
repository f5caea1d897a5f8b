"""How reminders read: one digest per person per sweep, and the admins' daily overview."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy.exc import IntegrityError

from bot.config import Settings
from bot.db import SessionFactory, transaction
from bot.models import Cadre
from bot.services.outbox import Button
from bot.services.reminders import ESCALATE, AdminDigest, DueItem, Policy, SweepResult, sweep
from handlers.callbacks import Action, Ref, encode
from handlers.render import cn_date, esc, measure_badge, truncate_text

#: Items that get their own row of buttons; the rest are listed (Telegram keyboards stay usable).
BUTTON_ITEMS = 8
LIST_ITEMS = 40


def _line(item: DueItem, today: dt.date, *, with_owner: bool = False) -> str:
    c = item.candidate
    who = f" {esc(c.owner_name)}" if with_owner else ""
    problem = esc(truncate_text(c.problem, 30, one_line=True))
    return f"{measure_badge(c.status, c.deadline, today)} <code>{esc(c.code)}</code>{who}：{problem}"


def digest(cadre: Cadre, items: Sequence[DueItem], today: dt.date) -> tuple[str, list[list[Button]]]:
    own = [i for i in items if i.kind != ESCALATE]
    escalated = [i for i in items if i.kind == ESCALATE]
    parts = [f"⏰ <b>整改催办</b>（{cn_date(today)}）", f"{esc(cadre.name)}，您好："]
    if own:
        parts.append(f"\n您负责的 {len(own)} 项整改措施临近或已过完成时限：")
        parts += [_line(i, today) for i in own[:LIST_ITEMS]]
        if len(own) > LIST_ITEMS:
            parts.append(f"…另有 {len(own) - LIST_ITEMS} 项，发送 /mine 查看")
        parts.append("完成后请点“✅ 完成”，或回复本消息“已完成”；确有困难可申请延期。")
    if escalated:
        parts.append(f"\n⚠️ <b>逾期督办</b>：您分管的 {len(escalated)} 项整改措施已逾期，请督促落实：")
        parts += [_line(i, today, with_owner=True) for i in escalated[:LIST_ITEMS]]
        if len(escalated) > LIST_ITEMS:
            parts.append(f"…另有 {len(escalated) - LIST_ITEMS} 项，发送 /overdue 查看")
    buttons: list[list[Button]] = []
    for item in own[:BUTTON_ITEMS]:
        ref = Ref(key=item.candidate.code) if _fits(item.candidate.code) else Ref(id=item.candidate.measure_id)
        row: list[Button] = [(f"✅ {item.candidate.code} 完成", encode(Action.DONE_ASK, ref)),
                             ("📝 进展", encode(Action.PROGRESS, ref))]
        row.append(("⏰ 申请延期", encode(Action.EXTEND, ref)))
        buttons.append(row)
    for item in escalated[:max(0, BUTTON_ITEMS - len(buttons))]:
        ref = Ref(key=item.candidate.code) if _fits(item.candidate.code) else Ref(id=item.candidate.measure_id)
        buttons.append([(f"查看 {item.candidate.code}", encode(Action.MEASURE, ref))])
    return "\n".join(parts), buttons


def _fits(code: str) -> bool:
    return code.isascii() and "|" not in code and len(code) <= 40


def admin_digest(report: AdminDigest) -> str:
    today = report.today
    parts = [f"📊 <b>每日整改督办汇总</b>（{cn_date(today)}）",
             f"逾期未完成：<b>{report.overdue_total}</b> 项；今日升级督办 {report.escalated} 项。"]
    for c in report.overdue:
        days = (today - c.deadline).days
        parts.append(f"🔴 <code>{esc(c.code)}</code> {esc(c.unit)} {esc(c.owner_name)} 逾期 {days} 天")
    if report.overdue_total > len(report.overdue):
        parts.append(f"…另有 {report.overdue_total - len(report.overdue)} 项，发送 /overdue 查看")
    if report.unreachable:
        names = "、".join(esc(c.name) for c in report.unreachable[:30])
        parts.append(f"\n📵 无法送达（已屏蔽机器人或未打开对话）：{names}。请线下通知本人重新打开机器人。")
    if report.failed:
        parts.append(f"\n❗ 近一天有 {len(report.failed)} 条消息发送失败（已停止重试），详见日志。")
    if report.unanswered:
        parts.append(f"\n❓ 近一天有 {report.unanswered} 个问题未能回答或被指出答错：发送 /misses 查看，"
                     "把它们归入应回答的条款，此后这样问就会直接回答。")
    return "\n".join(parts)


async def run_sweep(factory: SessionFactory, settings: Settings, today: dt.date, *, dry_run: bool = False
                    ) -> SweepResult:
    """One sweep in one transaction; a concurrent sweep that won the race leaves nothing to do."""
    policy = Policy.from_settings(settings)
    for attempt in (1, 2):
        try:
            async with transaction(factory) as session:
                return await sweep(session, today, policy, render=digest, render_admin=admin_digest,
                                   dry_run=dry_run)
        except IntegrityError:
            # Another process recorded the same reminders between our read and our write.
            if attempt == 2:
                raise
    raise AssertionError("unreachable")  # pragma: no cover
