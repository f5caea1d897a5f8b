"""HTML for Telegram (``parse_mode="HTML"``): escaping, length limits, and the bot's replies.

Pure functions — no I/O, no database; `telegram` is imported for keyboard types only.
The facts come from `bot.services.phrasing.load_answer_facts`, the same ones the terminal's
plain-text phrasing uses, so the two cannot drift apart in content.

Rules kept everywhere here:

- every piece of user or database text goes through `esc` (or `truncate_text` then `esc`);
- only ``b i u s code pre a blockquote`` are emitted;
- Telegram counts limits (4096 for a message, 1024 for a caption) in UTF-16 code units of the
  text *after* entity parsing: `visible_len` measures that, `split_message` and `truncate` keep to it.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final, NamedTuple

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.models import Article, Cadre, Measure, MeasureEvent, MeasureStatus, Regulation, Role
from bot.services.answers import Answer, Hit, MissView, SmallTalk
from bot.services.measures import Pending
from bot.services.phrasing import (
    ALIKE_TITLE,
    SMALL_TALK_REPLIES,
    TRAIL_LIMIT,
    AnswerFacts,
    report_answer_text,
    trail_entry,
)
from bot.services.text import cn_date
from handlers.callbacks import (
    Action,
    Ref,
    encode,
    hit_label,
    measure_keyboard,
    measures_keyboard,
    page_of,
    pagination_row,
    suggestion_rows,
    teach_rows,
)

__all__ = [
    "CAPTION_LIMIT",
    "MESSAGE_LIMIT",
    "Reply",
    "article_answer",
    "cn_date",
    "esc",
    "link",
    "measure_badge",
    "measure_card",
    "measure_list",
    "miss_card",
    "misses_list",
    "need_binding",
    "not_found",
    "regulation_card",
    "regulation_index",
    "render_facts",
    "split_message",
    "suggestions_reply",
    "taught",
    "truncate",
    "truncate_text",
    "utf16_len",
    "viewer_rights",
    "visible_len",
    "visible_text",
]

MESSAGE_LIMIT: Final = 4096
CAPTION_LIMIT: Final = 1024


# ---- escaping and measuring -----------------------------------------------------------------------

def esc(text: str, *, quote: bool = False) -> str:
    """Escape text for Telegram HTML: ``& < >``; with `quote` also ``" '`` (for attribute values)."""
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    if quote:
        text = text.replace('"', "&quot;").replace("'", "&#39;")
    return text


def link(url: str, text: str) -> str:
    return f'<a href="{esc(url, quote=True)}">{esc(text)}</a>'


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units, as Telegram counts: a character outside the BMP counts 2."""
    return len(text) + sum(1 for ch in text if ord(ch) > 0xFFFF)


# What Telegram decodes: the four named entities and numeric ones; anything else stays literal.
_NAMED: Final = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_ENTITY_RE: Final = re.compile(r"&(?:#(?:[xX](?P<hex>[0-9a-fA-F]{1,8})|(?P<dec>[0-9]{1,10}))|(?P<name>[a-zA-Z]+));")
_TAG_RE: Final = re.compile(r"<(?P<close>/?)(?P<name>[A-Za-z][A-Za-z0-9-]*)(?:[^<>\"']|\"[^\"]*\"|'[^']*')*>")
# Tags that enclose text (Telegram's set); anything else is passed through as is.
_CONTAINERS: Final = frozenset(
    "b strong i em u ins s strike del tg-spoiler span a code pre blockquote tg-emoji".split())


class _Item(NamedTuple):
    raw: str  # the source text of this item
    char: str  # the one visible character it stands for; "" for a tag
    tag: str  # lower-case tag name; "" for a character
    closing: bool = False


def _entity(source: str, index: int) -> tuple[str, int] | None:
    match = _ENTITY_RE.match(source, index)
    if match is None:
        return None
    if match.group("name") is not None:
        char = _NAMED.get(match.group("name"))
        return (char, match.end()) if char is not None else None
    number = int(match.group("hex"), 16) if match.group("hex") is not None else int(match.group("dec"))
    if number == 0 or number > 0x10FFFF or 0xD800 <= number <= 0xDFFF:
        return None
    return chr(number), match.end()


def _tokenize(source: str) -> list[_Item]:
    """Tags, and one item per visible character (an entity like ``&amp;`` is one item)."""
    items: list[_Item] = []
    index, length = 0, len(source)
    while index < length:
        ch = source[index]
        if ch == "<" and (tag := _TAG_RE.match(source, index)) is not None:
            items.append(_Item(tag.group(0), "", tag.group("name").lower(), bool(tag.group("close"))))
            index = tag.end()
        elif ch == "&" and (entity := _entity(source, index)) is not None:
            items.append(_Item(source[index:entity[1]], entity[0], ""))
            index = entity[1]
        else:
            items.append(_Item(ch, ch, ""))
            index += 1
    return items


def visible_text(html: str) -> str:
    """The text Telegram shows for `html` (tags dropped, entities decoded)."""
    return "".join(item.char for item in _tokenize(html))


def visible_len(html: str) -> int:
    """What Telegram's length limits measure: UTF-16 units of the visible text."""
    return utf16_len(visible_text(html))


