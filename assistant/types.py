"""Frozen values that flow through the pipeline: Document -> Chunk -> Hit -> Citation/Answer."""

from __future__ import annotations

from dataclasses import dataclass, field

from .metadata import DocMeta


@dataclass(frozen=True)
class Document:
    source: str  # path relative to the ingested folder: the stable id
    title: str
    text: str
    sha256: str  # of the text, to detect changes on re-ingest
    # Paged documents (PDFs): the offset in `text` where each page starts (page n at pages[n - 1];
    # assistant/pages.py); () for documents without pages.
    pages: tuple[int, ...] = ()
    ocr_pages: tuple[int, ...] = ()  # 1-based pages whose text was read by OCR (Tesseract), not a text layer
    meta: DocMeta = DocMeta()  # date, municipalities, type (metadata.py): shown with citations, filtered on


@dataclass(frozen=True)
class Chunk:
    id: str  # "<source>#<start>-<end>": stable across runs
    source: str
    title: str
    start: int  # character span in the document text: text == doc.text[start:end]
    end: int
    text: str
    # The nearest heading / the question a Q&A answer belongs to (structure.Outline): added to what
    # is embedded and matched by BM25, never to the span or the text shown.
    context: str = ""
    page: int | None = None  # 1-based PDF page where the chunk starts; None for documents without pages


@dataclass(frozen=True)
class SentenceSpan:
    source: str
    start: int  # doc.text[start:end] is the sentence
    end: int


@dataclass(frozen=True)
class Hit:
    chunk: Chunk
    score: float  # fused retrieval score (higher is better)
    dense: float | None = None  # cosine similarity of the chunk to the query
    sentence: float | None = None  # cosine of the chunk's best-matching sentence
    meta: DocMeta = DocMeta()  # of the chunk's document

    def to_json(self, rank: int) -> dict:
        c = self.chunk
        return {
            "rank": rank,
            "source": c.source,
            "title": c.title,
            "start": c.start,
            "end": c.end,
            "text": c.text,
            "score": round(self.score, 6),
            "page": c.page,
            "meta": self.meta.to_json(),
        }


@dataclass(frozen=True)
class Excerpt:
    """A piece of evidence given to the model as [n]: a few whole sentences of one document, an
    exact span (text == doc.text[start:end]) chosen by evidence.py from the retrieved chunks."""

    n: int
    source: str
    title: str
    start: int
    end: int
    text: str
    context: str = ""  # the heading / Q&A question it belongs to, shown to the model with it
    score: float = 0.0  # cosine of its best sentence to the question
    matches: tuple[tuple[int, int], ...] = ()  # spans of the sentences that matched (to highlight)
    page: int | None = None  # 1-based PDF page where the excerpt starts; None for documents without pages
    meta: DocMeta = DocMeta()  # of the excerpt's document

    def to_json(self) -> dict:
        return {
            "n": self.n,
            "source": self.source,
            "title": self.title,
            "start": self.start,
            "end": self.end,
            "text": self.text,
            "context": self.context,
            "score": round(self.score, 4),
            "matches": [list(m) for m in self.matches],
            "page": self.page,
            "meta": self.meta.to_json(),
        }


@dataclass(frozen=True)
class Quote:
    """The sentence of the evidence that answers the question (quote.py): shown first, pre-filled
    into the model's reply. An exact span (text == doc.text[start:end]) inside excerpt [n]."""

    n: int
    source: str
    title: str
    start: int
    end: int
    text: str
    page: int | None = None
    score: float = 0.0  # the chooser's score (quote.py)

    def to_json(self) -> dict:
        return {"n": self.n, "source": self.source, "title": self.title, "start": self.start, "end": self.end,
                "text": self.text, "page": self.page}


@dataclass(frozen=True)
class Decision:
    """What code decided from numbers while answering, kept with the answer (ask --json "decision")
    so every verdict can be checked and thresholds chosen from an evaluation run."""

    p_not_found: float | None = None  # the model's probability that the excerpts do not answer (first reply token)
    not_found_threshold: float | None = None  # abstain at or above it
    yesno: bool = False  # the question asks for a verdict
    p_yes: float | None = None  # p(yes) / (p(yes) + p(no)) after the quote
    p_yes_null: float | None = None  # the same with an empty quote: the model's bias for the question
    verdict: str | None = None  # "yes" | "no" when decided
    parts: tuple[str, ...] = ()  # what each part of the question asks (question.py)
    lead: str = ""  # the answer's first words written by code: the verdict ("Nee,") or "Omdat"
    follow_ups: tuple[str, ...] = ()  # parts asked again in a follow-up turn
    reason: str = ""  # why the answer abstained: "similarity", "not_found", "model", "refusal", "numbers"
    cell: str | None = None  # the table column whose cell in the quoted row code gave as the answer (cells.py)

    def to_json(self) -> dict:
        r = lambda v: None if v is None else round(v, 4)  # noqa: E731
        return {"p_not_found": r(self.p_not_found), "not_found_threshold": self.not_found_threshold,
                "yesno": self.yesno, "p_yes": r(self.p_yes), "p_yes_null": r(self.p_yes_null), "verdict": self.verdict, "lead": self.lead, "parts": list(self.parts),
                "follow_ups": list(self.follow_ups), "abstain_reason": self.reason or None, "cell": self.cell}


@dataclass(frozen=True)
class Citation:
    n: int  # the [n] in the answer
    excerpt: Excerpt | None  # None when the model cited a number it was not given
    supported: bool  # does the sentence citing it say what the excerpt says?
    sentence: str = ""
    origin: str = "model"  # "model": the model wrote [n]; "attributed": added by the support check

    @property
    def page(self) -> int | None:
        """The PDF page the cited excerpt starts on (a property, not a field: the excerpt is the one
        source of it, so the two can never disagree)."""
        return self.excerpt.page if self.excerpt is not None else None

    def to_json(self) -> dict:
        e = self.excerpt
        return {
            "n": self.n,
            "source": e.source if e else None,
            "title": e.title if e else None,
            "start": e.start if e else None,
            "end": e.end if e else None,
            "text": e.text if e else None,
            "supported": self.supported,
            "valid": e is not None,
            "origin": self.origin,
            "page": e.page if e else None,
            "meta": e.meta.to_json() if e else None,
        }


@dataclass(frozen=True)
class Answer:
    question: str
    language: str
    text: str
    abstained: bool
    citations: tuple[Citation, ...]
    hits: tuple[Hit, ...]  # the retrieved chunks the evidence was chosen from
    timings: dict = field(default_factory=dict)
    query: str = ""  # the search query actually used (differs for rewritten follow-ups)
    raw: str = ""  # the model's unedited output, for debugging abstentions and citations
    evidence: tuple[Excerpt, ...] = ()  # what the model was shown: [n] == evidence[n - 1]
    prompt_tokens: int | None = None  # tokens of the prompt (system + question + evidence)
    quote: Quote | None = None  # the sentence the answer starts from (shown first)
    decision: Decision = Decision()

    def to_json(self) -> dict:
        return {
            "question": self.question,
            "language": self.language,
            "answer": self.text,
            "abstained": self.abstained,
            "citations": [c.to_json() for c in self.citations],
            "evidence": [e.to_json() for e in self.evidence],
            "passages": [h.to_json(i + 1) for i, h in enumerate(self.hits)],
            "timings": dict(self.timings),
            "prompt_tokens": self.prompt_tokens,
            "query": self.query or self.question,
            "raw": self.raw,
            "quote": self.quote.to_json() if self.quote else None,
            "decision": self.decision.to_json(),
        }
