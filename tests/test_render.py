"""The Telegram rendering layer: HTML escaping and splitting, reply builders, callback data.

Well-formedness is checked twice: by a tiny tag-balance checker on `html.parser`, and by the
sandbox's parser, which follows Telegram's own rules and error texts.
"""

from __future__ import annotations

import datetime as dt
import re
from html.parser import HTMLParser

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from telegram import InlineKeyboardMarkup

from bot.models import Article, Cadre, Measure, MeasureEvent, MeasureStatus, Regulation, Role
from bot.sandbox.entities import utf16_len as sandbox_utf16_len
from bot.sandbox.html import parse_html
from bot.services.answers import Answer, Hit, ListQuery
from bot.services.phrasing import AnswerFacts, ArticleFacts
from handlers import callbacks
from handlers.callbacks import (
    MAX_BYTES,
    SCHEMA,
    Action,
    Callback,
    Ref,
    decode,
    encode,
    extension_keyboard,
    measure_keyboard,
    pagination_keyboard,
    suggestions_keyboard,
)
from handlers.render import (
    Reply,
    article_answer,
    esc,
    measure_badge,
    measure_card,
    measure_list,
    measure_trail,
    not_found,
    regulation_card,
    regulation_index,
    render_facts,
    split_message,
    suggestions_reply,
    truncate,
    truncate_text,
    utf16_len,
    visible_len,
    visible_text,
)

TODAY = dt.date(2025, 9, 1)
ALLOWED_TAGS = {"b", "i", "u", "s", "code", "pre", "a", "blockquote"}


# ---- helpers --------------------------------------------------------------------------------------

