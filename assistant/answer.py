"""The one answer path shared by CLI, UI and eval: retrieve -> evidence -> quote -> decide -> generate -> cite.

`Assistant.stream()` yields events while it works: the search query, the retrieved chunks, the
evidence excerpts the model will read (at once, before the model starts), the quote the answer
starts from, the answer's tokens, and the final Answer. `Assistant.answer()` just drains it.

What code decides and what the model is asked (the 1.5B model restated questions, answered one part
of two, said "yes" to every yes/no question and picked a neighbouring sentence's fact; six prompt
variants did not change that, so the answer step asks it only for what it does reliably):
- not found: from the model's own next-token probability of NOT_FOUND at the first reply token
  (no extra prompt reading), against a threshold chosen from a sweep over the gold set; also in code
  before generation when even the best chunk is not similar enough, and after it when the answer
  states a figure no excerpt holds;
- the quote: the sentence of the excerpts that answers (quote.py), shown first and pre-filled into
  the model's reply, which continues from it;
- yes or no: from p(yes) against p(no) after the quote, put first; the model writes the reason;
- every part: question.py finds the parts ("who ... and when ..."), checks the answer for each,
  and a missing one is asked in one short follow-up turn (llama.cpp keeps everything before it).
A backend that cannot pre-fill a reply (an OpenAI-compatible server) gets the quote in the user turn
instead, and one without logits abstains the older way, when its reply is the marker.
"""

from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass, replace
from typing import Callable, Iterator

import numpy as np

from . import cells, cite, lang
from . import question as questions
from .embed import Embedder
from .errors import InputError
from .evidence import EvidenceSelector
from .filters import Where
from .generate import Generator, Prompt
from .prompts import Prompts
from .quote import QuoteChooser, QuoteSettings
from .retrieve import Retriever
from .stream_filter import NOT_FOUND, NOT_FOUND_RE, AnswerFilter, starts_with_marker
from .types import Answer, Decision, Excerpt, Quote

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
# The first reply token of an answer (the quote's "[n]") against that of the marker.
_FIRST = "["
MAX_FOLLOW_UPS = 2


def invents_numbers(answer: str, evidence, question: str) -> bool:
    """The answer states a figure (two or more digits) that neither an excerpt, nor a title the
    model was shown with the excerpts, nor the question holds."""
    seen = " ".join([e.text for e in evidence] + [e.title for e in evidence] + [e.context for e in evidence])
    return bool(cite.foreign_numbers(answer, seen, question))


def is_refusal(sentence: str) -> bool:
    """An opening sentence saying the sources do not answer (the model's way to abstain), also when
    the model cites the sources it found wanting ("... niet af te leiden uit de bronnen [1].")."""
    return bool(_REFUSAL.search(sentence)) and bool(_ABOUT_SOURCES.search(sentence))


@dataclass(frozen=True)
class Event:
    kind: str  # "query" | "passages" | "evidence" | "quote" | "token" | "answer"
    data: object


@dataclass(frozen=True)
class AnswerSettings:
    """How the answer step decides: the `answer` section of config.Settings (defaults stated here once)."""

    top_k: int = 5  # chunks retrieved; the evidence is chosen from their sentences
    min_similarity: float = 0.30  # below this best-passage cosine: "not found" without asking the model
    support_similarity: float = 0.45  # answer-sentence-to-excerpt cosine that counts as support
    max_tokens: int = 200  # longest answer
    temperature: float = 0.1
    require_support: bool = True  # abstain on an unsupported answer that states a figure no excerpt holds
    # p(NOT_FOUND) at the first reply token at or above which the assistant abstains. 0.8: the
    # middle of the flat stretch 0.6-0.99 of the gold-set sweep (abstention recall 0.769, false
    # abstention 0.029; README "Answers"), not tuned to its edge.
    not_found_threshold: float = 0.8
    # p(yes) / (p(yes) + p(no)) at the reply's first token at or above which the answer is "yes"
    # (0.5 was the best of the sweep, 0.735 on 34 gold yes/no questions).
    yes_threshold: float = 0.5
    # Pre-filled quote only: correct p(yes) for the model's yes-bias, read with an empty quote.
    # Off: it lowered yes/no accuracy on the gold set (README "tried and not kept").
    yes_calibration: bool = False
    quote_first: bool = True  # choose the quote (quote.py) and show it before the answer
    # Pre-fill the quote into the model's reply so the answer continues from it. Off (default): the
    # quote is shown beside a plain answer, which measured better on every count (README "Answers").
    quote_prefill: bool = False
    # Beside mode only: also name the chosen sentence to the model in the user turn (prompts/quote_hint.*).
    quote_hint: bool = False
    # An answer that only restates the question gets one more turn, its reply pre-filled with the
    # quote and the answer label, so the model says what the quoted sentence says (README "Answers").
    retry_restated: bool = True
    follow_up_tokens: int = 24  # longest value a follow-up turn may write for a missing part
    restated_tokens: int = 60  # longest sentence the turn after a restating answer may write
    # A question about one cell of a quoted table row (the row and one column named) is answered by
    # code with that cell (cells.py), not by the model.
    table_cells: bool = True


