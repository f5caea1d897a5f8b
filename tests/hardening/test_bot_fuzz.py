"""Property-based tests of every text entry point of the bot, through the sandbox, and of the
pure text and rendering functions those entry points rely on.

Inputs mix random Unicode with what real messages contain and what breaks naive bots: zero-width
and bidi controls, emoji with ZWJ sequences and skin tones, astral-plane characters, combining
marks, RTL scripts, HTML and Markdown, SQL-looking text, measure codes in odd spellings, and
messages of up to 10,000 characters.

For every example, whatever the bot sent must be something Telegram accepts (the sandbox answers
bad HTML and over-long texts with 400, so any refused call fails the test), never the crash
apology nor a false "database unavailable", with no ERROR logged; a private message is never
met with silence; and a message that is not a valid change of a measure the sender may change
leaves the database exactly as it was.

One bot (per backend) serves all the examples of a test: hypothesis' function-scoped-fixture
health check is switched off on purpose. Examples: FUZZ_EXAMPLES (default 100) per test and backend.
"""

from __future__ import annotations

import calendar
import datetime as dt
import os
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, select, update

from bot.db import transaction
from bot.models import Cadre, ExtensionRequest, ExtensionStatus, Measure, MeasureStatus, PendingInput
from bot.sandbox import SandboxUser
from bot.sandbox.html import parse_html
from bot.services import pending
from bot.services.text import (
    DateFormatError,
    chinese_to_int,
    clean_display,
    code_candidates,
    code_key,
    code_variant_matches,
    compact,
    find_article_no,
    normalize,
    parse_deadline,
    parse_iso_date,
    to_simplified,
)
from handlers.callbacks import MAX_BYTES, decode
from handlers.common import NOT_BOUND
from handlers.measures import DONE_WORDS, NOT_BOUND_PLAIN, judgement, progress_or_extension
from handlers.render import (
    CAPTION_LIMIT,
    MESSAGE_LIMIT,
    Reply,
    article_answer,
    measure_card,
    measure_list,
    regulation_card,
    utf16_len,
    visible_len,
)
from tests.bot.conftest import Harness
from tests.hardening.bot_support import BOT_USERNAME, TODAY, LogWatch, bot_on, problems_in, seeded_database, settle
from tests.test_render import ADMIN, LEADER, OWNER, assert_well_formed, measure, regulation

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "100"))
UNIT_EXAMPLES = 200
BOT_SETTINGS = settings(max_examples=EXAMPLES, deadline=None,
                        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                               HealthCheck.data_too_large])

# ---- inputs ---------------------------------------------------------------------------------------

