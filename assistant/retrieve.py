"""Hybrid retrieval: chunk vectors, the best sentence inside each chunk, and BM25 on the terms that
can match, fused into one score.

    score(chunk) = cos(query, chunk) + sentence_weight * max cos(query, sentence in chunk)
                   + lexical_weight[lang] * BM25(query, chunk) / max BM25

(the weights are RetrievalSettings, the `retrieval` section of config.Settings)

Why this shape (measured on eval/gold.jsonl and LegalQA-NL, README "Retrieval"):
- A 900-character chunk's vector blurs the one sentence a question is about; the best sentence's
  cosine is sharp. Adding it lifted gold recall@1 from 0.62 to 0.75. It costs no model call: the
  sentences are embedded at ingest (index.py) and scored with dot products for candidates only.
- BM25 catches names, numbers and Dutch terms ("BEL", "Sezen", "kantelfeest") that dense vectors
  blur. For English questions most query words never occur in Dutch text, and the few that do by
  accident ("team", "college") added noise, so English questions use only query terms that are
  rare in the corpus (IDF >= lexical_idf_floor: names, numbers, Dutch loan words) with a lower weight.
- A weighted sum of cosines, not reciprocal-rank fusion: RRF gives a noisy BM25 ranking as much say
  as dense ranking (it cost 0.2 recall@5 on English questions).

Filters (`where`, filters.py) restrict the candidates before anything is ranked: the dense
candidates are the best chunks among the allowed documents (scored exactly when there are at most
EXACT_FILTERED allowed chunks, else by asking the vector store for ever more neighbours until enough
allowed ones are among them), BM25 scores only allowed chunks, and sentences come from candidates.
So the top-k is filled from matching documents, never emptied by filtering afterwards.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from . import lang
from .embed import Embedder
from .errors import InputError
from .index import Index
from .filters import Where
from .lexical import BM25
from .types import Hit

# Filtered search scores the allowed chunks' exact vectors directly up to this many (fetch + matrix
# product: 81 ms for 50,000 768-dim vectors from a flat store here, against 116 ms for an unfiltered
# search of 200,000); past it, the vector store is asked for ever more neighbours until enough
# allowed ones are found.
EXACT_FILTERED = 50_000


@dataclass(frozen=True)
class RetrievalSettings:
    """How chunks are found and fused (module docstring); the `retrieval` section of config.Settings.
    How many are kept (top_k) is the answer step's (AnswerSettings)."""

    candidates: int = 40  # per retriever, before fusion
    sentence_weight: float = 1.0  # weight of the best sentence's cosine
    # BM25's weight and the IDF a query term needs to count, by question language (lang.detect)
    lexical_weight_en: float = 0.1
    lexical_weight_nl: float = 0.2
    lexical_idf_floor_en: float = 2.0
    lexical_idf_floor_nl: float = 0.0

    def lexical_weight(self, language: str) -> float:
        return self.lexical_weight_en if language == "en" else self.lexical_weight_nl

    def lexical_idf_floor(self, language: str) -> float:
        return self.lexical_idf_floor_en if language == "en" else self.lexical_idf_floor_nl


@dataclass(frozen=True)
class Retrieval:
    """What one search found and measured, kept for the evidence step (which scores the sentences of
    the hits with the same query vector, so the question is embedded once)."""

    query: str
    hits: tuple[Hit, ...]
    query_vector: np.ndarray | None
    sentence_scores: dict[int, float] = field(default_factory=dict)  # sentence row -> cosine, for the hits
    timings: dict = field(default_factory=dict)  # embed_s, search_s, total_s


class Retriever(Protocol):
    def search(self, query: str, k: int, where: Where | None = None) -> list[Hit]: ...

    def retrieve(self, query: str, k: int, where: Where | None = None, language: str | None = None) -> Retrieval: ...