class _Parsed:
    """A tokenised message: visible text, where each character sits, the open tags before each item."""

    def __init__(self, html: str) -> None:
        self.items = _tokenize(html)
        self.positions: list[int] = []  # item index of each visible character
        self.stacks: list[tuple[tuple[str, str], ...]] = []  # (name, raw open tag) open before each item
        stack: tuple[tuple[str, str], ...] = ()
        for index, item in enumerate(self.items):
            self.stacks.append(stack)
            if item.char:
                self.positions.append(index)
            elif item.tag in _CONTAINERS:
                if not item.closing:
                    stack = (*stack, (item.tag, item.raw))
                else:
                    names = [name for name, _ in stack]
                    if item.tag in names:  # lenient: close back to the matching tag
                        stack = stack[: len(names) - 1 - names[::-1].index(item.tag)]
        self.stacks.append(stack)
        self.text = "".join(self.items[i].char for i in self.positions)

    def html(self, start: int, end: int) -> str:
        """Well-formed HTML for visible characters [start, end): open tags reopened, closed at the end."""
        first = 0 if start == 0 else self.positions[start]
        last = len(self.items) if end >= len(self.text) else self.positions[end - 1] + 1
        reopened = "".join(raw for _, raw in self.stacks[first])
        body = "".join(self.items[i].raw for i in range(first, last)
                       if not (self.items[i].closing and self._stray(i)))
        closed = "".join(f"</{name}>" for name, _ in reversed(self.stacks[last]))
        return reopened + body + closed

    def _stray(self, index: int) -> bool:
        """A closing tag with nothing to close (dropped rather than copied into a chunk)."""
        item = self.items[index]
        return item.tag in _CONTAINERS and all(name != item.tag for name, _ in self.stacks[index])


# ---- splitting and truncating ---------------------------------------------------------------------

_SENTENCE_ENDS: Final = frozenset("。！？!?；;")
_CLAUSE_ENDS: Final = frozenset("，、,：:")
_CLOSERS: Final = frozenset("”’）)」』】》\"'")
_SPACES: Final = frozenset(" \t\u3000")


def _window_end(text: str, start: int, limit: int) -> int:
    """The largest end with utf16_len(text[start:end]) <= limit."""
    used, end = 0, start
    while end < len(text):
        width = 2 if ord(text[end]) > 0xFFFF else 1
        if used + width > limit:
            break
        used += width
        end += 1
    return end


def _joins_previous(text: str, index: int) -> bool:
    """Cutting before text[index] would split a character from its combining mark, ZWJ or modifier."""
    ch = text[index]
    return (unicodedata.combining(ch) != 0 or ch in "\u200d\ufe0e\ufe0f" or 0x1F3FB <= ord(ch) <= 0x1F3FF
            or 0xE0020 <= ord(ch) <= 0xE007F or text[index - 1] == "\u200d")


