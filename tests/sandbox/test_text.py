"""Pure helpers: HTML/Markdown parsing, UTF-16 bookkeeping, entity detection, rate buckets."""

from __future__ import annotations

import html as stdlib_html

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.sandbox.entities import detect_entities, entity_text, strip_text, utf16_len, utf16_offsets, utf16_slice
from bot.sandbox.files import image_size
from bot.sandbox.html import EntityParseError, parse_html, strip_html
from bot.sandbox.limits import RateLimiter, RateLimits
from bot.sandbox.markdown import parse_markdown, parse_markdown_v2
from bot.sandbox.state import json_copy


def test_utf16_length_counts_astral_characters_twice() -> None:
    assert utf16_len("abc") == 3
    assert utf16_len("中文") == 2
    assert utf16_len("😀") == 2
    assert utf16_slice("😀ab中", 2, 3) == "ab中"


@given(st.text(st.characters(codec=None, exclude_categories=())))
def test_utf16_offsets_count_code_units_one_character_at_a_time(text: str) -> None:
    expected = [sum(2 if ord(c) > 0xFFFF else 1 for c in text[:i]) for i in range(len(text) + 1)]
    assert utf16_offsets(text) == expected
    assert utf16_len(text) == expected[-1]


def test_json_copy_is_equal_and_shares_nothing_mutable() -> None:
    original = {"text": "好", "entities": [{"type": "bold", "offset": 0, "length": 1}],
                "reply_markup": {"inline_keyboard": [[{"text": "完成", "callback_data": "d:1"}]]}, "n": None}
    copied = json_copy(original)
    assert copied == original
    copied["entities"][0]["length"] = 9
    copied["reply_markup"]["inline_keyboard"][0].append({"text": "x"})
    assert original["entities"][0]["length"] == 1
    assert len(original["reply_markup"]["inline_keyboard"][0]) == 1


@given(st.text())
def test_escaped_text_parses_back_to_itself_without_entities(text: str) -> None:
    plain, entities = parse_html(stdlib_html.escape(text, quote=False))
    assert plain == text
    assert entities == []


@given(st.text(min_size=1), st.sampled_from("bius"))
def test_wrapped_text_gets_one_entity_covering_it(text: str, tag: str) -> None:
    plain, entities = parse_html(f"<{tag}>{stdlib_html.escape(text)}</{tag}>")
    assert plain == text
    assert entities == [
        {
            "type": {"b": "bold", "i": "italic", "u": "underline", "s": "strikethrough"}[tag],
            "offset": 0,
            "length": utf16_len(text),
        }
    ]


@given(st.text(alphabet="<>/&;#x0bia \"='ps-", max_size=40))
def test_html_parser_either_parses_or_reports_a_parse_error(source: str) -> None:
    try:
        plain, entities = parse_html(source)
    except EntityParseError:
        return
    for entity in entities:
        assert entity["length"] > 0
        assert entity["offset"] + entity["length"] <= utf16_len(plain)


def test_html_supports_every_telegram_tag() -> None:
    source = (
        "<b>b</b><strong>s</strong><i>i</i><em>e</em><u>u</u><ins>n</ins><s>s</s><strike>k</strike><del>d</del>"
        '<span class="tg-spoiler">p</span><tg-spoiler>q</tg-spoiler><a href="tg://user?id=1">m</a>'
        "<code>c</code><pre>p</pre><blockquote>q</blockquote><blockquote expandable>x</blockquote>"
        '<tg-emoji emoji-id="5368324170671202286">👍</tg-emoji>'
    )
    plain, entities = parse_html(source)
    assert plain == "bsieunskdpqmcpqx👍"
    assert [e["type"] for e in entities] == [
        "bold",
        "bold",
        "italic",
        "italic",
        "underline",
        "underline",
        "strikethrough",
        "strikethrough",
        "strikethrough",
        "spoiler",
        "spoiler",
        "text_link",
        "code",
        "pre",
        "blockquote",
        "expandable_blockquote",
        "custom_emoji",
    ]
    assert entities[-1]["custom_emoji_id"] == "5368324170671202286"


def test_html_entities_nesting_and_attribute_quirks() -> None:
    plain, entities = parse_html("<B>x<I>y</I></B> &amp;&nbsp;&#60;&#x3e; <a href='example.com'>e</a>")
    assert plain == "xy &&nbsp;<> e"
    assert entities[0] == {"type": "bold", "offset": 0, "length": 2}
    assert entities[1] == {"type": "italic", "offset": 1, "length": 1}
    assert entities[2]["url"] == "http://example.com"
    _, dropped = parse_html('<a href="not a url">x</a>')
    assert dropped == []


