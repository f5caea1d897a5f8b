"""Text normalisation for Chinese questions, codes, numerals and dates.

Everything that compares user text with stored text goes through `normalize` first, so
traditional characters, full-width forms, case, punctuation and emoji never matter.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
import unicodedata
from functools import lru_cache
from pathlib import Path

import opencc
from opencc import OpenCC

_T2S = OpenCC("t2s")


def _traditional_characters() -> frozenset[str]:
    """Every character OpenCC's t2s tables could change: text without one is left as is, which
    spares the (pure Python) conversion for the simplified text that makes up our documents."""
    chars: set[str] = set()
    dictionary = Path(opencc.__file__).parent / "dictionary"
    for name in ("TSCharacters.txt", "TSPhrases.txt"):
        for line in (dictionary / name).read_text(encoding="utf-8").splitlines():
            key, _, values = line.partition("\t")
            first = values.split(" ")[0] if values else key
            if len(first) != len(key):
                chars.update(key)
                continue
            # Only characters that actually change: 于 maps to itself and must not force a conversion.
            chars.update(k for k, v in zip(key, first, strict=True) if k != v)
    return frozenset(chars)


_TRADITIONAL = _traditional_characters()
# Anything that is not a letter or digit (in any script) separates words: punctuation, symbols, emoji.
_NOT_WORD = re.compile(r"[\W_]+")

# Invisible characters people paste from Word or WeChat: zero-width, bidi controls, BOM.
_INVISIBLE = re.compile("[\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff\u00ad]")
# Full-width punctuation and the ideographic space: in almost every Chinese text, and NFKC would
# only turn them into ASCII punctuation that `normalize` drops anyway.
_WIDE_PUNCTUATION = re.compile("[\u3000\uff01-\uff0f\uff1a-\uff20\uff3b-\uff40\uff5b-\uff65]+")
_SPACES = re.compile(r"\s+")
# Control characters that are not whitespace: never meant to be shown, and PostgreSQL refuses NUL in text.
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1b\x7f-\x84\x86-\x9f]")

_CN_DIGITS = {"零": 0, "〇": 0, "○": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4,
              "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_CN_UNITS = {"十": 10, "百": 100, "千": 1000, "万": 10000}
_CN_NUMBER = "零〇○一二两三四五六七八九十百千万"


def to_simplified(text: str) -> str:
    if _TRADITIONAL.isdisjoint(text):
        return text
    return str(_T2S.convert(text))


@lru_cache(maxsize=4096)
def normalize(text: str) -> str:
    """Canonical form for matching: simplified, half-width, lower-case, letters/digits/spaces only.

    >>> normalize("請假超過３天要誰批？？😀")
    '请假超过3天要谁批'
    """
    text = _WIDE_PUNCTUATION.sub(" ", _INVISIBLE.sub("", text))
    # NFKC folds full-width letters and digits and compatibility forms (①, ㎡) into plain ones; the
    # quick check spares the full pass for the (usual) text that has none once punctuation is gone.
    if not unicodedata.is_normalized("NFKC", text):
        text = unicodedata.normalize("NFKC", text)
    text = to_simplified(text).lower()
    return _NOT_WORD.sub(" ", text).strip()


def compact(text: str) -> str:
    """`normalize` without spaces: Chinese has none, so gaps typed by users carry no meaning."""
    return normalize(text).replace(" ", "")


def clean_display(text: str, limit: int | None = None) -> str:
    """Tidy user text for storing or echoing: invisible and control characters gone, whitespace collapsed."""
    text = _SPACES.sub(" ", _CONTROL.sub("", _INVISIBLE.sub("", text))).strip()
    if limit is not None and len(text) > limit:
        text = text[: limit - 1] + "…"
    return text


# A line break in a cell: Alt+Enter in Excel (\n), \r\n or \r from a CSV, and the line and
# paragraph separators Word and WeChat paste.
_LINE_BREAK = re.compile("\r\n|[\n\r\x0b\x0c\x85\u2028\u2029]")
_BLANK_LINES = re.compile(r"\n{3,}")


def clean_multiline(text: str) -> str:
    """`clean_display` for long text that keeps its lines (a numbered list of 整改措施): every
    line tidied as `clean_display` tidies a whole text, line breaks made \n, at most one blank
    line in a row and none at the start or end. Text without a line break comes out exactly as
    `clean_display` gives it."""
    lines = [clean_display(line) for line in _LINE_BREAK.split(text)]
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip("\n")


_GAP_IN_HAN_NAME = re.compile(r"(?<=[\u3400-\u9fff])\s+(?=[\u3400-\u9fff])")


def person_name(text: str) -> str:
    """A person's name as stored: 张　伟 (padded to three characters in a spreadsheet, or typed with
    a space) is 张伟; Latin and transliterated names keep their single spaces (Mary Wang)."""
    return _GAP_IN_HAN_NAME.sub("", clean_display(text))


def cn_date(day: dt.date) -> str:
    """2027年3月31日: how cards, answers and messages write a date for staff."""
    return f"{day.year}年{day.month}月{day.day}日"


def chinese_to_int(numeral: str) -> int | None:
    """'十二' → 12, '一百零五' → 105, '两' → 2, '12' → 12; None when it is not a number.

    A digit right after 百, 千 or 万 is the next place down, as people say amounts: 一万二 is
    12000 and 三千五 is 3500 (一万零二, with the 零, is 10002)."""
    numeral = numeral.strip()
    if not numeral:
        return None
    if numeral.isdigit():
        return int(numeral)
    if any(c not in _CN_NUMBER for c in numeral):
        return None
    total, section, digit = 0, 0, None
    last_unit = 1
    for char in numeral:
        if char in _CN_DIGITS:
            digit = _CN_DIGITS[char]
            continue
        unit = last_unit = _CN_UNITS[char]
        if unit == 10000:
            section = (section + (digit or 0)) * unit
            total += section
            section = 0
        else:
            # A bare unit at the start means one of it: 十二 = 12.
            section += (1 if digit is None else digit) * unit
        digit = None
    if digit and last_unit >= 100 and numeral[-2] in _CN_UNITS:
        return total + section + digit * last_unit // 10
    return total + section + (digit or 0)


_ARTICLE_REF = re.compile(rf"第?\s*([0-9]+|[{_CN_NUMBER}]+)\s*条")


def find_article_no(text: str) -> int | None:
    """The article number a question refers to: 第五条 / 第5条 / 5条 → 5."""
    match = _ARTICLE_REF.search(normalize(text))
    if not match:
        return None
    number = chinese_to_int(match.group(1))
    return number if number and number > 0 else None


def parse_article_no(value: object) -> int | None:
    """An article number given in a data file: 3, '3', '第三条'."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value > 0 else None
    if isinstance(value, float) and value.is_integer():
        return int(value) if value > 0 else None
    if isinstance(value, str):
        text = value.strip().removeprefix("第").removesuffix("条").strip()
        number = chinese_to_int(text)
        return number if number and number > 0 else None
    return None


