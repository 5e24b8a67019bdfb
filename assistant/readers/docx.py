"""Word (.docx): a zip, checked and re-packed with bounded reads before python-docx opens it."""

from __future__ import annotations

import io

from . import table
from .zipsafe import repack, xml_parts

SUFFIXES = (".docx",)


def safe_zip(data: bytes, name: str) -> io.BytesIO:
    """The .docx re-packed so that python-docx cannot be made to unpack a bomb (zipsafe.py): its XML
    parts copied with bounded reads, every other part (images, fonts, embedded files: no text in
    them) an empty one, into a new uncompressed zip. zipfile's read() of a whole member would inflate
    all of its compressed data at once, whatever size the header declares."""
    return repack(xml_parts(data, name, ".docx", others_empty=True))


def read(data: bytes, name: str, **_) -> str:
    """The body in document order: each non-empty paragraph, and each table as one line per row
    with its headers (table.py), separated by blank lines. A document without tables reads exactly
    as before (its paragraphs joined by blank lines)."""
    import docx
    from docx.oxml.ns import qn
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    d = docx.Document(safe_zip(data, name))
    parts = []
    for el in d.element.body.iterchildren():
        if el.tag == qn("w:p"):
            text = Paragraph(el, d).text
            if text.strip():
                parts.append(text)
        elif el.tag == qn("w:tbl"):
            rows = _table_rows(Table(el, d))
            text = table.block(rows)
            if text.strip():
                parts.append(text)
    return "\n\n".join(parts)


def _table_rows(t) -> list[list[str]]:
    """Cell texts per row. A cell merged across columns is one cell (python-docx returns it once per
    grid column it spans: written once); a cell merged down the rows is repeated in every row it
    spans, so each row line stays self-contained. A table nested in a cell is read as its text."""
    rows = []
    for row in t.rows:
        cells, seen = [], []  # the <w:tc> elements themselves (kept alive: lxml proxies compare by identity)
        for cell in row.cells:
            if any(cell._tc is tc for tc in seen):
                cells.append("")
                continue
            seen.append(cell._tc)
            cells.append(_cell_text(cell))
        rows.append(cells)
    return rows


def _cell_text(cell) -> str:
    parts = [p.text for p in cell.paragraphs]
    for inner in cell.tables:  # nested table: its rows' text, in order
        parts.extend(c for row in _table_rows(inner) for c in row if c)
    return " ".join(p for p in parts if p.strip())
