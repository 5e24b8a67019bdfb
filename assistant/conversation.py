"""A conversation as it is kept and shared: typed records of what was asked, answered and cited.

One shape for the three places that keep or hand on an answer: the history store (history.py, SQLite),
the exports (export.py, Markdown / DOCX) and the browser's conversation list. Built from an
`Answer` (the CLI, `from_answer`) or from a finished browser turn (ui/turns.py `saved_turn`); the
record copies what it needs (titles, pages, the cited sentences), so it stays readable after the
index changes or a document is removed.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace


@dataclass(frozen=True)
class SourceRef:
    """Source [n] of an answer: where it is, and the sentence of it the answer rests on."""

    n: int
    source: str  # the document's id in the index ("brief.pdf", "uploads/x.docx", "bundle.pdf#3")
    title: str
    start: int  # span of the excerpt in the document's text
    end: int
    text: str  # the excerpt as the model saw it
    cited: str  # the sentence of the excerpt that is quoted / matched the question (exact text)
    page: int | None = None
    date: str | None = None
    label: str = ""  # "Amersfoort · raadsinformatiebrief · 2014-09-09" (metadata.DocMeta.label)
    supported: bool = True  # the answer sentence citing it says what it says (cite.py)

    def to_json(self) -> dict:
        return {"n": self.n, "source": self.source, "title": self.title, "start": self.start, "end": self.end,
                "text": self.text, "cited": self.cited, "page": self.page, "date": self.date, "label": self.label,
                "supported": self.supported}

    @classmethod
    def from_json(cls, d: dict) -> "SourceRef":
        return cls(n=int(d["n"]), source=str(d["source"]), title=str(d.get("title") or ""),
                   start=int(d.get("start") or 0), end=int(d.get("end") or 0), text=str(d.get("text") or ""),
                   cited=str(d.get("cited") or ""), page=d.get("page"), date=d.get("date"),
                   label=str(d.get("label") or ""), supported=bool(d.get("supported", True)))


@dataclass(frozen=True)
class SavedTurn:
    """One question and its answer, with the quote and the numbered sources it cites."""

    question: str
    answer: str
    language: str = "nl"
    abstained: bool = False
    quote: str = ""  # the source sentence the answer starts from ("" when none)
    quote_n: int | None = None  # the source number the quote belongs to
    sources: tuple[SourceRef, ...] = ()  # the sources the answer cites, in [n] order
    timings: dict = field(default_factory=dict)
    models: dict = field(default_factory=dict)  # {"llm": ..., "embedder": ...}
    generation: str = ""  # the index generation that answered
    error: str = ""  # what went wrong instead of an answer ("" when answered)
    asked_at: float = 0.0  # unix time

    def to_json(self) -> dict:
        return {"question": self.question, "answer": self.answer, "language": self.language,
                "abstained": self.abstained, "quote": self.quote, "quote_n": self.quote_n,
                "sources": [s.to_json() for s in self.sources], "timings": dict(self.timings),
                "models": dict(self.models), "generation": self.generation, "error": self.error,
                "asked_at": self.asked_at}

    @classmethod
    def from_json(cls, d: dict) -> "SavedTurn":
        return cls(question=str(d.get("question") or ""), answer=str(d.get("answer") or ""),
                   language=str(d.get("language") or "nl"), abstained=bool(d.get("abstained")),
                   quote=str(d.get("quote") or ""), quote_n=d.get("quote_n"),
                   sources=tuple(SourceRef.from_json(s) for s in d.get("sources") or ()),
                   timings=dict(d.get("timings") or {}), models=dict(d.get("models") or {}),
                   generation=str(d.get("generation") or ""), error=str(d.get("error") or ""),
                   asked_at=float(d.get("asked_at") or 0.0))


@dataclass(frozen=True)
class Conversation:
    """A titled list of turns kept for one owner (a login name; "" where the chat has no accounts)."""

    id: str
    title: str
    owner: str = ""
    created: float = 0.0
    updated: float = 0.0
    turns: tuple[SavedTurn, ...] = ()

    def with_turn(self, turn: SavedTurn) -> "Conversation":
        return replace(self, turns=self.turns + (turn,), updated=turn.asked_at or time.time())

    def to_json(self) -> dict:
        return {"id": self.id, "title": self.title, "owner": self.owner, "created": self.created,
                "updated": self.updated, "turns": [t.to_json() for t in self.turns]}


def title_of(question: str, limit: int = 80) -> str:
    """A conversation's first title: its first question, cut at a word boundary."""
    q = " ".join((question or "").split())
    if len(q) <= limit:
        return q
    cut = q[:limit].rsplit(" ", 1)[0]
    return (cut or q[:limit]) + "…"


def cited_sentence(text: str, start: int, matches, quote=None) -> str:
    """The sentence of an excerpt the answer rests on: the quote when it lies in this excerpt, else the
    first sentence that matched the question, else the excerpt itself (all exact document text)."""
    if quote is not None and start <= quote[0] and quote[1] <= start + len(text):
        return quote[2]
    for a, b in matches or ():
        if start <= a < b <= start + len(text):
            return text[a - start:b - start]
    return text


def from_answer(answer, *, models: dict | None = None, generation: str = "", asked_at: float | None = None) -> SavedTurn:
    """The record of an `Answer` (types.Answer) as the CLI and the browser keep it: the sources it cites
    (all evidence when it cites none but is not an abstention: nothing shown to the reader is dropped)."""
    q = answer.quote
    span = (q.start, q.end, q.text) if q is not None else None
    cited = {c.n: c for c in answer.citations if c.excerpt is not None}
    sources = []
    for e in answer.evidence:
        if cited and e.n not in cited:
            continue
        if not cited and answer.abstained:
            continue
        sources.append(SourceRef(
            n=e.n, source=e.source, title=e.title, start=e.start, end=e.end, text=e.text,
            cited=cited_sentence(e.text, e.start, e.matches, span if q is not None and q.source == e.source else None),
            page=e.page, date=e.meta.date, label=e.meta.label(),
            supported=cited[e.n].supported if e.n in cited else True))
    return SavedTurn(question=answer.question, answer=answer.text, language=answer.language,
                     abstained=answer.abstained, quote=q.text if q is not None else "",
                     quote_n=q.n if q is not None else None, sources=tuple(sources), timings=dict(answer.timings),
                     models=dict(models or {}), generation=generation,
                     asked_at=time.time() if asked_at is None else asked_at)
