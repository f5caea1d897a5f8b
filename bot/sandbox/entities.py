"""UTF-16 bookkeeping and automatic entity detection, as the Bot API does them.

Telegram measures every offset, length and size limit of a text in UTF-16 code
units, while Python strings index code points.  Everything here converts between
the two so the rest of the sandbox can keep working with ordinary ``str``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

Entity = dict[str, Any]

# Entities inside which Telegram does not look for URLs, mentions or commands.
_OPAQUE_TYPES = frozenset(
    {"code", "pre", "text_link", "text_mention", "url", "email", "mention", "bot_command", "custom_emoji"}
)

# Top-level domains accepted for URLs written without a scheme.  Telegram checks a
# full TLD list; a short list of common ones keeps "report.txt" from becoming a link.
_COMMON_TLDS = frozenset(
    [
        "com",
        "net",
        "org",
        "edu",
        "gov",
        "mil",
        "int",
        "info",
        "biz",
        "io",
        "me",
        "ru",
        "cn",
        "hk",
        "tw",
        "jp",
        "kr",
        "de",
        "fr",
        "uk",
        "us",
        "eu",
        "app",
        "dev",
        "xyz",
        "top",
        "co",
        "tv",
        "cc",
        "ai",
        "site",
        "online",
        "tech",
        "store",
        "vip",
        "club",
        "shop",
        "wang",
        "ink",
    ]
)

_COMMAND_RE = re.compile(r"(?<![\w/@])/[A-Za-z0-9_]{1,64}(?:@[A-Za-z0-9_]{3,32})?(?![\w/@])")
_MENTION_RE = re.compile(r"(?<![\w@/])@[A-Za-z0-9_]{3,32}(?![\w@])")
_HASHTAG_RE = re.compile(r"(?<![\w#])#\w*[^\d\W]\w*")
_EMAIL_RE = re.compile(
    r"(?<![\w.+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}(?![\w@])"
)
_URL_RE = re.compile(
    r"(?<![\w@./])(?:(?P<scheme>https?|ftp|tg)://)?"
    r"(?P<host>(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+(?P<tld>[A-Za-z]{2,24})"
    r"|localhost|\d{1,3}(?:\.\d{1,3}){3})"
    r"(?::\d{1,5})?(?P<path>[/?#][\x21-\x7e]*)?",
)
_URL_TRAILING_PUNCT = ".,;:!?'\")]}"


def utf16_len(text: str) -> int:
    """Length of ``text`` in UTF-16 code units (astral characters count twice)."""
    # The codec counts in C; a Python loop over every character cost more than the rest of a send.
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def utf16_offsets(text: str) -> list[int]:
    """UTF-16 offset of every code point index, plus one entry for the end."""
    if utf16_len(text) == len(text):  # no astral characters (emoji): offsets are the indices
        return list(range(len(text) + 1))
    offsets = [0] * (len(text) + 1)
    acc = 0
    for index, ch in enumerate(text):
        offsets[index] = acc
        acc += 2 if ord(ch) > 0xFFFF else 1
    offsets[len(text)] = acc
    return offsets


def utf16_slice(text: str, offset: int, length: int) -> str:
    """The substring covering UTF-16 range [offset, offset + length)."""
    start, end = utf16_range_to_indices(text, offset, length)
    return text[start:end]


def utf16_range_to_indices(text: str, offset: int, length: int) -> tuple[int, int]:
    """Convert a UTF-16 (offset, length) into Python string indices."""
    offsets = utf16_offsets(text)
    start = _index_at(offsets, offset)
    end = _index_at(offsets, offset + length)
    return start, end


def _index_at(offsets: Sequence[int], unit: int) -> int:
    # Binary search: the first code point whose UTF-16 offset is >= unit.
    lo, hi = 0, len(offsets) - 1
    while lo < hi:
        mid = (lo + hi) // 2
        if offsets[mid] < unit:
            lo = mid + 1
        else:
            hi = mid
    return lo


def sort_entities(entities: Iterable[Entity]) -> list[Entity]:
    """Telegram's order: by offset, and an outer entity before the ones it contains."""
    return sorted(entities, key=lambda e: (int(e["offset"]), -int(e["length"])))