def _cut(text: str, start: int, end: int, keep: float) -> int:
    """Where to end a piece of text[start:end] (end < len(text)): a paragraph break, else a line
    break, sentence end, space, clause end — each only if at least `keep` of the window stays —
    else the window's end, moved back off a grapheme join."""
    low = start + max(1, int((end - start) * keep))
    if (at := text.rfind("\n\n", low, end)) >= 0:
        return at
    if (at := text.rfind("\n", low, end)) >= 0:
        return at
    for ends, include in ((_SENTENCE_ENDS, True), (_SPACES, False), (_CLAUSE_ENDS, True)):
        for at in range(end - 1, low - 1, -1):
            if text[at] in ends:
                if not include:
                    return at
                cut = at + 1
                while cut < end and text[cut] in _CLOSERS:
                    cut += 1
                return cut
    cut = end
    while cut > start + 1 and _joins_previous(text, cut):
        cut -= 1
    return cut


def split_message(html: str, limit: int = MESSAGE_LIMIT) -> list[str]:
    """Split HTML into messages whose visible text is at most `limit` UTF-16 units.

    A message that fits is returned unchanged, as the only element. Otherwise pieces end at a
    paragraph break, else a line break, a sentence end, a space, a clause end, and only failing
    all of these mid-text (never inside a tag, an entity like ``&amp;`` or a surrogate pair);
    tags open at a cut are closed at the end of one piece and reopened at the start of the next,
    so every piece parses on its own. The whitespace at each cut is dropped (Telegram trims it,
    and a blank piece would be rejected as "message text is empty"); apart from that, the
    pieces' visible texts put together are the original visible text.
    """
    if limit < 2:
        raise ValueError("limit must be at least 2 (an astral character counts 2)")
    if utf16_len(html) <= limit:
        return [html]  # markup only adds length, so the visible text fits too: skip parsing
    parsed = _Parsed(html)
    text = parsed.text
    if utf16_len(text) <= limit:
        return [html]
    chunks: list[str] = []
    start = 0
    while True:
        while start < len(text) and text[start].isspace():
            start += 1
        if start >= len(text):
            break
        window = _window_end(text, start, limit)
        cut = len(text) if window >= len(text) else _cut(text, start, window, keep=0.5)
        end = cut
        while end > start and text[end - 1].isspace():
            end -= 1
        chunks.append(parsed.html(start, end))
        start = cut
    return chunks


def truncate(html: str, limit: int, suffix: str = "…") -> str:
    """`html` cut so its visible text, `suffix` (plain text) included, is at most `limit` UTF-16 units.

    For captions (1024) and other bounded places. Returned unchanged when it fits; the cut
    prefers a boundary in the last quarter and keeps the markup well-formed.
    """
    if utf16_len(html) <= limit:
        return html
    parsed = _Parsed(html)
    text = parsed.text
    if utf16_len(text) <= limit:
        return html
    budget = limit - utf16_len(suffix)
    if budget < 0:
        raise ValueError(f"suffix {suffix!r} is longer than the limit {limit}")
    window = _window_end(text, 0, budget)
    end = _cut(text, 0, window, keep=0.75) if window > 0 else 0
    while end > 0 and text[end - 1].isspace():
        end -= 1
    return (parsed.html(0, end) if end > 0 else "") + esc(suffix)


def truncate_text(text: str, limit: int, suffix: str = "…", *, one_line: bool = False) -> str:
    """Plain text within `limit` UTF-16 units (escape it afterwards); `one_line` folds whitespace."""
    if one_line:
        text = " ".join(text.split())
    if utf16_len(text) <= limit:
        return text
    budget = limit - utf16_len(suffix)
    if budget < 0:
        raise ValueError(f"suffix {suffix!r} is longer than the limit {limit}")
    end = _window_end(text, 0, budget)
    while 1 < end < len(text) and _joins_previous(text, end):
        end -= 1
    return text[:end].rstrip() + suffix


# ---- replies --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Reply:
    """One reply: HTML text (possibly longer than one message) and an optional keyboard."""

    html: str
    keyboard: InlineKeyboardMarkup | None = None
    quote: bool = False  # sent as a reply to the message it answers (👎 reads the question there)

    def messages(self, limit: int = MESSAGE_LIMIT) -> list[tuple[str, InlineKeyboardMarkup | None]]:
        """The messages to send, in order; the keyboard goes under the last one."""
        chunks = split_message(self.html, limit)
        return [(chunk, self.keyboard if i == len(chunks) - 1 else None) for i, chunk in enumerate(chunks)]


