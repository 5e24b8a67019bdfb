"""A table as text: one self-contained line per row, "Header1: cell1 | Header2: cell2 | ...".

A question asks about one cell ("het budget voor 2026 van Fietsroute Oost"), so a row must carry
its own headers: then one line is one sentence (sentences.py keeps a row line whole), which can be
retrieved, quoted and cited on its own, and is never glued to the next row. The DOCX and PDF
readers both write tables this way; a block of rows has a blank line before and after it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

SEP = " | "  # sentences.py and structure.py recognise a table row line by it
_NUMBER = re.compile(r"^[\s€$%+\-–.,:()0-9]*[0-9][\s€$%+\-–.,:()0-9a-zA-Z]*$")


def cell_text(value: str | None) -> str:
    """One cell on one line: whitespace (line breaks in a cell) collapsed, "|" kept."""
    return " ".join((value or "").split())


def _looks_numeric(cell: str) -> bool:
    return bool(cell) and bool(_NUMBER.match(cell)) and sum(c.isdigit() for c in cell) >= 1 and \
        sum(c.isalpha() for c in cell) <= 3  # "€ 1,2 mln", "2.500", "12%"; not "Budget 2025"


def has_header(rows: Sequence[Sequence[str]]) -> bool:
    """Is the first row a header? It has at least two filled cells, none of them a number or an
    amount, and at least one row follows it. Otherwise the table is written without headers."""
    if len(rows) < 2:
        return False
    first = [c for c in rows[0] if c]
    return len(first) >= 2 and not any(_looks_numeric(c) for c in first)


def row_lines(rows: Sequence[Sequence[str | None]]) -> list[str]:
    """The table's rows (cells in column order; None/"" for an empty or merged-away cell) as lines.
    With a header row: "Header: cell | ..." for every later row (empty cells left out; a cell under
    an empty header is written alone); without one: "cell | cell". Empty rows and repeats of the
    header row (a table continued on the next page) are left out."""
    clean = [[cell_text(c) for c in row] for row in rows]
    clean = [row for row in clean if any(row)]
    if not clean:
        return []
    if has_header(clean):
        header, body = clean[0], clean[1:]
        out = []
        for row in body:
            if row == header:
                continue
            parts = []
            for i, cell in enumerate(row):
                if not cell:
                    continue
                h = header[i] if i < len(header) else ""
                parts.append(f"{h}: {cell}" if h and h != cell else cell)
            out.append(SEP.join(parts))
        return [line for line in out if line]
    return [SEP.join(c for c in row if c) for row in clean]


def block(rows: Sequence[Sequence[str | None]]) -> str:
    """The rows of one table as lines (see row_lines), joined by newlines."""
    return "\n".join(row_lines(rows))
