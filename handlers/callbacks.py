"""Callback data for inline buttons — compact, versioned, and still valid after a restart.

Nothing is kept in memory between pressing and handling a button: the data names
everything the handler needs, so a button on a message from last month works as
long as the item it names still exists.

Format (UTF-8, at most 64 bytes — Telegram rejects longer data with BUTTON_DATA_INVALID)::

    v1|<action>[|<field>...]

``v1`` is the format version: a future format bumps it, and `decode` answers None for any
version it does not know (the handler then says "按钮已过期，请重新查询"). The action decides
how many fields follow and what each one is (`SCHEMA`); anything else decodes to None.

Field kinds:

``ref``
    an item by its natural key — a measure code, or a regulation key — written as is:
    ``v1|m|ZG2025004``. Codes and keys are free text from imported files, so when the key
    contains the separator ``|``, starts with ``#``, is empty, has leading/trailing or
    non-printable characters (including a lone surrogate), or when the whole string would
    exceed 64 bytes, the key is replaced by the row's database id: ``v1|m|#123``. The handler
    resolves a `Ref` by ``ref.id`` when it is set (``session.get(Measure, ref.id)``) and by
    ``ref.key`` otherwise (``Measure.code == ref.key``). The key form survives a re-import that
    recreates rows; the id form does not, so it is only the fallback.
``no``, ``page``, ``request_id``, ``miss_id``
    non-negative decimal integers without leading zeros; pages count from 0.
``kind``
    a short ASCII token (``[A-Za-z0-9_-]{1,16}``): the list for ``lp`` (chosen by the
    handlers, e.g. ``my``, ``od``), or the item kind for ``s`` (``r`` regulation, ``a``
    article, ``m`` measure — see `HIT_KIND_CODES`), and for ``te``.

Examples::

    v1|m|ZG2025004         show the card of measure ZG2025004
    v1|dc|ZG2025004        owner pressed ✅ 完成: ask for confirmation
    v1|dy|#123             done confirmed, measure with database id 123 (code did not fit)
    v1|ea|57               approve extension request 57
    v1|ew|57               its requester withdraws extension request 57
    v1|a|jiaoyu-huiyi|12   article 12 of regulation jiaoyu-huiyi
    v1|lp|od|2             third page of the overdue list
    v1|s|a|jiaoyu-huiyi|3  suggestion picked: article 3 of that regulation (``no`` is 0 for r/m)
    v1|te|7|a|jiaoyu-huiyi|3  unanswered question 7 is an alternate phrasing of that article
    v1|x                   does nothing (the page counter between « and »)
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Final, TypeVar

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.models import Measure, MeasureStatus, Regulation
from bot.services.answers import Hit, Kind

__all__ = [
    "BUTTON_TEXT_MAX",
    "EXPIRED",
    "HIT_KIND_CODES",
    "MAX_BYTES",
    "SCHEMA",
    "VERSION",
    "Action",
    "Callback",
    "Ref",
    "confirm_keyboard",
    "decode",
    "done_confirm_keyboard",
    "encode",
    "extension_keyboard",
    "hit_label",
    "measure_keyboard",
    "measures_keyboard",
    "page_of",
    "pagination_keyboard",
    "pagination_row",
    "suggestion_data",
    "suggestion_rows",
    "suggestions_keyboard",
    "teach_rows",
    "verify_confirm_keyboard",
    "withdraw_keyboard",
]

VERSION: Final = "v1"
SEP: Final = "|"
MAX_BYTES: Final = 64  # Telegram's callback_data limit, in UTF-8 bytes
BUTTON_TEXT_MAX: Final = 32  # UTF-16 units; longer texts are cut with "…" (phones show ~20 CJK characters)
EXPIRED: Final = "按钮已过期，请重新查询"  # what a handler answers when decode() gives None


class Action(StrEnum):
    MEASURE = "m"  # show a measure card
    MEASURE_OPEN = "mo"  # a measure's card in a new message, from a list (which stays as it is)
    DONE_ASK = "dc"  # owner pressed ✅ 完成: ask to confirm
    DONE_YES = "dy"  # done confirmed
    DONE_NO = "dn"  # confirmation cancelled
    DONE_UNDO = "du"  # owner takes back a 已完成 that is not yet signed off
    VERIFY = "vf"  # leader/admin pressed ✔️ 销号: ask to confirm (a sign-off cannot be undone)
    VERIFY_YES = "vy"  # sign-off confirmed
    REJECT = "rj"  # leader/admin sends it back; the handler asks for a reason
    EXTEND = "ex"  # owner asks for a later deadline
    EXTEND_APPROVE = "ea"  # + request id
    EXTEND_REFUSE = "er"  # + request id
    EXTEND_WITHDRAW = "ew"  # + request id: the requester takes a pending request back
    PROGRESS = "pg"  # owner adds a progress note
    TRAIL = "tr"  # the measure's 办理记录 and evidence, in new messages (owner, leader, admins)
    REGULATION = "r"  # show a regulation card
    ARTICLE = "a"  # show one article
    REG_PAGE = "rp"  # browse the regulations, one page
    LIST_PAGE = "lp"  # a page of a measure list
    SUGGESTION = "s"  # pick one of "您是不是要问" candidates
    WRONG = "wr"  # 👎 under an answer: the question it replies to was answered wrongly
    MISS = "mi"  # an unanswered question's card, in a new message (admins, from /misses)
    TEACH = "te"  # tie an unanswered question to a regulation, article or measure
    TEACH_OTHER = "tw"  # the admin names the item in words: the bot asks for them
    MISS_DISMISS = "md"  # set an unanswered question aside
    NOOP = "x"  # inert button (the page counter); answer the query and do nothing


SCHEMA: Final[Mapping[Action, tuple[str, ...]]] = {
    Action.MEASURE: ("ref",),
    Action.MEASURE_OPEN: ("ref",),
    Action.DONE_ASK: ("ref",),
    Action.DONE_YES: ("ref",),
    Action.DONE_NO: ("ref",),
    Action.DONE_UNDO: ("ref",),
    Action.VERIFY: ("ref",),
    Action.VERIFY_YES: ("ref",),
    Action.REJECT: ("ref",),
    Action.EXTEND: ("ref",),
    Action.EXTEND_APPROVE: ("request_id",),
    Action.EXTEND_REFUSE: ("request_id",),
    Action.EXTEND_WITHDRAW: ("request_id",),
    Action.PROGRESS: ("ref",),
    Action.TRAIL: ("ref",),
    Action.REGULATION: ("ref",),
    Action.ARTICLE: ("ref", "no"),
    Action.REG_PAGE: ("page",),
    Action.LIST_PAGE: ("kind", "page"),
    Action.SUGGESTION: ("kind", "ref", "no"),
    Action.WRONG: (),
    Action.MISS: ("miss_id",),
    Action.TEACH: ("miss_id", "kind", "ref", "no"),
    Action.TEACH_OTHER: ("miss_id",),
    Action.MISS_DISMISS: ("miss_id",),
    Action.NOOP: (),
}

HIT_KIND_CODES: Final[Mapping[Kind, str]] = {"regulation": "r", "article": "a", "measure": "m"}
_HIT_KINDS: Final[Mapping[str, Kind]] = {code: kind for kind, code in HIT_KIND_CODES.items()}

_T = TypeVar("_T")
_ACTIONS: Final = {a.value: a for a in Action}
_INT_RE: Final = re.compile(r"0|[1-9][0-9]{0,17}")
_KIND_RE: Final = re.compile(r"[A-Za-z0-9_-]{1,16}")


@dataclass(frozen=True)
class Ref:
    """An item named in callback data: by natural key, or by database id.

    For `encode`, give both (``Ref.of(measure)``): the key is used when it fits, the id
    otherwise. `decode` returns exactly one of them. The key is a measure code, or a
    regulation key (``r``, ``a``, and ``s`` of kind r/a), or a measure code (``s`` of kind m).
    """

    key: str | None = None
    id: int | None = None

    def __post_init__(self) -> None:
        if self.key is None and self.id is None:
            raise ValueError("a Ref needs a key or an id")
        if self.id is not None and (isinstance(self.id, bool) or self.id < 0):
            raise ValueError(f"bad database id {self.id!r}")

    @classmethod
    def of(cls, item: Measure | Regulation) -> Ref:
        key = item.code if isinstance(item, Measure) else item.key
        return cls(key, item.id)


@dataclass(frozen=True)
class Callback:
    """Decoded callback data; the fields the action's schema names are set, the rest None."""

    action: Action
    ref: Ref | None = None
    kind: str | None = None
    no: int | None = None
    page: int | None = None
    request_id: int | None = None
    miss_id: int | None = None

    @property
    def hit_kind(self) -> Kind | None:
        """For ``s`` and ``te``: which kind of item the suggestion names."""
        return _HIT_KINDS.get(self.kind or "")