# ---- measure codes ------------------------------------------------------------------------------

_CODE_CANDIDATE = re.compile(r"[a-z]{0,8}[\s\-_/#.]*[0-9]+(?:[\s\-_/#.]+[0-9]+)*")  # codes are ASCII
_NON_ALNUM = re.compile(r"[^0-9A-Z]")


def code_key(code: str) -> str:
    """Canonical spelling of a measure code: upper-case letters and digits only."""
    if not code.isascii():  # full-width letters and digits: fold them first
        code = unicodedata.normalize("NFKC", code)
    return _NON_ALNUM.sub("", code.upper())


def code_hash(code: str) -> str:
    """A lossy key under which spellings differing only in zero padding collide.

    'ZG2025004' and 'zg-2025-4' both hash to 'ZG2254'; candidates are then confirmed
    with `code_variant_matches`.
    """
    return code_key(code).replace("0", "")


def code_candidates(text: str) -> list[tuple[str, list[str]]]:
    """Possible codes in a question: (letters, digit groups) for each alphanumeric run."""
    found = []
    for match in _CODE_CANDIDATE.finditer(normalize(text)):
        run = match.group(0)
        letters = re.match(r"[a-z]*", run)
        prefix = letters.group(0).upper() if letters else ""
        groups = re.findall(r"[0-9]+", run)
        if sum(len(g) for g in groups) >= 3 or prefix:
            found.append((prefix, groups))
    return found