def strip_text(text: str, entities: Sequence[Entity]) -> tuple[str, list[Entity]]:
    """Trim surrounding whitespace like Telegram does and shift entities to match."""
    stripped_left = text.lstrip()
    left_cut = utf16_len(text[: len(text) - len(stripped_left)])
    result = stripped_left.rstrip()
    total = utf16_len(result)
    adjusted: list[Entity] = []
    for entity in entities:
        start = max(int(entity["offset"]) - left_cut, 0)
        end = min(int(entity["offset"]) + int(entity["length"]) - left_cut, total)
        if end <= start:
            continue
        moved = dict(entity)
        moved["offset"] = start
        moved["length"] = end - start
        adjusted.append(moved)
    return result, sort_entities(adjusted)


def detect_entities(text: str) -> list[Entity]:
    """Find the entities Telegram derives from plain text on its own.

    Covers bot commands, @mentions, URLs, e-mail addresses and hashtags, which is
    what PTB handlers (CommandHandler, filters.Entity) rely on.
    """
    candidates: list[tuple[int, int, str]] = []
    for match in _EMAIL_RE.finditer(text):
        candidates.append((match.start(), match.end(), "email"))
    for match in _COMMAND_RE.finditer(text):
        candidates.append((match.start(), match.end(), "bot_command"))
    for match in _MENTION_RE.finditer(text):
        candidates.append((match.start(), match.end(), "mention"))
    for match in _HASHTAG_RE.finditer(text):
        candidates.append((match.start(), match.end(), "hashtag"))
    for match in _URL_RE.finditer(text):
        span = _clean_url_match(match)
        if span is not None:
            candidates.append((span[0], span[1], "url"))

    # Earlier and longer candidates win; overlapping ones are dropped, which is how
    # "/done@bot" stays one command instead of a command plus a mention.
    candidates.sort(key=lambda c: (c[0], -(c[1] - c[0])))
    chosen: list[tuple[int, int, str]] = []
    last_end = -1
    for start, end, kind in candidates:
        if start >= last_end:
            chosen.append((start, end, kind))
            last_end = end
    offsets = utf16_offsets(text)
    return [
        {"type": kind, "offset": offsets[start], "length": offsets[end] - offsets[start]}
        for start, end, kind in chosen
    ]


def _clean_url_match(match: re.Match[str]) -> tuple[int, int] | None:
    start, end = match.span()
    scheme = match.group("scheme")
    tld = (match.group("tld") or "").lower()
    host = match.group("host") or ""
    if not scheme and tld not in _COMMON_TLDS and host != "localhost":
        return None
    text = match.string
    while end > start and text[end - 1] in _URL_TRAILING_PUNCT:
        # A closing bracket belongs to the URL only when the URL also opened one.
        if text[end - 1] == ")" and text[start:end].count("(") >= text[start:end].count(")"):
            break
        end -= 1
    if not scheme and "." not in text[start:end]:
        return None
    return start, end


def merge_auto_entities(text: str, explicit: Sequence[Entity]) -> list[Entity]:
    """Add auto-detected entities that do not collide with formatting that hides them."""
    blocked = [
        (int(e["offset"]), int(e["offset"]) + int(e["length"]))
        for e in explicit
        if e.get("type") in _OPAQUE_TYPES
    ]
    merged = list(explicit)
    for entity in detect_entities(text):
        start = int(entity["offset"])
        end = start + int(entity["length"])
        if any(start < b_end and b_start < end for b_start, b_end in blocked):
            continue
        merged.append(entity)
    return sort_entities(merged)


def entity_text(text: str, entity: Entity) -> str:
    """The piece of ``text`` an entity covers."""
    return utf16_slice(text, int(entity["offset"]), int(entity["length"]))
