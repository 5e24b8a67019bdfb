"""Split a document into sentences that remember their exact character span.

syntok does the sentence boundaries (chosen over pysbd by trying both on Dutch text: syntok keeps
"o.a.", "m.b.t.", "art. 5", "1 jan. 2015" and "2. Tweede punt" together, gives token offsets, and
is ~10x faster). Two rules are ours, because plain-text government documents are line-oriented:
a line break always ends a sentence (form fields, headings and list items have no full stop), and
a fragment too short to stand alone ("Dhr.", "Vraag 3.") is joined to the sentence after it.
A third: a table row as the readers write it ("Project: X | Budget 2026: € 1,5 mln | ...", one line,
cells separated by " | ") is one sentence, never split at "mln." or "J. de Vries" inside a cell.
SPLITTER is deliberately unchanged: the rule only touches lines with " | " (none in the seeds), and
a new SPLITTER would re-split and re-embed every existing index; documents whose tables now read as
rows have new text anyway, so they are re-indexed with the rule.

Every span satisfies `doc.text[start:end] == sentence text`, stripped of surrounding whitespace.
"""

from __future__ import annotations

import re

from syntok import segmenter

SPLITTER = "syntok-lines-v1"  # recorded in the index manifest: a different splitter re-splits
MIN_CHARS = 12  # shorter fragments are joined to the next sentence on the same line
LONG = 200  # a sentence longer than this is also split at semicolons (inline enumerations)
MAX_CHARS = 600  # a run-on "sentence" (a table row, a list without stops) is cut at a word boundary


def split(text: str) -> list[tuple[int, int]]:
    """[(start, end)] of the sentences of `text`, in order, non-overlapping, whitespace-trimmed."""
    spans: list[tuple[int, int]] = []
    for line in re.finditer(r"[^\n]+", text):
        base = line.start()
        if is_table_row(line.group()):  # one table row, one sentence (readers/table.py)
            for a, b in _cap(line.group(), 0, len(line.group())):
                piece = line.group()[a:b]
                a += len(piece) - len(piece.lstrip())
                b -= len(piece) - len(piece.rstrip())
                if b > a:
                    spans.append((base + a, base + b))
            continue
        pieces = _syntok_spans(line.group())
        merged: list[list[int]] = []
        for s, e in pieces:
            if merged and (merged[-1][1] - merged[-1][0]) < MIN_CHARS:
                merged[-1][1] = e  # "Dhr." + "Jansen was er ook."
            else:
                merged.append([s, e])
        for s, e in merged:
            for s2, e2 in _semicolons(line.group(), s, e):
                for a, b in _cap(line.group(), s2, e2):
                    piece = line.group()[a:b]
                    a += len(piece) - len(piece.lstrip())
                    b -= len(piece) - len(piece.rstrip())
                    if b > a:
                        spans.append((base + a, base + b))
    return spans


def is_table_row(line: str) -> bool:
    """A line of cells separated by " | " (readers/table.py writes each table row so)."""
    return " | " in line and not line.strip().startswith("|")


def _syntok_spans(line: str) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    try:
        for paragraph in segmenter.analyze(line):
            for sentence in paragraph:
                tokens = list(sentence)
                if tokens:
                    out.append((tokens[0].offset, tokens[-1].offset + len(tokens[-1].value)))
    except Exception:  # syntok is robust, but a document must never fail to index over a sentence split
        stripped = line.strip()
        if stripped:
            s = line.index(stripped)
            out = [(s, s + len(stripped))]
    return [(s, e) for s, e in out if line[s:e].strip()]


def _semicolons(line: str, s: int, e: int) -> list[tuple[int, int]]:
    """A long sentence that enumerates with semicolons ("zaken als: vertrek gemeentesecretaris;
    toespraken van de burgemeester; het bezoek aan gemeente Purmerend; ...") is split into its items:
    one item is what a question asks about, and a 600-character embedding blurs it."""
    if e - s <= LONG or ";" not in line[s:e]:
        return [(s, e)]
    out, a = [], s
    for m in re.finditer(r";\s+", line[s:e]):
        b = s + m.start() + 1  # keep the semicolon with its item
        if line[a:b].strip():
            out.append((a, b))
        a = s + m.end()
    if line[a:e].strip():
        out.append((a, e))
    return out


def _cap(line: str, s: int, e: int) -> list[tuple[int, int]]:
    """Cut a span longer than MAX_CHARS at spaces, so one sentence never swallows an excerpt budget."""
    out = []
    while e - s > MAX_CHARS:
        cut = line.rfind(" ", s + MAX_CHARS // 2, s + MAX_CHARS)
        cut = cut if cut > s else s + MAX_CHARS
        out.append((s, cut))
        s = cut
        while s < e and line[s].isspace():
            s += 1
    if e > s:
        out.append((s, e))
    return out