def _keyboard(rows: Sequence[Sequence[InlineKeyboardButton]]) -> InlineKeyboardMarkup | None:
    rows = [list(row) for row in rows if row]
    return InlineKeyboardMarkup(rows) if rows else None


def _effective(regulation: Regulation) -> str:
    return f"（{cn_date(regulation.effective)}起施行）" if regulation.effective else ""


def _numbered(hits: Sequence[Hit]) -> str:
    return "\n".join(f"{n}. {esc(hit_label(hit))}" for n, hit in enumerate(hits, start=1))


def _hit_buttons(hits: Sequence[Hit], ids: Mapping[tuple[str, str], int] | None) -> list[list[InlineKeyboardButton]]:
    return suggestion_rows(hits, ids=ids)


def _related(hits: Sequence[Hit]) -> str:
    if not hits:
        return ""
    heading = "相关条款" if all(h.kind == "article" for h in hits) else "相关内容"
    return f"\n\n<i>{heading}：</i>\n{_numbered(hits)}"


# ---- regulations and articles ---------------------------------------------------------------------

def article_answer(regulation: Regulation, article: Article, *, related: Sequence[Hit] = (),
                   ids: Mapping[tuple[str, str], int] | None = None) -> Reply:
    """《title》第N条 in bold, the effective date, the article text, then related items as a hint.

    Buttons: one per related item, and the regulation's card. `ids` as in `suggestions_reply`.
    """
    # The regulation itself has its own button below (全文目录): not a related item as well.
    related = [h for h in related if not (h.kind == "regulation" and h.key == regulation.key)]
    html = (f"<b>《{esc(regulation.title)}》第{article.no}条</b>{_effective(regulation)}\n"
            f"{esc(article.text.strip())}{_related(related)}")
    rows = _hit_buttons(related, ids)
    rows.append([InlineKeyboardButton(truncate_text(f"📖 《{regulation.title}》全文目录", 32, one_line=True),
                                      callback_data=encode(Action.REGULATION, Ref.of(regulation)))])
    return Reply(html, _keyboard(rows))


def regulation_card(regulation: Regulation, *, missing_article: int | None = None, related: Sequence[Hit] = (),
                    ids: Mapping[tuple[str, str], int] | None = None, max_articles: int = 12,
                    preview: int = 30) -> Reply:
    """Title, issuer, effective date, summary and the first `max_articles` articles (each cut to
    `preview` characters), with a button per listed article. `missing_article`: the 第N条 asked
    for does not exist — say so. `regulation.articles` must be loaded."""
    lines = [f"📘 <b>《{esc(regulation.title)}》</b>"]
    if regulation.issuer:
        lines.append(f"发布单位：{esc(regulation.issuer)}")
    if regulation.effective:
        lines.append(f"施行日期：{cn_date(regulation.effective)}")
    if regulation.summary.strip():
        lines.append(esc(regulation.summary.strip()))
    articles = list(regulation.articles)
    # An article of this regulation already listed (with its button) is no "related" item.
    listed = {a.no for a in articles[:max_articles]}
    related = [h for h in related if not (h.kind == "article" and h.key == regulation.key and h.no in listed)]
    if missing_article is not None:
        lines.append(f"<i>（该制度没有第{missing_article}条，共 {len(articles)} 条）</i>")
    if articles:
        lines.append(f"\n<b>条款目录</b>（共 {len(articles)} 条）：")
        lines += [f"第{a.no}条 {esc(truncate_text(a.text, preview, one_line=True))}" for a in articles[:max_articles]]
        if len(articles) > max_articles:
            lines.append(f"…另有 {len(articles) - max_articles} 条")
    html = "\n".join(lines) + _related(related)
    ref = Ref.of(regulation)
    buttons = [InlineKeyboardButton(f"第{a.no}条", callback_data=encode(Action.ARTICLE, ref, a.no))
               for a in articles[:max_articles]]
    rows = [buttons[i:i + 4] for i in range(0, len(buttons), 4)] + _hit_buttons(related, ids)
    return Reply(html, _keyboard(rows))


