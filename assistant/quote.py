"""The quote: the sentence of the evidence that answers the question, chosen in code.

The answer starts from it: answer.py shows it first (exact span, its excerpt number, its page) and
pre-fills it into the model's reply, so the model continues from the sentence that holds the
answer instead of choosing among eight excerpts itself (the 1.5B model's most common error was a
neighbouring sentence's fact).

Each sentence of the excerpts is scored from numbers the pipeline already has, no model call:
    its cosine to the question (stored sentence vectors, computed by the retriever)
  + chunk_weight x the fused retrieval score of its best chunk (the passage around it matters)
  + type_weight for each kind of answer the question asks that the sentence holds (a date for
    "when", a number for "how many", a name for "who": question.py)
  - question_penalty when the sentence is itself a question (a council question restates the
    user's question but never answers it).
(QuoteSettings, the `quote` section of config.Settings.)
Chosen on the gold set (sentence recall@1 of the excerpts 0.670 -> 0.732) and checked on LegalQA-NL
(README "Answers"). Lexical overlap with the question was measured and left out: it favours
sentences that repeat the question.
"""

from __future__ import annotations

from dataclasses import dataclass

from .evidence import EvidenceSelector
from .pages import page_at
from .question import DATE, NAME, NUMBER, PLACE, Part, Question, answered
from .retrieve import Retrieval
from .sentences import is_table_row
from .types import Excerpt, Quote

_TYPED = (DATE, NUMBER, NAME, PLACE)


@dataclass(frozen=True)
class QuoteSettings:
    chunk_weight: float = 0.5
    type_weight: float = 0.1
    question_penalty: float = 0.5
    next_sentence: bool = True  # the quote is the best sentence and the one after it (QuoteChooser.with_next)


@dataclass(frozen=True)
class Candidate:
    row: int  # sentence row in the index
    excerpt: Excerpt
    start: int
    end: int
    text: str
    score: float


class QuoteChooser:
    def __init__(self, selector: EvidenceSelector, settings: QuoteSettings | None = None):
        self.selector = selector
        self.settings = s = settings or QuoteSettings()
        self.next_sentence = s.next_sentence
        self.chunk_weight, self.type_weight, self.question_penalty = s.chunk_weight, s.type_weight, s.question_penalty

    def candidates(self, question: Question, retrieval: Retrieval, evidence: tuple[Excerpt, ...] | list[Excerpt]) -> list[Candidate]:
        """Every sentence of the excerpts with its score, best first."""
        idx = self.selector.index
        chunk = self.selector.chunk_scores(retrieval)
        wanted = {p.asks for p in question.parts} & set(_TYPED)
        out = []
        for e in evidence:
            text = idx.docs[e.source].text
            for j in self.selector.rows_of(e):
                sp = idx.sentences[j]
                sentence = text[sp.start:sp.end]
                score = retrieval.sentence_scores.get(j, 0.0) + self.chunk_weight * chunk.get(j, 0.0)
                score += self.type_weight * sum(answered(Part("", k), sentence, question.text) for k in wanted)
                if sentence.rstrip().endswith("?"):
                    score -= self.question_penalty
                out.append(Candidate(j, e, sp.start, sp.end, sentence, score))
        return sorted(out, key=lambda c: (-c.score, c.row))

    def choose(self, question: Question, retrieval: Retrieval, evidence) -> Quote | None:
        ranked = self.candidates(question, retrieval, evidence)
        return self.quote(ranked[:1], ranked)

    def with_next(self, best: Candidate, ranked: list[Candidate]) -> tuple[int, int]:
        """The quote's span: the best sentence and the one after it in the same excerpt. A document
        often says the answer over two sentences ("... twee analisten van BMC ingeroepen. Jaap
        Diepeveen en Coen Derickx ..."): on the gold set the two hold every keyword for 0.670 of the
        answerable questions against 0.500 for the sentence alone (README "Answers"). A table row
        (readers/table.py) holds its cells with their headers: the row after it is another record,
        and quoting both led the model to mix them up, so a row is quoted alone and never added."""
        if is_table_row(best.text):
            return best.start, best.end
        nxt = next((c for c in ranked if c.row == best.row + 1 and c.excerpt is best.excerpt), None)
        if nxt is not None and is_table_row(nxt.text):
            nxt = None
        return best.start, (nxt.end if nxt is not None and self.next_sentence else best.end)

    def for_part(self, part: Part, question: Question, ranked: list[Candidate]) -> Quote | None:
        """The best sentence that holds what one part asks for (a date for "when"): the quote a
        follow-up turn answers that part from. None when no excerpt holds one."""
        return self.quote([c for c in ranked if answered(part, c.text, question.text)][:1])

    def quote(self, best: list[Candidate], ranked: list[Candidate] | None = None) -> Quote | None:
        """The quote made of the first of `best` (and, given all `ranked` candidates, the sentence after it)."""
        if not best:
            return None
        c, e = best[0], best[0].excerpt
        doc = self.selector.index.docs[e.source]
        start, end = self.with_next(c, ranked) if ranked else (c.start, c.end)
        return Quote(e.n, e.source, e.title, start, end, doc.text[start:end], page_at(doc.pages, start), round(c.score, 4))
