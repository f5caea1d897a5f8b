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
    parse_deadline,
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


@pytest.mark.parametrize("text", ["2026-02-30", "下周", "2026-13-01", "明年"])
def test_bad_deadlines_raise_with_the_text(text: str) -> None:
    with pytest.raises(DateFormatError, match=text):
        parse_deadline(text)


@given(st.text(max_size=200))
def test_normalize_never_fails_and_is_idempotent(text: str) -> None:
    once = normalize(text)
    assert normalize(once) == once
    assert "  " not in once
