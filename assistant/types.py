"""Frozen values that flow through the pipeline: Document -> Chunk -> Hit -> Citation/Answer."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Document:
    source: str  # path relative to the ingested folder: the stable id
    title: str
    text: str
    sha256: str  # of the text, to detect changes on re-ingest


@dataclass(frozen=True)
class Chunk:
    id: str  # "<source>#<start>-<end>": stable across runs
    source: str
    title: str
    start: int  # character span in the document text: text == doc.text[start:end]
    end: int
    text: str


@dataclass(frozen=True)
class Hit:
    chunk: Chunk
    score: float  # fused retrieval score (higher is better)
    dense: float | None = None  # cosine similarity, when the dense retriever found it

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
        }


@dataclass(frozen=True)
class Citation:
    n: int  # the [n] in the answer
    hit: Hit | None  # None when the model cited a number it was not given
    supported: bool  # does the sentence citing it overlap the passage enough?
    sentence: str = ""
    origin: str = "model"  # "model": the model wrote [n]; "attributed": added by the support check

    def to_json(self) -> dict:
        c = self.hit.chunk if self.hit else None
        return {
            "n": self.n,
            "source": c.source if c else None,
            "title": c.title if c else None,
            "start": c.start if c else None,
            "end": c.end if c else None,
            "text": c.text if c else None,
            "supported": self.supported,
            "valid": c is not None,
            "origin": self.origin,
        }


@dataclass(frozen=True)
class Answer:
    question: str
    language: str
    text: str
    abstained: bool
    citations: tuple[Citation, ...]
    hits: tuple[Hit, ...]  # the numbered passages given to the model ([1] == hits[0])
    timings: dict = field(default_factory=dict)
    query: str = ""  # the search query actually used (differs for rewritten follow-ups)
    raw: str = ""  # the model's unedited output, for debugging abstentions and citations

    def to_json(self) -> dict:
        return {
            "question": self.question,
            "language": self.language,
            "answer": self.text,
            "abstained": self.abstained,
            "citations": [c.to_json() for c in self.citations],
            "passages": [h.to_json(i + 1) for i, h in enumerate(self.hits)],
            "timings": dict(self.timings),
            "query": self.query or self.question,
            "raw": self.raw,
        }
