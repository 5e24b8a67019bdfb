"""The outline of a plain-text document: headings and the questions of written Q&A.

A passage read alone loses what it is about: "Nee, dat is niet het geval." answers a question
three paragraphs up, and "Er is geen budget." sits under the heading "CONSEQUENTIES". The outline
gives every character offset its nearest heading and, inside a Q&A document (written council
questions and their answers), the question it answers. Chunks carry this context into the
embedding and BM25 text, and evidence excerpts show it to the model.

Hand-written because no library reads structure out of plain text converted from letters and
forms; the rules are deliberately simple and were checked on the five seed documents:
- a heading is a short line (<= 100 characters) without a closing full stop, comma or semicolon,
  that is not a form field ("Naam:<tab>...") and is followed by more text;
- a table row line ("Project: X | Budget: ...", readers/table.py) is never a heading: it must be
  quotable, and evidence.py does not start an excerpt at a heading;
- a question is a line that starts like a list item ("1.", "2)", "b)", "- c)", "Vraag 3") and
  contains a question mark. It is the context of what follows until the next question or heading.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass

MAX_HEADING = 100
MAX_CONTEXT = 240  # characters of a long question kept as context
_ENUM = re.compile(r"^\s*(?:[-•*]\s*)?(?:vraag\s*\d+[a-z]?|\d{1,2}[.)]|[a-z][.)])\s*", re.IGNORECASE)
_ANSWER = re.compile(r"^\s*(?:antwoord|beantwoording|reactie)\b", re.IGNORECASE)


@dataclass(frozen=True)
class Mark:
    kind: str  # "heading" | "question"
    start: int
    end: int


class Outline:
    def __init__(self, text: str):
        self.text = text
        self.marks = _marks(text)
        self._starts = [m.start for m in self.marks]

    def context_marks(self, offset: int) -> tuple[Mark | None, Mark | None]:
        """(nearest heading, question being answered) for the text at `offset`; a question only
        counts when no heading came between it and the offset."""
        i = bisect.bisect_right(self._starts, offset) - 1
        heading = question = None
        while i >= 0:
            m = self.marks[i]
            if m.end > offset:  # the offset is inside this mark: it is not its own context
                i -= 1
                continue
            if m.kind == "question" and heading is None and question is None:
                question = m
            elif m.kind == "heading":
                heading = m
                break
            i -= 1
        return heading, question

    def is_mark(self, start: int, end: int) -> bool:
        """Is [start, end) (a sentence) inside a heading or question line?"""
        i = bisect.bisect_right(self._starts, start) - 1
        return i >= 0 and self.marks[i].start <= start and end <= self.marks[i].end

    def context(self, start: int) -> str:
        """One line of context for a passage starting at `start`: "heading — question". A passage
        that opens with its own heading or question carries it already: the one before it would
        mislabel it ("Doel startgesprek" above a chunk that starts "Context van het project")."""
        lead = len(self.text[start:start + 200]) - len(self.text[start:start + 200].lstrip())
        i = bisect.bisect_left(self._starts, start)
        if i < len(self.marks) and self.marks[i].start <= start + lead:
            return ""
        heading, question = self.context_marks(start)
        parts = []
        if heading is not None:
            parts.append(self.text[heading.start:heading.end].strip())
        if question is not None:
            q = self.text[question.start:question.end].strip()
            parts.append(q if len(q) <= MAX_CONTEXT else q[:MAX_CONTEXT].rsplit(" ", 1)[0] + " …")
        return " — ".join(parts)


def _marks(text: str) -> list[Mark]:
    lines = [(m.start(), m.end(), m.group()) for m in re.finditer(r"[^\n]+", text)]
    out: list[Mark] = []
    for i, (s, e, line) in enumerate(lines):
        stripped = line.strip()
        if not stripped:
            continue
        s += len(line) - len(line.lstrip())
        e = s + len(stripped)
        if _ENUM.match(stripped) and "?" in stripped:
            out.append(Mark("question", s, e))
            continue
        last = i == len(lines) - 1
        if (len(stripped) <= MAX_HEADING and not last and stripped[-1] not in ".,;" and "\t" not in stripped
                and not _ANSWER.match(stripped) and not stripped.startswith(("•", "http")) and len(stripped) >= 3
                and " | " not in stripped):  # a table row (readers/table.py) is content, not a heading
            out.append(Mark("heading", s, e))
    return out
