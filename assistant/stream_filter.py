"""What of a small model's streamed output may be shown, and when its answer is over.

The model streams pieces; the reader should see the answer grow, but never:
- the NOT_FOUND marker (it becomes "not found in the documents" after the stream), also not while
  it is still being spelled out ("NOT_F...");
- an "Answer:" label copied from the prompt's examples;
- a half-written "[1" or a marker for an excerpt the model was not given ("[7]");
- a later paragraph that is the model pasting an excerpt instead of answering (in the other
  language, or echoing the "[2] Title" block format): generation is stopped there.

`AnswerFilter.feed(piece)` returns the text that became safe to show and whether to stop.
"""

from __future__ import annotations

import re

from . import cite, lang

NOT_FOUND = "NOT_FOUND"
# The reply's own start that is not answer text: a quote line "[2] «...»" (a backend that cannot be
# pre-filled writes it itself, as the worked examples show) and an "Answer in English:" label.
QUOTE = re.compile(r"\s*\[\d+\]\s*«[^»\n]*»[ \t]*\n?")
_QUOTE_OPEN = re.compile(r"\s*\[\d*(?:\]\s*(?:«[^»\n]*)?)?$")  # a quote line still being written
_LABEL = r"(?:answer|antwoord)(?:\s+in\s+(?:het\s+)?(?:english|engels|nederlands|dutch))?\s*:\s*"
LEAD = re.compile(rf"(?:{QUOTE.pattern})?\s*(?:{_LABEL})?", re.IGNORECASE)
_LABELS = ("ANSWER:", "ANTWOORD:", "ANSWER_IN_ENGLISH:", "ANTWOORD_IN_HET_NEDERLANDS:")
# The marker as models write it ("NOT_FOUND", "Not_FOUND", "NOT FOUND"), never the words "not found".
NOT_FOUND_RE = re.compile(r"\s*\b(?:NOT FOUND|(?i:not_found))\b\.?")
_PARAGRAPH = re.compile(r"\n[ \t]*\n\s*")
_ECHO = re.compile(r"(?:\[\d+\]\s+\S|<<<|>>>|(?:excerpts?|fragmenten|question|vraag)\s*:)", re.IGNORECASE)
_DECIDE_WORDS = 8  # words of a new paragraph needed to judge its language


class AnswerFilter:
    def __init__(self, language: str, n_sources: int):
        self.language = language
        self.n_sources = n_sources
        self.raw = ""
        self.shown = 0  # characters of raw already released

    def feed(self, piece: str) -> tuple[str, bool]:
        """Add a piece; return (text now safe to show, whether the answer is over)."""
        self.raw += piece
        cut = drift(self.raw, self.language)
        if cut is not None:  # the model started copying an excerpt: the answer is over
            self.raw = self.raw[:cut]
            return "", True
        lead = LEAD.match(self.raw)
        self.shown = max(self.shown, lead.end() if lead else 0)
        safe = min(safe_prefix(self.raw), undecided(self.raw))
        if safe > self.shown:
            out = self.clean(self.raw[self.shown:safe])
            self.shown = safe
            return out, False
        return "", False

    def rest(self) -> str:
        """What is left to show once the stream ended and the answer was accepted."""
        out = self.clean(self.raw[self.shown:]) if len(self.raw) > self.shown else ""
        self.shown = len(self.raw)
        return out

    def clean(self, text: str) -> str:
        return cite.strip_invalid(NOT_FOUND_RE.sub("", text), self.n_sources)

    def text(self) -> str:
        """The whole answer without a quote line or a copied "Answer:" label, stripped."""
        return self.raw[LEAD.match(self.raw).end():].strip()


def starts_with_marker(text: str) -> bool:
    return text.lstrip(" *_`\"'").upper().replace(" ", "_").startswith(NOT_FOUND)


def paragraphs(raw: str) -> list[tuple[int, str]]:
    """(offset of the separator before it, text) for every paragraph after the first."""
    marks = list(_PARAGRAPH.finditer(raw))
    return [(m.start(), raw[m.end(): marks[i + 1].start() if i + 1 < len(marks) else len(raw)])
            for i, m in enumerate(marks)]


def drift(raw: str, language: str) -> int | None:
    """Where a small model stops answering and starts copying: a later paragraph that echoes the
    prompt's format ("[2] Title", "Question:") or is in the other language (a Dutch excerpt pasted
    under an English answer). Returns the offset to cut at, or None."""
    for start, para in paragraphs(raw):
        if _ECHO.match(para):
            return start
        if len(para.split()) >= _DECIDE_WORDS and lang.detect(para) != language:
            return start
    return None


def undecided(raw: str) -> int:
    """Hold back a new paragraph until it is long enough for drift() to judge it."""
    paras = paragraphs(raw)
    if paras and len(paras[-1][1].split()) < _DECIDE_WORDS:
        return paras[-1][0]
    return len(raw)


def safe_prefix(raw: str) -> int:
    """How much of the streamed text can be shown now: nothing while it may still turn into the
    NOT_FOUND marker or an "Answer:" label, and never an unfinished "[..." marker."""
    if _QUOTE_OPEN.match(raw) and raw.strip():
        return 0  # "[2] «..." : the quote line is not finished
    quote = QUOTE.match(raw)
    head = raw[quote.end() if quote else 0:].lstrip().upper().replace(" ", "_")
    if head and any(w.startswith(head[: len(w)]) for w in (NOT_FOUND, *_LABELS)):
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