class HybridRetriever:
    def __init__(self, index: Index, embedder: Embedder, settings: RetrievalSettings | None = None, *,
                 use_dense: bool = True, use_lexical: bool = True, use_sentences: bool = True):
        """use_dense / use_lexical / use_sentences switch a part off (the ablations of eval/)."""
        self.index = index
        self.embedder = embedder
        self.settings = settings or RetrievalSettings()
        self.use_dense = use_dense
        self.use_lexical = use_lexical
        self.use_sentences = use_sentences and use_dense
        self._bm25: BM25 | None = None

    @property
    def bm25(self) -> BM25:
        if self._bm25 is None:
            self._bm25 = self.index.lexical()  # the generation's lexical.sqlite, or built in memory
        return self._bm25

    def search(self, query: str, k: int, where: Where | None = None) -> list[Hit]:
        return list(self.retrieve(query, k, where).hits)

    def retrieve(self, query: str, k: int, where: Where | None = None, language: str | None = None) -> Retrieval:
        """`k` comes from AnswerSettings.top_k (its one default); `language` is the question's, when
        the caller has detected it already (answer.py's question analysis), else detected here."""
        t0 = time.perf_counter()
        query = (query or "").strip()
        if not query:
            raise InputError("empty question: type a question about the documents")
        allowed = self.index.rows_where(where) if where else None  # None: every chunk
        n = len(self.index.chunks) if allowed is None else len(allowed)
        if n == 0:
            return Retrieval(query, (), None, {}, {"embed_s": 0.0, "search_s": 0.0, "total_s": 0.0})
        depth = min(n, max(self.settings.candidates, k))
        language = language or lang.detect(query)
        q = None
        dense: dict[int, float] = {}
        if self.use_dense:
            q = np.asarray(self.embedder.embed_query(query), dtype=np.float32)
        t1 = time.perf_counter()
        if q is not None:
            dense = self._dense(q, depth, allowed)
        lexical: dict[int, float] = {}
        weight = self.settings.lexical_weight(language) if self.use_dense else 1.0
        if self.use_lexical and weight > 0:
            scores = self.bm25.scores(query, min_idf=self.settings.lexical_idf_floor(language) if self.use_dense else 0.0)
            if allowed is not None:  # only allowed chunks compete (and set the normalising maximum)
                kept = np.zeros_like(scores)
                kept[allowed] = scores[allowed]
                scores = kept
            top = float(scores.max()) if len(scores) else 0.0
            if top > 0:
                # the `depth` best rows without sorting all of them (a full sort of a million scores
                # costs ~80 ms); ordered by score, then row, as a stable sort would give
                cand = np.nonzero(scores > 0)[0]
                if len(cand) > depth:
                    cut = -np.partition(-scores[cand], depth - 1)[depth - 1]
                    cand = cand[scores[cand] >= cut]
                for row in cand[np.lexsort((cand, -scores[cand]))][:depth]:
                    lexical[int(row)] = float(scores[row]) / top
        fused: dict[int, float] = {}
        best_sentence: dict[int, float] = {}
        sentence_scores: dict[int, float] = {}
        candidates = set(dense) | set(lexical)
        self.index.prefetch(candidates)  # their chunks and sentence ranges in one read
        for row in candidates:
            score = 0.0
            if q is not None:
                if row not in dense:  # found by BM25 only: its cosine, from the stored vector
                    dense[row] = float(self.index.vector_at(row) @ q)
                score += dense[row]
                if self.use_sentences:
                    rng = self.index.sentences_of(row)
                    if len(rng):
                        sims = self.index.sentence_vectors[rng.start:rng.stop] @ q
                        best_sentence[row] = float(sims.max())
                        score += self.settings.sentence_weight * best_sentence[row]
                        for j, s in zip(rng, sims):
                            sentence_scores[j] = float(s)
            score += weight * lexical.get(row, 0.0)
            fused[row] = score
        best = sorted(fused.items(), key=lambda kv: (-kv[1], kv[0]))[:k]
        docs = self.index.docs
        hits = tuple(Hit(c, score, dense.get(row), best_sentence.get(row), docs[c.source].meta)
                     for row, score in best for c in (self.index.chunks[row],))
        keep = {j for h in hits for j in self.index.sentences_of(self.index.row_of(h.chunk))}
        if q is not None and not self.use_sentences:  # not used for ranking, but the evidence step needs them
            for j in keep:
                sentence_scores[j] = float(self.index.sentence_vectors[j] @ q)
        t2 = time.perf_counter()
        timings = {"embed_s": round(t1 - t0, 4), "search_s": round(t2 - t1, 4), "total_s": round(t2 - t0, 4)}
        return Retrieval(query, hits, q, {j: s for j, s in sentence_scores.items() if j in keep}, timings)

    def _dense(self, q: np.ndarray, depth: int, allowed: np.ndarray | None) -> dict[int, float]:
        """Row -> cosine of the `depth` chunks nearest to q, among the allowed rows when given."""
        if allowed is None:
            rows, sims = self.index.search(q, depth)  # the vector store (assistant/store/)
            return {int(r): float(s) for r, s in zip(rows, sims)}
        if len(allowed) <= EXACT_FILTERED:
            sims = self.index.vectors(allowed) @ q
            top = np.argpartition(-sims, depth - 1)[:depth] if depth < len(sims) else np.arange(len(sims))
            top = top[np.argsort(-sims[top], kind="stable")]
            return {int(allowed[i]): float(sims[i]) for i in top}
        ok = np.zeros(len(self.index.chunks), dtype=bool)
        ok[allowed] = True
        total = len(self.index.chunks)
        want = min(total, depth * max(2, 2 * total // len(allowed)))
        while True:  # ask for more neighbours until `depth` allowed ones are among them
            rows, sims = self.index.search(q, want)
            found = {int(r): float(s) for r, s in zip(rows, sims) if ok[int(r)]}
            if len(found) >= depth or want >= total:
                return dict(sorted(found.items(), key=lambda kv: -kv[1])[:depth])
            want = min(total, want * 4)
