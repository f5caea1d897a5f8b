"""Plain-text answers, as the bot would phrase them, for the terminal (`zhenggai ask`, the demo).

The Telegram handlers render the same facts as HTML (`handlers/render.py`); both take
their facts from `load_answer_facts`, so they cannot drift apart in content.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import contains_eager, joinedload

from bot.models import STATUS_LABELS, Article, Measure, MeasureEvent, MeasureStatus, Regulation
from bot.services import reports
from bot.services.answers import Answer, AnswerEngine, Hit, Ranking, SmallTalk
from bot.services.ledger import MEASURE_HEADERS_ZH
from bot.services.measures import EVIDENCE_NAMES, Pending, pending_matters

#: Replies to small talk, in the chat and in the terminal alike: a courteous word, and how to ask.
SMALL_TALK_REPLIES: dict[SmallTalk, str] = {
    SmallTalk.GREETING: "您好！我是整改助手。可以直接问我规章制度和整改措施方面的问题，例如“请假超过三天要谁批？”"
                        "“逾期的有哪些”“我的整改”。发送 /help 查看全部用法。",
    SmallTalk.THANKS: "不客气！还有问题随时问我。",
    SmallTalk.OK: "好的。还有问题随时问我。",
    SmallTalk.ABOUT_BOT: "我是整改助手：可以查询规章制度的条款，整改措施的责任人、进展和时限，逾期事项和公示情况；"
                         "责任人还可以在这里报完成、报进展、申请延期。发送 /help 查看全部用法。",
    SmallTalk.ERRAND: "抱歉，订票、写材料这类事情我办不了：我只能查询规章制度和整改措施。发送 /regs 可以浏览制度目录。",
    SmallTalk.ELSEWHERE: "抱歉，这个问题不在我能回答的范围内：我只能查询本局的规章制度和整改措施。"
                         "发送 /regs 可以浏览制度目录。",
    # In chat these two are answered by /help and /regs themselves; these lines are the terminal's.
    SmallTalk.HELP: "可以直接问规章制度和整改措施方面的问题，例如“请假超过三天要谁批？”“逾期的有哪些”“我的整改”。"
                    "在机器人中发送 /help 查看全部用法。",
    SmallTalk.CATALOGUE: "在机器人中发送 /regs 浏览全部规章制度的目录，或用 zhenggai ask 直接问某项制度。",
}


# ---- a measure's 办理记录 ----------------------------------------------------------------------------

#: What each audited change is called.
_EVENT_LABELS = {
    "import": "台账导入", "progress": "更新进展", "done": "报告完成", "undo": "撤回完成报告",
    "verify": "审核销号", "reject": "退回", "evidence": "补充佐证材料", "extend_request": "申请延期",
    "extend_approve": "同意延期", "extend_refuse": "不同意延期", "extend_withdraw": "撤回延期申请",
}
_NOTE_LABELS = {"reject": "原因", "extend_request": "理由", "progress": ""}
_STATUS_VALUES = frozenset(s.value for s in MeasureStatus)
#: The chat shows this many latest changes (a measure reported on weekly for years has hundreds).
TRAIL_LIMIT = 30
_NOTE_CHARS = 80


def trail_entry(event: MeasureEvent, tz: dt.tzinfo) -> str:
    """One change, in local time: 12月7日 11:02　张伟　报告完成（进行中 → 已完成），说明：已验收 📎照片."""
    at = event.at.astimezone(tz)
    who = event.actor.name if event.actor is not None else "系统"
    details = event.details or {}
    what = _EVENT_LABELS.get(event.action, event.action)
    if event.action.startswith("extend_") and details.get("new_deadline"):
        what += f" {details.get('old_deadline') or '长期坚持'} → {details['new_deadline']}"
    if event.action == "import" and details.get("changes"):
        what = "台账导入更新：" + "、".join(_import_change(c, change) for c, change in details["changes"].items())
    elif event.from_status is not None and event.to_status is not None and event.from_status != event.to_status:
        what += f"（{event.from_status.label} → {event.to_status.label}）"
    elif event.action == "import" and event.to_status is not None:
        what += f"（{event.to_status.label}）"
    note = "" if event.action == "import" else (event.note or "").strip()
    if note:
        note = note if len(note) <= _NOTE_CHARS else note[:_NOTE_CHARS] + "…"
        label = _NOTE_LABELS.get(event.action, "说明")
        what += f"，{label}：{note}" if label else f"：{note}"
    if event.evidence_file_id:
        what += " 📎" + EVIDENCE_NAMES.get(event.evidence_kind or "", "文件")
    return f"{at.month}月{at.day}日 {at:%H:%M}　{who}　{what}"


def _import_change(column: str, change: object) -> str:
    """完成时限 2026-12-05 → 2027-01-31; a long text (问题, 进展) only as 已更新."""
    name = MEASURE_HEADERS_ZH.get(column, column)
    short = ("deadline", "status", "owner", "leader", "unit", "category")
    if column not in short or not isinstance(change, list) or len(change) != 2:
        return f"{name}已更新"
    before, after = (STATUS_LABELS[MeasureStatus(v)] if column == "status" and v in _STATUS_VALUES else (v or "无")
                     for v in change)
    return f"{name} {before} → {after}"


def ranking_line(report: reports.Report, ranking: Ranking, *, named: int = 3) -> str:
    """One sentence answering 哪个单位逾期最多 / 完成率最低 from the per-unit figures; units that
    tie are named together (the first `named` of them)."""
    units = [u for u in report.units if u.total]
    if not units:
        return "目前没有整改措施。"
    if ranking is Ranking.MOST_OVERDUE:
        top = max(u.overdue for u in units)
        if top == 0:
            return "目前没有逾期未完成的整改措施。"
        tied = [u for u in units if u.overdue == top]
        each = "各 " if len(tied) > 1 else ""
        return f"逾期最多的单位：{_units_named(tied, named)}（{each}{top} 项逾期）。"
    rates = [u.completion_rate for u in units]
    best = min(rates) if ranking is Ranking.SLOWEST else max(rates)
    tied = [u for u in units if u.completion_rate == best]
    word = "最低" if ranking is Ranking.SLOWEST else "最高"
    return f"完成率{word}的单位：{_units_named(tied, named)}（{'均为' if len(tied) > 1 else ''}{best:.0%}）。"


def _units_named(units: list[reports.UnitSummary], named: int) -> str:
    names = "、".join(u.label for u in units[:named])
    return names if len(units) <= named else f"{names}等 {len(units)} 个单位"


def report_answer_text(facts: AnswerFacts, *, public: bool) -> str:
    """The figures asked for: the ranking asked about first, then the summary it comes from."""
    assert facts.report is not None
    text = reports.report_text(facts.report, public=public)
    ranking = facts.answer.report.ranking if facts.answer.report is not None else None
    return f"{ranking_line(facts.report, ranking)}\n\n{text}" if ranking is not None else text


@dataclass(frozen=True)
class ArticleFacts:
    regulation: Regulation
    article: Article | None


@dataclass(frozen=True)
class AnswerFacts:
    answer: Answer
    article: ArticleFacts | None = None
    regulation: Regulation | None = None
    measure: Measure | None = None
    listed: tuple[Measure, ...] = ()
    report: reports.Report | None = None  # the figures asked for (完成率是多少)
    #: Measures the question fits exactly as well as the best (补贴: the two districts' subsidies):
    #: listed for the asker to choose, rather than one card chosen by chance.
    alike: tuple[Measure, ...] = ()
    pending: Pending | None = None  # the measure's extension request under way, or the return


#: Measures scoring within this of the best answer's score fit the question alike.
ALIKE = 0.01
ALIKE_TITLE = "与您的问题同样相关的整改措施"


# Built once (see pending.sender on why): what an answer quotes, fetched for every question.
_LISTED = select(Measure).where(Measure.code.in_(bindparam("codes", expanding=True)))
_MEASURE = select(Measure).where(Measure.code == bindparam("key"))
#: One statement for the one article (and its regulation) an answer quotes.
_ARTICLE = (select(Article).join(Article.regulation).options(contains_eager(Article.regulation))
            .where(Regulation.key == bindparam("key"), Article.no == bindparam("no")))
#: A regulation's card lists its articles: loaded with it, in the same statement.
_REGULATION = select(Regulation).where(Regulation.key == bindparam("key")).options(joinedload(Regulation.articles))


async def load_answer_facts(session: AsyncSession, answer: Answer, *, today: dt.date, tz: dt.tzinfo,
                            list_limit: int = 30) -> AnswerFacts:
    """Fetch what the answer's best hit refers to (only when the bot would answer); `today` and
    `tz` (the bureau's) date the figures of a report question."""
    if answer.report is not None:
        summary = await reports.build_report(session, today, unit=answer.report.unit, tz=tz)
        return AnswerFacts(answer, report=summary)
    if answer.listing is not None:
        codes = answer.listed[:list_limit]
        rows = {m.code: m for m in await session.scalars(_LISTED, {"codes": list(codes)})}
        return AnswerFacts(answer, listed=tuple(rows[c] for c in codes if c in rows))
    if not answer.answered or not answer.hits:
        return AnswerFacts(answer)
    best = answer.hits[0]
    if best.kind == "measure":
        alike = [h.key for h in answer.hits if h.kind == "measure" and h.score >= best.score - ALIKE]
        if len(alike) > 1:
            rows = {m.code: m for m in await session.scalars(_LISTED, {"codes": alike})}
            listed = tuple(rows[c] for c in alike if c in rows)
            return AnswerFacts(answer, measure=rows.get(best.key), alike=listed)
        measure = await session.scalar(_MEASURE, {"key": best.key})
        pending = await pending_matters(session, measure) if measure is not None else None
        return AnswerFacts(answer, measure=measure, pending=pending)
    if best.kind == "article":
        article = await session.scalar(_ARTICLE, {"key": best.key, "no": best.no})
        if article is not None:
            return AnswerFacts(answer, article=ArticleFacts(article.regulation, article))
    regulation = (await session.scalars(_REGULATION, {"key": best.key})).unique().first()
    if regulation is None:
        return AnswerFacts(answer)
    if best.kind == "article":
        return AnswerFacts(answer, article=ArticleFacts(regulation, None))
    return AnswerFacts(answer, regulation=regulation)


def days_left_badge(deadline: dt.date | None, today: dt.date, open_: bool) -> str:
    """🟢 more than 7 days, 🟡 7 days or fewer, 🔴 overdue; plain words for closed items."""
    if deadline is None:
        return "长期坚持"
    if not open_:
        return f"时限 {deadline:%Y-%m-%d}"
    days = (deadline - today).days
    if days < 0:
        return f"🔴 已逾期 {-days} 天"
    if days == 0:
        return "🟡 今天到期"
    if days <= 7:
        return f"🟡 剩 {days} 天"
    return f"🟢 剩 {days} 天"


def measure_text(measure: Measure, today: dt.date) -> str:
    badge = days_left_badge(measure.deadline, today, measure.status.is_open)
    lines = [
        f"【{measure.code}】{measure.status.label} · {badge}",
        f"问题：{measure.problem}",
        f"措施：{measure.measure}",
        f"责任单位：{measure.unit}　责任人：{measure.owner.name}"
        + (f"　分管领导：{measure.leader.name}" if measure.leader else ""),
        f"完成时限：{measure.deadline:%Y-%m-%d}" if measure.deadline else "完成时限：长期坚持",
    ]
    if measure.progress:
        lines.append(f"最新进展：{measure.progress}")
    return "\n".join(lines)


def _suggestions(hits: list[Hit]) -> str:
    return "\n".join(f"  {i}. {h.title}" for i, h in enumerate(hits, start=1))


def _measure_lines(title: str, measures: Sequence[Measure], total: int, today: dt.date) -> str:
    """A list of measures for the terminal: a count, then a line each, and how many more."""
    lines = [f"{title}共 {total} 项："]
    for m in measures:
        badge = days_left_badge(m.deadline, today, m.status.is_open)
        lines.append(f"  {m.code} {m.status.label} {badge} {m.owner.name}：{m.problem[:40]}")
    if total > len(measures):
        lines.append(f"  …另有 {total - len(measures)} 项")
    return "\n".join(lines)


def format_facts_text(facts: AnswerFacts, today: dt.date) -> str:
    answer = facts.answer
    if answer.listing is not None:
        if answer.listing.personal and not facts.listed and not answer.answered:
            return "“我的整改”需要先绑定身份：请在 Telegram 中向管理员索取邀请码。"
        title = answer.listing.describe()
        if not facts.listed:
            return f"没有找到{title}。"
        return _measure_lines(title, facts.listed, len(answer.listed), today)
    if answer.small_talk is not None:
        return SMALL_TALK_REPLIES[answer.small_talk]
    if facts.report is not None:
        return report_answer_text(facts, public=False)
    if not answer.answered:
        if answer.hits:
            return "没能确定您要问的内容，您是不是要问：\n" + _suggestions(answer.hits)
        return "抱歉，没有找到相关的规章制度或整改措施。可以换个说法，或在机器人中用 /regs 浏览制度目录。"
    if len(facts.alike) > 1:
        return _measure_lines(ALIKE_TITLE, facts.alike, len(facts.alike), today)
    if facts.measure is not None:
        return measure_text(facts.measure, today)
    if facts.article is not None:
        regulation, article = facts.article.regulation, facts.article.article
        effective = f"（{regulation.effective:%Y年%-m月%-d日}起施行）" if regulation.effective else ""
        body = article.text if article else ""
        text = f"《{regulation.title}》第{article.no if article else '?'}条{effective}\n{body}"
    elif facts.regulation is not None:
        regulation = facts.regulation
        effective = f"，{regulation.effective:%Y年%-m月%-d日}起施行" if regulation.effective else ""
        text = f"《{regulation.title}》（{regulation.issuer}{effective}）\n{regulation.summary}"
        if answer.requested_article:
            text += f"\n（该制度没有第{answer.requested_article}条，共 {len(regulation.articles)} 条）"
        text += "\n" + "\n".join(f"  第{a.no}条 {a.text[:30]}…" for a in regulation.articles[:12])
    else:
        return "抱歉，没有找到相关内容。"
    others = answer.related
    if others:
        text += "\n\n相关内容：\n" + _suggestions(others)
    return text


async def format_answer_text(session: AsyncSession, answer: Answer, engine: AnswerEngine) -> str:
    today = engine.today()
    facts = await load_answer_facts(session, answer, today=today, tz=engine.timezone)
    return format_facts_text(facts, today)
