"""MarkdownV2 and legacy Markdown parsing, close enough to Telegram to catch real bugs.

The rules that bite bots in production are enforced exactly: in MarkdownV2 every
reserved character outside an entity must be escaped, and any unclosed entity is an
error.  Rarely used corners (the "___" ambiguity, nested links) are simplified.
"""

from __future__ import annotations

from .entities import Entity, sort_entities, utf16_len
from .html import EntityParseError

__all__ = ["parse_markdown", "parse_markdown_v2"]

_RESERVED_V2 = frozenset("_*[]()~`>#+-=|{}.!")
_V2_NAMES = {
    "bold": "Bold",
    "italic": "Italic",
    "underline": "Underline",
    "strikethrough": "Strikethrough",
    "spoiler": "Spoiler",
    "text_link": "TextUrl",
    "custom_emoji": "CustomEmoji",
}


def _byte_offset(source: str, index: int) -> int:
    return len(source[:index].encode("utf-8"))


class _Builder:
    def __init__(self) -> None:
        self.parts: list[str] = []
        self.u16 = 0
        self.entities: list[Entity] = []

    def emit(self, text: str) -> None:
        self.parts.append(text)
        self.u16 += utf16_len(text)

    def add(self, entity_type: str, start: int, **extra: str) -> None:
        if self.u16 > start:
            self.entities.append({"type": entity_type, "offset": start, "length": self.u16 - start, **extra})

    def result(self) -> tuple[str, list[Entity]]:
        return "".join(self.parts), sort_entities(self.entities)


def parse_markdown_v2(source: str) -> tuple[str, list[Entity]]:
    """Parse MarkdownV2 into plain text and entities, raising EntityParseError like Telegram."""
    out = _Builder()
    # Open entities: (type, UTF-16 start, index of the opening marker in source).
    stack: list[tuple[str, int, int]] = []
    quote: tuple[str, int] | None = None  # (entity type, UTF-16 start) of an open blockquote
    newline_at = 0  # UTF-16 offset of the most recent line break, where a quote ends
    at_line_start = True
    index = 0
    length = len(source)
    while index < length:
        ch = source[index]
        if at_line_start:
            at_line_start = False
            if source.startswith("**>", index):
                quote = quote or ("expandable_blockquote", out.u16)
                index += 3
                continue
            if ch == ">":
                quote = quote or ("blockquote", out.u16)
                index += 1
                continue
            if quote is not None:
                _close_quote(out, quote, newline_at)
                quote = None
        if ch == "\\" and index + 1 < length and 0 < ord(source[index + 1]) <= 126:
            out.emit(source[index + 1])
            index += 2
            continue
        if ch == "\n":
            newline_at = out.u16
            out.emit(ch)
            at_line_start = True
            index += 1
            continue
        closes_quote = index + 2 == length or source[index + 2 : index + 3] == "\n"
        in_expandable = quote is not None and quote[0] == "expandable_blockquote"
        if in_expandable and closes_quote and source.startswith("||", index):
            # "||" at the end of an expandable quote's last line closes the quote.
            assert quote is not None
            _close_quote(out, quote, out.u16)
            quote = None
            index += 2
            continue
        if ch == "`":
            index = _code_v2(source, index, out)
            continue
        marker_type: str | None = None
        width = 1
        if ch == "*":
            marker_type = "bold"
        elif ch == "_":
            if source.startswith("__", index):
                marker_type, width = "underline", 2
            else:
                marker_type = "italic"
        elif ch == "~":
            marker_type = "strikethrough"
        elif ch == "|" and source.startswith("||", index):
            marker_type, width = "spoiler", 2
        if marker_type is not None:
            open_index = next((i for i, item in enumerate(stack) if item[0] == marker_type), None)
            if open_index is None:
                stack.append((marker_type, out.u16, index))
            else:
                entity_type, start, _ = stack.pop(open_index)
                out.add(entity_type, start)
            index += width
            continue
        if ch == "[" or (ch == "!" and source.startswith("![", index)):
            kind = "custom_emoji" if ch == "!" else "text_link"
            stack.append((kind, out.u16, index))
            index += 2 if ch == "!" else 1
            continue
        if ch == "]" and stack and stack[-1][0] in ("text_link", "custom_emoji"):
            kind, start, opened = stack.pop()
            index = _link_target_v2(source, index, opened, kind, start, out)
            continue
        if ch in _RESERVED_V2:
            raise EntityParseError(
                f"Character '{ch}' is reserved and must be escaped with the preceding '\\'"
            )
        out.emit(ch)
        index += 1
    if stack:
        entity_type, _, opened = stack[-1]
        raise EntityParseError(
            f"Can't find end of {_V2_NAMES[entity_type]} entity at byte offset {_byte_offset(source, opened)}"
        )
    if quote is not None:
        _close_quote(out, quote, out.u16)
    return out.result()


