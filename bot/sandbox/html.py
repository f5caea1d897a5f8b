"""Telegram's flavour of HTML: turns ``parse_mode="HTML"`` text into text + entities.

Telegram accepts only a handful of tags and reports anything else as a parse error
whose message quotes the byte offset of the offending ``<``.  Bots that build HTML
by string concatenation get exactly these errors in production, so the sandbox
must reject the same inputs with the same wording instead of being lenient.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .entities import Entity, sort_entities, utf16_len, utf16_slice

__all__ = ["EntityParseError", "parse_html", "strip_html", "unescape_html"]


class EntityParseError(ValueError):
    """Raised with the text that follows "Bad Request: can't parse entities: "."""


# Tag name -> entity type.  span / a / code / pre / blockquote / tg-emoji need the
# attribute handling in _open_tag, so their value here is only the default.
_TAG_TYPES: dict[str, str] = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
    "a": "text_link",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
    "tg-emoji": "custom_emoji",
}

_NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_ENTITY_RE = re.compile(r"&(?:#(?:[xX](?P<hex>[0-9a-fA-F]{1,8})|(?P<dec>[0-9]{1,10}))|(?P<name>[a-zA-Z]+));")
_WHITESPACE = " \t\r\n"
_URL_WITH_SCHEME_RE = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")
_DOMAIN_RE = re.compile(r"^[\w-]+(\.[\w-]+)+(:\d+)?([/?#]\S*)?$")


@dataclass
class _OpenTag:
    name: str
    entity_type: str
    start: int  # UTF-16 offset in the output text
    byte_offset: int
    attrs: dict[str, str] = field(default_factory=dict)
    language: str | None = None


def _byte_offset(source: str, index: int) -> int:
    return len(source[:index].encode("utf-8"))


def _decode_entity_at(source: str, index: int) -> tuple[str, int] | None:
    """Decode ``&...;`` at ``index``; unknown named entities stay literal text as in Telegram."""
    match = _ENTITY_RE.match(source, index)
    if match is None:
        return None
    if match.group("name") is not None:
        replacement = _NAMED_ENTITIES.get(match.group("name"))
        if replacement is None:
            return None
        return replacement, match.end() - index
    number = int(match.group("hex"), 16) if match.group("hex") is not None else int(match.group("dec"))
    if number == 0 or number > 0x10FFFF or 0xD800 <= number <= 0xDFFF:
        return None
    return chr(number), match.end() - index


def unescape_html(value: str) -> str:
    """Decode the character references Telegram understands, leaving others untouched."""
    out: list[str] = []
    index = 0
    while index < len(value):
        if value[index] == "&":
            decoded = _decode_entity_at(value, index)
            if decoded is not None:
                out.append(decoded[0])
                index += decoded[1]
                continue
        out.append(value[index])
        index += 1
    return "".join(out)


def parse_html(source: str) -> tuple[str, list[Entity]]:
    """Parse Telegram HTML into plain text and MessageEntity dicts (UTF-16 offsets).

    Raises EntityParseError with Telegram's wording for unsupported or broken markup.
    """
    parser = _HtmlParser(source)
    return parser.run()


class _HtmlParser:
    def __init__(self, source: str) -> None:
        self.source = source
        self.out: list[str] = []
        self.u16 = 0
        self.stack: list[_OpenTag] = []
        self.entities: list[Entity] = []

    def _emit(self, text: str) -> None:
        self.out.append(text)
        self.u16 += utf16_len(text)

    def run(self) -> tuple[str, list[Entity]]:
        source = self.source
        index = 0
        length = len(source)
        while index < length:
            ch = source[index]
            if ch == "&":
                decoded = _decode_entity_at(source, index)
                if decoded is None:
                    self._emit("&")
                    index += 1
                else:
                    self._emit(decoded[0])
                    index += decoded[1]
                continue
            if ch != "<":
                # Copy a run of ordinary characters in one go.
                end = index + 1
                while end < length and source[end] not in "<&":
                    end += 1
                self._emit(source[index:end])
                index = end
                continue
            index = self._close_tag(index) if index + 1 < length and source[index + 1] == "/" else self._open_tag(index)
        if self.stack:
            raise EntityParseError(f'Can\'t find end tag corresponding to start tag "{self.stack[-1].name}"')
        return "".join(self.out), sort_entities(self.entities)

    def _open_tag(self, begin: int) -> int:
        source = self.source
        index = begin + 1
        while index < len(source) and source[index] not in _WHITESPACE and source[index] != ">":
            index += 1
        if index >= len(source):
            raise EntityParseError(f"Unclosed start tag at byte offset {_byte_offset(source, begin)}")
        name = source[begin + 1 : index].lower()
        if name not in _TAG_TYPES:
            raise EntityParseError(
                f'Unsupported start tag "{name}" at byte offset {_byte_offset(source, begin)}'
            )
        attrs, index = self._read_attributes(name, begin, index)
        tag = _OpenTag(name, _TAG_TYPES[name], self.u16, _byte_offset(source, begin), attrs)
        if name == "span" and attrs.get("class") != "tg-spoiler":
            raise EntityParseError(
                f'Tag "span" must have class "tg-spoiler" at byte offset {tag.byte_offset}'
            )
        if name == "blockquote" and "expandable" in attrs:
            tag.entity_type = "expandable_blockquote"
        if name == "tg-emoji" and not attrs.get("emoji-id", "").isdigit():
            raise EntityParseError(
                f'Tag "tg-emoji" must have a numeric "emoji-id" attribute at byte offset {tag.byte_offset}'
            )
        self.stack.append(tag)
        return index

    def _read_attributes(self, name: str, begin: int, index: int) -> tuple[dict[str, str], int]:
        source = self.source
        attrs: dict[str, str] = {}
        unclosed = f'Unclosed start tag "{name}" at byte offset {_byte_offset(source, begin)}'
        while True:
            while index < len(source) and source[index] in _WHITESPACE:
                index += 1
            if index >= len(source):
                raise EntityParseError(unclosed)
            if source[index] == ">":
                return attrs, index + 1
            attr_start = index
            while index < len(source) and source[index] not in _WHITESPACE and source[index] not in "=>":
                index += 1
            attr_name = source[attr_start:index].lower()
            while index < len(source) and source[index] in _WHITESPACE:
                index += 1
            if index >= len(source):
                raise EntityParseError(unclosed)
            if source[index] != "=":
                # Value-less attributes such as <blockquote expandable>.
                attrs[attr_name] = ""
                continue
            index += 1
            while index < len(source) and source[index] in _WHITESPACE:
                index += 1
            if index >= len(source):
                raise EntityParseError(unclosed)
            quote = source[index]
            if quote in "'\"":
                end = source.find(quote, index + 1)
                if end < 0:
                    raise EntityParseError(unclosed)
                value = source[index + 1 : end]
                index = end + 1
            else:
                end = index
                while end < len(source) and source[end] not in _WHITESPACE and source[end] != ">":
                    end += 1
                value = source[index:end]
                index = end
            attrs[attr_name] = unescape_html(value)

    def _close_tag(self, begin: int) -> int:
        source = self.source
        index = begin + 2
        name_start = index
        while index < len(source) and source[index] not in _WHITESPACE and source[index] != ">":
            index += 1
        name = source[name_start:index].lower()
        while index < len(source) and source[index] in _WHITESPACE:
            index += 1
        offset = _byte_offset(source, begin)
        if index >= len(source) or source[index] != ">":
            raise EntityParseError(f"Unclosed end tag at byte offset {offset}")
        if not self.stack:
            raise EntityParseError(f"Unexpected end tag at byte offset {offset}")
        top = self.stack[-1]
        if top.name != name:
            raise EntityParseError(
                f'Unmatched end tag at byte offset {offset}, expected "</{top.name}>", found "</{name}>"'
            )
        self.stack.pop()
        self._finish(top)
        return index + 1

    def _finish(self, tag: _OpenTag) -> None:
        length = self.u16 - tag.start
        if tag.name == "code" and self.stack and self.stack[-1].name == "pre":
            # <pre><code class="language-x"> is one pre entity with a language.
            css = tag.attrs.get("class", "")
            if css.startswith("language-") and len(css) > len("language-"):
                self.stack[-1].language = css[len("language-") :]
            return
        if length <= 0:
            return
        entity: Entity = {"type": tag.entity_type, "offset": tag.start, "length": length}
        if tag.name == "a":
            url = tag.attrs.get("href") or utf16_slice("".join(self.out), tag.start, length)
            normalized = _normalize_url(url)
            if normalized is None:
                return
            entity["url"] = normalized
        elif tag.name == "pre" and tag.language:
            entity["language"] = tag.language
        elif tag.name == "tg-emoji":
            entity["custom_emoji_id"] = tag.attrs["emoji-id"]
        self.entities.append(entity)


def _normalize_url(url: str) -> str | None:
    """Mimic Telegram's tolerance: add http:// to bare domains, drop hopeless hrefs."""
    url = url.strip()
    if not url:
        return None
    if _URL_WITH_SCHEME_RE.match(url):
        return url
    if _DOMAIN_RE.match(url):
        return "http://" + url
    return None


_TAG_STRIP_RE = re.compile(r"<[^<>]*>")


def strip_html(text: str) -> str:
    """Best-effort plain text of an HTML snippet: drop tags, decode entities.

    Unlike parse_html this never fails, so it is handy for assertions on raw text.
    """
    return unescape_html(_TAG_STRIP_RE.sub("", text))
