"""The one answer path shared by CLI, UI and eval: retrieve -> evidence -> prompt -> generate -> cite.

`Assistant.stream()` yields events while it works: the search query, the retrieved chunks, the
evidence excerpts the model will read (at once, before the model starts: the reader can check them
while the answer is written), the answer's tokens, and the final Answer. `Assistant.answer()` just
drains it. Abstention happens in code before generation, when even the best chunk is not similar
enough to the question, and after it, when the model says the excerpts do not answer, or when not
one sentence of its answer is supported by an excerpt.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Callable, Iterator

import numpy as np

from . import cite, lang
from .embed import Embedder
from .errors import InputError
from .evidence import EvidenceSelector
from .filters import Where
from .generate import Generator
from .prompts import Prompts
from .retrieve import Retriever
from .stream_filter import MARKER, NOT_FOUND, AnswerFilter, starts_with_marker
from .types import Answer, Excerpt

MAX_QUESTION_CHARS = 2000
# Phrases with which small models say "the sources don't say" instead of the marker. A phrase like
# "does not specify" also occurs in real answers ("the plan does not specify when"), so it only counts
# as a refusal when the sentence is about the sources themselves or is an outright "cannot answer".
_REFUSAL = re.compile(
    r"(not (?:found|mentioned|stated|specified|provided|contain|include)|do(?:es)? not (?:contain|mention|say|provide|specify|include)"
    r"|no information|cannot (?:be )?(?:find|found|answer|determine)|niet (?:gevonden|vermeld|genoemd|beschreven)"
    r"|geen informatie|bevatten geen|staat niet|niet (?:te )?(?:vinden|af te leiden|verstaanbaar|bekend|beschikbaar)"
    r"|not (?:available|known|given))",
    re.IGNORECASE,
)
_ABOUT_SOURCES = re.compile(
    r"\b(sources?|documents?|passages?|context|provided|texts?|bronn?en|bron|documenten|passages|teksten|tekst)\b"
    r"|no information|geen informatie|cannot (?:be )?(?:find|found|answer)",
    re.IGNORECASE,
)


def _invents_numbers(answer: str, evidence, question: str) -> bool:
    everything = " ".join(e.text for e in evidence)
    return bool(cite.foreign_numbers(answer, everything, question))


def is_refusal(sentence: str) -> bool:
    """An opening sentence saying the sources do not answer (the model's way to abstain), also when
    the model cites the sources it found wanting ("... niet af te leiden uit de bronnen [1].")."""
    return bool(_REFUSAL.search(sentence)) and bool(_ABOUT_SOURCES.search(sentence))


@dataclass(frozen=True)
class Event:
    kind: str  # "query" | "passages" | "evidence" | "token" | "answer"
    data: object


class Assistant:
    def __init__(
        self,
        retriever: Retriever,
        generator: Generator | None,
        prompts: Prompts,
        selector: EvidenceSelector,
        embedder: Embedder | None = None,
        top_k: int = 5,
        min_similarity: float = 0.30,
        support_similarity: float = 0.45,
        max_tokens: int = 200,
        temperature: float = 0.1,
        require_support: bool = True,
    ):
        self.retriever, self.generator, self.prompts, self.selector = retriever, generator, prompts, selector
        self.embedder = embedder
        self.top_k, self.min_similarity, self.support_similarity = top_k, min_similarity, support_similarity
        self.max_tokens, self.temperature = max_tokens, temperature
        self.require_support = require_support

    # -- public -------------------------------------------------------------------------------
    def answer(self, question: str, k: int | None = None, history: list[tuple[str, str]] | None = None,
               where: Where | None = None) -> Answer:
        result = None
        for event in self.stream(question, k, history, where=where):
            if event.kind == "answer":
                result = event.data
        return result

    def warm_up(self) -> None:
        """Load the models and let llama.cpp read the fixed part of the prompt (system prompt and
        examples) once, so the first real question only pays for its own tokens."""
        self.retriever.search("warm-up", 1)
        if self.generator is not None:
            system, examples, _ = self.messages("warm-up", "en", [])
            for _ in self.generator.stream(system, "OK?", 1, 0.0, examples=examples):
                pass

    def search(self, question: str, k: int | None = None, where: Where | None = None):
        if where:
            return self.retriever.search(self._check(question), k or self.top_k, where)
        return self.retriever.search(self._check(question), k or self.top_k)

    def messages(self, question: str, language: str, evidence: list[Excerpt]) -> tuple[str, list[tuple[str, str]], str]:
        """(system, worked examples, user message). The system prompt and examples do not depend
        on the question, so they come first and llama.cpp evaluates them once per process."""
        system = self.prompts.render("system", not_found_marker=NOT_FOUND)
        user = self.prompts.render(f"question.{language}", excerpts=self.prompts.excerpts(evidence), question=question)
        return system, self.prompts.examples(), user

    def stream(self, question: str, k: int | None = None, history: list[tuple[str, str]] | None = None,
               where: Where | None = None) -> Iterator[Event]:
        """`where` (filters.py, already resolved against the index) restricts retrieval to the
        documents it lets through; the evidence and citations can then only come from them."""
        t0 = time.perf_counter()
        question = self._check(question)
        language = lang.detect(question)
        query = self.rewrite(question, history) if history else question
        yield Event("query", query)
        # Only a filtered call passes `where`: retrievers written before filters keep working.
        retrieval = (self.retriever.retrieve(query, k or self.top_k, where) if where
                     else self.retriever.retrieve(query, k or self.top_k))
        hits = retrieval.hits
        timings = {"retrieve_s": round(time.perf_counter() - t0, 4)}
        yield Event("passages", hits)
        raw = ""
        evidence: tuple[Excerpt, ...] = ()
        prompt_tokens = None

        def done(text: str, abstained: bool, citations=()) -> Event:
            timings["total_s"] = round(time.perf_counter() - t0, 4)
            timings.setdefault("first_token_s", timings["total_s"])
            return Event("answer", Answer(question, language, text, abstained, tuple(citations), hits, dict(timings),
                                          query, raw, evidence, prompt_tokens))

        best = max((h.dense for h in hits if h.dense is not None), default=0.0)
        if not hits or best < self.min_similarity or self.generator is None:
            text = self.not_found(language)
            timings["first_token_s"] = round(time.perf_counter() - t0, 4)
            yield Event("token", text)
            yield done(text, True)
            return

        evidence = tuple(self.selector.select(retrieval))
        timings["evidence_s"] = round(time.perf_counter() - t0, 4)
        yield Event("evidence", evidence)
        system, examples, user = self.messages(question, language, list(evidence))
        gen_filter = AnswerFilter(language, len(evidence))
        pieces = self.generator.stream(system, user, self.max_tokens, self.temperature, examples=examples)
        try:
            for piece in pieces:
                if "first_token_s" not in timings:
                    timings["first_token_s"] = round(time.perf_counter() - t0, 4)
                shown, stop = gen_filter.feed(piece)
                if shown:
                    yield Event("token", shown)
                if stop:
                    break
        finally:
            close = getattr(pieces, "close", None)
            if close:
                close()  # stops llama.cpp and releases its lock when we stop early
        stats = getattr(self.generator, "last_stats", None)
        if isinstance(stats, dict) and stats.get("prompt_tokens") is not None:
            prompt_tokens = stats["prompt_tokens"]
            timings["prompt_tokens_evaluated"] = stats["evaluated_tokens"]
        raw = gen_filter.raw
        text = gen_filter.text()
        # Small models sometimes append the marker to a real answer; only a reply that is (or starts
        # with) the marker is an abstention, otherwise the marker is dropped and the support check decides.
        if not starts_with_marker(text):
            text = MARKER.sub("", text).strip()
        if not text or starts_with_marker(text):
            yield from self._abstain(language, gen_filter.shown, done)
            return
        first = cite.split_sentences(text)[0]
        if is_refusal(first):
            # "The excerpts do not mention ..." as the opening line: the model's way of abstaining.
            yield from self._abstain(language, gen_filter.shown, done)
            return
        rest = gen_filter.rest()
        if rest:
            yield Event("token", rest)
        text, citations, _ = cite.extract(text, evidence, self._support_score(question))
        if self.require_support and not any(c.supported for c in citations) and _invents_numbers(text, evidence, question):
            # Nothing backs the answer and it states a figure no excerpt (nor the question) contains:
            # an invented amount or date is worse than no answer. Other unsupported answers are shown
            # with their citations flagged: on the gold set, abstaining on every unsupported answer
            # turned 9 right answers into "not found" and caught no unanswerable question (2026-11-25).
            yield from self._abstain(language, gen_filter.shown, done)
            return
        yield done(cite.strip_invalid(text, len(evidence)), False, citations)

    def _abstain(self, language: str, shown: int, done) -> Iterator[Event]:
        text = self.not_found(language)
        yield Event("token", "\n\n" + text if shown else text)
        yield done(text, True)

    def not_found(self, language: str) -> str:
        return self.prompts.text(f"not_found.{language}")

    def rewrite(self, question: str, history: list[tuple[str, str]]) -> str:
        """Turn a follow-up ("and who paid for it?") into a standalone search query."""
        if self.generator is None:
            return question
        turns = "\n".join(f"User: {q}\nAssistant: {a[:400]}" for q, a in history[-3:])
        prompt = self.prompts.render("rewrite", history=turns, question=question)
        out = "".join(self.generator.stream("You rewrite search questions.", prompt, 60, 0.0)).strip()
        out = out.splitlines()[0].strip().strip('"') if out else ""
        return out if 3 <= len(out) <= 400 else question

    # -- helpers ------------------------------------------------------------------------------
    @staticmethod
    def _check(question: str) -> str:
        q = (question or "").strip()
        if not q:
            raise InputError("empty question: type a question about the documents")
        if len(q) > MAX_QUESTION_CHARS:
            raise InputError(f"question too long ({len(q)} characters, at most {MAX_QUESTION_CHARS})")
        return q

    def _support_score(self, question: str = "") -> Callable[[str, Excerpt], float]:
        """Score >= 1 means supported: lexical overlap catches Dutch answers and quotes, embedding
        similarity to the excerpt's sentences (stored at ingest) catches English paraphrases."""
        cache: dict[str, np.ndarray] = {}

        def score(sentence: str, excerpt: Excerpt) -> float:
            lexical = cite.lexical_support(sentence, excerpt.text) / 0.5
            # Every date/amount of the sentence is in the excerpt and the wording is at least close.
            facts = 1.0 if cite.numbers_support(sentence, excerpt.text) and (lexical >= 0.2 or cite.is_short(sentence)) else 0.0
            if cite.foreign_numbers(sentence, excerpt.text, question):
                return 0.0  # "€320 million" that the excerpt never states: a topical match is not support
            vectors = self.selector.vectors_of(excerpt) if self.embedder is not None else None
            if vectors is None or not len(vectors):
                return max(lexical, facts)
            if sentence not in cache:
                cache[sentence] = self.embedder.embed_query(cite.MARKER.sub(" ", sentence))
            dense = float(np.max(vectors @ cache[sentence])) / self.support_similarity
            return max(lexical, dense, facts)

        return score


