"""A summary of one document in which every sentence cites the section it was written from.

The small model is unreliable when it reasons over many excerpts, so code chooses, checks and
decides; the model only writes "one or two sentences saying what this section says":
- map: sections.py cuts the document into sections that fit the model's context with room; for each
  the model writes one or two plain sentences (greedy, a short reply), in the asked language;
- reduce, by code: one sentence per section (the first its section supports, else the first), in
  document order, each cited [n] to its section by construction (the model never writes or chooses
  a number); the cap on sections is sections.py's;
- language: a sentence not in the asked language is not used; when none of a reply's is, the model
  is asked once more with its reply started by code in that language (a backend that can pre-fill);
- check: every sentence goes through cite.py's support check against its own section. A sentence
  stating a figure (two or more digits) its section does not hold is dropped: an invented amount or
  date is worse than a shorter summary (the answer path's rule, answer.invents_numbers). Any other
  unsupported sentence is kept and flagged (supported=False, shown with "?" like an answer's): it was
  written from that section alone, and the check's misses are mostly paraphrase, above all an
  English sentence about a Dutch section when no embedder backs the check.
Cached per document version: summary_cache.py.
"""

from __future__ import annotations

import difflib
import hashlib
import re
import time
from dataclasses import dataclass
from typing import Callable, Iterator

from . import cite, guard, sentences
from . import lang as _lang
from .generate import Generator, Prompt
from .pages import page_at
from .prompts import Prompts
from .sections import Section, Sections, split_sections
from .types import Document, Excerpt

LANGUAGES = ("nl", "en")
MAX_SENTENCES = 2  # per section: what the prompt asks for; more is the model running on


@dataclass(frozen=True)
class SummarySettings:
    # A section's budget: with the prompt (~250) and the reply inside a 4096 context. Measured on seed
    # 001 (~12 pages, 1.5B, 2 cores, 2026-12-05): 900 tokens and a cap of 8 left 9 of 17 sections out
    # (76 s); 1500 and 12 summarised all 12 (136 s, 12/12 supported). Fewer, larger sections cost
    # the same reading (every token is read once) and fewer replies.
    section_tokens: int = 1500
    min_section_tokens: int = 150  # smaller blocks join their neighbour
    # Sections summarised (sections.py: over the cap, neighbours merge, then first + longest are kept):
    # 12 x 1500 tokens is ~24 pages read whole; a longer document lists the sections it left out. A cap
    # of 16 gave seed 001 16 one-heading sections (157 s, a sentence per 0.75 page): too many.
    max_sections: int = 12
    max_tokens: int = 90  # the model's reply per section: two sentences with room


@dataclass(frozen=True)
class SummarySentence:
    text: str  # without its marker
    n: int  # the section it was written from: [n]
    start: int  # that section's span in the document
    end: int
    page: int | None
    supported: bool

    def cited(self) -> str:
        return cite._append_marker(self.text, self.n)

    def to_json(self) -> dict:
        return {"text": self.text, "n": self.n, "start": self.start, "end": self.end, "page": self.page,
                "supported": self.supported}


@dataclass(frozen=True)
class Summary:
    source: str
    title: str
    language: str
    sentences: tuple[SummarySentence, ...]
    sections: tuple[Section, ...]  # [n] == sections[n - 1]
    seconds: float
    pages: int | None  # real PDF pages, None for a document without pages
    model: str
    cached: bool = False
    omitted: tuple[Section, ...] = ()  # over the cap: not summarised (sections.py)
    dropped: int = 0  # sentences dropped by the check (a figure their section does not hold)

    @property
    def text(self) -> str:
        """The summary as shown: its sentences in document order, each with its [n]."""
        return " ".join(s.cited() for s in self.sentences)

    def to_json(self) -> dict:
        return {"source": self.source, "title": self.title, "language": self.language, "text": self.text,
                "sentences": [s.to_json() for s in self.sentences], "sections": [s.to_json() for s in self.sections],
                "omitted": [s.to_json() for s in self.omitted], "dropped": self.dropped, "seconds": self.seconds,
                "pages": self.pages, "model": self.model, "cached": self.cached}

    @classmethod
    def from_json(cls, data: dict, document: Document) -> "Summary":
        """A stored summary of `document` (the same version: the cache key holds its sha256), its
        sections' text taken from the document again."""

        def section(d: dict) -> Section:
            return Section(d["n"], d["source"], d["title"], d["heading"], d["start"], d["end"],
                           document.text[d["start"]:d["end"]], d["tokens"], d["page"])

        return cls(data["source"], data["title"], data["language"],
                   tuple(SummarySentence(**s) for s in data["sentences"]),
                   tuple(section(s) for s in data["sections"]), data["seconds"], data["pages"], data["model"],
                   bool(data.get("cached", False)), tuple(section(s) for s in data.get("omitted", ())),
                   int(data.get("dropped", 0)))