def code_variant_matches(letters: str, groups: list[str], code: str) -> bool:
    """Does a typed (letters, digit groups) spell `code`, allowing dropped or added zero padding?"""
    canonical = code_key(code)
    code_letters = re.match(r"[A-Z]*", canonical)
    prefix = code_letters.group(0) if code_letters else ""
    if letters and letters != prefix:
        return False
    if re.fullmatch(_padded(groups), canonical[len(prefix):]) is not None:
        return True
    # Or the other way round: the code's own groups padded where the typist did not separate
    # them (QZ2025008 for QZ-2025-08).
    stored = re.findall(r"[0-9]+", unicodedata.normalize("NFKC", code))
    return len(stored) > 1 and re.fullmatch(_padded(stored), "".join(groups)) is not None


def _padded(groups: list[str]) -> str:
    """Digit groups, each with any number of leading zeros (typed codes drop or add padding)."""
    return "".join(f"0*{re.escape(g.lstrip('0') or '0')}" for g in groups)


# ---- dates --------------------------------------------------------------------------------------

_OPEN_ENDED = {"长期", "长期坚持", "持续推进", "持续", "常态化", "长期推进"}
_ISO_DATE = re.compile(r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*[日号]?")
_MONTH_END = re.compile(r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*月?\s*(?:底|末)?")
# How a 整改台账 words the rest of a deadline: 2026年底前完成, 2026年6月底以前完成整改.
_DEADLINE_TAIL = re.compile(r"\s*(?:前|之前|以前)?\s*(?:完成|完成整改|整改完成|整改到位|办结|完成销号)?\s*$")
_YEAR_END = re.compile(r"(\d{4})\s*年\s*(?:年底|年末|底|末)")
_HALF_YEAR = re.compile(r"(\d{4})\s*年\s*([上下])半年(?:底|末)?")
_QUARTER = re.compile(r"(\d{4})\s*年\s*第?\s*([一二三四1-4])\s*季度(?:底|末)?")
# 上旬 ends on the 10th, 中旬 on the 20th, 下旬 with the month.
_TEN_DAYS = re.compile(r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*月\s*([上中下])旬(?:末)?")
#: Words that stand in a 台账's deadline column but are no date, with what to write instead.
_NOT_A_DEADLINE = {
    "立行立改": "“立行立改”没有具体日期，请填写应完成的日期（已完成的可填实际完成日期）",
    "即知即改": "“即知即改”没有具体日期，请填写应完成的日期（已完成的可填实际完成日期）",
    "已完成": "“已完成”是状态而不是日期，请填在“状态”列，并在此填写完成时限",
    "已整改": "“已整改”是状态而不是日期，请填在“状态”列，并在此填写完成时限",
}


#: At most this many characters of what was typed are quoted back in an error.
_SHOWN = 40


class DateFormatError(ValueError):
    """A date that cannot be read. `unrecognised`: the text is in no date form at all (so a caller
    may list the forms it accepts), as opposed to a known form naming no real day (2027-02-30)
    or a word that is no date (立行立改), which the message has already explained."""

    def __init__(self, message: str, *, unrecognised: bool = False) -> None:
        super().__init__(message)
        self.unrecognised = unrecognised


def parse_deadline(value: object) -> dt.date | None:
    """A deadline as written in a 台账: 2026-12-31, 2026/12/31, 2026年12月31日, 2026年12月底,
    2026年底, 2026年上半年, 2026年第三季度, 2026年12月中旬, each may be followed by 前 and 完成
    (2026年底前完成); or an open-ended 长期坚持 (None). Anything else raises DateFormatError."""
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    text = unicodedata.normalize("NFKC", str(value)).strip()
    if not text or text in _OPEN_ENDED:
        return None
    if text in _NOT_A_DEADLINE:
        raise DateFormatError(f"「{text}」：{_NOT_A_DEADLINE[text]}")
    day = _DEADLINE_TAIL.sub("", text) or text
    try:
        if match := _ISO_DATE.fullmatch(day):
            return dt.date(int(match.group(1)), int(match.group(2)), int(match.group(3)))
        # 2026.12 alone stays unread: Excel turns 2026.10 into the number 2026.1.
        if (match := _MONTH_END.fullmatch(day)) and re.search("[月底末]", day):
            return month_end(int(match.group(1)), int(match.group(2)))
        if match := _YEAR_END.fullmatch(day):
            return dt.date(int(match.group(1)), 12, 31)
        if match := _HALF_YEAR.fullmatch(day):
            return month_end(int(match.group(1)), 6 if match.group(2) == "上" else 12)
        if match := _QUARTER.fullmatch(day):
            quarter = "一二三四".find(match.group(2)) + 1 or int(match.group(2))
            return month_end(int(match.group(1)), 3 * quarter)
        if match := _TEN_DAYS.fullmatch(day):
            year, month = int(match.group(1)), int(match.group(2))
            part = match.group(3)
            return month_end(year, month) if part == "下" else dt.date(year, month, 10 if part == "上" else 20)
    except ValueError as exc:
        raise DateFormatError(f"不存在的日期「{clean_display(text, _SHOWN)}」") from exc
    # Quoted shortened: a pasted essay must not come back whole.
    raise DateFormatError(f"无法识别的日期「{clean_display(text, _SHOWN)}」，"
                          "应为 YYYY-MM-DD（如 2026-12-31）或“长期坚持”", unrecognised=True)


#: The deadlines a 台账 file may hold, as its error messages list them.
FILE_DATE_FORMS = "2026-12-31、2026/12/31、2026年12月31日、2026年12月底、2026年底前，或“长期坚持”"
#: Deadlines in a file must fall in these years: 1900-01-01 is Excel's date 0 (an empty cell
#: or a formula's 0 shown as a date), not a deadline anyone set.
FILE_DEADLINE_FIRST = dt.date(2000, 1, 1)
FILE_DEADLINE_LAST = dt.date(2099, 12, 31)
# Excel counts days from 1899-12-30 (in its 1900 date system, for every date after February 1900).
_EXCEL_EPOCH = dt.date(1899, 12, 30)
_EXCEL_SERIAL = re.compile(r"(\d{5})(?:\.0+)?")
# A date with the time of midnight, as databases and pandas write a date column.
_AT_MIDNIGHT = re.compile(r"(.+?)(?:\s+|T)0?0:00(?::00(?:\.0+)?)?")


def parse_file_deadline(value: object) -> dt.date | None:
    """A deadline from a 台账 file: any `parse_deadline` form; also with the time 00:00:00
    (2026-12-31 00:00:00) and an Excel date serial number typed or pasted as a plain number
    (46387 is 2026-12-31). The date must fall in 2000–2099. Raises DateFormatError, listing
    the accepted forms when the text is no date at all."""
    if isinstance(value, dt.date):
        day = value.date() if isinstance(value, dt.datetime) else value
        return _deadline_in_range(day, day.isoformat())
    if value is None:
        return None
    text = unicodedata.normalize("NFKC", str(value)).strip()
    serial = _EXCEL_SERIAL.fullmatch(text)
    if serial and (FILE_DEADLINE_FIRST - _EXCEL_EPOCH).days <= int(serial.group(1)) \
            <= (FILE_DEADLINE_LAST - _EXCEL_EPOCH).days:
        return _EXCEL_EPOCH + dt.timedelta(days=int(serial.group(1)))
    midnight = _AT_MIDNIGHT.fullmatch(text)
    day_text = midnight.group(1) if midnight else text
    try:
        date = parse_deadline(day_text)
    except DateFormatError as exc:
        if not exc.unrecognised:
            raise  # a date in a known form that does not exist (2027-02-30), or 立行立改: said so already
        yearless = re.search("[月底末]", text) and not re.search(r"\d{4}", text)
        hint = "（请写明年份，如 2026年12月底）" if yearless else ""
        shown = clean_display(text, _SHOWN)
        raise DateFormatError(f"无法识别的日期「{shown}」，应为 {FILE_DATE_FORMS}{hint}") from None
    return None if date is None else _deadline_in_range(date, clean_display(text, _SHOWN))


def _deadline_in_range(date: dt.date, shown: str) -> dt.date:
    if FILE_DEADLINE_FIRST <= date <= FILE_DEADLINE_LAST:
        return date
    zero = "；1900 年的日期多是 Excel 把空白或 0 显示成了日期" if date.year < 1901 else ""
    raise DateFormatError(f"日期「{shown}」不在 {FILE_DEADLINE_FIRST.year} 年至 {FILE_DEADLINE_LAST.year} 年之间"
                          f"，请检查年份{zero}")


# How staff write a new deadline in chat, beyond the 台账 forms: 明年6月底, 3月31日, 年底, 下个月底,
# or by how much (延期一个月, 推迟两周). A bare month (6月) means its end, as 6月底 does.
_NUM = r"(?:[0-9]{1,2}|[一二两三四五六七八九十]{1,3})"
_YEAR_WORD = r"(?:今年|明年|后年)"
# A part of a year or month: 上半年 (June 30), 第一季度 (March 31), 中旬 (the 20th).
_YEAR_PART = r"(?:[上下]半年|第?\s*[一二三四1-4]\s*季度)(?:底|末)?"
CHAT_DATE = (
    r"\d{4}\s*[-/.年]\s*\d{1,2}\s*(?:[-/.月]\s*\d{1,2}\s*[日号]?|月\s*[上中下]旬|月?\s*(?:底|末)|月)"
    rf"|\d{{4}}\s*年\s*(?:年?(?:底|末)|{_YEAR_PART})"
    rf"|{_YEAR_WORD}?\s*{_NUM}\s*月\s*(?:{_NUM}\s*[日号]|[上中下]旬|底|末|份)?"
    rf"|{_YEAR_WORD}\s*{_YEAR_PART}"
    rf"|{_YEAR_WORD}?年?(?:底|末)"
    r"|(?:本|这个?|下下?个?)月(?:底|末)?|月(?:底|末)"
    rf"|{_NUM}\s*(?:个\s*月|个?\s*(?:星期|礼拜)|周|天)|半个?月|半年"
)
_CHAT_DATE = re.compile(rf"(?:{CHAT_DATE})(?:前|之前|以前)?")
# 3个月 is a span but 3月 is March; 3日 is a day of the month, not three days.
_SPAN = re.compile(rf"(?P<n>{_NUM})\s*(?:个\s*(?P<months>月)|个?\s*(?:星期|礼拜)|周|(?P<days>天))")
_MONTH_DAY = re.compile(rf"(?P<year>{_YEAR_WORD})?\s*(?P<month>{_NUM})\s*月\s*"
                        rf"(?:(?P<day>{_NUM})\s*[日号]|(?P<part>[上中下])旬)?")
_YEAR_WORD_PART = re.compile(rf"(?P<year>{_YEAR_WORD})\s*"
                             r"(?:(?P<half>[上下])半年|第?\s*(?P<quarter>[一二三四1-4])\s*季度)")


#: Asking for more time: 申请延期到, 延长时限至, 推迟 ….
EXTENSION_VERB = r"(?:申请)?(?:延期|延长|推迟|顺延)(?:时限)?(?:到|至)?"
#: A new deadline and then why: "明年6月底，资金未到位", "2027-03-31 原因：……".
DATE_AND_REASON = (rf"\s*(?P<date>(?:{CHAT_DATE})(?:前|之前|以前)?)"
                   r"[\s，,；;。.]*(?:(?:原因|理由)(?:是)?\s*[：:]?\s*|因为)?(?P<reason>.*)")
_LEADING_DATE = re.compile(rf"(?:{EXTENSION_VERB})?{DATE_AND_REASON}", re.DOTALL)


def split_chat_date(text: str) -> tuple[str, str]:
    """(new deadline, reason) from an answer such as "明年6月底，资金未到位" or "2027-03-31 资金":
    the date as typed (for `parse_chat_date`) and the rest. Without a date form at the start, the
    first word is taken for the date so that the error names it."""
    plain = unicodedata.normalize("NFKC", text).strip()
    found = _LEADING_DATE.match(plain)
    if found:
        return found.group("date").strip(), found.group("reason").strip()
    first, rest = [*plain.split(None, 1), "", ""][:2]
    return first, rest.strip()


def month_end(year: int, month: int) -> dt.date:
    return dt.date(year, month, calendar.monthrange(year, month)[1])


def add_months(day: dt.date, months: int) -> dt.date:
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def parse_chat_date(text: str, today: dt.date, *, current: dt.date | None = None) -> dt.date:
    """A new deadline as typed in chat: any `parse_deadline` form, or 明年6月底 / 3月31日 (the next
    such day) / 年底 / 下个月底 / 一个月 (added to the current deadline, or to today once that has
    passed). Raises DateFormatError, naming what was typed."""
    plain = re.sub(r"(?:前|之前|以前)$", "", unicodedata.normalize("NFKC", text).strip())
    try:
        if re.match(r"\d{4}", plain):
            return parse_iso_date(plain)
        if _CHAT_DATE.fullmatch(plain):
            return _chat_date(plain.replace(" ", ""), today, current)
    except ValueError as exc:
        if isinstance(exc, DateFormatError):
            raise
        raise DateFormatError(f"不存在的日期「{clean_display(text, _SHOWN)}」") from exc
    raise DateFormatError(f"无法识别的日期「{clean_display(text, _SHOWN)}」，"
                          "应为 2027-03-31、2027年3月底、明年3月底或“延期一个月”这样的写法")


def _chat_date(plain: str, today: dt.date, current: dt.date | None) -> dt.date:
    offset = {"今年": 0, "明年": 1, "后年": 2}
    base = max(current, today) if current else today  # what a span (延期一个月) counts from
    if plain.startswith("半"):
        return add_months(base, 6) if plain == "半年" else base + dt.timedelta(days=15)
    span = _SPAN.fullmatch(plain)
    if span:
        n = chinese_to_int(span.group("n")) or 0
        if span.group("months"):
            return add_months(base, n)
        return base + dt.timedelta(days=n if span.group("days") else 7 * n)
    if plain.endswith(("年底", "年末")) or plain in ("底", "末"):
        return dt.date(today.year + offset.get(plain[:2], 0), 12, 31)
    part = _YEAR_WORD_PART.match(plain)
    if part:  # 明年上半年, 明年第一季度
        year = today.year + offset[part.group("year")]
        quarter = part.group("quarter")
        months = (6 if part.group("half") == "上" else 12) if quarter is None else \
            3 * ("一二三四".find(quarter) + 1 or int(quarter))
        return month_end(year, months)
    if "月" in plain and not _MONTH_DAY.match(plain):
        # 本月底 / 这个月底 / 下个月底 / 下下个月 / 月底
        ahead = plain.count("下")
        start = add_months(today.replace(day=1), ahead)
        return month_end(start.year, start.month)
    found = _MONTH_DAY.match(plain)
    assert found is not None  # _CHAT_DATE matched one of the forms above
    month = chinese_to_int(found.group("month")) or 0
    day_text = found.group("day")
    if not 1 <= month <= 12:
        raise ValueError(month)
    year = today.year + offset.get(found.group("year") or "", 0)

    def on(year: int) -> dt.date:
        if day_text:
            return dt.date(year, month, chinese_to_int(day_text) or 0)
        ten_days = {"上": 10, "中": 20}.get(found.group("part") or "")  # 下旬 ends with the month
        return dt.date(year, month, ten_days) if ten_days else month_end(year, month)

    date = on(year)
    if not found.group("year") and date < today:
        date = on(year + 1)  # 3月31日 said in December: next year's
    return date


def parse_iso_date(text: str) -> dt.date:
    """A date typed in chat or on the command line (same forms as `parse_deadline`, but required)."""
    date = parse_deadline(text)
    if date is None:
        raise DateFormatError(f"缺少日期，应为 YYYY-MM-DD（如 2026-12-31），收到「{clean_display(text, _SHOWN)}」")
    return date
