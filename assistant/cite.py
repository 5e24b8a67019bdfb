"""Turn the model's [n] markers into checked citations.

Every sentence of the answer is scanned for markers like [1], [2][3] or [1, 2]. Each number is
mapped to the n-th excerpt the model was given; a number outside that list becomes an invalid
citation (kept, flagged, and stripped from the shown answer). Each (sentence, excerpt) pair gets a
support score from a pluggable function; the default is lexical overlap after Dutch stemming, and
answer.py adds embedding similarity, which is what makes English sentences checkable against Dutch
excerpts. Sentences the model left uncited are attributed to the excerpt that supports them best.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Callable

from .lexical import Tokenizer
from .types import Citation, Excerpt

MARKER = re.compile(r"\[(\d+(?:\s*,\s*\d+)*)\]")
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'‘“(])|\n+")


@dataclass(frozen=True)
class Sentence:
    text: str  # with its markers
    numbers: tuple[int, ...]
    supported: bool | None  # None when the sentence cites nothing


def split_sentences(text: str) -> list[str]:
    out: list[str] = []
    for s in _SENTENCE.split(text or ""):
        s = s.strip()
        if not s:
            continue
        # "Zo is het.\n[1]" or "... This can be found in source [1]." - markers on their own, or in a
        # sentence that only points at a source, belong to the sentence before them.
        if out and (not MARKER.sub("", s).strip(" .,;") or (MARKER.search(s) and _is_pointer(s))):
            out[-1] += " " + s
        else:
            out.append(s)
    return out


def _is_pointer(part: str) -> bool:
    return bool(_POINTER.match(MARKER.sub("", part).strip(" .,;")))


def _claim(sentence: str) -> str:
    """The sentence without a trailing "This can be found in source [1]." part (checked for support)."""
    parts = [p for p in _SENTENCE.split(sentence) if p.strip()]
    kept = [p for p in parts if not _is_pointer(p)]
    return " ".join(kept) if kept else sentence


def numbers_in(sentence: str) -> list[int]:
    out: list[int] = []
    for group in MARKER.findall(sentence):
        for n in group.split(","):
            if int(n) not in out:
                out.append(int(n))
    return out


_tok = Tokenizer()
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
# "This can be found in source [1]." - a sentence that only points at a source, not a claim.
_POINTER = re.compile(r"^\W*(?:(?:this|that|it|these|see|as|zie|dit|dat|deze)\b.{0,40})?\b(?:sources?|bronn?en|bron|passages?)\b\W*$",
                      re.IGNORECASE)


# A short date, "1/1/08" or "15-3-07": its two-digit year also stands for the full year.
_SHORT_DATE = re.compile(r"\b\d{1,2}[/-]\d{1,2}[/-](\d{2})\b")


@lru_cache(maxsize=512)  # each passage is checked against every sentence of the answer
def numbers(text: str) -> frozenset[str]:
    """Numbers with their separators removed, so "250.000" (Dutch) matches "250,000" (English); a
    short date's year also in full ("per 1/1/08" supports "1 January 2008")."""
    text = MARKER.sub(" ", text)
    found = {re.sub(r"[.,]", "", m) for m in _NUMBER.findall(text)}
    for yy in _SHORT_DATE.findall(text):
        found |= {"19" + yy, "20" + yy}
    return frozenset(found)


def foreign_numbers(sentence: str, passage: str, question: str = "") -> set[str]:
    """Numbers of two or more digits in the sentence that neither the passage nor the question
    contains (an answer may repeat the question's "in 2014": that is not an invented figure)."""
    return {n for n in numbers(sentence) if len(n) >= 2} - numbers(passage) - numbers(question)


def numbers_support(sentence: str, passage: str) -> bool:
    """True when the sentence states numbers (dates, amounts) and every one occurs in the passage:
    a language-independent check where an English paraphrase of a Dutch fact scores low otherwise.
    Single digits count only in a short sentence ("2 to 3 years [1]."), where they are the answer."""
    mine = numbers(sentence)
    if not mine or not mine <= numbers(passage):
        return False
    return any(len(n) >= 2 for n in mine) or is_short(sentence)