@dataclass(frozen=True)
class SummaryEvent:
    kind: str  # "sections" (Sections, before the model starts) | "progress" ((done, total)) |
    #            "sentence" (SummarySentence) | "summary" (Summary)
    data: object


def prompt_hash(prompts: Prompts, lang: str) -> str:
    """What the cache key holds of the prompts: a changed wording gives new summaries."""
    text = "\0".join(prompts.text(f"{name}.{lang}") for name in ("summary_system", "summary", "summary_lead"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def check_language(lang: str) -> str:
    if lang not in LANGUAGES:
        raise ValueError(f"summary language {lang!r}: use one of {', '.join(LANGUAGES)}")
    return lang


def lexical_score(sentence: str, excerpt: Excerpt) -> float:
    """The support check without an embedder (>= 1 means supported): cite.py's lexical overlap, or
    every figure of the sentence in the section."""
    lexical = cite.lexical_support(sentence, excerpt.text) / 0.5
    return max(lexical, 1.0 if cite.numbers_support(sentence, excerpt.text) else 0.0)


def summarize(document: Document, generator: Generator, prompts: Prompts, lang: str,
              progress: Callable[[int, int], None] | None = None, **kwargs) -> Summary:
    """The summary (see summarize_stream); `progress(done, total)` before each section."""
    result = None
    for event in summarize_stream(document, generator, prompts, lang, **kwargs):
        if event.kind == "progress" and progress is not None:
            progress(*event.data)
        elif event.kind == "summary":
            result = event.data
    return result


def summarize_stream(document: Document, generator: Generator, prompts: Prompts, lang: str,
                     settings: SummarySettings | None = None,
                     score: Callable[[str, Excerpt], float] | None = None) -> Iterator[SummaryEvent]:
    """`score(sentence, excerpt)` >= 1 when the excerpt supports the sentence (default: lexical_score;
    the chat and CLI pass the answer path's, which adds embedding similarity so an English sentence
    can be checked against a Dutch section)."""
    lang = check_language(lang)
    s = settings or SummarySettings()
    score = score or lexical_score
    t0 = time.perf_counter()
    parts: Sections = split_sections(document, generator.count_tokens, s.section_tokens, s.min_section_tokens,
                                     s.max_sections)
    yield SummaryEvent("sections", parts)
    system = prompts.text(f"summary_system.{lang}")
    out: list[SummarySentence] = []
    dropped = 0
    total = len(parts.kept)
    for sec in parts.kept:
        yield SummaryEvent("progress", (sec.n, total))
        heading = f" — {sec.heading}" if sec.heading else ""
        user = prompts.render(f"summary.{lang}", title=document.title, n=sec.n, total=total, heading=heading,
                              text=model_text(sec.text))
        # The prompt's own words without the document's: a sentence made of them is the model
        # repeating its instructions ("Het deel ... die zeggen wat dit deel zegt is:"), not a summary.
        frame = system + "\n" + prompts.render(f"summary.{lang}", title="", n=sec.n, total=total, heading="", text="")
        prompt = Prompt(system, user)
        found = [x for x in clean(_read(generator, prompt, s.max_tokens), frame, document.title) if _in(x, lang)]
        if not found and generator.abilities.prefill:
            # Nothing in the asked language (the small model drifts into the section's Dutch): once
            # more with the reply's first word written by code in that language ("The" / "De").
            lead = prompts.text(f"summary_lead.{lang}").strip()
            more = _read(generator, prompt.then(lead), s.max_tokens)
            found = [x for x in clean(lead + " " + more.lstrip(), frame, document.title) if _in(x, lang)]
        excerpt = Excerpt(sec.n, sec.source, sec.title, sec.start, sec.end, sec.text, sec.heading, page=sec.page,
                          meta=document.meta)
        chosen = None  # one sentence per section: the first supported one, else the first
        for text in found:
            if cite.foreign_numbers(text, sec.text + " " + document.title):
                dropped += 1  # a figure the section does not hold: invented
                continue
            candidate = SummarySentence(text, sec.n, sec.start, sec.end, sec.page, score(text, excerpt) >= 1.0)
            if chosen is None or (candidate.supported and not chosen.supported):
                chosen = candidate
            if chosen.supported:
                break
        if chosen is not None:
            out.append(chosen)
            yield SummaryEvent("sentence", chosen)
    # a Woo bundle's document: its page offsets start with the bundle's earlier pages (documents.py)
    pages = len(document.pages) - (page_at(document.pages, 0) - 1) if document.pages else None
    yield SummaryEvent("summary", Summary(document.source, document.title, lang, tuple(out), parts.kept,
                                          round(time.perf_counter() - t0, 3), pages, generator.name,
                                          omitted=parts.omitted, dropped=dropped))


def model_text(text: str) -> str:
    """The section as the model reads it: without the sentences that address an AI instead of a
    reader (guard.py; the answer path never shows them to the model either). The citation still
    spans the whole section, which the source panel shows to the reader."""
    kept, cursor, out = sentences.split(text), 0, []
    for a, b in kept:
        if guard.is_instruction(text[a:b]):
            out.append(text[cursor:a])
            cursor = b
    out.append(text[cursor:])
    return "".join(out).strip()


def _in(sentence: str, lang: str) -> bool:
    """Is the sentence in the asked language (or too short to tell: a name, a title)?"""
    return _lang.guess(sentence) in (lang, None)


def _read(generator: Generator, prompt: Prompt, max_tokens: int) -> str:
    pieces = generator.stream(prompt, max_tokens, 0.0)  # greedy: the same section, the same summary
    text = ""
    try:
        for piece in pieces:
            text += piece
            if "\n\n" in text.strip():  # a blank line: the model starts something else (a list, a second take)
                break
    finally:
        close = getattr(pieces, "close", None)
        if close:
            close()
    return text


_LABEL = re.compile(r"^\s*(?:[-•*#>]+\s*|\d+[.)]\s+|\*\*?[^*]{0,40}\*\*?:?\s*|"
                    r"(?:samenvatting|summary|deel \d+|part \d+|section \d+)\s*[:.-]\s*)", re.IGNORECASE)
# "The main facts of this part are: ..." / "Dit deel gaat over: ...": the lead-in goes, the rest stays.
_LEAD = re.compile(r"^[^:]{0,80}\b(?:part|section|summary|facts|deel|samenvatting|feiten)\b[^:]{0,40}:\s+", re.IGNORECASE)
_HEADER = re.compile(r"^(?:deel|part)\s+\d+\s+(?:van|of)\s+\d+", re.IGNORECASE)


def clean(reply: str, frame: str = "", title: str = "") -> list[str]:
    """The model's reply as at most MAX_SENTENCES plain sentences: its first paragraph, without list
    marks, labels ("Samenvatting:"), markdown or [n] markers it wrote anyway. Not a sentence: a
    fragment of fewer than four words, one that announces rather than says (ends in ":"), the
    prompt's header or the document's title repeated, or the prompt's instructions (`frame`)
    repeated."""
    para = (reply or "").strip().split("\n\n")[0]
    lines = [_LABEL.sub("", line).strip() for line in para.splitlines()]
    text = " ".join(line for line in lines if line)
    text = cite.MARKER.sub("", text).replace("**", "").replace("__", "")
    text = re.sub(r"\s+([.,;:!?])", r"\1", re.sub(r"\s+", " ", text)).strip()
    out = []
    for x in cite.split_sentences(text):
        x = _LEAD.sub("", x.strip()).strip()
        if x and x[0].islower():
            x = x[0].upper() + x[1:]
        if len(x.split()) < 4 or x.endswith(":") or _HEADER.match(x):
            continue
        if title and difflib.SequenceMatcher(None, x.lower().rstrip("."), title.lower()).ratio() >= 0.8:
            continue
        if frame and cite.lexical_support(x, frame) >= 0.6:
            continue
        out.append(x)
    out = out[:MAX_SENTENCES]
    if len(out) > 1 and out[-1][-1] not in ".!?":
        out.pop()  # cut off by the reply's token limit: half a sentence says something else
    return [x if x[-1] in ".!?" else x + "." for x in out]