class Assistant:
    def __init__(
        self,
        retriever: Retriever,
        generator: Generator | None,
        prompts: Prompts,
        selector: EvidenceSelector,
        embedder: Embedder | None = None,
        settings: AnswerSettings | None = None,
        quote: QuoteSettings | None = None,
        **overrides,
    ):
        self.retriever, self.generator, self.prompts, self.selector = retriever, generator, prompts, selector
        self.embedder = embedder
        self.settings = replace(settings or AnswerSettings(), **overrides)
        self.quotes = QuoteChooser(selector, quote)

    @property
    def top_k(self) -> int:
        return self.settings.top_k

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
            for _ in self.generator.stream(Prompt(system, "OK?", tuple(examples)), 1, 0.0):
                pass

    def check(self, question: str) -> str:
        """The question, stripped; InputError for an empty or too long one."""
        q = (question or "").strip()
        if not q:
            raise InputError("empty question: type a question about the documents")
        if len(q) > MAX_QUESTION_CHARS:
            raise InputError(f"question too long ({len(q)} characters, at most {MAX_QUESTION_CHARS})")
        return q

    def search(self, question: str, k: int | None = None, where: Where | None = None):
        return self.retriever.search(self.check(question), k or self.top_k, where)

    def messages(self, question: str, language: str, evidence: list[Excerpt],
                 quote: Quote | None = None) -> tuple[str, list[tuple[str, str]], str]:
        """(system, worked examples, user message). The system prompt and examples do not depend
        on the question, so they come first and llama.cpp evaluates them once per process. `quote`
        goes into the user turn (for a backend that cannot pre-fill the reply). Without quote-first
        replies (quote_prefill off) the prompts are the plain ones: the reply is the answer alone."""
        plain = "" if self._quote_replies() else ".plain"
        system = self.prompts.render(f"system{plain}", not_found_marker=NOT_FOUND)
        hint = self.prompts.render(f"quote_hint.{language}", quote=self.quote_line(quote)) + "\n" if quote else ""
        user = self.prompts.render(f"question.{language}", excerpts=self.prompts.excerpts(evidence), question=question,
                                   quote_hint=hint)
        return system, self.prompts.examples(f"examples{plain}"), user

    def _quote_replies(self) -> bool:
        """Does the model's reply start with the quote (pre-filled by code, or written by a backend
        that cannot be pre-filled, as the worked examples show)?"""
        gen = self.generator
        return self.settings.quote_prefill or gen is None or not gen.abilities.prefill

    def quote_line(self, quote: Quote) -> str:
        return self.prompts.render("quote", n=quote.n, text=" ".join(quote.text.split()))

    def reply_prefix(self, language: str, quote: Quote, lead: str = "") -> str:
        """The start of the model's reply that code writes: the quote line, the answer label in the
        question's language (without it the model drifts into the quote's language), the lead."""
        prefix = self.quote_line(quote) + "\n" + self.prompts.text(f"answer_label.{language}")
        return prefix + (" " + lead if lead else "")

    def answer_prefix(self, answer: Answer) -> str:
        """The reply prefix an answer was generated after ("" when none was pre-filled)."""
        if not (self.generator and self.generator.abilities.prefill):
            return ""
        if not self.settings.quote_prefill or answer.quote is None:
            return answer.decision.lead
        return self.reply_prefix(answer.language, answer.quote, answer.decision.lead)

    def stream(self, question: str, k: int | None = None, history: list[tuple[str, str]] | None = None,
               where: Where | None = None) -> Iterator[Event]:
        """`where` (filters.py, already resolved against the index) restricts retrieval to the
        documents it lets through; the evidence and citations can then only come from them."""
        s = self.settings
        t0 = time.perf_counter()
        question = self.check(question)
        asked = questions.analyse(question)
        language = asked.language
        query = self.rewrite(question, history) if history else question
        yield Event("query", query)
        retrieval = self.retriever.retrieve(query, k or s.top_k, where, language=language)
        hits = retrieval.hits
        timings: dict = {"retrieve_s": round(time.perf_counter() - t0, 4)}
        yield Event("passages", hits)
        state = _State(question, language, hits, query, timings, t0,
                       Decision(yesno=asked.yesno, parts=tuple(p.asks for p in asked.parts)))

        best = max((h.dense for h in hits if h.dense is not None), default=0.0)
        if not hits or best < s.min_similarity or self.generator is None:
            yield from self._abstain(state, "similarity")
            return

        state.evidence = tuple(self.selector.select(retrieval))
        timings["evidence_s"] = round(time.perf_counter() - t0, 4)
        yield Event("evidence", state.evidence)
        gen = self.generator
        prefill = gen.abilities.prefill and s.quote_first
        state.candidates = self.quotes.candidates(asked, retrieval, state.evidence) if s.quote_first else []
        state.quote = self.quotes.quote(state.candidates[:1], state.candidates)
        # The quote goes into the user turn when the reply cannot carry it (no pre-fill), or when
        # quote_hint asks for it beside a plain reply.
        in_question = not prefill or (s.quote_hint and not s.quote_prefill)
        system, examples, user = self.messages(question, language, list(state.evidence),
                                               state.quote if in_question else None)
        prompt = Prompt(system, user, tuple(examples))

        # 0. A question about one cell of the quoted table row: that cell is the answer (cells.py).
        found = cells.answer_cell(question, state.quote.text) if s.table_cells and state.quote is not None else None
        if found is not None:
            yield from self._cell(found, state)
            return

        # 1. Not found? The model's probability of the marker as its first reply token (against the
        # quote's "[", or, in a plain reply, against everything else it could write).
        if gen.abilities.logits:
            quoted = self._quote_replies()
            choice = gen.choose(prompt, [NOT_FOUND, _FIRST] if quoted else [NOT_FOUND])
            state.add_stats(gen.last_stats)
            if choice is not None:
                p_nf = choice.probs[NOT_FOUND] if quoted else choice.mass
                state.decision = replace(state.decision, p_not_found=p_nf, not_found_threshold=s.not_found_threshold)
                if p_nf >= s.not_found_threshold:
                    yield from self._abstain(state, "not_found")
                    return

        # 2. The quote, shown first and pre-filled into the reply; 3. the verdict of a yes/no question.
        shown_lead = ""
        if state.quote is not None:
            state.timings["quote_s"] = round(time.perf_counter() - t0, 4)
            yield Event("quote", state.quote)
        if prefill and not s.quote_prefill:
            # The quote is shown beside the answer; the model's reply is the answer alone. Its verdict
            # is read at the reply's first token, from the same logits as p(NOT_FOUND).
            if asked.yesno and gen.abilities.logits:
                yes, no = self.verdict_words(language)
                choice = gen.choose(prompt, [yes, no])
                state.add_stats(gen.last_stats)
                if choice is not None:
                    p_yes = choice.probs[yes]
                    verdict = "yes" if p_yes >= s.yes_threshold else "no"
                    shown_lead = (yes if verdict == "yes" else no) + ","
                    state.decision = replace(state.decision, p_yes=p_yes, verdict=verdict)
                    state.timings["first_token_s"] = round(time.perf_counter() - t0, 4)
            elif asked.parts[0].asks == questions.REASON and not asked.multi:
                shown_lead = self.prompts.text(f"because.{language}")
            if shown_lead:
                state.decision = replace(state.decision, lead=shown_lead)
                prompt = prompt.then(shown_lead)
        elif prefill and state.quote is not None:
            prompt = prompt.then(self.reply_prefix(language, state.quote))
            if asked.yesno and gen.abilities.logits:
                yes, no = self.verdict_words(language)
                options = [" " + yes, " " + no]
                p_null = None
                if s.yes_calibration:
                    # The model's yes-bias for this question without evidence: the same reply with an
                    # empty quote (~10 new tokens). Read first: the real quote then extends the cache.
                    empty = replace(prompt, prefix=self.reply_prefix(language, replace(state.quote, text="")))
                    null = gen.choose(empty, options)
                    state.add_stats(gen.last_stats)
                    p_null = null.probs[options[0]] if null is not None else None
                choice = gen.choose(prompt, options)
                state.add_stats(gen.last_stats)
                if choice is not None:
                    p_yes = choice.probs[options[0]]
                    score = calibrated(p_yes, p_null)
                    verdict = "yes" if score >= s.yes_threshold else "no"
                    shown_lead = (yes if verdict == "yes" else no) + ","
                    state.decision = replace(state.decision, p_yes=p_yes, p_yes_null=p_null, verdict=verdict)
                    # The verdict is the model's (its logits), so it is the answer's first token.
                    state.timings["first_token_s"] = round(time.perf_counter() - t0, 4)
            elif asked.parts[0].asks == questions.REASON and not asked.multi:
                shown_lead = self.prompts.text(f"because.{language}")  # a reason, not the question restated
            if shown_lead:
                state.decision = replace(state.decision, lead=shown_lead)
                prompt = prompt.then(" " + shown_lead)

        # 4. The answer, streamed.
        gen_filter = AnswerFilter(language, len(state.evidence))
        if shown_lead:
            yield Event("token", shown_lead)
        for i, shown in enumerate(self._generate(prompt, s.max_tokens, gen_filter, state)):
            yield Event("token", " " + shown.lstrip() if i == 0 and shown_lead else shown)
        raw = gen_filter.raw
        state.raw = raw
        text = gen_filter.text()
        # Small models sometimes append the marker to a real answer; only a reply that is (or starts
        # with) the marker is an abstention, otherwise the marker is dropped and the support check decides.
        if not starts_with_marker(text):
            text = NOT_FOUND_RE.sub("", text).strip()
        if not shown_lead and (not text or starts_with_marker(text)):
            yield from self._abstain(state, "model", gen_filter.shown)
            return
        if not shown_lead and is_refusal(cite.split_sentences(text)[0]):
            # "The excerpts do not mention ..." as the opening line: the model's way of abstaining.
            yield from self._abstain(state, "refusal", gen_filter.shown)
            return
        rest = gen_filter.rest()
        if rest:
            yield Event("token", rest)
        if shown_lead and text.lower().startswith(shown_lead.rstrip(",").lower()):
            text = text[len(shown_lead.rstrip(",")):].lstrip(" ,")  # "Omdat" + "Omdat ...": said once
        text = _join(shown_lead, text)

        conversation, reply = prompt, prompt.prefix + raw
        # 5. An answer that only restates the question ("Omdat er geen projectplan is opgesteld [1]."):
        # one more turn that starts from the quote (a check in code, question.restates).
        if s.retry_restated and state.quote is not None and gen.abilities.prefill \
                and questions.restates(text, question):
            more, turn = yield from self._restated(conversation, reply, state)
            conversation, reply = turn, turn.prefix + state.follow_up_raw
            if more:
                text = _join(text, more)

        # 6. Every asked part answered? One short follow-up turn per missing part.
        typed = (questions.DATE, questions.NUMBER, questions.NAME, questions.PLACE)
        for part in [p for p in questions.missing(asked, text) if p.asks in typed][:MAX_FOLLOW_UPS]:
            more, turn = yield from self._follow_up(conversation, reply, part, asked, state)
            if turn is not None:  # the next follow-up continues this one, so all of it stays cached
                conversation, reply = turn, turn.prefix + state.follow_up_raw
            if more:
                text = _join(text, more)
        if state.follow_ups:
            state.decision = replace(state.decision, follow_ups=tuple(state.follow_ups))

        text, citations, _ = cite.extract(text, state.evidence, self._support_score(question))
        if s.require_support and not any(c.supported for c in citations) \
                and invents_numbers(text, state.evidence, question):
            # Nothing backs the answer and it states a figure no excerpt (nor the question) contains:
            # an invented amount or date is worse than no answer. Other unsupported answers are shown
            # with their citations flagged: on the gold set, abstaining on every unsupported answer
            # turned 9 right answers into "not found" and caught no unanswerable question (2026-11-25).
            yield from self._abstain(state, "numbers", 1)
            return
        yield state.done(cite.strip_invalid(text, len(state.evidence)), False, citations)

    def _cell(self, found: cells.Cell, state: "_State") -> Iterator[Event]:
        """The quoted row's cell as the answer, written by code in the question's language, cited."""
        state.timings["quote_s"] = round(time.perf_counter() - state.t0, 4)
        yield Event("quote", state.quote)
        text = self.prompts.render(f"cell.{state.language}", header=found.header, row=found.row,
                                   value=found.value, n=state.quote.n)
        state.timings["first_token_s"] = round(time.perf_counter() - state.t0, 4)
        yield Event("token", text)
        state.decision = replace(state.decision, cell=found.header)
        text, citations, _ = cite.extract(text, state.evidence, self._support_score(state.question))
        yield state.done(text, False, citations)

    def verdict_words(self, language: str) -> tuple[str, str]:
        yes, no = (w.strip() for w in self.prompts.text(f"verdict.{language}").split("|"))
        return yes, no

    def not_found(self, language: str) -> str:
        return self.prompts.text(f"not_found.{language}")

    def rewrite(self, question: str, history: list[tuple[str, str]]) -> str:
        """Turn a follow-up ("and who paid for it?") into a standalone search query."""
        if self.generator is None:
            return question
        turns = "\n".join(f"User: {q}\nAssistant: {a[:400]}" for q, a in history[-3:])
        prompt = self.prompts.render("rewrite", history=turns, question=question)
        out = "".join(self.generator.stream(Prompt("You rewrite search questions.", prompt), 60, 0.0)).strip()
        out = out.splitlines()[0].strip().strip('"') if out else ""
        return out if 3 <= len(out) <= 400 else question

    # -- steps --------------------------------------------------------------------------------
    def _generate(self, prompt: Prompt, max_tokens: int, gen_filter: AnswerFilter, state: "_State") -> Iterator[str]:
        pieces = self.generator.stream(prompt, max_tokens, self.settings.temperature)
        try:
            for piece in pieces:
                if "first_token_s" not in state.timings:
                    state.timings["first_token_s"] = round(time.perf_counter() - state.t0, 4)
                shown, stop = gen_filter.feed(piece)
                if shown:
                    yield shown
                if stop:
                    break
        finally:
            close = getattr(pieces, "close", None)
            if close:
                close()  # stops llama.cpp and releases its lock when we stop early
        state.add_stats(self.generator.last_stats)

    def _follow_up(self, prompt: Prompt, reply: str, part: questions.Part, asked: questions.Question, state: "_State"):
        """Ask one missing part in a new user turn after the answer. The reply is pre-filled with the
        sentence that holds what the part asks (a date for "when") and the part's label ("Wanneer:"),
        so the model only has to copy or translate a short value: the one thing the 1.5B model does
        reliably here (asked to answer the part in a sentence, it repeated its first answer). The value
        is added to the answer as "Wanneer: eind 2012 [1]."; "" when no excerpt holds such a value or
        the model's value is not one. Returns (that text, the conversation with this turn, or None when
        none was asked). llama.cpp reads only the new turn: the rest is in its cache."""
        language = asked.language
        quote = self.quotes.for_part(part, asked, state.candidates)
        if quote is None or not self.generator.abilities.prefill:
            return "", None  # no excerpt holds a date / number / name: asking would invite an invention
        label, need = (x.strip() for x in self.prompts.table(f"needs.{language}")[part.asks].split("|"))
        turn = prompt.follow_up(reply, self.prompts.render(f"follow_up.{language}", part=part.text, need=need))
        turn = turn.then(self.quote_line(quote) + "\n" + label + ":")
        state.follow_ups.append(part.asks)
        value = self._read_line(turn, self.settings.follow_up_tokens, state)
        value = cite.MARKER.sub("", NOT_FOUND_RE.sub("", value.split("\n")[0])).strip(" .;,")
        if not value or is_refusal(value) or not questions.answered(part, value, state.question) \
                or invents_numbers(value, state.evidence, state.question):
            return "", turn
        line = f"{label}: {value} [{quote.n}]."
        yield Event("token", " " + line)
        return line, turn

    def _read_line(self, turn: Prompt, max_tokens: int, state: "_State", skip_blank: bool = False) -> str:
        """What the model writes in an extra turn, greedily, up to its first line break (after
        leading blank lines when `skip_blank`: a sentence after a label may start on a new line,
        a short value may not), recorded as the turn's raw text and its tokens counted."""
        value = ""
        pieces = self.generator.stream(turn, max_tokens, 0.0)
        try:
            for piece in pieces:
                value += piece
                if "\n" in (value.lstrip() if skip_blank else value):
                    break
        finally:
            close = getattr(pieces, "close", None)
            if close:
                close()
        state.add_stats(self.generator.last_stats)
        state.follow_up_raw = value
        return value

    def _restated(self, prompt: Prompt, reply: str, state: "_State"):
        """After an answer that only restated the question: a user turn saying so, the reply
        pre-filled with the quote and the answer label in the question's language. The model's
        sentence is added to the answer (with the quote's citation) unless it again says nothing
        new, is in the other language, refuses, or states a figure no excerpt holds. Returns (that
        sentence or "", the conversation with this turn); only the new turn is read (cache)."""
        language, quote = state.language, state.quote
        turn = prompt.follow_up(reply, self.prompts.text(f"restated.{language}"))
        turn = turn.then(self.quote_line(quote) + "\n" + self.prompts.text(f"answer_label.{language}"))
        state.follow_ups.append("restated")
        value = self._read_line(turn, self.settings.restated_tokens, state, skip_blank=True)
        value = NOT_FOUND_RE.sub("", value.strip().split("\n")[0]).strip()
        guessed = lang.guess(cite.MARKER.sub(" ", value))
        if not value or is_refusal(value) or questions.restates(value, state.question) \
                or (guessed is not None and guessed != language) or invents_numbers(value, state.evidence, state.question):
            return "", turn
        if not cite.MARKER.search(value):
            value = value.rstrip(" .") + f" [{quote.n}]."
        yield Event("token", " " + value)
        return value, turn

    def _abstain(self, state: "_State", reason: str, shown: int = 0) -> Iterator[Event]:
        text = self.not_found(state.language)
        state.decision = replace(state.decision, reason=reason)
        state.quote = None
        if "first_token_s" not in state.timings:
            state.timings["first_token_s"] = round(time.perf_counter() - state.t0, 4)
        yield Event("token", "\n\n" + text if shown else text)
        yield state.done(text, True)

    def _support_score(self, question: str = "") -> Callable[[str, Excerpt], float]:
        """Score >= 1 means supported: lexical overlap catches Dutch answers and quotes, embedding
        similarity to the excerpt's sentences (stored at ingest) catches English paraphrases."""
        cache: dict[str, np.ndarray] = {}
        s = self.settings

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
            dense = float(np.max(vectors @ cache[sentence])) / s.support_similarity
            return max(lexical, dense, facts)

        return score