def _natural_ok(key: str) -> bool:
    return bool(key) and SEP not in key and not key.startswith("#") and key.isprintable() and key == key.strip()


def _byte_len(text: str) -> int:
    return len(text.encode("utf-8", "surrogatepass"))


def encode(action: Action | str, *args: Ref | str | int) -> str:
    """Callback data for `action` with the schema's fields in order; at most 64 bytes.

    A ``ref`` field takes a `Ref` (or a bare key string, which must fit — no fallback);
    the key is replaced by ``#id`` when it is unsafe or the result would exceed 64 bytes.
    Raises ValueError for an unknown action, wrong arguments, or data that cannot fit.
    """
    act = _ACTIONS.get(str(action))
    if act is None:
        raise ValueError(f"unknown callback action {action!r}")
    fields = SCHEMA[act]
    if len(args) != len(fields):
        raise ValueError(f"action {act.value!r} takes {len(fields)} argument(s) {fields}, got {len(args)}")
    parts: list[str] = [VERSION, act.value]
    ref_index: int | None = None
    ref: Ref | None = None
    for name, arg in zip(fields, args, strict=True):
        if name == "ref":
            ref = arg if isinstance(arg, Ref) else Ref(key=arg) if isinstance(arg, str) else None
            if ref is None:
                raise ValueError(f"action {act.value!r}: a ref must be a Ref or a key string, got {arg!r}")
            ref_index = len(parts)
            parts.append(ref.key if ref.key is not None and _natural_ok(ref.key) else "")
        elif name == "kind":
            if not isinstance(arg, str) or not _KIND_RE.fullmatch(arg):
                raise ValueError(f"action {act.value!r}: bad kind {arg!r}")
            parts.append(arg)
        else:
            if not isinstance(arg, int) or isinstance(arg, bool) or arg < 0:
                raise ValueError(f"action {act.value!r}: {name} must be a non-negative int, got {arg!r}")
            parts.append(str(arg))
    if ref_index is not None and ref is not None:
        data = SEP.join(parts)
        if not parts[ref_index] or _byte_len(data) > MAX_BYTES:
            if ref.id is None:
                raise ValueError(f"key {ref.key!r} does not fit in callback data and no database id was given")
            parts[ref_index] = f"#{ref.id}"
    data = SEP.join(parts)
    if _byte_len(data) > MAX_BYTES:  # a real check, not `assert`: it must hold under python -O too
        raise ValueError(f"callback data longer than {MAX_BYTES} bytes: {data!r}")
    return data


