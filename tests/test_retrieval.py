"""The BM25 segment scores every document as the textbook formula does, term by term."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest

from bot.services.retrieval import DocTerms, Segment, SynonymTable, bm25_idf, top_k

DOCUMENTS: list[DocTerms] = [
    ([("干部请假三天以内由科室负责人审批", 1.0)], [("w:请假", 1.0), ("w:审批", 1.0)]),
    ([("请假超过三天报分管领导审批", 1.0), ("请假", 2.0)], [("w:请假", 1.0)]),
    ([("公务用车实行统一管理", 1.0)], [("w:公车", 0.5), ("s:7", 1.0)]),
    ([("", 1.0)], []),  # an empty document still has a score (zero) and a length
    ([("党员学习制度每月一次集中学习", 1.0)], [("a:zg2025004", 1.0)]),
]


def textbook(documents: list[DocTerms], query: list[tuple[str, float]], idf: dict[str, float]) -> list[float]:
    """Term frequencies counted in plain Python, then BM25 as written in the textbooks."""
    counts: list[dict[str, float]] = []
    for texts, terms in documents:
        tf: dict[str, float] = defaultdict(float)
        for text, weight in texts:
            for i in range(len(text) - 1):
                tf[text[i : i + 2]] += weight
        for term, weight in terms:
            tf[term] += weight
        counts.append(tf)
    lengths = [sum(tf.values()) for tf in counts]
    average = sum(lengths) / len(lengths)
    k1, b = Segment.K1, Segment.B
    scores = []
    for tf, length in zip(counts, lengths, strict=True):
        norm = k1 * (1 - b + b * length / average)
        scores.append(sum(weight * idf.get(term, 0.0) * tf[term] * (k1 + 1) / (tf[term] + norm)
                          for term, weight in query if tf.get(term)))
    return scores


QUERIES = {
    "bigrams and words": [("请假", 1.0), ("审批", 1.0), ("w:请假", 1.0), ("三天", 0.5)],
    "a term asked twice counts twice": [("请假", 1.0), ("请假", 1.0)],
    "unknown terms are ignored": [("天气", 1.0), ("w:天气", 1.0), ("p:tian qi", 0.5), ("学习", 1.0)],
    "codes and synonym groups": [("a:zg2025004", 1.0), ("s:7", 1.0), ("w:公车", 1.0)],
    "nothing known": [("天气", 1.0)],
    "empty": [],
}


@pytest.mark.parametrize("name", list(QUERIES))
def test_segment_scores_match_the_textbook_formula(name: str) -> None:
    segment = Segment(DOCUMENTS)
    query = QUERIES[name]
    idf = {term: bm25_idf(segment.document_frequency(term), len(DOCUMENTS)) for term, _ in query}
    scores = segment.score(query, idf, None)
    assert scores.dtype == np.float32 and scores.shape == (len(DOCUMENTS),)
    assert scores.tolist() == pytest.approx(textbook(DOCUMENTS, query, idf), rel=1e-5, abs=1e-6)


def test_document_frequency_counts_documents_not_occurrences() -> None:
    segment = Segment(DOCUMENTS)
    assert segment.document_frequency("请假") == 2
    assert segment.document_frequency("w:请假") == 2
    assert segment.document_frequency("天气") == 0
    assert segment.document_frequency("w:天气") == 0


def test_excluded_documents_score_zero_and_the_rest_are_untouched() -> None:
    segment = Segment(DOCUMENTS)
    query = [("请假", 1.0), ("审批", 1.0)]
    idf = {"请假": 1.0, "审批": 2.0}
    exclude = np.array([True, False, False, False, False])
    scores = segment.score(query, idf, exclude)
    assert scores[0] == 0.0
    assert scores.tolist()[1:] == pytest.approx(textbook(DOCUMENTS, query, idf)[1:], rel=1e-5)


def test_an_empty_segment_scores_nothing() -> None:
    assert Segment([]).score([("请假", 1.0)], {"请假": 1.0}, None).size == 0
    assert Segment([([("", 1.0)], [])]).score([("请假", 1.0)], {"请假": 1.0}, None).tolist() == [0.0]


def test_top_k_returns_the_best_positive_scores_best_first() -> None:
    scores = np.array([0.5, 0.0, 2.0, 1.0, -1.0], dtype=np.float32)
    assert top_k(scores, 2) == [2, 3]
    assert top_k(scores, 10) == [2, 3, 0]
    assert top_k(np.zeros(0, dtype=np.float32), 3) == []


def test_a_synonym_phrase_also_says_the_members_it_contains(tmp_path: Path) -> None:
    table_file = tmp_path / "synonyms.yaml"
    table_file.write_text("- [住宿费, 房费]\n- [酒店, 住宿, 宾馆]\n- [公车, 公务用车]\n", encoding="utf-8")
    table = SynonymTable.load(table_file)
    # 住宿费 is matched as the longer phrase, yet a text about it is about 住宿 too (酒店 finds it) …
    assert table.group_ids("住宿费据实报销") == {0, 1}
    # … while the reverse does not hold: plain 住宿 says nothing about 住宿费.
    assert table.group_ids("当地住宿的") == {1}
    assert table.group_ids("没有同义词") == set()


def test_without_the_thesaurus_package_answers_go_on_without_general_synonyms(
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    import importlib.util

    from bot.services import retrieval

    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    retrieval.thesaurus.cache_clear()
    try:
        assert retrieval.thesaurus() == {}
        assert "general thesaurus not found" in caplog.text
    finally:
        retrieval.thesaurus.cache_clear()  # the real table for the tests after this one