def regulation_index(regulations: Sequence[Regulation], page: int, *, per_page: int = 8) -> Reply:
    """/regs: one page of the regulation list, a button per regulation and « · » to page on."""
    page, pages = page_of(len(regulations), per_page, page)
    shown = regulations[page * per_page:(page + 1) * per_page]
    if not shown:
        return Reply("暂无规章制度。")
    where = f"，第 {page + 1}/{pages} 页" if pages > 1 else ""
    lines = [f"📚 <b>规章制度目录</b>（共 {len(regulations)} 部{where}）"]
    for n, regulation in enumerate(shown, start=page * per_page + 1):
        details = "，".join(x for x in (regulation.issuer,
                                        f"{cn_date(regulation.effective)}起施行" if regulation.effective else "") if x)
        lines.append(f"{n}. 《{esc(regulation.title)}》" + (f"（{esc(details)}）" if details else ""))
    rows = [[InlineKeyboardButton(truncate_text(f"{n}. {r.title}", 32, one_line=True),
                                  callback_data=encode(Action.REGULATION, Ref.of(r)))]
            for n, r in enumerate(shown, start=page * per_page + 1)]
    if pages > 1:
        rows.append(pagination_row(page, pages, Action.REG_PAGE))
    return Reply("\n".join(lines), _keyboard(rows))


# ---- measures -------------------------------------------------------------------------------------

def measure_badge(status: MeasureStatus, deadline: dt.date | None, today: dt.date) -> str:
    """🟢 more than 7 days left, 🟡 7 or fewer, 🔴 overdue; ✅ 已销号 once signed off."""
    if status is MeasureStatus.CLOSED:
        return "✅ 已销号"
    if status is MeasureStatus.DONE:
        return "☑️ 已完成，待销号"
    if deadline is None:
        return "⚪ 长期坚持"
    days = (deadline - today).days
    if days < 0:
        return f"🔴 已逾期 {-days} 天"
    if days == 0:
        return "🟡 今天到期"
    return f"🟡 剩 {days} 天" if days <= 7 else f"🟢 剩 {days} 天"


def _status_and_badge(measure: Measure, today: dt.date) -> str:
    badge = measure_badge(measure.status, measure.deadline, today)
    return f"{measure.status.label} · {badge}" if measure.status.is_open else badge


def viewer_rights(measure: Measure, viewer: Cadre | None) -> tuple[bool, bool]:
    """(is the owner, may sign off): the admin, or the measure's own 分管领导. A hint for buttons only."""
    if viewer is None:
        return False, False
    owner = viewer.id == (measure.owner_id or measure.owner.id)  # owner_id is unset before a flush
    verifier = viewer.role is Role.ADMIN or (viewer.role is Role.LEADER and viewer.id == measure.leader_id)
    # Nobody signs off (or returns) their own measure: an admin's own card offers no 销号.
    return owner, verifier and not owner


def measure_card(measure: Measure, today: dt.date, *, public: bool = False, owner: bool = False,
                 verifier: bool = False, pending: Pending | None = None) -> Reply:
    """Code, status and badge, problem, measure, unit, people, deadline, latest progress, and
    (`pending`, when looked up) an extension request under way or the return that reopened it.

    `public` (group chats): only 公示-level details — no owner/leader names, no progress, no
    buttons. Otherwise buttons for the viewer's rights (`viewer_rights`).
    """
    lines = [
        f"📋 <b>{esc(measure.code)}</b>　{_status_and_badge(measure, today)}",
        f"<b>问题：</b>{esc(measure.problem.strip())}",
        f"<b>措施：</b>{esc(measure.measure.strip())}",
    ]
    if measure.unit:
        lines.append(f"<b>责任单位：</b>{esc(measure.unit)}")
    if not public:
        people = f"<b>责任人：</b>{esc(measure.owner.name)}"
        if measure.leader is not None:
            people += f"　<b>分管领导：</b>{esc(measure.leader.name)}"
        lines.append(people)
    lines.append(f"<b>完成时限：</b>{cn_date(measure.deadline) if measure.deadline else '长期坚持'}")
    if not public and measure.progress.strip():
        lines.append(f"<b>最新进展：</b>{esc(measure.progress.strip())}")
    if not public and pending is not None:
        if pending.returned is not None:
            by = pending.returned.actor.name if pending.returned.actor is not None else "系统"
            lines.append(f"↩️ <b>已被退回：</b>{esc(by)}，原因：{esc(pending.returned.note)}")
        if pending.extension is not None:
            request = pending.extension
            lines.append(f"⏳ <b>延期申请待审批：</b>{esc(request.requested_by.name)} 申请延至 "
                         f"{cn_date(request.new_deadline)}，理由：{esc(request.reason)}")
    keyboard = None if public else measure_keyboard(measure, owner=owner, verifier=verifier)
    return Reply("\n".join(lines), keyboard)