def decode(data: str | None) -> Callback | None:
    """The callback named by `data`, or None for anything malformed, unknown or from another version."""
    if not data or _byte_len(data) > MAX_BYTES:
        return None
    parts = data.split(SEP)
    if len(parts) < 2 or parts[0] != VERSION:
        return None
    action = _ACTIONS.get(parts[1])
    if action is None:
        return None
    fields = SCHEMA[action]
    values = parts[2:]
    if len(values) != len(fields):
        return None
    decoded: dict[str, object] = {}
    for name, raw in zip(fields, values, strict=True):
        if name == "ref":
            if raw.startswith("#"):
                if not _INT_RE.fullmatch(raw[1:]):
                    return None
                decoded["ref"] = Ref(id=int(raw[1:]))
            elif _natural_ok(raw):
                decoded["ref"] = Ref(key=raw)
            else:
                return None
        elif name == "kind":
            if not _KIND_RE.fullmatch(raw):
                return None
            decoded["kind"] = raw
        else:
            if not _INT_RE.fullmatch(raw):
                return None
            decoded[name] = int(raw)
    if action in (Action.SUGGESTION, Action.TEACH) and decoded["kind"] not in _HIT_KINDS:
        return None
    return Callback(
        action,
        ref=_get(decoded, "ref", Ref),
        kind=_get(decoded, "kind", str),
        no=_get(decoded, "no", int),
        page=_get(decoded, "page", int),
        request_id=_get(decoded, "request_id", int),
        miss_id=_get(decoded, "miss_id", int),
    )


def _get(values: Mapping[str, object], name: str, type_: type[_T]) -> _T | None:
    value = values.get(name)
    return value if isinstance(value, type_) else None


# ---- keyboards ------------------------------------------------------------------------------------