class _Balance(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.errors: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in ALLOWED_TAGS:
            self.errors.append(f"tag <{tag}> not allowed")
        self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> does not close {self.stack[-1:]}")
        else:
            self.stack.pop()


def assert_well_formed(html: str) -> str:
    """Balanced, allowed tags only, and accepted by Telegram's rules; returns the visible text."""
    checker = _Balance()
    checker.feed(html)
    checker.close()
    assert not checker.errors, (checker.errors, html)
    assert not checker.stack, (checker.stack, html)
    text, _ = parse_html(html)  # raises EntityParseError like Telegram's "can't parse entities"
    return text


def cadre(id_: int, name: str, role: Role = Role.CADRE) -> Cadre:
    return Cadre(id=id_, name=name, role=role, unit="市教育局")


OWNER = cadre(10, "张伟")
LEADER = cadre(11, "李娜", Role.LEADER)
ADMIN = cadre(12, "王芳", Role.ADMIN)


def measure(code: str = "ZG2025004", *, status: MeasureStatus = MeasureStatus.IN_PROGRESS,
            deadline: dt.date | None = TODAY + dt.timedelta(days=20), id_: int = 1,
            problem: str = "部分学校课后服务收费公示不到位", progress: str = "已完成3所学校的公示检查") -> Measure:
    return Measure(id=id_, code=code, problem=problem, measure="全面排查并在校门口公示收费项目",
                   unit="基础教育科", owner=OWNER, owner_id=OWNER.id, leader=LEADER, leader_id=LEADER.id,
                   deadline=deadline, status=status, progress=progress)


def regulation(key: str = "jyhy", n_articles: int = 3) -> Regulation:
    reg = Regulation(id=7, key=key, title="市教育局会议制度", issuer="市教育局办公室",
                     effective=dt.date(2025, 8, 1), summary="规范局务会议的召开 & 议事<程序>。")
    reg.articles = [Article(id=100 + n, no=n, text=f"第{n}条的内容：会议由局长召集。" * 3)
                    for n in range(1, n_articles + 1)]
    return reg


def keyboard_data(markup: InlineKeyboardMarkup | None) -> list[str]:
    if markup is None:
        return []
    return [str(b.callback_data) for row in markup.inline_keyboard for b in row]


def keyboard_texts(markup: InlineKeyboardMarkup | None) -> list[str]:
    if markup is None:
        return []
    return [b.text for row in markup.inline_keyboard for b in row]


# ---- strategies -----------------------------------------------------------------------------------

_special = st.sampled_from(["\n", "\n\n", " ", "\u3000", "&", "<", ">", '"', "&amp;", "。", "，",
                            "😀", "👍🏽", "👨‍👩‍👧", "e\u0301", "𠀀", "&lt;b&gt;"])
texts = st.lists(st.one_of(st.characters(exclude_categories=["Cs"]), _special), max_size=40).map("".join)


def _element(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    def wrap(tag: str, url: str, inner: list[str]) -> str:
        opening = f'a href="{esc(url, quote=True)}"' if tag == "a" else tag
        return f"<{opening}>{''.join(inner)}</{tag}>"

    return st.builds(wrap, st.sampled_from(sorted(ALLOWED_TAGS)),
                     st.sampled_from(["https://example.com/a?b=1&c=\"2\"", "http://jyj.gov.cn"]),
                     st.lists(children, max_size=4))


html_documents = st.lists(
    st.recursive(texts.map(esc), _element, max_leaves=12), max_size=6
).map("".join)


# ---- esc ------------------------------------------------------------------------------------------

@given(texts)
def test_escaped_text_has_no_raw_angle_bracket_and_every_ampersand_starts_an_entity(text: str) -> None:
    escaped = esc(text)
    assert "<" not in escaped and ">" not in escaped
    assert "&" not in re.sub(r"&(?:amp|lt|gt);", "", escaped)
    assert parse_html(escaped)[0] == text
    assert visible_text(escaped) == text


@given(texts)
def test_escaping_for_an_attribute_also_escapes_quotes(text: str) -> None:
    escaped = esc(text, quote=True)
    assert '"' not in escaped and "'" not in escaped and "<" not in escaped
    assert "&" not in re.sub(r"&(?:amp|lt|gt|quot|#39);", "", escaped)
    assert parse_html(f'<a href="{escaped}">x</a>')[0] == "x"


def test_utf16_length_counts_characters_outside_the_bmp_twice() -> None:
    assert utf16_len("整改") == 2
    assert utf16_len("😀") == 2
    assert utf16_len("a😀b") == 4
    assert visible_len("<b>A&amp;B</b> 😀") == 6


# ---- split_message --------------------------------------------------------------------------------

@settings(max_examples=300, deadline=None)
@given(html_documents, st.integers(min_value=2, max_value=60))
def test_split_chunks_fit_parse_and_rejoin_to_the_original_text(html: str, limit: int) -> None:
    original = assert_well_formed(html)
    chunks = split_message(html, limit)
    if sandbox_utf16_len(original) <= limit:
        assert chunks == [html]
        return
    rest = original
    for chunk in chunks:
        text = assert_well_formed(chunk)
        assert sandbox_utf16_len(text) <= limit, (chunk, limit)
        assert text.strip(), "a blank chunk would be rejected as 'message text is empty'"
        # The whitespace at a cut is dropped (Telegram trims it anyway); nothing else is lost.
        stripped = rest.lstrip()
        assert stripped.startswith(text), (text, stripped)
        rest = stripped[len(text):]
    assert not rest.strip()


@settings(deadline=None)
@given(html_documents, st.integers(min_value=2, max_value=80))
def test_truncated_html_fits_parses_and_keeps_a_prefix_of_the_text(html: str, limit: int) -> None:
    original = assert_well_formed(html)
    short = truncate(html, limit)
    text = assert_well_formed(short)
    assert sandbox_utf16_len(text) <= limit
    if short != html:
        assert text.endswith("…")
        assert original.startswith(text[:-1])


def test_a_long_message_splits_at_paragraph_breaks_and_reopens_open_tags() -> None:
    paragraph = "整改措施应当按期完成。" * 30  # 330 characters
    html = "<blockquote>" + "\n\n".join(f"<b>{i}</b> {paragraph}" for i in range(20)) + "</blockquote>"
    chunks = split_message(html)
    assert len(chunks) >= 2
    for chunk in chunks:
        assert visible_len(chunk) <= 4096
        assert chunk.startswith("<blockquote>") and chunk.endswith("</blockquote>")
        assert visible_text(chunk).endswith("。")  # each ends at a paragraph, not mid-sentence
        assert_well_formed(chunk)


def test_split_never_cuts_an_entity_or_an_emoji() -> None:
    html = "&amp;😀" * 10
    for chunk in split_message(html, 3):
        assert visible_text(chunk) in {"&😀", "😀&", "&", "😀"}
        assert re.fullmatch(r"(?:&amp;|😀)+", chunk)


def test_plain_truncation_for_button_texts_counts_utf16_units() -> None:
    assert truncate_text("短标题", 10) == "短标题"
    cut = truncate_text("😀" * 20, 9)
    assert cut == "😀" * 4 + "…" and utf16_len(cut) == 9
    assert truncate_text("第一行\n第二行", 20, one_line=True) == "第一行 第二行"


# ---- callback data --------------------------------------------------------------------------------

keys = st.one_of(
    st.text(min_size=1, max_size=12, alphabet=st.characters(codec="ascii", categories=["L", "N"])),
    st.text(min_size=1, max_size=80),
    st.lists(st.sampled_from(["ZG", "2025", "|", "#", "整改", "😀", "-", " "]), min_size=1, max_size=30).map("".join),
)
ids = st.integers(min_value=0, max_value=10**12)
numbers = st.integers(min_value=0, max_value=10**9)
kinds = st.from_regex(r"[A-Za-z0-9_-]{1,16}", fullmatch=True)


@settings(max_examples=400)
@given(st.sampled_from(sorted(SCHEMA)), keys, ids, kinds, numbers, st.sampled_from(["r", "a", "m"]))
def test_encode_then_decode_round_trips_and_long_or_odd_keys_fall_back_to_the_id(
        action: Action, key: str, id_: int, kind: str, number: int, hit_kind: str) -> None:
    args: list[Ref | str | int] = []
    natural: list[str] = ["v1", action.value]
    for field in SCHEMA[action]:
        if field == "ref":
            args.append(Ref(key, id_))
            natural.append(key)
        elif field == "kind":
            value = hit_kind if action in (Action.SUGGESTION, Action.TEACH) else kind
            args.append(value)
            natural.append(value)
        else:
            args.append(number)
            natural.append(str(number))
    data = encode(action, *args)
    assert 1 <= len(data.encode("utf-8")) <= MAX_BYTES
    decoded = decode(data)
    assert decoded is not None and decoded.action is action
    if "ref" in SCHEMA[action]:
        assert decoded.ref is not None
        must_fall_back = "|" in key or len("|".join(natural).encode("utf-8", "surrogatepass")) > MAX_BYTES
        if must_fall_back:
            assert decoded.ref == Ref(id=id_)
        else:
            assert decoded.ref in (Ref(key=key), Ref(id=id_))
        if decoded.ref.key is not None:
            assert decoded.ref.key == key and data == "|".join(natural)
    else:
        assert decoded.ref is None
    for field in ("no", "page", "request_id", "miss_id"):
        assert getattr(decoded, field) == (number if field in SCHEMA[action] else None)


def test_ordinary_codes_and_keys_are_written_as_they_are() -> None:
    assert encode(Action.DONE_ASK, Ref("ZG2025004", 3)) == "v1|dc|ZG2025004"
    assert encode(Action.ARTICLE, Ref("会议制度", 7), 12) == "v1|a|会议制度|12"
    assert encode(Action.SUGGESTION, "a", Ref("jyhy", 7), 3) == "v1|s|a|jyhy|3"
    assert encode(Action.LIST_PAGE, "od", 2) == "v1|lp|od|2"
    assert encode(Action.EXTEND_APPROVE, 57) == "v1|ea|57"
    assert encode(Action.NOOP) == "v1|x"
    assert decode("v1|dy|#123") == Callback(Action.DONE_YES, ref=Ref(id=123))
    assert decode("v1|s|m|ZG2025004|0") == Callback(Action.SUGGESTION, ref=Ref(key="ZG2025004"), kind="m", no=0)
    assert encode(Action.TEACH, 7, "a", Ref("jyhy", 2), 3) == "v1|te|7|a|jyhy|3"
    assert decode("v1|te|7|r|jyhy|0") == Callback(Action.TEACH, ref=Ref(key="jyhy"), kind="r", no=0, miss_id=7)
    assert decode("v1|te|7|q|jyhy|0") is None  # not a kind of item


def test_keys_with_the_separator_or_too_long_use_the_database_id() -> None:
    assert encode(Action.MEASURE, Ref("A|B", 5)) == "v1|m|#5"
    assert encode(Action.MEASURE, Ref("整改" * 20, 6)) == "v1|m|#6"  # 120 bytes of UTF-8
    assert encode(Action.REGULATION, Ref("#1", 8)) == "v1|r|#8"  # would read as an id
    with pytest.raises(ValueError, match="no database id"):
        encode(Action.MEASURE, "整改" * 20)


@pytest.mark.parametrize(("args", "message"), [
    (("m",), "takes 1 argument"),
    (("rp", "1"), "non-negative int"),
    (("rp", -1), "non-negative int"),
    (("lp", "a|b", 0), "bad kind"),
    (("zz",), "unknown callback action"),
])
def test_encode_rejects_wrong_arguments(args: tuple[str | int, ...], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        encode(args[0], *args[1:])  # type: ignore[arg-type]


@settings(max_examples=500)
@given(st.one_of(
    st.text(max_size=80),
    st.lists(st.sampled_from(["v1", "v2", "m", "s", "a", "lp", "#", "#12", "01", "5", "", "x", "整改", "|"]),
             max_size=6).map("|".join),
    st.binary(max_size=70).map(lambda b: b.decode("utf-8", "surrogateescape")),
))
def test_decoding_garbage_never_raises(data: str) -> None:
    result = decode(data)
    assert result is None or isinstance(result, Callback)


@pytest.mark.parametrize("data", [
    None, "", "v2|m|ZG2025004", "v1", "v1|", "v1|zz|1", "v1|m", "v1|m|ZG|extra", "v1|rp|01", "v1|rp|-1",
    "v1|m|#", "v1|m|#x1", "v1|s|q|jyhy|0", "v1|a|jyhy|", "m|ZG2025004", "v1|m|" + "Z" * 70,
])
def test_malformed_or_foreign_data_decodes_to_none(data: str | None) -> None:
    assert decode(data) is None


# ---- keyboards ------------------------------------------------------------------------------------

def test_owner_sees_done_progress_and_extension_buttons_on_an_open_measure() -> None:
    markup = measure_keyboard(measure(), owner=True, verifier=False)
    assert keyboard_texts(markup) == ["✅ 完成", "📝 进展", "⏰ 申请延期", "🕘 办理记录"]
    assert [decode(d) for d in keyboard_data(markup)] == [
        Callback(Action.DONE_ASK, ref=Ref(key="ZG2025004")),
        Callback(Action.PROGRESS, ref=Ref(key="ZG2025004")),
        Callback(Action.EXTEND, ref=Ref(key="ZG2025004")),
        Callback(Action.TRAIL, ref=Ref(key="ZG2025004")),
    ]
    # The leader of an open measure has nothing to do to it yet but read its 办理记录.
    assert keyboard_texts(measure_keyboard(measure(), owner=False, verifier=True)) == ["🕘 办理记录"]
    assert measure_keyboard(measure(), owner=False, verifier=False) is None


def test_leader_sees_sign_off_and_send_back_on_a_done_measure() -> None:
    done = measure(status=MeasureStatus.DONE)
    assert keyboard_texts(measure_keyboard(done, owner=False, verifier=True)) == ["✔️ 销号", "↩️ 退回", "🕘 办理记录"]
    assert keyboard_texts(measure_keyboard(done, owner=True, verifier=False)) == ["↩️ 撤回完成", "🕘 办理记录"]
    closed = measure(status=MeasureStatus.CLOSED)
    assert keyboard_texts(measure_keyboard(closed, owner=True, verifier=True)) == ["🕘 办理记录"]
    assert measure_keyboard(closed, owner=False, verifier=False) is None


def test_a_trail_names_imports_extensions_and_status_changes_in_local_time() -> None:
    utc = dt.UTC
    at = dt.datetime(2026, 12, 6, 16, 30, tzinfo=utc)  # 7 December, 00:30 in Beijing
    events = [
        MeasureEvent(action="import", at=at, to_status=MeasureStatus.NOT_STARTED, note="导入新增",
                     details={"created": True}),
        MeasureEvent(action="import", at=at, from_status=MeasureStatus.NOT_STARTED, to_status=MeasureStatus.IN_PROGRESS,
                     note="导入更新：deadline、status、problem", details={"changes": {
                         "deadline": ["2026-12-05", "2027-01-31"], "status": ["not_started", "in_progress"],
                         "problem": ["旧", "新"]}}),
        MeasureEvent(action="extend_request", at=at, actor=OWNER, note="资金<未到位>",
                     details={"old_deadline": "2027-01-31", "new_deadline": "2027-03-31"}),
        MeasureEvent(action="evidence", at=at, actor=OWNER, evidence_kind="document", evidence_file_id="f1"),
    ]
    lines = measure_trail("ZG2025004", events, dt.timezone(dt.timedelta(hours=8))).html.splitlines()
    assert lines == [
        "🕘 <b>ZG2025004</b> 办理记录（共 4 条）：",
        "12月7日 00:30　系统　台账导入（未开始）",
        "12月7日 00:30　系统　台账导入更新：完成时限 2026-12-05 → 2027-01-31、状态 未开始 → 进行中、问题已更新",
        f"12月7日 00:30　{OWNER.name}　申请延期 2027-01-31 → 2027-03-31，理由：资金&lt;未到位&gt;",
        f"12月7日 00:30　{OWNER.name}　补充佐证材料 📎文件",
    ]


def test_a_long_trail_shows_the_latest_changes_and_says_how_many_there_are() -> None:
    at = dt.datetime(2026, 12, 7, 3, 0, tzinfo=dt.UTC)
    events = [MeasureEvent(action="progress", at=at, actor=OWNER, note=f"第{n}次进展") for n in range(1, 41)]
    lines = measure_trail("ZG2025004", events, dt.UTC).html.splitlines()
    assert lines[0] == "🕘 <b>ZG2025004</b> 办理记录（共 40 条，只显示最近 30 条）："
    assert lines[1].endswith("更新进展：第11次进展") and lines[-1].endswith("更新进展：第40次进展")


def test_confirmation_and_extension_keyboards_carry_their_ids() -> None:
    markup = callbacks.done_confirm_keyboard(measure(code="A|B", id_=42))
    assert keyboard_data(markup) == ["v1|dy|#42", "v1|dn|#42"]
    assert keyboard_data(extension_keyboard(9)) == ["v1|ea|9", "v1|er|9"]


def test_pagination_shows_only_the_possible_directions() -> None:
    assert pagination_keyboard(0, 1, Action.REG_PAGE) is None
    assert keyboard_texts(pagination_keyboard(0, 3, Action.REG_PAGE)) == ["第 1/3 页", "下一页 »"]
    middle = pagination_keyboard(1, 3, Action.LIST_PAGE, "od")
    assert keyboard_texts(middle) == ["« 上一页", "第 2/3 页", "下一页 »"]
    assert keyboard_data(middle) == ["v1|lp|od|0", "v1|x", "v1|lp|od|2"]
    assert keyboard_texts(pagination_keyboard(2, 3, Action.REG_PAGE)) == ["« 上一页", "第 3/3 页"]


def test_suggestion_buttons_are_numbered_truncated_and_skip_keys_without_a_usable_form() -> None:
    hits = [
        Hit("article", "jyhy", 5, "《市教育局会议制度》第5条", 0.5),
        Hit("measure", "ZG2025004", None, "ZG2025004 " + "课后服务收费公示不到位" * 5, 0.4),
        Hit("regulation", "长" * 30, None, "一部键很长的制度", 0.3),
        Hit("regulation", "也很长" * 10, None, "另一部键很长的制度", 0.2),
    ]
    markup = suggestions_keyboard(hits, ids={("regulation", "长" * 30): 77})
    texts = keyboard_texts(markup)
    assert texts[0] == "1. 《市教育局会议制度》第5条"
    assert texts[1].startswith("2. ZG2025004") and texts[1].endswith("…") and utf16_len(texts[1]) <= 32
    assert texts[2] == "3. 《一部键很长的制度》"
    assert len(texts) == 3  # the fourth has neither a key that fits nor an id
    assert keyboard_data(markup) == ["v1|s|a|jyhy|5", "v1|s|m|ZG2025004|0", "v1|s|r|#77|0"]


# ---- measure cards and lists ----------------------------------------------------------------------

@pytest.mark.parametrize(("status", "days", "badge"), [
    (MeasureStatus.IN_PROGRESS, 20, "🟢 剩 20 天"),
    (MeasureStatus.IN_PROGRESS, 8, "🟢 剩 8 天"),
    (MeasureStatus.NOT_STARTED, 7, "🟡 剩 7 天"),
    (MeasureStatus.IN_PROGRESS, 1, "🟡 剩 1 天"),
    (MeasureStatus.IN_PROGRESS, 0, "🟡 今天到期"),
    (MeasureStatus.IN_PROGRESS, -3, "🔴 已逾期 3 天"),
    (MeasureStatus.DONE, -3, "☑️ 已完成，待销号"),
    (MeasureStatus.CLOSED, -3, "✅ 已销号"),
])
def test_badges_show_days_left_overdue_and_closed(status: MeasureStatus, days: int, badge: str) -> None:
    assert measure_badge(status, TODAY + dt.timedelta(days=days), TODAY) == badge
    card = measure_card(measure(status=status, deadline=TODAY + dt.timedelta(days=days)), TODAY)
    assert badge in card.html.splitlines()[0]
    assert_well_formed(card.html)


def test_an_open_ended_measure_is_never_overdue() -> None:
    assert measure_badge(MeasureStatus.IN_PROGRESS, None, TODAY) == "⚪ 长期坚持"
    assert "完成时限：长期坚持" in visible_text(measure_card(measure(deadline=None), TODAY).html)


def test_overdue_card_shows_everything_to_the_owner_with_buttons() -> None:
    card = measure_card(measure(deadline=TODAY - dt.timedelta(days=4)), TODAY, owner=True)
    text = assert_well_formed(card.html)
    assert text.splitlines()[0] == "📋 ZG2025004　进行中 · 🔴 已逾期 4 天"
    assert "责任人：张伟　分管领导：李娜" in text
    assert "最新进展：已完成3所学校的公示检查" in text
    assert "完成时限：2025年8月28日" in text
    assert keyboard_texts(card.keyboard) == ["✅ 完成", "📝 进展", "⏰ 申请延期", "🕘 办理记录"]


def test_public_card_hides_owner_leader_and_progress() -> None:
    card = measure_card(measure(), TODAY, public=True, owner=True, verifier=True)
    text = assert_well_formed(card.html)
    assert "张伟" not in text and "李娜" not in text
    assert "进展" not in text and "已完成3所学校" not in text
    assert "基础教育科" in text and "ZG2025004" in text
    assert card.keyboard is None


def test_database_text_is_escaped_in_cards() -> None:
    card = measure_card(measure(code="<b>X&Y", problem="a <i>b</i> & c"), TODAY)
    text = assert_well_formed(card.html)
    assert "<b>X&Y" in text and "a <i>b</i> & c" in text


def test_a_long_list_has_a_count_header_and_says_how_many_more() -> None:
    shown = [measure(f"ZG2025{n:03d}", id_=n, deadline=TODAY + dt.timedelta(days=n - 3)) for n in range(1, 6)]
    reply = measure_list(shown, TODAY, title="已逾期的整改措施", total=12)
    lines = assert_well_formed(reply.html).splitlines()
    assert lines[0] == "已逾期的整改措施共 12 项："
    assert lines[1] == "🔴 已逾期 2 天 ZG2025001 进行中：部分学校课后服务收费公示不到位"
    assert lines[-1] == "…另有 7 项"
    assert len(lines) == 1 + 5 + 1


def test_list_lines_are_short_and_public_lists_name_nobody() -> None:
    closed = measure(status=MeasureStatus.CLOSED, problem="很长的问题描述" * 20)
    reply = measure_list([closed], TODAY, title="整改措施", show_owner=True, public=True)
    line = visible_text(reply.html).splitlines()[1]
    assert line.startswith("✅ 已销号 ZG2025004：") and line.endswith("…")
    assert "张伟" not in line
    assert "张伟" in visible_text(measure_list([closed], TODAY, title="整改措施", show_owner=True).html)
    assert measure_list([], TODAY, title="您负责的整改措施").html == "没有找到您负责的整改措施。"


# ---- regulations, articles, no answer -------------------------------------------------------------

def test_article_answer_names_the_regulation_article_and_effective_date() -> None:
    reg = regulation()
    related = [Hit("article", "jyhy", 2, "《市教育局会议制度》第2条", 0.3)]
    reply = article_answer(reg, reg.articles[0], related=related)
    assert reply.html.startswith("<b>《市教育局会议制度》第1条</b>（2025年8月1日起施行）\n")
    text = assert_well_formed(reply.html)
    assert "相关条款：\n1. 《市教育局会议制度》第2条" in text
    assert keyboard_data(reply.keyboard) == ["v1|s|a|jyhy|2", "v1|r|jyhy"]


def test_article_answer_leaves_out_its_own_regulation_which_has_its_own_button() -> None:
    reg = regulation()
    related = [Hit("regulation", "jyhy", None, "《市教育局会议制度》", 0.3),
               Hit("article", "jyhy", 2, "《市教育局会议制度》第2条", 0.3)]
    reply = article_answer(reg, reg.articles[0], related=related)
    text = assert_well_formed(reply.html)
    assert "相关条款：\n1. 《市教育局会议制度》第2条" in text and "2. " not in text
    assert keyboard_data(reply.keyboard) == ["v1|s|a|jyhy|2", "v1|r|jyhy"]


def test_regulation_card_lists_articles_truncated_with_buttons() -> None:
    reg = regulation(n_articles=15)
    reply = regulation_card(reg, missing_article=40)
    text = assert_well_formed(reply.html)
    assert "《市教育局会议制度》" in text and "发布单位：市教育局办公室" in text and "施行日期：2025年8月1日" in text
    assert "规范局务会议的召开 & 议事<程序>。" in text
    assert "（该制度没有第40条，共 15 条）" in text
    article_lines = [line for line in text.splitlines() if line.startswith("第")]
    assert len(article_lines) == 12 and all(line.endswith("…") for line in article_lines)
    assert "…另有 3 条" in text
    assert keyboard_data(reply.keyboard)[:2] == ["v1|a|jyhy|1", "v1|a|jyhy|2"]
    assert len(keyboard_data(reply.keyboard)) == 12


def test_regulation_card_leaves_out_related_articles_it_already_lists() -> None:
    reg = regulation(n_articles=3)
    related = [Hit("article", "jyhy", 2, "《市教育局会议制度》第2条", 0.3),
               Hit("article", "other", 2, "《干部教育培训制度》第2条", 0.2)]
    reply = regulation_card(reg, related=related)
    text = assert_well_formed(reply.html)
    assert "相关条款：\n1. 《干部教育培训制度》第2条" in text and "《市教育局会议制度》第2条" not in text
    assert keyboard_data(reply.keyboard) == ["v1|a|jyhy|1", "v1|a|jyhy|2", "v1|a|jyhy|3", "v1|s|a|other|2"]


def test_regulation_index_pages_through_the_list() -> None:
    regs = [Regulation(id=n, key=f"r{n}", title=f"制度{n}", issuer="市教育局", effective=None) for n in range(1, 20)]
    reply = regulation_index(regs, 1, per_page=8)
    text = assert_well_formed(reply.html)
    assert text.splitlines()[0] == "📚 规章制度目录（共 19 部，第 2/3 页）"
    assert text.splitlines()[1] == "9. 《制度9》（市教育局）"
    assert keyboard_data(reply.keyboard)[-3:] == ["v1|rp|0", "v1|x", "v1|rp|2"]


def test_not_found_says_so_honestly_and_points_to_regs() -> None:
    reply = not_found()
    text = assert_well_formed(reply.html)
    assert "没有找到" in text and "/regs" in text and "换个说法" in text
    assert keyboard_data(reply.keyboard) == ["v1|rp|0"]
    assert "<code>ZG9&lt;9</code>" in not_found(unknown_code="ZG9<9").html


def test_suggestions_reply_lists_numbered_candidates() -> None:
    hits = [Hit("regulation", "jyhy", None, "市教育局会议制度", 0.3),
            Hit("article", "jyhy", 3, "《市教育局会议制度》第3条", 0.2)]
    reply = suggestions_reply(hits)
    text = assert_well_formed(reply.html)
    assert "您是不是要问：\n1. 《市教育局会议制度》\n2. 《市教育局会议制度》第3条" in text
    assert keyboard_data(reply.keyboard) == ["v1|s|r|jyhy|0", "v1|s|a|jyhy|3"]


def test_render_facts_picks_the_right_reply_for_each_kind_of_answer() -> None:
    reg = regulation()
    hit = Hit("article", "jyhy", 1, "《市教育局会议制度》第1条", 0.9)
    answered = Answer("会议谁召集", True, [hit])
    article = render_facts(AnswerFacts(answered, article=ArticleFacts(reg, reg.articles[0])), TODAY)
    assert article.html.startswith("<b>《市教育局会议制度》第1条</b>")

    m = measure(status=MeasureStatus.DONE)
    card = render_facts(AnswerFacts(Answer("ZG2025004", True, []), measure=m), TODAY, viewer=LEADER)
    assert keyboard_texts(card.keyboard) == ["✔️ 销号", "↩️ 退回", "🕘 办理记录"]
    group = render_facts(AnswerFacts(Answer("ZG2025004", True, []), measure=m), TODAY, public=True, viewer=LEADER)
    assert group.keyboard is None and "张伟" not in group.html

    mine = Answer("我的整改", False, [], listing=ListQuery(mine=True))
    assert "绑定" in render_facts(AnswerFacts(mine), TODAY).html
    nothing = render_facts(AnswerFacts(Answer("天气", False, [])), TODAY)
    assert "没有找到" in nothing.html


def test_a_long_reply_goes_out_as_several_messages_with_the_keyboard_on_the_last() -> None:
    reg = regulation()
    reg.articles[0].text = "会议应当提前通知参会人员。\n" * 600
    reply = article_answer(reg, reg.articles[0])
    messages = reply.messages()
    assert len(messages) >= 2
    assert [kb is not None for _, kb in messages] == [False] * (len(messages) - 1) + [True]
    for html, _ in messages:
        assert sandbox_utf16_len(assert_well_formed(html)) <= 4096


def test_every_button_built_here_has_valid_data() -> None:
    markups = [
        measure_keyboard(measure(), owner=True, verifier=True),
        measure_keyboard(measure(status=MeasureStatus.DONE), owner=True, verifier=True),
        regulation_card(regulation(n_articles=15)).keyboard,
        not_found().keyboard,
        extension_keyboard(10**9),
        Reply("x", pagination_keyboard(5, 9, Action.LIST_PAGE, "overdue_leader")).keyboard,
    ]
    for markup in markups:
        for data in keyboard_data(markup):
            assert len(data.encode("utf-8")) <= MAX_BYTES and decode(data) is not None
        for text in keyboard_texts(markup):
            assert text.strip() and utf16_len(text) <= 32