def measure_trail(code: str, events: Sequence[MeasureEvent], tz: dt.tzinfo) -> Reply:
    """A measure's audit trail, oldest first (`phrasing.trail_entry` says each change), the latest
    TRAIL_LIMIT of it."""
    shown = events[-TRAIL_LIMIT:]
    lines = [f"🕘 <b>{esc(code)}</b> 办理记录（共 {len(events)} 条"
             + (f"，只显示最近 {len(shown)} 条" if len(shown) < len(events) else "") + "）："]
    lines += [esc(trail_entry(event, tz)) for event in shown]
    return Reply("\n".join(lines))


#: Measures per message in a list; more come as pages (« 上一页 · 下一页 »).
LIST_PAGE_SIZE = 30
#: The list kind /misses' page buttons name (`Action.LIST_PAGE`); the measure lists name theirs.
MISSES_PAGE_KIND = "miss"


def measure_list(measures: Sequence[Measure], today: dt.date, *, title: str, total: int | None = None,
                 public: bool = False, show_owner: bool = False, problem_chars: int = 24,
                 paged: str | None = None, page: int = 0) -> Reply:
    """A count header, then one line per measure: badge, code, status, short problem.

    `total`: how many matched (defaults to ``len(measures)``); when more matched than are
    shown, the list ends with "…另有 N 项". `show_owner` adds the owner's name (never when
    `public`). In a private chat (not `public`) each listed measure gets a button opening its
    card, where its own buttons (✅ 完成, 销号 …) are.

    `paged`: `measures` is the whole list, named by this list kind; in a private chat it is
    shown `LIST_PAGE_SIZE` at a time, page `page` (clamped: the list may have shrunk since the
    button was made), with « 上一页 · 下一页 » buttons.
    """
    page_row: list[InlineKeyboardButton] = []
    heading = "："
    if paged is not None:
        total = len(measures)
        page, pages = (0, 1) if public else page_of(total, LIST_PAGE_SIZE, page)
        measures = measures[page * LIST_PAGE_SIZE : (page + 1) * LIST_PAGE_SIZE]
        if pages > 1:
            # The "…另有" line gives way to the page buttons.
            page_row = pagination_row(page, pages, Action.LIST_PAGE, paged)
            heading = f"（第 {page + 1}/{pages} 页）："
    total = len(measures) if total is None else max(total, len(measures))
    if total == 0:
        return Reply(f"没有找到{esc(title)}。")
    lines = [f"<b>{esc(title)}</b>共 {total} 项{heading}"]
    for m in measures:
        status = f" {m.status.label}" if m.status.is_open else ""
        who = f" {esc(m.owner.name)}" if show_owner and not public else ""
        problem = esc(truncate_text(m.problem, problem_chars, one_line=True))
        lines.append(f"{measure_badge(m.status, m.deadline, today)} <code>{esc(m.code)}</code>{status}{who}：{problem}")
    if public:
        keyboard = None
    else:
        keyboard = measures_keyboard(measures)
        if page_row:
            keyboard = _keyboard([*(keyboard.inline_keyboard if keyboard else ()), page_row])
    if total > len(measures) and not page_row:
        lines.append(f"…另有 {total - len(measures)} 项")
    return Reply("\n".join(lines), keyboard)