def _units(text: str) -> int:
    return len(text) + sum(1 for ch in text if ord(ch) > 0xFFFF)


def _clip(text: str, limit: int = BUTTON_TEXT_MAX) -> str:
    """Plain button text within `limit` UTF-16 units, cut with "…"; never blank."""
    text = " ".join(text.split()) or "…"
    if _units(text) <= limit:
        return text
    kept: list[str] = []
    used = 0
    for ch in text:
        width = 2 if ord(ch) > 0xFFFF else 1
        if used + width > limit - 1:
            break
        kept.append(ch)
        used += width
    return "".join(kept).rstrip() + "…"


def _button(text: str, action: Action, *args: Ref | str | int) -> InlineKeyboardButton:
    return InlineKeyboardButton(_clip(text), callback_data=encode(action, *args))


def measure_keyboard(measure: Measure, *, owner: bool, verifier: bool) -> InlineKeyboardMarkup | None:
    """Buttons under a measure card in a private chat (never in groups).

    `owner`: the viewer is the measure's 责任人 — ✅ 完成 · 📝 进展 · ⏰ 申请延期 while it is
    open, ↩️ 撤回完成 while it waits for sign-off. `verifier`: the viewer may sign it off
    (its 分管领导, or an admin) — ✔️ 销号 · ↩️ 退回 when 已完成. Both get 🕘 办理记录. The services still check
    permissions; the buttons only spare people from offering what they cannot do.
    """
    ref = Ref.of(measure)
    rows: list[list[InlineKeyboardButton]] = []
    if owner and measure.status.is_open:
        row = [_button("✅ 完成", Action.DONE_ASK, ref), _button("📝 进展", Action.PROGRESS, ref)]
        if measure.deadline is not None:
            row.append(_button("⏰ 申请延期", Action.EXTEND, ref))
        rows.append(row)
    if measure.status is MeasureStatus.DONE:
        if verifier:
            rows.append([_button("✔️ 销号", Action.VERIFY, ref), _button("↩️ 退回", Action.REJECT, ref)])
        if owner:
            rows.append([_button("↩️ 撤回完成", Action.DONE_UNDO, ref)])
    if owner or verifier:
        # Who did what and when, with the evidence: what a leader checks before 销号.
        rows.append([_button("🕘 办理记录", Action.TRAIL, ref)])
    return InlineKeyboardMarkup(rows) if rows else None


#: Buttons per row under a measure list: codes are short, and three still read on a phone.
LIST_BUTTONS_PER_ROW = 3


def measures_keyboard(measures: Sequence[Measure]) -> InlineKeyboardMarkup | None:
    """Under a measure list in a private chat: one button per listed measure, opening its card."""
    buttons = [_button(measure.code, Action.MEASURE_OPEN, Ref.of(measure)) for measure in measures]
    rows = [buttons[i : i + LIST_BUTTONS_PER_ROW] for i in range(0, len(buttons), LIST_BUTTONS_PER_ROW)]
    return InlineKeyboardMarkup(rows) if rows else None


def confirm_keyboard(yes_data: str, no_data: str, *, yes_text: str = "✅ 确认",
                     no_text: str = "✖️ 取消") -> InlineKeyboardMarkup:
    """One row: confirm · cancel, with callback data made by `encode`."""
    for data in (yes_data, no_data):
        if decode(data) is None:
            raise ValueError(f"not callback data made by encode(): {data!r}")
    return InlineKeyboardMarkup([[InlineKeyboardButton(_clip(yes_text), callback_data=yes_data),
                                  InlineKeyboardButton(_clip(no_text), callback_data=no_data)]])


def done_confirm_keyboard(measure: Measure) -> InlineKeyboardMarkup:
    ref = Ref.of(measure)
    return confirm_keyboard(encode(Action.DONE_YES, ref), encode(Action.DONE_NO, ref),
                            yes_text="✅ 确认完成")


def verify_confirm_keyboard(measure: Measure) -> InlineKeyboardMarkup:
    ref = Ref.of(measure)
    return confirm_keyboard(encode(Action.VERIFY_YES, ref), encode(Action.DONE_NO, ref), yes_text="✔️ 确认销号")


def extension_keyboard(request_id: int) -> InlineKeyboardMarkup:
    """Under an extension request sent to the leader: approve · refuse."""
    return confirm_keyboard(encode(Action.EXTEND_APPROVE, request_id), encode(Action.EXTEND_REFUSE, request_id),
                            yes_text="✅ 同意延期", no_text="❌ 不同意")