@pytest.mark.parametrize(
    "source",
    [
        "<b>",
        "</b>",
        "<b></i>",
        "<foo>",
        "<b",
        '<a href="x>y</a>',
        "<span class=x>y</span>",
        "<tg-emoji>x</tg-emoji>",
    ],
)
def test_broken_html_is_rejected(source: str) -> None:
    with pytest.raises(EntityParseError):
        parse_html(source)


def test_strip_html_never_fails() -> None:
    assert strip_html("<b>整改</b> &lt;3 <unknown>") == "整改 <3 "


def test_strip_text_trims_and_shifts_entities() -> None:
    text, entities = strip_text("  \n<b>x</b>  ", [{"type": "bold", "offset": 3, "length": 8}])
    assert text == "<b>x</b>"
    assert entities == [{"type": "bold", "offset": 0, "length": 8}]


def test_detect_entities_finds_commands_mentions_urls_hashtags_and_emails() -> None:
    text = "/start ABC /done@zhenggai_demo_bot @li_lei #整改 mail a.b@edu.cn www.moe.gov.cn/x, report.txt"
    found = [(e["type"], entity_text(text, e)) for e in detect_entities(text)]
    assert found == [
        ("bot_command", "/start"),
        ("bot_command", "/done@zhenggai_demo_bot"),
        ("mention", "@li_lei"),
        ("hashtag", "#整改"),
        ("email", "a.b@edu.cn"),
        ("url", "www.moe.gov.cn/x"),
    ]


def test_markdown_v2_quotes_pre_with_language_and_links() -> None:
    plain, entities = parse_markdown_v2(
        ">引用一\n>引用二\n正文 ```python\nx = 1\n``` [链](https://a.cn/\\)x)"
    )
    assert plain == "引用一\n引用二\n正文 x = 1\n 链"
    by_type = {e["type"]: e for e in entities}
    assert by_type["blockquote"] == {"type": "blockquote", "offset": 0, "length": 7}
    assert by_type["pre"]["language"] == "python"
    assert by_type["text_link"]["url"] == "https://a.cn/)x"
    with pytest.raises(EntityParseError, match="Character '!' is reserved"):
        parse_markdown_v2("好!")
    with pytest.raises(EntityParseError, match="Can't find end of Pre entity"):
        parse_markdown_v2("```x")


def test_legacy_markdown() -> None:
    assert parse_markdown("*b* _i_ `c` [t](a.cn)")[0] == "b i c t"
    with pytest.raises(EntityParseError, match="Can't find end of the entity starting at byte offset 3"):
        parse_markdown("ab *c")


def test_image_sizes_are_read_from_headers() -> None:
    assert image_size(b"GIF89a\x10\x00\x20\x00") == (16, 32)
    assert image_size(b"\xff\xd8\xff\xe0\x00\x04ab\xff\xc2\x00\x11\x08\x00\x0a\x00\x14" + b"\0" * 10) == (
        20,
        10,
    )
    assert image_size(b"not an image") == (1, 1)


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_rate_limiter_allows_a_burst_then_asks_to_retry() -> None:
    clock = FakeClock()
    limiter = RateLimiter(RateLimits(per_chat_per_second=1, per_chat_burst=3), clock=clock)
    assert [limiter.acquire(1, is_group=False) for _ in range(3)] == [None, None, None]
    assert limiter.acquire(1, is_group=False) == 1
    assert limiter.acquire(2, is_group=False) is None  # other chats are unaffected
    clock.now = 1.0
    assert limiter.acquire(1, is_group=False) is None
    assert limiter.acquire(1, is_group=False) == 1


def test_rate_limiter_group_limit_is_per_minute_and_can_be_disabled() -> None:
    clock = FakeClock()
    limiter = RateLimiter(RateLimits(per_group_per_minute=20, per_group_burst=20), clock=clock)
    assert all(limiter.acquire(-5, is_group=True) is None for _ in range(20))
    assert limiter.acquire(-5, is_group=True) == 3  # one message every three seconds
    off = RateLimiter(RateLimits.off(), clock=clock)
    assert all(off.acquire(1, is_group=False) is None for _ in range(1000))
    with pytest.raises(ValueError, match="positive"):
        RateLimits(per_chat_per_second=0)
