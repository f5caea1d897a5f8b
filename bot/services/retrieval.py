"""Ranked retrieval for Chinese text: analysis into terms, and BM25 over numpy postings.

Domain-free: `answers.py` decides what the documents are and how to read the scores.

Terms of a text (namespaced by prefix so they never collide):
- character bigrams of the normalised text ("请假", "假三") — robust to segmentation;
- "w:" jieba words (with the domain dictionary) — whole-word precision;
- "p:" pinyin-syllable bigrams ("p:zhi du") — homophone typos typed with a pinyin IME;
- "a:" ASCII words and numbers ("a:52", "a:zg2025004");
- "s:" synonym-group ids — 公车 and 公务用车 share "s:12".
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import jieba
import numpy as np
import numpy.typing as npt
import yaml
from pypinyin.pinyin_dict import pinyin_dict

from bot.services.text import normalize

log = logging.getLogger(__name__)

_CJK = re.compile(r"[\u3400-\u9fff]")
_ASCII_WORD = re.compile(r"[a-z0-9]+")
_TONE_MARKS = str.maketrans("āáǎàēéěèīíǐìōóǒòūúǔùǖǘǚǜüńňǹḿ", "aaaaeeeeiiiioooouuuuvvvvvnnnm")


@lru_cache(maxsize=65536)
def syllable(char: str) -> str:
    """Toneless pinyin of one character (first reading); the character itself if none."""
    readings = pinyin_dict.get(ord(char))
    if not readings:
        return char
    return str(readings.split(",", 1)[0]).translate(_TONE_MARKS)


def pinyin_of(text: str) -> list[str]:
    return [syllable(c) for c in text]


@dataclass(frozen=True)
class SynonymTable:
    """Groups of interchangeable terms (两基 ↔ 基本普及九年义务教育…); longest match first."""

    groups: dict[str, int]  # compact phrase -> group id
    pattern: re.Pattern[str] | None

    @classmethod
    def load(cls, path: Path | None) -> SynonymTable:
        groups: dict[str, int] = {}
        if path is not None and path.is_file():
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or []
            for group_id, group in enumerate(data):
                for phrase in group:
                    key = normalize(str(phrase)).replace(" ", "")
                    if key:
                        groups.setdefault(key, group_id)
        if not groups:
            return cls({}, None)
        alternatives = sorted(groups, key=len, reverse=True)
        return cls(groups, re.compile("|".join(map(re.escape, alternatives))))

    def group_ids(self, compact_text: str) -> set[int]:
        if self.pattern is None:
            return set()
        return {self.groups[m.group(0)] for m in self.pattern.finditer(compact_text)}

    def group_spans(self, compact_text: str) -> list[tuple[int, int]]:
        """(group id, characters covered) for each member found in the text."""
        if self.pattern is None:
            return []
        return [(self.groups[m.group(0)], len(m.group(0))) for m in self.pattern.finditer(compact_text)]

    def members(self, group_id: int) -> list[str]:
        return [phrase for phrase, gid in self.groups.items() if gid == group_id]


class Analyzer:
    """Turns text into weighted terms; one instance per process (jieba's dictionary is large)."""

    def __init__(self, dictionary: Path | None = None, synonyms: Path | None = None) -> None:
        self._jieba = jieba.Tokenizer()
        self._jieba.initialize()
        self._log_total = math.log(self._jieba.total)
        self.domain_words: set[str] = set()
        if dictionary is not None and dictionary.is_file():
            for line in dictionary.read_text(encoding="utf-8").splitlines():
                if line.strip() and not line.startswith("#"):
                    self.add_word(line.split()[0])
        self.synonyms = SynonymTable.load(synonyms)
        for phrase in self.synonyms.groups:
            self.add_word(phrase)

    def add_word(self, word: str) -> None:
        """Teach the segmenter a domain word (names, units, titles) so it is never split."""
        word = word.strip()
        if len(word) >= 2 and word not in self.domain_words:
            self.domain_words.add(word)
            self._jieba.add_word(word, freq=20000)

    def specificity(self, word: str) -> float:
        """How informative a word is in general Chinese: log(1/frequency), ~7 for 一般 or 现在,
        ~12 for 请假, higher for rare words. Domain words count as informative."""
        if word in self.domain_words:
            return 14.0
        return self._log_total - math.log(self._jieba.FREQ.get(word, 0) + 1)

    def words(self, compact_text: str) -> list[str]:
        return [w for w in self._jieba.lcut(compact_text, HMM=True) if w.strip()]

    def terms(
        self, text: str, *, words: bool = True, pinyin: bool = True, already_normal: bool = False
    ) -> list[str]:
        normal = text if already_normal else normalize(text)
        out: list[str] = []
        for chunk in normal.split(" "):
            out.extend(self._chunk_terms(chunk, words=words, pinyin=pinyin))
        return out

    def _chunk_terms(self, chunk: str, *, words: bool, pinyin: bool) -> list[str]:
        if not chunk:
            return []
        out = [f"a:{w}" for w in _ASCII_WORD.findall(chunk)]
        # Bigrams only inside runs of Chinese: "zg2025004进展" must not yield "4进".
        for run in re.findall(r"[\u3400-\u9fff]+", chunk):
            if len(run) == 1:
                out.append(f"u:{run}")
                continue
            out.extend(run[i : i + 2] for i in range(len(run) - 1))
            if pinyin:
                syllables = pinyin_of(run)
                out.extend(f"p:{syllables[i]} {syllables[i + 1]}" for i in range(len(run) - 1))
        if words:
            out.extend(f"w:{w}" for w in self.words(chunk) if len(w) >= 2 and _CJK.search(w))
        out.extend(f"s:{gid}" for gid in self.synonyms.group_ids(chunk))
        return out


FloatArray = npt.NDArray[np.float32]
IntArray = npt.NDArray[np.int32]


class Segment:
    """An immutable BM25 index over a list of documents, each a list of (term, weight) pairs.

    Postings are numpy arrays, so a query touching a term present in 100,000 documents
    costs one vectorised operation rather than a Python loop.
    """

    K1 = 1.2
    B = 0.5  # mild length normalisation: measure texts vary a lot in length but not in topic

    def __init__(self, documents: Sequence[Iterable[tuple[str, float]]]) -> None:
        self.size = len(documents)
        vocabulary: dict[str, int] = {}
        term_ids: list[int] = []
        doc_ids: list[int] = []
        weights: list[float] = []
        lengths = np.zeros(self.size, dtype=np.float32)
        for doc_id, terms in enumerate(documents):
            for term, weight in terms:
                term_ids.append(vocabulary.setdefault(term, len(vocabulary)))
                doc_ids.append(doc_id)
                weights.append(weight)
                lengths[doc_id] += weight
        self.vocabulary = vocabulary
        self.terms = len(vocabulary)
        if not term_ids:
            self._empty()
            return
        keys = np.asarray(term_ids, dtype=np.int64) * max(self.size, 1) + np.asarray(doc_ids, dtype=np.int64)
        unique, inverse = np.unique(keys, return_inverse=True)
        tf = np.bincount(inverse, weights=np.asarray(weights, dtype=np.float64)).astype(np.float32)
        posting_terms = (unique // max(self.size, 1)).astype(np.int64)
        self.doc_ids: IntArray = (unique % max(self.size, 1)).astype(np.int32)
        self.tf: FloatArray = tf
        self.offsets = np.searchsorted(posting_terms, np.arange(self.terms + 1)).astype(np.int64)
        self.df = np.diff(self.offsets).astype(np.float32)
        average = float(lengths.mean()) if self.size else 1.0
        self.norm: FloatArray = (self.K1 * (1 - self.B + self.B * lengths / max(average, 1e-6))).astype(
            np.float32
        )

    def _empty(self) -> None:
        self.doc_ids = np.zeros(0, dtype=np.int32)
        self.tf = np.zeros(0, dtype=np.float32)
        self.offsets = np.zeros(1, dtype=np.int64)
        self.df = np.zeros(0, dtype=np.float32)
        self.norm = np.zeros(self.size, dtype=np.float32)

    def document_frequency(self, term: str) -> int:
        term_id = self.vocabulary.get(term)
        return 0 if term_id is None else int(self.df[term_id])

    def score(
        self, query: Sequence[tuple[str, float]], idf: dict[str, float], exclude: npt.NDArray[np.bool_] | None
    ) -> FloatArray:
        """BM25 scores of every document; `idf` comes from the caller (shared across segments)."""
        scores = np.zeros(self.size, dtype=np.float32)
        for term, query_weight in query:
            term_id = self.vocabulary.get(term)
            if term_id is None:
                continue
            start, end = self.offsets[term_id], self.offsets[term_id + 1]
            docs = self.doc_ids[start:end]
            tf = self.tf[start:end]
            scores[docs] += (query_weight * idf.get(term, 0.0)) * tf * (self.K1 + 1) / (tf + self.norm[docs])
        if exclude is not None:
            scores[exclude] = 0.0
        return scores

    def memory_bytes(self) -> int:
        arrays = (self.doc_ids, self.tf, self.offsets, self.df, self.norm)
        return sum(a.nbytes for a in arrays)


def bm25_idf(document_frequency: int, total: int) -> float:
    # The +1 inside the log keeps very common terms slightly positive instead of negative.
    return math.log(1 + (total - document_frequency + 0.5) / (document_frequency + 0.5))


def top_k(scores: FloatArray, k: int) -> list[int]:
    """Indices of the k best positive scores, best first."""
    if scores.size == 0:
        return []
    k = min(k, scores.size)
    candidates = np.argpartition(-scores, k - 1)[:k]
    ordered = candidates[np.argsort(-scores[candidates], kind="stable")]
    return [int(i) for i in ordered if scores[i] > 0]
