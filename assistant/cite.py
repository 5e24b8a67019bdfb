"""Turn the model's [n] markers into checked citations.

Every sentence of the answer is scanned for markers like [1], [2][3] or [1, 2]. Each number is
mapped to the n-th passage the model was given; a number outside that list becomes an invalid
citation (kept, flagged, and stripped from the shown answer). Each (sentence, passage) pair gets a
support score from a pluggable function; the default is lexical overlap after Dutch stemming, and
answer.py adds embedding similarity, which is what makes English sentences checkable against Dutch
passages.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable

from .lexical import Tokenizer
from .types import Citation, Hit

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
        # "Zo is het.\n[1]" - markers on their own belong to the sentence before them.
        if out and not MARKER.sub("", s).strip(" .,;"):
            out[-1] += " " + s
        else:
            out.append(s)
    return out


def numbers_in(sentence: str) -> list[int]:
    out: list[int] = []
    for group in MARKER.findall(sentence):
        for n in group.split(","):
            if int(n) not in out:
                out.append(int(n))
    return out


_tok = Tokenizer()


def lexical_support(sentence: str, passage: str) -> float:
    """Share of the sentence's content words (stemmed) that occur in the passage."""
    words = set(_tok(MARKER.sub(" ", sentence)))
    if not words:
        return 0.0
    return len(words & set(_tok(passage))) / len(words)


def extract(
    answer: str,
    hits: list[Hit] | tuple[Hit, ...],
    support: Callable[[str, Hit], bool] | None = None,
) -> tuple[list[Citation], list[Sentence]]:
    """Citations in order of first appearance (one per number), plus a per-sentence verdict."""
    support = support or (lambda s, h: lexical_support(s, h.chunk.text) >= 0.5)
    citations: dict[int, Citation] = {}
    sentences: list[Sentence] = []
    for sent in split_sentences(answer):
        nums = numbers_in(sent)
        if not nums:
            sentences.append(Sentence(sent, (), None))
            continue
        ok_any = False
        for n in nums:
            hit = hits[n - 1] if 1 <= n <= len(hits) else None
            ok = bool(hit) and support(sent, hit)
            ok_any = ok_any or ok
            prev = citations.get(n)
            # A number cited by several sentences is supported if any of them is.
            if prev is None or (ok and not prev.supported):
                citations[n] = Citation(n=n, hit=hit, supported=ok, sentence=sent)
        sentences.append(Sentence(sent, tuple(nums), ok_any))
    return list(citations.values()), sentences


def strip_invalid(answer: str, n_hits: int) -> str:
    """Remove markers that point at no passage, so the reader never sees a dead [7]."""

    def keep(m: re.Match) -> str:
        nums = [n for n in (int(x) for x in m.group(1).split(",")) if 1 <= n <= n_hits]
        return "".join(f"[{n}]" for n in nums)

    return MARKER.sub(keep, answer)