def withdraw_keyboard(request_id: int) -> InlineKeyboardMarkup:
    """Under the confirmation of an extension request, for its requester: take it back."""
    return InlineKeyboardMarkup([[_button("↩️ 撤回申请", Action.EXTEND_WITHDRAW, request_id)]])


def hit_label(hit: Hit) -> str:
    """How a candidate is named to the user (regulation titles come without 《》)."""
    return f"《{hit.title}》" if hit.kind == "regulation" else hit.title


def suggestion_data(hit: Hit, db_id: int | None = None) -> str | None:
    """``s`` data for a candidate; None when its key does not fit and no id is known.

    `db_id` is the regulation's id for regulation/article hits, the measure's for measures.
    """
    try:
        return encode(Action.SUGGESTION, HIT_KIND_CODES[hit.kind], Ref(hit.key, db_id), hit.no or 0)
    except ValueError:
        return None


def suggestion_rows(hits: Sequence[Hit], *,
                    ids: Mapping[tuple[str, str], int] | None = None) -> list[list[InlineKeyboardButton]]:
    """One row per candidate, numbered as in the message text (see `suggestions_keyboard`)."""
    rows: list[list[InlineKeyboardButton]] = []
    for number, hit in enumerate(hits, start=1):
        data = suggestion_data(hit, (ids or {}).get((hit.kind, hit.key)))
        if data is not None:
            rows.append([InlineKeyboardButton(_clip(f"{number}. {hit_label(hit)}"), callback_data=data)])
    return rows


def suggestions_keyboard(hits: Sequence[Hit], *,
                         ids: Mapping[tuple[str, str], int] | None = None) -> InlineKeyboardMarkup | None:
    """One button per candidate, numbered as in the message text.

    `ids` maps (hit.kind, hit.key) to the database id used when a key cannot be written in
    callback data; a candidate whose key does not fit and has no id gets no button (the
    numbered line in the text still names it).
    """
    rows = suggestion_rows(hits, ids=ids)
    return InlineKeyboardMarkup(rows) if rows else None


def page_of(total: int, per_page: int, page: int) -> tuple[int, int]:
    """(page, pages): `page` clamped to the pages `total` items fill, at least one. A button made
    when the list was longer may ask for a page that is gone: it gets the last one."""
    pages = max(1, -(-total // per_page))
    return min(max(page, 0), pages - 1), pages


def pagination_row(page: int, pages: int, action: Action | str, *args: str | int) -> list[InlineKeyboardButton]:
    """« 上一页 · 第 N/M 页 · 下一页 » for 0-based `page`; the page is the action's last field."""
    if pages < 1 or not 0 <= page < pages:
        raise ValueError(f"page {page} outside 0..{pages - 1}")
    row: list[InlineKeyboardButton] = []
    if page > 0:
        row.append(InlineKeyboardButton("« 上一页", callback_data=encode(action, *args, page - 1)))
    row.append(InlineKeyboardButton(f"第 {page + 1}/{pages} 页", callback_data=encode(Action.NOOP)))
    if page < pages - 1:
        row.append(InlineKeyboardButton("下一页 »", callback_data=encode(action, *args, page + 1)))
    return row


def pagination_keyboard(page: int, pages: int, action: Action | str, *args: str | int) -> InlineKeyboardMarkup | None:
    """A keyboard holding only the pagination row; None when everything fits on one page.

    ``pagination_keyboard(1, 4, Action.LIST_PAGE, "od")`` → « (lp|od|0) · 第 2/4 页 · (lp|od|2) ».
    """
    if pages <= 1:
        return None
    return InlineKeyboardMarkup([pagination_row(page, pages, action, *args)])


def teach_rows(miss_id: int, hits: Sequence[Hit],
               ids: Mapping[tuple[str, str], int]) -> list[list[InlineKeyboardButton]]:
    """One 归入 button per candidate (a key too long for the data goes by its database id)."""
    rows: list[list[InlineKeyboardButton]] = []
    for hit in hits:
        try:
            data = encode(Action.TEACH, miss_id, HIT_KIND_CODES[hit.kind], Ref(hit.key, ids.get((hit.kind, hit.key))),
                          hit.no or 0)
        except ValueError:
            continue
        rows.append([InlineKeyboardButton(_clip(f"归入 {hit_label(hit)}"), callback_data=data)])
    return rows
