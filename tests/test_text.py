"""Normalisation of Chinese text, numerals, codes and dates."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.services.text import (
    DateFormatError,
    chinese_to_int,
    code_candidates,
    code_variant_matches,
    find_article_no,
    normalize,
    parse_chat_date,
    parse_deadline,
    parse_file_deadline,
    person_name,
    split_chat_date,
)


def test_normalize_folds_traditional_fullwidth_case_and_punctuation() -> None:
    assert normalize("請假超過３天要誰批？？😀") == "请假超过3天要谁批"
    assert normalize("ＺＧ２０２５００４\u200b 進展") == "zg2025004 进展"


@pytest.mark.parametrize(("numeral", "value"), [("五", 5), ("十", 10), ("十二", 12), ("二十", 20),
                                                ("一百零五", 105), ("两", 2), ("12", 12), ("一万二千", 12000),
                                                # as amounts are said: the digit after 万 is thousands
                                                ("一万二", 12000), ("三千五", 3500), ("一百五", 150),
                                                ("一万零二", 10002)])
def test_chinese_numerals(numeral: str, value: int) -> None:
    assert chinese_to_int(numeral) == value


@pytest.mark.parametrize(("text", "number"), [("工作规程第五条", 5), ("第5条", 5), ("第 12 條", 12),
                                              ("師德評價第十二條說的啥", 12), ("请假怎么批", None)])
def test_article_numbers_in_questions(text: str, number: int | None) -> None:
    assert find_article_no(text) == number


@pytest.mark.parametrize("typed", ["ZG2025004", "zg2025004", "ZG-2025-004", "zg-2025-4", "ＺＧ２０２５００４",
                                   "zg 2025 004"])
def test_code_variants_all_spell_the_same_code(typed: str) -> None:
    candidates = code_candidates(typed + " 进展")
    assert any(code_variant_matches(letters, groups, "ZG2025004") for letters, groups in candidates)
    assert not any(code_variant_matches(letters, groups, "ZG2025040") for letters, groups in candidates)


@pytest.mark.parametrize("typed", ["QZ-2025-08", "QZ2025008", "qz202508", "qz-2025-8", "QZ 2025 0008"])
def test_a_code_with_short_groups_is_found_however_its_zeros_are_typed(typed: str) -> None:
    # Another bureau's codes (QZ-2025-08) pad less than ours: a typist may add the zeros we drop.
    candidates = code_candidates(typed + " 什么时候到期")
    assert any(code_variant_matches(letters, groups, "QZ-2025-08") for letters, groups in candidates)
    assert not any(code_variant_matches(letters, groups, "QZ-2025-80") for letters, groups in candidates)
    assert not any(code_variant_matches(letters, groups, "QZ-2025-18") for letters, groups in candidates)


@pytest.mark.parametrize(("text", "date"), [("2026-12-31", dt.date(2026, 12, 31)), ("2026/1/5", dt.date(2026, 1, 5)),
                                            ("2026年12月31日", dt.date(2026, 12, 31)),
                                            ("2027年2月底", dt.date(2027, 2, 28)), ("长期坚持", None), ("", None)])
def test_deadlines_as_written_in_a_ledger(text: str, date: dt.date | None) -> None:
    assert parse_deadline(text) == date


@pytest.mark.parametrize(("text", "date"), [
    ("2026年底", dt.date(2026, 12, 31)), ("2026年年底前", dt.date(2026, 12, 31)),
    ("2026年底前完成", dt.date(2026, 12, 31)), ("2027年6月底以前完成整改", dt.date(2027, 6, 30)),
    ("2026年12月31日前完成", dt.date(2026, 12, 31)), ("2026年9月30号", dt.date(2026, 9, 30)),
    ("2027年上半年", dt.date(2027, 6, 30)), ("2027年下半年", dt.date(2027, 12, 31)),
    ("2027年第一季度", dt.date(2027, 3, 31)), ("2027年3季度末", dt.date(2027, 9, 30)),
    ("2027年3月上旬", dt.date(2027, 3, 10)), ("2027年3月中旬", dt.date(2027, 3, 20)),
    ("2027年2月下旬", dt.date(2027, 2, 28)),
])
def test_deadlines_as_a_rectification_ledger_words_them(text: str, date: dt.date) -> None:
    assert parse_deadline(text) == date
    assert parse_file_deadline(text) == date


@pytest.mark.parametrize(("text", "said"), [
    ("立行立改", "没有具体日期，请填写应完成的日期"), ("已完成", "是状态而不是日期，请填在“状态”列"),
    ("12月31日前", "请写明年份"), ("2026.12", "无法识别的日期「2026.12」"), ("前完成", "无法识别的日期"),
    ("2026年13月中旬", "不存在的日期「2026年13月中旬」"),
])
def test_ledger_words_that_are_no_deadline_are_refused_saying_what_to_write(text: str, said: str) -> None:
    with pytest.raises(DateFormatError, match=said):
        parse_file_deadline(text)


@pytest.mark.parametrize("text", ["2026-02-30", "下周", "2026-13-01", "明年"])
def test_bad_deadlines_raise_with_the_text(text: str) -> None:
    with pytest.raises(DateFormatError, match=text):
        parse_deadline(text)


@pytest.mark.parametrize(("text", "date"), [
    ("2027-03-31", dt.date(2027, 3, 31)), ("2027年6月底", dt.date(2027, 6, 30)),
    ("明年6月底", dt.date(2027, 6, 30)), ("明年三月", dt.date(2027, 3, 31)), ("明年年底", dt.date(2027, 12, 31)),
    ("6月30日", dt.date(2027, 6, 30)), ("3月31号前", dt.date(2027, 3, 31)),  # no year: the next such day
    ("12月31日", dt.date(2026, 12, 31)), ("年底", dt.date(2026, 12, 31)), ("月底", dt.date(2026, 12, 31)),
    ("下个月底", dt.date(2027, 1, 31)), ("下下个月", dt.date(2027, 2, 28)),
    ("一个月", dt.date(2027, 1, 31)), ("两周", dt.date(2027, 1, 14)), ("30天", dt.date(2027, 1, 30)),
    ("半个月", dt.date(2027, 1, 15)), ("半年", dt.date(2027, 6, 30)),
    ("明年3月中旬", dt.date(2027, 3, 20)), ("3月上旬", dt.date(2027, 3, 10)), ("12月下旬", dt.date(2026, 12, 31)),
    ("2027年3月中旬", dt.date(2027, 3, 20)), ("明年上半年", dt.date(2027, 6, 30)),
    ("明年第三季度", dt.date(2027, 9, 30)), ("2027年底前", dt.date(2027, 12, 31)),
])
def test_a_new_deadline_as_written_in_chat(text: str, date: dt.date) -> None:
    # Spans count from the current deadline (2026-12-31), not from today (2026-12-07).
    assert parse_chat_date(text, dt.date(2026, 12, 7), current=dt.date(2026, 12, 31)) == date


def test_a_span_counts_from_today_once_the_deadline_has_passed() -> None:
    assert parse_chat_date("一个月", dt.date(2026, 12, 7), current=dt.date(2026, 11, 5)) == dt.date(2027, 1, 7)
    assert parse_chat_date("1个月", dt.date(2027, 1, 31), current=None) == dt.date(2027, 2, 28)  # month end kept


@pytest.mark.parametrize(("text", "said"), [("明年2月30日", "不存在的日期"), ("13月", "不存在的日期"),
                                            ("后天", "无法识别的日期「后天」"), ("明年春天", "无法识别的日期")])
def test_a_chat_date_we_cannot_read_is_named(text: str, said: str) -> None:
    with pytest.raises(DateFormatError, match=said):
        parse_chat_date(text, dt.date(2026, 12, 7))


@pytest.mark.parametrize(("text", "split"), [
    ("明年6月底，资金未到位", ("明年6月底", "资金未到位")), ("2027-03-31 资金尚未到位", ("2027-03-31", "资金尚未到位")),
    ("2027-03-31\u3000资金", ("2027-03-31", "资金")), ("延期一个月，原因：等设备", ("一个月", "等设备")),
    ("过段时间 资金未到位", ("过段时间", "资金未到位")),
    # 中旬 is part of the date: read as 3月 it would have asked for the 31st, and 中旬 become the reason.
    ("2027年3月中旬，资金没到位", ("2027年3月中旬", "资金没到位")), ("明年3月下旬 资金", ("明年3月下旬", "资金")),
    ("2027年上半年，资金", ("2027年上半年", "资金")), ("2027年底，资金", ("2027年底", "资金")),
    ("明年第一季度，资金", ("明年第一季度", "资金")),
])
def test_a_typed_answer_splits_into_date_and_reason(text: str, split: tuple[str, str]) -> None:
    assert split_chat_date(text) == split


@given(st.text(max_size=200))
def test_normalize_never_fails_and_is_idempotent(text: str) -> None:
    once = normalize(text)
    assert normalize(once) == once
    assert "  " not in once


@pytest.mark.parametrize(("typed", "stored"), [
    ("张\u3000伟", "张伟"), (" 欧阳  娜娜 ", "欧阳娜娜"), ("Mary   Wang", "Mary Wang"),
    ("阿依古丽·买买提", "阿依古丽·买买提"),
])
def test_a_persons_name_loses_only_the_padding_between_chinese_characters(typed: str, stored: str) -> None:
    assert person_name(typed) == stored