NASTY = [
    "'; DROP TABLE measures; --", "\" OR 1=1 --", "1; DELETE FROM cadres", "%' OR '%'='",
    "<b>", "</b>", "<i>斜体</i>", "<a href=\"javascript:alert(1)\">点</a>", "<script>", "<tg-spoiler>",
    "&amp;", "&lt;", "&gt;", "&", "&#0;", "&#x110000;", "&nbsp;", "<", ">", "<>", "</", "<<b>>",
    "*bold*", "_italic_", "`code`", "```pre```", "[链接](http://example.com)", "~~删除~~", "||剧透||", "\\",
    "%s%n%d", "{0}{}", "${x}", "\\x00", "NULL", "None", "undefined",
    "\u200b", "\u200c", "\u200d", "\u200e", "\u200f", "\u202a", "\u202e", "\u2066", "\u2069", "\ufeff", "\u00ad",
    "\u2028", "\u2029", "\u3000", "\u00a0", "\r\n", "\n", "\t", " ",
    "👨\u200d👩\u200d👧\u200d👦", "🏳️\u200d🌈", "👍🏽", "🇨🇳", "😀", "𠀀𠀁𪚥", "𝕏𝔸𝟘", "\U0010fffd", "e\u0301",
    "Z̴̡̛̳a̷l̶g̷o̸", "עברית", "العربية", "ﷺ", "ｆｕｌｌ", "ＺＧ２０２５００１",
    "ZG2025001", "zg-2025-3", "ZG 2025 003", "ZG2099999", "2025001", "XC-2024-01", "#1", "|", "v1|dy|ZG2025001",
    "第三条", "第99条", "请假", "谁批", "已完成", "完成了", "ok", "done", "逾期的", "我的整改",
    f"@{BOT_USERNAME}", "@someone", "/done", "/start", "http://example.com", "user@example.com", "#话题",
    "2026-12-31", "2027年3月底", "明天", "2026-02-30",
]
fragments = st.one_of(
    st.sampled_from(NASTY),
    st.text(max_size=12),  # any code point (control characters included), no lone surrogates
    st.text(alphabet=st.characters(min_codepoint=0x4E00, max_codepoint=0x9FFF), min_size=1, max_size=8),
    st.from_regex(r"[A-Za-z]{0,3}[-_ ]?\d{1,8}", fullmatch=True),
)
short_texts = st.lists(fragments, min_size=1, max_size=10).map("".join).filter(bool)
huge_texts = st.builds(lambda piece, size: (piece * (size // len(piece) + 1))[:size],
                       st.lists(fragments, min_size=1, max_size=4).map("".join).filter(bool),
                       st.sampled_from([1025, 4096, 4097, 10_000]))
texts = st.one_of(short_texts, short_texts, short_texts, huge_texts)
captions = st.one_of(short_texts, huge_texts.map(lambda t: t[:CAPTION_LIMIT])).filter(lambda t: t.strip())

KNOWN_COMMANDS = ["start", "help", "mine", "status", "overdue", "todo", "done", "verify", "reject", "extend",
                  "regs", "report", "cancel", "invite"]
UNKNOWN_COMMANDS = st.one_of(st.sampled_from(["foo", "delete", "admin", "sql", "donex", "状态", "Done", "DONE"]),
                             st.from_regex(r"[a-z_]{1,12}", fullmatch=True))
commands = st.one_of(st.sampled_from(KNOWN_COMMANDS), st.sampled_from(KNOWN_COMMANDS), UNKNOWN_COMMANDS)
separators = st.sampled_from([" ", " ", "  ", "\n", "\t", f"@{BOT_USERNAME} ", "@other_bot ", ""])
CHANGING = {"done", "verify", "reject", "extend"}

#: Who speaks: the sample data's cadre, leader and admin, and someone never bound.
ACTORS = {"cadre": "张伟", "leader": "陈建华", "admin": "刘洋", "stranger": None}
#: Measures named on purpose in commands: someone else's, a closed one, one that does not exist.
CODES_NAMED = ["ZG2025001", "ZG2025003", "ZG2099999", "zg-2025-1", "ZG２０２５００３"]


# ---- the bot --------------------------------------------------------------------------------------

@dataclass(repr=False)
class FuzzBot:
    harness: Harness
    users: dict[str, SandboxUser]
    watch: LogWatch
    cards: dict[tuple[str, str], int] = field(default_factory=dict)  # (role, code) → message id

    async def card(self, role: str, code: str) -> int:
        """A card of `code` in `role`'s chat (asked once)."""
        key = (role, code)
        if key not in self.cards:
            outcome = await observe(self, role, lambda: self.harness.sandbox.send_text(self.users[role].id, code))
            # A notification an earlier example queued (delivered on its own schedule) may land in
            # the same moment: the card is the message that starts with the code.
            [reply] = [m for m in outcome.messages if m.body.startswith(f"📋 {code}")]
            self.cards[key] = reply.message_id
        return self.cards[key]


@pytest.fixture
def seeded(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return seeded_database(backend, request, tmp_path)


@pytest.fixture
async def fuzz(seeded: str, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[FuzzBot]:
    with LogWatch() as watch:
        async with bot_on(seeded, monkeypatch) as harness:
            users = {role: (await harness.bind(name) if name else harness.stranger())
                     for role, name in ACTORS.items()}
            await harness.deliver()
            yield FuzzBot(harness, users, watch)


@dataclass
class Outcome:
    messages: list[Any]
    edits: int
    toasts: list[str]
    changed: bool
    diff: str


async def observe(bot: FuzzBot, role: str, act: Callable[[], Awaitable[object]]) -> Outcome:
    """Do `act` (a user's message), wait until the bot has dealt with it, and check what every
    example must satisfy; returns what the bot did."""
    harness, sandbox = bot.harness, bot.harness.sandbox
    chat = bot.users[role].id
    calls, logged = len(sandbox.calls), len(bot.watch.records)
    seen = {m.message_id: m.edit_count for m in sandbox.messages(chat)}
    answers = set(sandbox.callback_answers)
    # Each example is a message on its own: a question an earlier one left open (/reject ZG… asks
    # for the reason) is not waiting for it. That a command drops such a question is tested in
    # test_measure_flows; here it would count as a change the message made.
    async with transaction(harness.factory) as session:
        await session.execute(delete(PendingInput))
    before = await harness.snapshot()
    await act()
    await settle(harness)
    after = await harness.snapshot()
    messages = [m for m in sandbox.messages(chat) if m.message_id not in seen]
    edits = sum(1 for m in sandbox.messages(chat) if m.message_id in seen and m.edit_count != seen[m.message_id])
    toasts = [str(a.text or "") for q, a in sandbox.callback_answers.items() if q not in answers]
    problems = problems_in(sandbox.calls[calls:], messages, toasts) + bot.watch.errors(logged)
    assert not problems, problems
    return Outcome(messages, edits, toasts, after != before, _diff(before, after))


def _diff(before: dict[str, Any], after: dict[str, Any]) -> str:
    return "; ".join(f"{key}: {before[key]!r:.300} → {after[key]!r:.300}"
                     for key in before if before[key] != after[key])


def command_args(text: str) -> list[str]:
    """What PTB's CommandHandler gives as context.args."""
    return text.split()[1:]


def may_change(bot: FuzzBot, role: str, text: str, changeable: set[str]) -> bool:
    """Could `text`, sent as a plain message by `role`, rightly change the database?"""
    match = re.match(rf"/(\w+)(@{BOT_USERNAME})?(?=\s|$)", text)
    if match is None:
        # A message naming exactly one measure may act on it ("ZG2025009 已完成", "办结。ZG2025001",
        # "ZG2025009 进展：…"); anything else is a question, and questions never change anything
        # (misses are not in the snapshot).
        codes = bot.harness.services.answers.find_codes(text)
        return len(codes) == 1 and code_key(codes[0]) in {code_key(c) for c in changeable}
    name = match.group(1).lower()  # PTB matches commands case-insensitively
    args = command_args(text)
    if name == "invite":
        return role == "admin" and bool(args)
    if name not in CHANGING or not args:
        return False
    codes = bot.harness.services.answers.find_codes(args[0])
    typed = codes[0] if codes else args[0]
    return code_key(typed) in {code_key(c) for c in changeable}


async def changeable(bot: FuzzBot, role: str) -> set[str]:
    from tests.hardening.bot_support import changeable_codes

    return await changeable_codes(bot.harness, ACTORS[role])


def check_no_double_escaping(sent: str, outcome: Outcome) -> None:
    if "&" in sent:
        return
    for message in outcome.messages:
        for escaped in ("&amp;", "&lt;", "&gt;", "&quot;"):
            assert escaped not in message.body, (escaped, message.body[:300])


# The brute-force limit too: enough random /start codes in one run reach it, and it tells nothing.
STRANGER_ANSWERS = ("绑定", "邀请码", "没有这个命令", "整改助手", "没有进行中的操作", "请直接输入您的问题",
                    "尝试次数过多", "命令请用半角斜杠")


def check_answered(role: str, outcome: Outcome) -> None:
    """A private message is never met with silence."""
    assert outcome.messages or outcome.edits or outcome.toasts, f"{role} got no answer"
    if role == "stranger":
        # Nobody unbound learns anything: every answer is the binding hint, /help or a refusal.
        for message in outcome.messages:
            body = message.body
            assert any(s in body for s in STRANGER_ANSWERS), body[:200]


# ---- free text and commands -----------------------------------------------------------------------

@BOT_SETTINGS
@given(role=st.sampled_from(sorted(ACTORS)), text=texts)
@example(role="cadre", text="'; DROP TABLE measures; --")
@example(role="admin", text="<b>ZG2025001</b> &amp; *bold*")
@example(role="cadre", text="👨\u200d👩\u200d👧\u200d👦" * 2500)
@example(role="cadre", text=f"@{BOT_USERNAME}")
@example(role="admin", text="张伟\x00负责的")
@example(role="leader", text="\u202eZG2025003\u200b")
@example(role="admin", text="ZG2025001已完成")
@example(role="cadre", text="ZG2025001已完成")
async def test_free_text_from_anyone(fuzz: FuzzBot, role: str, text: str) -> None:
    own = await changeable(fuzz, role)
    outcome = await observe(fuzz, role, lambda: fuzz.harness.sandbox.send_text(fuzz.users[role].id, text))
    check_answered(role, outcome)
    check_no_double_escaping(text, outcome)
    if not may_change(fuzz, role, text, own):
        assert not outcome.changed, outcome.diff


@BOT_SETTINGS
@given(role=st.sampled_from(sorted(ACTORS)), command=commands, separator=separators,
       code=st.one_of(st.none(), st.sampled_from(CODES_NAMED)), rest=st.one_of(st.just(""), texts))
@example(role="cadre", command="done", separator=" ", code="ZG2025001", rest="'; DROP TABLE measures; --")
@example(role="leader", command="reject", separator=" ", code="ZG2025003", rest="<b>不合格</b>")
@example(role="admin", command="extend", separator=" ", code="ZG2025003", rest="2027-02-30 &amp;")
@example(role="admin", command="invite", separator=" ", code=None, rest="<script>")
@example(role="stranger", command="start", separator=" ", code=None, rest="\u200b" * 10_000)
@example(role="cadre", command="status", separator=" ", code=None, rest="%' OR '%'='")
@example(role="cadre", command="done", separator=" ", code=None, rest="\x00")
@example(role="cadre", command="done", separator=" ", code="ZG2025009", rest="材料\x00已报送")
@example(role="admin", command="invite", separator=" ", code=None, rest="张\x00伟")
@example(role="leader", command="status", separator=" ", code=None, rest="ZG2025\x00009")
async def test_commands_with_random_arguments(fuzz: FuzzBot, role: str, command: str, separator: str,
                                              code: str | None, rest: str) -> None:
    text = f"/{command}{separator}{code or ''}{' ' if code else ''}{rest}".rstrip("\n")
    own = await changeable(fuzz, role)
    outcome = await observe(fuzz, role, lambda: fuzz.harness.sandbox.send_text(fuzz.users[role].id, text))
    check_answered(role, outcome)
    check_no_double_escaping(text, outcome)
    if not may_change(fuzz, role, text, own):
        assert not outcome.changed, (text[:200], outcome.diff)


# ---- replies to the bot's cards and photo captions -------------------------------------------------

#: Cards replied to: the sender's own measure (cadre/leader), someone else's, a closed one.
CARD_CODES = ["ZG2025009", "ZG2025001", "ZG2025003"]
done_words = st.sampled_from(["已完成", "完成", "已经完成了", "done", "OK", "落实", "办结", "都完成啦"])
reply_texts = st.one_of(texts, st.builds(lambda w, p, n: f"{w}{p}{n}", done_words,
                                         st.sampled_from(["", "。", "，", "！", " ", "：\n"]), texts))


@BOT_SETTINGS
@given(role=st.sampled_from(["cadre", "leader", "admin"]), code=st.sampled_from(CARD_CODES), text=reply_texts)
@example(role="cadre", code="ZG2025001", text="已完成，<b>材料</b>见附件 &amp; '; DROP TABLE measures; --")
@example(role="leader", code="ZG2025003", text="完成")
# Found by CI on 2026-12-07: the message names another measure, which the admin may act on.
@example(role="admin", code="ZG2025003", text="办结。ＺＧ２０２５００１#1ＺＧ２０２５００１")
async def test_replies_to_cards(fuzz: FuzzBot, role: str, code: str, text: str) -> None:
    card = await fuzz.card(role, code)
    own = await changeable(fuzz, role)
    outcome = await observe(fuzz, role, lambda: fuzz.harness.sandbox.send_text(fuzz.users[role].id, text,
                                                                               reply_to=card))
    check_answered(role, outcome)
    check_no_double_escaping(text, outcome)
    said = to_simplified(text.strip())
    # Said to a card, 已完成 / 进展：… / 申请延期到… / 同意销号 / 退回，… act on its measure.
    acts_on_card = not text.startswith("/") and (
        DONE_WORDS.match(text.strip()) is not None or judgement(code, said) is not None
        or progress_or_extension(code, said) is not None)
    if not (acts_on_card and code in own) and not may_change(fuzz, role, text, own):
        assert not outcome.changed, (text[:200], outcome.diff)


@BOT_SETTINGS
@given(role=st.sampled_from(["cadre", "stranger"]), caption=st.one_of(st.none(), captions),
       code=st.one_of(st.none(), st.sampled_from(CARD_CODES)), prefix=st.sampled_from(["", "/done ", "ZG2025001 "]))
@example(role="cadre", caption="<b>照片</b> &amp;", code="ZG2025001", prefix="/done ")
async def test_photo_captions(fuzz: FuzzBot, role: str, caption: str | None, code: str | None,
                              prefix: str) -> None:
    user = fuzz.users[role]
    reply_to = await fuzz.card(role, code) if code is not None and role != "stranger" else None
    full = (prefix + (caption or "")).strip() or None
    own = await changeable(fuzz, role)
    named = fuzz.harness.services.answers.find_codes(full or "") or ([code] if reply_to else [])
    outcome = await observe(fuzz, role, lambda: fuzz.harness.sandbox.send_photo(
        user.id, b"\x89PNG fake", caption=full, reply_to=reply_to))
    check_answered(role, outcome)
    if not (named and named[0] in own):
        assert not outcome.changed, ((full or "")[:200], outcome.diff)
    if role == "stranger":
        assert [m.body for m in outcome.messages] == [NOT_BOUND_PLAIN]


# ---- answers to the bot's questions ---------------------------------------------------------------

QUESTIONS = {
    # kind: (who is asked, the measure, the state it must be in, what a successful answer says)
    "progress": ("cadre", "ZG2025008", MeasureStatus.IN_PROGRESS, "进展已更新"),
    "reject": ("leader", "ZG2025009", MeasureStatus.DONE, "已退回"),
    "extend": ("cadre", "ZG2025008", MeasureStatus.IN_PROGRESS, "已提交"),
    "extension_refuse": ("admin", "ZG2025008", MeasureStatus.IN_PROGRESS, "已拒绝"),
}
extension_answers = st.builds(lambda date, gap, reason: f"{date}{gap}{reason}",
                              st.one_of(st.sampled_from(["2027-06-30", "2027/6/30", "2027年6月30日", "2027年6月底",
                                                         "2026-02-30", "明天", "2020-01-01", "９９９９-１-１",
                                                         "2027-06-30\u200b"]),
                                        st.dates().map(str)),
                              st.sampled_from([" ", "  ", "\n", "", "\u3000"]), texts)


async def _prepare(bot: FuzzBot, kind: str) -> str:
    """Put the measure into the state the question needs and open the question; returns its target."""
    role, code, status, _ = QUESTIONS[kind]
    harness = bot.harness
    async with transaction(harness.factory) as session:
        measure_row = await session.scalar(select(Measure).where(Measure.code == code))
        assert measure_row is not None
        await session.execute(update(ExtensionRequest).where(
            ExtensionRequest.measure_id == measure_row.id, ExtensionRequest.status == ExtensionStatus.PENDING)
            .values(status=ExtensionStatus.REFUSED))
        target = code
        if measure_row.status is not status:
            measure_row.status = status
        if kind == "extension_refuse":
            requester = await session.scalar(select(Cadre).where(Cadre.name == "张伟"))
            assert requester is not None
            request = ExtensionRequest(measure=measure_row, requested_by=requester, old_deadline=measure_row.deadline,
                                       new_deadline=dt.date(2027, 6, 30), reason="资金未到位",
                                       status=ExtensionStatus.PENDING)
            session.add(request)
            await session.flush()
            target = str(request.id)
        user = bot.users[role]
        await pending.expect(session, user.id, user.id, kind, target)
    return target


@BOT_SETTINGS
@given(kind=st.sampled_from(sorted(QUESTIONS)), text=st.one_of(texts, extension_answers))
@example(kind="reject", text="'; DROP TABLE measures; --")
@example(kind="progress", text="<b>已完成</b> &amp; *80%*")
@example(kind="extend", text="2027-06-30 <i>资金</i>未到位 &")
@example(kind="extend", text="2026-02-30 理由")
@example(kind="extension_refuse", text="\u200b\u200b")
@example(kind="progress", text="\u200b\u202e")
@example(kind="progress", text="进展\x00说明\x07")
async def test_answers_to_the_bots_questions(fuzz: FuzzBot, kind: str, text: str) -> None:
    role, code, _, success = QUESTIONS[kind]
    assume(not re.match(r"\s*/[A-Za-z0-9_]", text))  # a command is not an answer (it goes to its handler)
    await _prepare(fuzz, kind)
    before = await fuzz.harness.measure(code)
    events_before = len(await fuzz.harness.events(code))
    outcome = await observe(fuzz, role, lambda: fuzz.harness.sandbox.send_text(fuzz.users[role].id, text))
    check_answered(role, outcome)
    check_no_double_escaping(text, outcome)
    assert await fuzz.harness.pending_inputs(fuzz.users[role]) == []  # the question was answered
    after = await fuzz.harness.measure(code)
    events = await fuzz.harness.events(code)
    bodies = [m.body for m in outcome.messages]
    if any(success in body for body in bodies):
        assert len(events) == events_before + 1 and after.version == before.version + 1
        if kind == "progress":
            assert after.progress == clean_display(text), (after.progress, text)
        elif kind == "reject":
            assert events[-1].note == clean_display(text)
    else:
        # A clear refusal naming what was wrong, and nothing written.
        assert len(bodies) == 1, bodies
        assert len(events) == events_before and after.version == before.version, bodies
        assert after.status is before.status and after.deadline == before.deadline


# ---- pure functions -------------------------------------------------------------------------------

UNIT = settings(max_examples=UNIT_EXAMPLES, deadline=None)
any_text = st.one_of(st.text(max_size=200), short_texts)


@UNIT
@given(any_text)
def test_normalize_compact_and_clean_display_are_idempotent_and_strip_invisibles(text: str) -> None:
    once = normalize(text)
    assert normalize(once) == once
    assert compact(text) == once.replace(" ", "")
    assert not re.search("[\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]", once)
    shown = clean_display(text)
    assert clean_display(shown) == shown and shown == shown.strip()
    assert not re.search("[\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff\u00ad]", shown)
    limited = clean_display(text, 32)
    assert len(limited) <= 32


def _chinese(number: int) -> str:
    """Numbers below 10,000 written as people write them: 十二, 一百零五, 两千零三十."""
    digits = "零一二三四五六七八九"
    if number < 10:
        return digits[number]
    parts, zero = [], False
    for unit, value in (("千", 1000), ("百", 100), ("十", 10), ("", 1)):
        digit, number = divmod(number, value)
        if digit:
            if zero:
                parts.append("零")
            parts.append(("" if unit == "十" and not parts and digit == 1 else digits[digit]) + unit)
            zero = False
        elif parts:
            zero = True
    return "".join(parts)


@UNIT
@given(st.integers(min_value=1, max_value=9999), st.sampled_from(["第{}条", "{}条", "第 {} 条", "第{}條"]),
       st.text(max_size=20), st.text(max_size=20), st.booleans())
def test_article_numbers_are_found_in_any_writing(number: int, form: str, before: str, after: str,
                                                   chinese: bool) -> None:
    assume("条" not in before + after and "條" not in before + after)
    written = _chinese(number) if chinese else str(number)
    assert chinese_to_int(written) == number
    # The number must stand on its own: digits or numerals right before it would join it.
    assume(not re.search(r"[0-9０-９零〇○一二两三四五六七八九十百千万]$", normalize(before)))
    found = find_article_no(before + form.format(written) + after)
    assert found == number, (before, form.format(written), after, found)


@UNIT
@given(any_text)
def test_article_number_and_code_candidates_never_fail(text: str) -> None:
    number = find_article_no(text)
    assert number is None or number > 0
    for letters, groups in code_candidates(text):
        assert letters == letters.upper() and letters.isascii()
        assert groups and all(g.isdigit() and g.isascii() for g in groups)


@UNIT
@given(st.from_regex(r"[A-Z]{1,4}", fullmatch=True), st.lists(st.integers(0, 99999), min_size=1, max_size=3),
       st.data())
def test_any_spelling_of_a_code_finds_it(prefix: str, numbers: list[int], data: st.DataObject) -> None:
    widths = [data.draw(st.integers(len(str(n)), 6)) for n in numbers]
    code = prefix + "-".join(str(n).zfill(w) for n, w in zip(numbers, widths, strict=True))
    separator = data.draw(st.sampled_from(["", "-", " ", "_", "/", "."]))
    typed = (prefix.lower() if data.draw(st.booleans()) else prefix) + data.draw(st.sampled_from(["", "-", " "]))
    # Zero padding may be dropped where a separator still tells the groups apart.
    padded = separator == "" and len(numbers) > 1
    typed += separator.join(str(n).zfill(w) if padded else str(n) for n, w in zip(numbers, widths, strict=True))
    full_width = data.draw(st.booleans())
    if full_width:
        typed = typed.translate({c: c + 0xFEE0 for c in range(0x21, 0x7F)})
    candidates = code_candidates(f"请问{typed}进展如何")
    assert any(code_variant_matches(letters, groups, code) for letters, groups in candidates), (typed, code,
                                                                                               candidates)
    assert code_key(code) == code_key(code.lower().replace("-", " - "))


@UNIT
@given(st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(9999, 12, 31)),
       st.sampled_from(["{y:04d}-{m:02d}-{d:02d}", "{y}/{m}/{d}", "{y}年{m}月{d}日", "{y}.{m}.{d}", "{y}年{m}月{d}日前",
                        " {y}-{m}-{d} ", "{y}－{m:02d}－{d:02d}", "{y}年 {m} 月 {d} 日"]))
def test_deadlines_parse_in_every_accepted_form(day: dt.date, form: str) -> None:
    written = form.format(y=day.year, m=day.month, d=day.day)
    assert parse_deadline(written) == day
    assert parse_iso_date(written) == day


@UNIT
@given(st.integers(1900, 9999), st.integers(1, 12), st.sampled_from(["{y}年{m}月底", "{y}年{m}月", "{y}年{m}月末前"]))
def test_a_month_means_its_last_day(year: int, month: int, form: str) -> None:
    last = calendar.monthrange(year, month)[1]
    assert parse_deadline(form.format(y=year, m=month)) == dt.date(year, month, last)


@UNIT
@given(any_text)
def test_deadline_parsing_fails_only_with_its_own_error(text: str) -> None:
    try:
        parsed: object = parse_deadline(text)
    except DateFormatError as error:
        parsed = error
    if isinstance(parsed, DateFormatError):
        assert "「" in str(parsed) and len(str(parsed)) < 120  # quotes what was typed, shortened
    else:
        assert parsed is None or isinstance(parsed, dt.date)


# ---- rendering what the database holds ------------------------------------------------------------

db_text = st.one_of(short_texts, huge_texts, st.text(max_size=300))


def _fits_and_parses(reply: Reply) -> None:
    for html, keyboard in reply.messages():
        assert_well_formed(html)
        text, _ = parse_html(html)
        assert utf16_len(text) <= MESSAGE_LIMIT and visible_len(html) <= MESSAGE_LIMIT
        for row in keyboard.inline_keyboard if keyboard else ():
            for button in row:
                data = str(button.callback_data)
                assert len(data.encode()) <= MAX_BYTES and decode(data) is not None, data
                assert button.text.strip()


RENDER = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@RENDER
@given(code=st.one_of(st.sampled_from(["ZG2025004", "XC-2024-01"]), st.text(min_size=1, max_size=40)),
       problem=db_text, action=db_text, progress=db_text, unit=db_text,
       status=st.sampled_from(list(MeasureStatus)), public=st.booleans(),
       viewer=st.sampled_from([OWNER, LEADER, ADMIN]))
def test_measure_cards_with_any_database_text_fit_and_parse(code: str, problem: str, action: str, progress: str,
                                                             unit: str, status: MeasureStatus, public: bool,
                                                             viewer: Cadre) -> None:
    item = measure(code, status=status, problem=problem, progress=progress)
    item.measure, item.unit = action, unit
    owner, verifier = viewer is OWNER, viewer is not OWNER
    _fits_and_parses(measure_card(item, TODAY, public=public, owner=owner and not public,
                                  verifier=verifier and not public))
    _fits_and_parses(measure_list([item] * 12, TODAY, title=problem[:50] or "列表", total=41, public=public,
                                  show_owner=not public))


@RENDER
@given(title=db_text, summary=db_text, article_text=db_text, no=st.integers(1, 10**6))
def test_regulation_and_article_replies_with_any_text_fit_and_parse(title: str, summary: str, article_text: str,
                                                                     no: int) -> None:
    reg = regulation()
    reg.title, reg.summary = title, summary
    reg.articles[0].text, reg.articles[0].no = article_text, no
    _fits_and_parses(article_answer(reg, reg.articles[0]))
    _fits_and_parses(regulation_card(reg))
    _fits_and_parses(regulation_card(reg, missing_article=no + 1))


def test_unbound_texts_are_well_formed() -> None:
    for text in (NOT_BOUND, NOT_BOUND_PLAIN):
        assert_well_formed(text)