# ---- no answer, or not sure -----------------------------------------------------------------------

def not_found(*, unknown_code: str | None = None) -> Reply:
    """Say honestly that there is no answer; suggest rephrasing or /regs (with a button for it)."""
    if unknown_code:
        html = (f"没有找到编号为 <code>{esc(unknown_code)}</code> 的整改措施。\n"
                "请核对编号后再试，或直接描述要查的问题。")
    else:
        html = ("抱歉，没有找到相关的规章制度或整改措施，我不想给您一个不确定的答案。\n"
                "可以换个说法再问（例如写出制度名称或关键词），或发送 /regs 浏览制度目录。")
    return Reply(html, _browse_regulations())


def report_is_public(in_group: bool, viewer: Cadre | None) -> bool:
    """The report at 公示 level (no names): in a group, and for anyone who does not judge measures."""
    return in_group or viewer is None or viewer.role not in (Role.LEADER, Role.ADMIN)


def small_talk_reply(kind: SmallTalk) -> Reply:
    """A courteous word for small talk; for what we cannot do, the way to what we can (/regs)."""
    keyboard = _browse_regulations() if kind in (SmallTalk.ERRAND, SmallTalk.ELSEWHERE) else None
    return Reply(esc(SMALL_TALK_REPLIES[kind]), keyboard)


def _browse_regulations() -> InlineKeyboardMarkup:
    """One button to the first page of the regulations (/regs): where to go when we cannot help."""
    return InlineKeyboardMarkup([[InlineKeyboardButton("📚 浏览制度目录", callback_data=encode(Action.REG_PAGE, 0))]])


def suggestions_reply(hits: Sequence[Hit], *, ids: Mapping[tuple[str, str], int] | None = None) -> Reply:
    """"您是不是要问：" with numbered candidates and a button for each.

    `ids` maps (hit.kind, hit.key) to a database id (the regulation's for regulation/article hits,
    the measure's for measures) for keys too long or odd for callback data; without one such a
    candidate is listed but gets no button.
    """
    if not hits:
        return not_found()
    html = f"没能确定您要问的内容。您是不是要问：\n{_numbered(hits)}\n\n点下方按钮查看，或换个说法再问。"
    return Reply(html, _keyboard(_hit_buttons(hits, ids)))


def need_binding() -> Reply:
    return Reply("“我的整改”需要先绑定身份：请向管理员索取邀请码。")


def render_facts(facts: AnswerFacts, today: dt.date, *, public: bool = False, viewer: Cadre | None = None,
                 ids: Mapping[tuple[str, str], int] | None = None) -> Reply:
    """The HTML reply for an answer — the counterpart of `phrasing.format_facts_text`.

    `public`: a group chat (公示-level details only, no personal buttons). `viewer`: the bound
    cadre asking, for the measure card's buttons. `ids`: see `suggestions_reply`.
    """
    answer = facts.answer
    if answer.listing is not None:
        if answer.listing.personal and not facts.listed and not answer.answered:
            return need_binding()
        plain_list = answer.listing.mine or answer.listing.owner is not None
        return measure_list(facts.listed, today, title=answer.listing.describe(), total=len(answer.listed),
                            public=public, show_owner=not plain_list)
    if answer.small_talk is not None:
        return small_talk_reply(answer.small_talk)
    if facts.report is not None:
        text = report_answer_text(facts, public=report_is_public(public, viewer))
        return Reply(f"<pre>{esc(text)}</pre>\n发送 /report 查看图表。")
    if not answer.answered:
        if answer.hits:
            return suggestions_reply(answer.hits, ids=ids)
        return not_found(unknown_code=answer.unknown_code)
    related = answer.related
    if len(facts.alike) > 1:
        return measure_list(facts.alike, today, title=ALIKE_TITLE, public=public, show_owner=True)
    if facts.measure is not None:
        owner, verifier = (False, False) if public else viewer_rights(facts.measure, viewer)
        return measure_card(facts.measure, today, public=public, owner=owner, verifier=verifier,
                            pending=facts.pending)
    if facts.article is not None:
        if facts.article.article is None:
            return regulation_card(facts.article.regulation, missing_article=answer.requested_article,
                                   related=related, ids=ids)
        return article_answer(facts.article.regulation, facts.article.article, related=related, ids=ids)
    if facts.regulation is not None:
        return regulation_card(facts.regulation, missing_article=answer.requested_article, related=related, ids=ids)
    return not_found()


