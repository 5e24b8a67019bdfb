"""The one answer path shared by CLI, UI and eval: retrieve -> prompt -> generate -> cite.

`Assistant.stream()` yields events while it works (the passages, then answer tokens, then the
final Answer); `Assistant.answer()` just drains it. Abstention happens twice: before generation
when even the best passage is not similar enough to the question, and after it when the model
says the sources do not answer, or when not one sentence of its answer is supported by a passage.
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
from .generate import Generator
from .prompts import Prompts
from .retrieve import Retriever
from .types import Answer, Chunk, Hit

NOT_FOUND = "NOT_FOUND"
_LEAD = re.compile(r"\s*(?:answer|antwoord)\s*:\s*", re.IGNORECASE)
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


def is_refusal(sentence: str) -> bool:
    """An opening sentence saying the sources do not answer (the model's way to abstain), also when
    the model cites the sources it found wanting ("... niet af te leiden uit de bronnen [1].")."""
    return bool(_REFUSAL.search(sentence)) and bool(_ABOUT_SOURCES.search(sentence))


@dataclass(frozen=True)
class Event:
    kind: str  # "query" | "passages" | "token" | "answer"
    data: object


class Assistant:
    def __init__(
        self,
        retriever: Retriever,
        generator: Generator | None,
        prompts: Prompts,
        embedder: Embedder | None = None,
        vector_of: Callable[[Chunk], np.ndarray] | None = None,
        top_k: int = 5,
        min_similarity: float = 0.30,
        support_similarity: float = 0.45,
        max_tokens: int = 320,
        temperature: float = 0.1,
        require_support: bool = True,
    ):
        self.retriever, self.generator, self.prompts = retriever, generator, prompts
        self.embedder, self.vector_of = embedder, vector_of
        self.top_k, self.min_similarity, self.support_similarity = top_k, min_similarity, support_similarity
        self.max_tokens, self.temperature = max_tokens, temperature
        self.require_support = require_support

    # -- public -------------------------------------------------------------------------------
    def answer(self, question: str, k: int | None = None, history: list[tuple[str, str]] | None = None) -> Answer:
        result = None
        for event in self.stream(question, k, history):
            if event.kind == "answer":
                result = event.data
        return result

    def search(self, question: str, k: int | None = None) -> list[Hit]:
        return self.retriever.search(self._check(question), k or self.top_k)

    def stream(self, question: str, k: int | None = None, history: list[tuple[str, str]] | None = None) -> Iterator[Event]:
        t0 = time.perf_counter()
        question = self._check(question)
        language = lang.detect(question)
        query = self.rewrite(question, history) if history else question
        yield Event("query", query)
        hits = tuple(self.retriever.search(query, k or self.top_k))
        timings = {"retrieve_s": round(time.perf_counter() - t0, 4)}
        yield Event("passages", hits)

        raw = ""

        def done(text: str, abstained: bool, citations=()) -> Event:
            timings["total_s"] = round(time.perf_counter() - t0, 4)
            timings.setdefault("first_token_s", timings["total_s"])
            return Event("answer", Answer(question, language, text, abstained, tuple(citations), hits, dict(timings), query, raw))

        best = max((h.dense for h in hits if h.dense is not None), default=0.0)
        if not hits or best < self.min_similarity or self.generator is None:
            text = self.not_found(language)
            timings["first_token_s"] = round(time.perf_counter() - t0, 4)
            yield Event("token", text)
            yield done(text, True)
            return

        system = self.prompts.render("system", language_name=lang.NAMES[language], not_found_marker=NOT_FOUND)
        sources = "\n\n".join(
            self.prompts.render("source", n=i + 1, title=h.chunk.title, text=h.chunk.text) for i, h in enumerate(hits)
        )
        user = self.prompts.render(
            "answer", sources=sources, question=question, language_name=lang.NAMES[language], not_found_marker=NOT_FOUND
        )
        shown = 0  # characters of raw already streamed
        pieces = self.generator.stream(system, user, self.max_tokens, self.temperature)
        try:
            for piece in pieces:
                if not raw:
                    timings["first_token_s"] = round(time.perf_counter() - t0, 4)
                raw += piece
                cut = _drift(raw, language)
                if cut is not None:  # the model started copying a passage: the answer is over
                    raw = raw[:cut]
                    break
                lead = _LEAD.match(raw)  # "Answer:" copied from the prompt's example is not shown
                shown = max(shown, lead.end() if lead else 0)
                # Hold back text that could still become the NOT_FOUND marker, a dead [n], or a
                # paragraph that turns out to be a copied passage.
                safe = min(_safe_prefix(raw, len(hits)), _undecided(raw))
                if safe > shown:
                    yield Event("token", cite.strip_invalid(_MARKER.sub("", raw[shown:safe]), len(hits)))
                    shown = safe
        finally:
            close = getattr(pieces, "close", None)
            if close:
                close()  # stops llama.cpp and releases its lock when we stop early
        text = _LEAD.sub("", raw).strip()
        # Small models sometimes append the marker to a real answer; only a reply that is (or starts
        # with) the marker is an abstention, otherwise the marker is dropped and the support check decides.
        if not _starts_with_marker(text):
            text = _MARKER.sub("", text).strip()
        if not text or _starts_with_marker(text):
            text = self.not_found(language)
            yield Event("token", "\n\n" + text if shown else text)
            yield done(text, True)
            return

        first = cite.split_sentences(text)[0]
        if is_refusal(first):
            # "The sources do not mention ..." as the opening line: the model's way of abstaining.
            text = self.not_found(language)
            yield Event("token", "\n\n" + text)
            yield done(text, True)
            return
        if len(raw) > shown:
            yield Event("token", cite.strip_invalid(_MARKER.sub("", raw[shown:]), len(hits)))
        text, citations, _ = cite.extract(text, hits, self._support_score())
        if self.require_support and not any(c.supported for c in citations):
            # Not one sentence is backed by a passage: an ungrounded answer is worse than none.
            text = self.not_found(language)
            yield Event("token", "\n\n" + text)
            yield done(text, True)
            return
        yield done(cite.strip_invalid(text, len(hits)), False, citations)

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

    def _support_score(self) -> Callable[[str, Hit], float]:
        """Score >= 1 means supported: lexical overlap catches Dutch answers and quotes,
        embedding similarity catches English paraphrases of Dutch passages."""
        cache: dict[str, np.ndarray] = {}

        def score(sentence: str, hit: Hit) -> float:
            lexical = cite.lexical_support(sentence, hit.chunk.text) / 0.5
            # Every date/amount of the sentence is in the passage and the wording is at least close.
            facts = 1.0 if cite.numbers_support(sentence, hit.chunk.text) and lexical >= 0.2 else 0.0
            if cite.foreign_numbers(sentence, hit.chunk.text):
                return 0.0  # "€320 million" that the passage never states: a topical match is not support
            if self.embedder is None or self.vector_of is None:
                return max(lexical, facts)
            if sentence not in cache:
                cache[sentence] = self.embedder.embed_query(cite.MARKER.sub(" ", sentence))
            dense = float(np.dot(cache[sentence], self.vector_of(hit.chunk))) / self.support_similarity
            return max(lexical, dense, facts)

        return score


_PARAGRAPH = re.compile(r"\n[ \t]*\n\s*")
_ECHO = re.compile(r"(?:\[\d+\]\s+\S|<<<|>>>)")  # the prompt's source block format, copied back
_DECIDE_WORDS = 8  # words of a new paragraph needed to judge its language


def _paragraphs(raw: str) -> list[tuple[int, str]]:
    """(offset of the separator before it, text) for every paragraph after the first."""
    marks = list(_PARAGRAPH.finditer(raw))
    return [(m.start(), raw[m.end(): marks[i + 1].start() if i + 1 < len(marks) else len(raw)])
            for i, m in enumerate(marks)]


def _drift(raw: str, language: str) -> int | None:
    """Where a small model stops answering and starts copying: a later paragraph that echoes a
    source block ("[2] Title", "<<<") or is in the other language (a Dutch passage pasted under an
    English answer). Returns the offset to cut at, or None."""
    for start, para in _paragraphs(raw):
        if _ECHO.match(para):
            return start
        if len(para.split()) >= _DECIDE_WORDS and lang.detect(para) != language:
            return start
    return None


def _undecided(raw: str) -> int:
    """Hold back a new paragraph until it is long enough for _drift to judge it."""
    paras = _paragraphs(raw)
    if paras and len(paras[-1][1].split()) < _DECIDE_WORDS:
        return paras[-1][0]
    return len(raw)


# The marker as models write it ("NOT_FOUND", "Not_FOUND", "NOT FOUND"), never the words "not found".
_MARKER = re.compile(r"\s*\b(?:NOT FOUND|(?i:not_found))\b\.?")


def _starts_with_marker(text: str) -> bool:
    return text.lstrip(" *_`\"'").upper().replace(" ", "_").startswith(NOT_FOUND)


def _safe_prefix(raw: str, n_hits: int) -> int:
    """How much of the streamed text can be shown now: nothing while it may still turn into the
    NOT_FOUND marker, and never an unfinished "[..." marker."""
    head = raw.lstrip().upper().replace(" ", "_")
    if head and any(w.startswith(head[: len(w)]) for w in (NOT_FOUND, "ANSWER:", "ANTWOORD:")):
        return 0
    safe = len(raw)
    cut = raw.rfind("[")
    if cut != -1 and "]" not in raw[cut:]:
        safe = cut
    # A marker appended to an answer ("... [1].\n\nNOT_FOUND") is held back until it is complete
    # (and then removed), so it never flashes on screen.
    for m in re.finditer(r"\bN", raw[:safe]):
        tail = raw[m.start():safe].upper().replace(" ", "_")
        if NOT_FOUND.startswith(tail) and len(tail) < len(NOT_FOUND):
            return m.start()
    return safe
