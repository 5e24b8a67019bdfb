"""A document cut into sections the small model can read whole, for summaries (summarize.py).

Code decides where a section starts and ends, never the model:
1. at the outline's headings (structure.py) when the document has them, else the whole text is one
   block; a block longer than the budget is cut at sentence boundaries (sentences.py), so every
   section is whole sentences and fits the model's context with room for the prompt and the reply;
2. a block too small to say something on its own (a heading with a line under it, a letter's address
   block) is joined to the next one while the two fit the budget;
3. more sections than the cap: the two neighbours that are smallest together are merged, while the
   merge fits the budget (every part of the document stays summarised, in fewer model calls). When
   no merge fits any more (a long document), code keeps the first section (a document's opening says
   what it is: the letter's subject, the plan's aim) and the longest others (more text, more of what
   the document says), in document order; the rest are reported as not summarised.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from . import sentences
from .pages import page_at
from .structure import Outline
from .types import Document

FIRST_WORDS = 12  # words of a section shown in its list (CLI, chat)


@dataclass(frozen=True)
class Section:
    """doc.text[start:end] == text. `n` is its [n] in the summary (0 for a section not summarised)."""

    n: int
    source: str
    title: str  # the document's title (what a citation shows)
    heading: str  # the first heading inside it, "" when it has none
    start: int
    end: int
    text: str
    tokens: int
    page: int | None = None  # 1-based PDF page where it starts

    def first_words(self, n: int = FIRST_WORDS) -> str:
        words = self.text.split()
        return " ".join(words[:n]) + (" …" if len(words) > n else "")

    def to_json(self) -> dict:
        return {"n": self.n, "source": self.source, "title": self.title, "heading": self.heading,
                "start": self.start, "end": self.end, "tokens": self.tokens, "page": self.page}


@dataclass(frozen=True)
class Sections:
    kept: tuple[Section, ...]  # summarised, numbered 1.. in document order
    omitted: tuple[Section, ...]  # over the cap and too long to merge: not summarised (n == 0)


def split_sections(doc: Document, count: Callable[[str], int], budget: int, min_tokens: int, cap: int) -> Sections:
    """`count`: tokens of a text (the model's tokenizer, or generate.approx_tokens); the sizes are
    summarize.SummarySettings' (stated there once)."""
    if cap < 1:
        raise ValueError(f"section cap {cap}: at least one section must be summarised")
    if budget < 50:
        raise ValueError(f"section budget {budget} tokens is too small to summarise anything: use >= 50")
    text = doc.text
    spans = [(a, b) for a, b in _blocks(text) if text[a:b].strip()]
    pieces: list[tuple[int, int]] = []
    for a, b in spans:
        pieces += _fit(text, a, b, count, budget)
    merged = _join_small(text, pieces, count, budget, min_tokens)
    merged = _merge_to_cap(text, merged, count, budget, cap)
    kept, omitted = _choose(merged, count, text, cap)
    outline = Outline(text)

    def section(n: int, a: int, b: int) -> Section:
        body = text[a:b]
        lead = len(body) - len(body.lstrip())
        a, b = a + lead, a + len(body.rstrip())
        heading = next((text[m.start:m.end].strip() for m in outline.marks
                        if m.kind == "heading" and a <= m.start < b), "")
        return Section(n, doc.source, doc.title, heading, a, b, text[a:b], count(text[a:b]), page_at(doc.pages, a))

    return Sections(tuple(section(i, a, b) for i, (a, b) in enumerate(kept, 1)),
                    tuple(section(0, a, b) for a, b in omitted))


def _blocks(text: str) -> list[tuple[int, int]]:
    """Spans from one heading to the next (the text before the first heading is a block too)."""
    starts = sorted({m.start for m in Outline(text).marks if m.kind == "heading"} | {0})
    return [(a, b) for a, b in zip(starts, starts[1:] + [len(text)])]


def _fit(text: str, a: int, b: int, count, budget: int) -> list[tuple[int, int]]:
    """[a, b) cut at sentence boundaries into pieces of at most `budget` tokens (a single sentence is
    at most sentences.MAX_CHARS long, far below any budget allowed here)."""
    if count(text[a:b]) <= budget:
        return [(a, b)]
    out: list[tuple[int, int]] = []
    start = a
    spans = [(a + s, a + e) for s, e in sentences.split(text[a:b])]
    for i, (s, e) in enumerate(spans):
        nxt = spans[i + 1][0] if i + 1 < len(spans) else b
        if start < s and count(text[start:nxt]) > budget:
            out.append((start, s))
            start = s
    out.append((start, b))
    return out


def _join_small(text: str, pieces: list[tuple[int, int]], count, budget: int, min_tokens: int) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for a, b in pieces:
        if out and count(text[out[-1][0]:out[-1][1]]) < min_tokens and count(text[out[-1][0]:b]) <= budget:
            out[-1] = (out[-1][0], b)
        else:
            out.append((a, b))
    # a small last piece joins the one before it
    if len(out) > 1 and count(text[out[-1][0]:out[-1][1]]) < min_tokens and count(text[out[-2][0]:out[-1][1]]) <= budget:
        out[-2:] = [(out[-2][0], out[-1][1])]
    return out


def _merge_to_cap(text: str, spans: list[tuple[int, int]], count, budget: int, cap: int) -> list[tuple[int, int]]:
    spans = list(spans)
    while len(spans) > cap:
        sizes = [(count(text[spans[i][0]:spans[i + 1][1]]), i) for i in range(len(spans) - 1)]
        size, i = min(sizes)
        if size > budget:
            break
        spans[i:i + 2] = [(spans[i][0], spans[i + 1][1])]
    return spans


def _choose(spans: list[tuple[int, int]], count, text: str, cap: int):
    if len(spans) <= cap:
        return spans, []
    rest = sorted(range(1, len(spans)), key=lambda i: (-count(text[spans[i][0]:spans[i][1]]), i))
    keep = sorted([0] + rest[:cap - 1])
    return [spans[i] for i in keep], [s for i, s in enumerate(spans) if i not in keep]