def _close_quote(out: _Builder, quote: tuple[str, int], end: int) -> None:
    entity_type, start = quote
    if end > start:
        out.entities.append({"type": entity_type, "offset": start, "length": end - start})


def _code_v2(source: str, index: int, out: _Builder) -> int:
    """Handle `code` and ```pre``` blocks, where only ` and \\ are escapable."""
    is_pre = source.startswith("```", index)
    marker = "```" if is_pre else "`"
    body_start = index + len(marker)
    language: str | None = None
    if is_pre:
        newline = source.find("\n", body_start)
        first_line = source[body_start:newline] if newline >= 0 else ""
        if newline >= 0 and first_line and not any(c.isspace() for c in first_line) and "`" not in first_line:
            language = first_line
            body_start = newline + 1
    chars: list[str] = []
    cursor = body_start
    while cursor < len(source):
        if source[cursor] == "\\" and cursor + 1 < len(source) and 0 < ord(source[cursor + 1]) <= 126:
            chars.append(source[cursor + 1])
            cursor += 2
            continue
        if source.startswith(marker, cursor):
            start = out.u16
            body = "".join(chars)
            if is_pre and body.startswith("\n"):
                body = body[1:]
            out.emit(body)
            if is_pre:
                if language:
                    out.add("pre", start, language=language)
                else:
                    out.add("pre", start)
            else:
                out.add("code", start)
            return cursor + len(marker)
        chars.append(source[cursor])
        cursor += 1
    name = "Pre" if is_pre else "Code"
    raise EntityParseError(f"Can't find end of {name} entity at byte offset {_byte_offset(source, index)}")


def _link_target_v2(source: str, index: int, opened: int, kind: str, start: int, out: _Builder) -> int:
    if not source.startswith("(", index + 1):
        raise EntityParseError(
            f"Can't find end of {_V2_NAMES[kind]} entity at byte offset {_byte_offset(source, opened)}"
        )
    cursor = index + 2
    url_chars: list[str] = []
    while cursor < len(source):
        if source[cursor] == "\\" and cursor + 1 < len(source):
            url_chars.append(source[cursor + 1])
            cursor += 2
            continue
        if source[cursor] == ")":
            url = "".join(url_chars)
            if kind == "custom_emoji":
                prefix = "tg://emoji?id="
                if not url.startswith(prefix) or not url[len(prefix) :].isdigit():
                    raise EntityParseError("Custom emoji URL must have an emoji identifier")
                out.add("custom_emoji", start, custom_emoji_id=url[len(prefix) :])
            elif url:
                out.add(
                    "text_link", start, url=url if "://" in url or url.startswith("tg:") else "http://" + url
                )
            return cursor + 1
        url_chars.append(source[cursor])
        cursor += 1
    raise EntityParseError(f"Can't find end of a URL at byte offset {_byte_offset(source, index + 1)}")


def parse_markdown(source: str) -> tuple[str, list[Entity]]:
    """Legacy Markdown: *bold*, _italic_, `code`, ```pre```, [text](url); no nesting."""
    out = _Builder()
    index = 0
    length = len(source)
    while index < length:
        ch = source[index]
        if ch == "\\" and index + 1 < length and source[index + 1] in "_*`[":
            out.emit(source[index + 1])
            index += 2
            continue
        if ch in "*_`[":
            index = _legacy_entity(source, index, out)
            continue
        out.emit(ch)
        index += 1
    return out.result()


def _legacy_entity(source: str, index: int, out: _Builder) -> int:
    error = EntityParseError(
        f"Can't find end of the entity starting at byte offset {_byte_offset(source, index)}"
    )
    ch = source[index]
    start = out.u16
    if source.startswith("```", index):
        end = source.find("```", index + 3)
        if end < 0:
            raise error
        body = source[index + 3 : end]
        language = None
        newline = body.find("\n")
        if newline > 0 and not any(c.isspace() for c in body[:newline]):
            language, body = body[:newline], body[newline + 1 :]
        out.emit(body)
        if language:
            out.add("pre", start, language=language)
        else:
            out.add("pre", start)
        return end + 3
    if ch == "[":
        close = source.find("]", index + 1)
        if close < 0:
            raise error
        if not source.startswith("(", close + 1):
            # Not a link after all: Telegram keeps the bracketed text literally.
            out.emit(source[index : close + 1])
            return close + 1
        url_end = source.find(")", close + 2)
        if url_end < 0:
            raise error
        out.emit(source[index + 1 : close])
        url = source[close + 2 : url_end]
        if url:
            out.add("text_link", start, url=url if "://" in url or url.startswith("tg:") else "http://" + url)
        return url_end + 1
    end = source.find(ch, index + 1)
    if end < 0:
        raise error
    out.emit(source[index + 1 : end])
    out.add({"*": "bold", "_": "italic", "`": "code"}[ch], start)
    return end + 1
