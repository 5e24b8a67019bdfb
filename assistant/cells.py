"""Which cell answers: a question about one cell of a table row, answered by code.

Tables are read as one line per row, "Header: cell | Header: cell" (readers/table.py), and a row is
quoted alone (quote.py). When the quote is such a row and the question names both the row (all the
words of one of its cells, e.g. "Fietsroute Oost") and exactly one other column (all the words of
its header, stemmed: "verantwoordelijk" names "Verantwoordelijke"), the answer is that column's
cell: code reads it off the quoted row instead of asking the model to copy it. Measured on the
generated budget table (tests/test_tables.py): the model copied the right value 4/5 (1.5B) and 1/5
(0.5B) times although the quote was the right row 5/5. Anything less certain goes to the model.
Hand-written: no library answers a question from a table row.
"""

from __future__ import annotations

from dataclasses import dataclass

from .lexical import Tokenizer
from .readers.table import SEP

_tokens = Tokenizer()  # the BM25 tokenizer: lower case, accents off, stop words out, Dutch stems


@dataclass(frozen=True)
class Cell:
    header: str  # the asked column ("Budget 2026")
    value: str  # its cell in the quoted row ("€ 1,5 mln")
    row: str  # the cell that names the row ("Fietsroute Oost")


def _pairs(row: str) -> list[tuple[str, str]]:
    out = []
    for part in row.strip().split(SEP):
        header, sep, value = part.partition(": ")
        if not sep or not header.strip() or not value.strip():
            return []  # a row without headers: which cell is asked cannot be told
        out.append((header.strip(), value.strip()))
    return out


def answer_cell(question: str, row: str) -> Cell | None:
    """The cell of `row` (a table row line) that `question` asks for, or None when that is not certain."""
    if SEP not in row or "\n" in row.strip():
        return None
    pairs = _pairs(row)
    if len(pairs) < 2:
        return None
    asked = set(_tokens(question))

    def named(text: str) -> bool:
        words = set(_tokens(text))
        return bool(words) and words <= asked

    # The row is named by a cell with at least one word that is not a number ("Fietsroute Oost",
    # not "€ 1,2 mln"), all of whose words the question holds.
    keys = [i for i, (_, v) in enumerate(pairs) if named(v) and any(not w[0].isdigit() for w in _tokens(v))]
    if not keys:
        return None
    columns = [i for i, (h, _) in enumerate(pairs) if i not in keys and named(h)]
    if len(columns) != 1:
        return None  # no column named, or two ("budget 2025 en 2026"): the model answers
    header, value = pairs[columns[0]]
    return Cell(header, value, pairs[keys[0]][1])