def is_short(sentence: str) -> bool:
    """A terse answer ("In Eemnes [1].", "2 to 3 years [1].") that only makes sense with its question."""
    return len(MARKER.sub(" ", sentence).split()) <= 8


def lexical_support(sentence: str, passage: str) -> float:
    """Share of the sentence's content words (stemmed) that occur in the passage."""
    words = set(_tok(MARKER.sub(" ", sentence)))
    if not words:
        return 0.0
    return len(words & set(_tok(passage))) / len(words)


def extract(
    answer: str,
    hits: list[Excerpt] | tuple[Excerpt, ...],
    score: Callable[[str, Excerpt], float] | None = None,
    attribute: bool = True,
) -> tuple[str, list[Citation], list[Sentence]]:
    """Check the model's citations and fill the gaps; returns (answer with markers, citations, sentences).

    `hits` are the excerpts the model was given ([n] == hits[n - 1]); `score(sentence, excerpt)` is
    >= 1.0 when the excerpt supports the sentence. A sentence whose markers are all unsupported or
    missing is attributed to the best-supporting excerpt, if any supports it (small models often
    answer correctly but forget to cite); such citations get origin "attributed". Sentences nothing
    supports stay uncited.
    """
    score = score or (lambda s, h: lexical_support(s, h.text) / 0.5)
    citations: dict[int, Citation] = {}
    sentences: list[Sentence] = []

    def add(n: int, hit, ok: bool, sent: str, origin: str) -> None:
        prev = citations.get(n)
        # A number cited by several sentences is supported if any of them is.
        if prev is None or (ok and not prev.supported):
            citations[n] = Citation(n=n, excerpt=hit, supported=ok, sentence=sent, origin=origin)

    text, cursor = answer or "", 0
    for sent in split_sentences(answer):
        where = text.find(sent, cursor)
        cursor = where + len(sent) if where >= 0 else cursor
        nums = numbers_in(sent)
        claim = _claim(sent)  # what is checked against the passages
        ok_any = False
        for n in nums:
            hit = hits[n - 1] if 1 <= n <= len(hits) else None
            ok = hit is not None and score(claim, hit) >= 1.0
            ok_any = ok_any or ok
            add(n, hit, ok, sent, "model")
        if attribute and not ok_any and hits and len(MARKER.sub("", sent).strip()) >= 20:
            best_score, best_n = max((score(claim, h), i + 1) for i, h in enumerate(hits))
            if best_score >= 1.0:
                add(best_n, hits[best_n - 1], True, sent, "attributed")
                marked = _append_marker(sent, best_n)
                if where >= 0:  # rewrite in place, keeping the answer's line breaks
                    text = text[:where] + marked + text[where + len(sent):]
                    cursor = where + len(marked)
                sent, nums, ok_any = marked, [*nums, best_n], True
        sentences.append(Sentence(sent, tuple(nums), ok_any if nums else None))
    return text, sorted(citations.values(), key=lambda c: c.n), sentences


def _append_marker(sentence: str, n: int) -> str:
    """Put [n] before the sentence's final punctuation: "Zo is het [2]." """
    body = sentence.rstrip()
    if body and body[-1] in ".!?:;":
        return f"{body[:-1].rstrip()} [{n}]{body[-1]}"
    return f"{body} [{n}]"


def strip_invalid(answer: str, n_hits: int) -> str:
    """Remove markers that point at no passage, so the reader never sees a dead [7]."""

    def keep(m: re.Match) -> str:
        nums = [n for n in (int(x) for x in m.group(1).split(",")) if 1 <= n <= n_hits]
        return "".join(f"[{n}]" for n in nums)

    return MARKER.sub(keep, answer)