# ---- unanswered questions (/misses) ---------------------------------------------------------------

#: First line of a question's card in /misses.
MISS_HEAD = "❓ 待处理的问题 #"


def misses_list(misses: Sequence[MissView], total: int, tz: dt.tzinfo, *, page: int = 0, pages: int = 1,
                per_page: int = 10) -> Reply:
    """The most asked questions the bot could not answer, each with a numbered button to its card;
    one page of them, numbered through the whole list, with « 上一页 · 下一页 » when there are more."""
    if not misses:
        return Reply("目前没有未能回答或答错的问题。")
    shown = f"，第 {page + 1}/{pages} 页" if pages > 1 else ""
    lines = [f"<b>未能回答或答错的问题</b>（共 {total} 条，按被问次数排列{shown}）："]
    first = page * per_page
    for number, miss in enumerate(misses, start=first + 1):
        lines.append(f"{number}. {esc(truncate_text(miss.query, 60, one_line=True))}　×{miss.count}，"
                     f"最近 {miss.last_at.astimezone(tz):%m-%d %H:%M}")
    lines.append("\n点编号处理：把问题归入应回答它的制度、条款或整改措施，此后这样问就会直接回答。")
    buttons = [InlineKeyboardButton(str(n), callback_data=encode(Action.MISS, miss.id))
               for n, miss in enumerate(misses, start=first + 1)]
    rows = [buttons[i:i + 5] for i in range(0, len(buttons), 5)]
    if pages > 1:
        rows.append(pagination_row(page, pages, Action.LIST_PAGE, MISSES_PAGE_KIND))
    return Reply("\n".join(lines), _keyboard(rows))


def miss_card(miss: MissView, answer: Answer, ids: Mapping[tuple[str, str], int], tz: dt.tzinfo) -> Reply:
    """One unanswered question: how the bot answers it now, and buttons to teach it or set it aside."""
    now = ("现在这样问会回答：" + esc(hit_label(answer.hits[0])) if answer.answered and answer.hits
           else "现在这样问只给出候选，不直接回答。" if answer.hits else "现在这样问仍然没有答案。")
    status = "（已处理）" if miss.resolved else ""
    html = (f"{MISS_HEAD}{miss.id}{status}\n「{esc(truncate_text(miss.query, 300))}」\n"
            f"被问 {miss.count} 次，最近 {miss.last_at.astimezone(tz):%Y-%m-%d %H:%M}\n\n{now}\n\n"
            "它应由哪一项回答？归入后，这样问就会直接回答该项。都不对就点“✏️ 指定其他”。")
    candidates = [h for h in answer.hits if h.kind in ("regulation", "article", "measure")][:3]
    rows = teach_rows(miss.id, candidates, ids)
    rows.append([InlineKeyboardButton("✏️ 指定其他", callback_data=encode(Action.TEACH_OTHER, miss.id)),
                 InlineKeyboardButton("🗑 忽略", callback_data=encode(Action.MISS_DISMISS, miss.id))])
    return Reply(html, _keyboard(rows))


def taught(miss: MissView, target: str, answer: Answer, expected: Hit) -> Reply:
    """After teaching: what the bot now answers to the question — checked, not assumed."""
    head = f"✅ 已归入{esc(target)}，立即生效。\n「{esc(truncate_text(miss.query, 300))}」\n"
    first = answer.hits[0] if answer.answered and answer.hits else None
    if first is not None and (first.kind, first.key, first.no) == (expected.kind, expected.key, expected.no):
        return Reply(head + "现在这样问会直接回答这一项。")
    now = f"会先回答 {esc(hit_label(first))}" if first is not None else "仍不会直接回答"
    return Reply(head + f"注意：说法已添加，但现在这样问{now}（那一项与问题更贴近）。")