def calibrated(p_yes: float, p_null: float | None) -> float:
    """p(yes) after the quote, corrected for the model's yes-bias without one (p_null): the odds
    ratio, mapped back to a probability (0.5 = the quote moves the model neither way)."""
    if p_null is None:
        return p_yes
    eps = 1e-6
    lo = math.log(max(p_yes, eps) / max(1 - p_yes, eps)) - math.log(max(p_null, eps) / max(1 - p_null, eps))
    return 1 / (1 + math.exp(-lo))


def _join(a: str, b: str) -> str:
    if not a:
        return b
    if not b:
        return a
    return a + ("" if b[:1] in ",.;:" else " ") + b.lstrip()


class _State:
    """What one answer has gathered so far (mutable while streaming; frozen into the Answer at the end)."""

    def __init__(self, question, language, hits, query, timings, t0, decision: Decision):
        self.question, self.language, self.hits, self.query = question, language, hits, query
        self.timings, self.t0, self.decision = timings, t0, decision
        self.evidence: tuple[Excerpt, ...] = ()
        self.candidates: list = []  # the excerpts' sentences, best quote first (quote.Candidate)
        self.quote: Quote | None = None
        self.raw = ""
        self.follow_ups: list[str] = []  # the kinds of the parts asked in a follow-up turn
        self.follow_up_raw = ""  # what the model wrote in the last follow-up turn
        self.prompt_tokens: int | None = None
        self.evaluated = 0
        self.calls = 0

    def add_stats(self, stats) -> None:
        if stats is None:
            return
        self.calls += 1
        self.evaluated += stats.evaluated_tokens
        self.prompt_tokens = max(self.prompt_tokens or 0, stats.prompt_tokens)
        self.timings["prompt_tokens_evaluated"] = self.evaluated

    def done(self, text: str, abstained: bool, citations=()) -> Event:
        self.timings["total_s"] = round(time.perf_counter() - self.t0, 4)
        self.timings.setdefault("first_token_s", self.timings["total_s"])
        return Event("answer", Answer(self.question, self.language, text, abstained, tuple(citations), self.hits,
                                      dict(self.timings), self.query, self.raw, self.evidence, self.prompt_tokens,
                                      self.quote, self.decision))
