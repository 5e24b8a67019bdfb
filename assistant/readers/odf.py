"""OpenDocument (.odt text, .ods spreadsheet; LibreOffice's own formats): content.xml read with the
standard library (readers/xmlsafe.py: no DTD, bounded depth) from a zip checked like a .docx
(readers/zipsafe.py).

.odt: headings and paragraphs in order (lists and sections included), tables one line per row
(`Header: cell | ...`, readers/rows.py). .ods: one section per sheet, a `Blad: <name>` line, then
one line per row with the first row's headers; repeated rows/columns (how ODF stores runs of equal
cells) are expanded up to MAX_SHEET_CELLS cells per file, trailing empty ones never."""

from __future__ import annotations

from ..errors import InputError
from . import xmlsafe, zipsafe
from .limits import MAX_SHEET_CELLS
from .table import row_lines as table_lines

SUFFIXES = (".odt", ".ods")

TEXT = "urn:oasis:names:tc:opendocument:xmlns:text:1.0"
TABLE = "urn:oasis:names:tc:opendocument:xmlns:table:1.0"
OFFICE = "urn:oasis:names:tc:opendocument:xmlns:office:1.0"


def _t(ns: str, local: str) -> str:
    return f"{{{ns}}}{local}"


P, H, S, TAB, BR = _t(TEXT, "p"), _t(TEXT, "h"), _t(TEXT, "s"), _t(TEXT, "tab"), _t(TEXT, "line-break")
NOTE, NOTE_CITATION = _t(TEXT, "note"), _t(TEXT, "note-citation")
TABLE_T, ROW, CELL, COVERED = _t(TABLE, "table"), _t(TABLE, "table-row"), _t(TABLE, "table-cell"), _t(TABLE, "covered-table-cell")
BODY, TEXT_BODY, SHEETS = _t(OFFICE, "body"), _t(OFFICE, "text"), _t(OFFICE, "spreadsheet")
SKIP = {_t(TEXT, "tracked-changes"), _t(OFFICE, "annotation"), _t(TEXT, "sequence-decls"),
        _t(TEXT, "variable-decls"), _t(TABLE, "table-columns"), _t(TABLE, "table-column")}


def read(data: bytes, name: str, **_) -> str:
    kind = "." + name.rsplit(".", 1)[-1].lower() if "." in name else ".odt"
    parts = zipsafe.xml_parts(data, name, kind, wanted=lambda m: m == "content.xml")
    if "content.xml" not in parts:
        raise InputError(f"{name}: not a valid {kind} (no content.xml in the archive)")
    root = xmlsafe.parse(parts["content.xml"], name, "content.xml")
    body = root.find(BODY)
    if body is None:
        raise InputError(f"{name}: not a valid {kind} (content.xml has no office:body)")
    sheets = body.find(SHEETS)
    if sheets is not None:
        return "\n\n".join(_sheets(sheets, name))
    out: list[str] = []
    for part in body:
        _blocks(part, out, name)
    return "\n\n".join(b for b in out if b.strip())


def _inline(e, out: list[str]) -> None:
    """The text of a paragraph element (spans, links, spaces, tabs, line breaks), in order."""
    if e.text:
        out.append(e.text)
    for c in e:
        if c.tag == S:
            out.append(" " * min(_count(c.get(_t(TEXT, "c"))), 100))
        elif c.tag == TAB:
            out.append("\t")
        elif c.tag == BR:
            out.append("\n")
        elif c.tag in (NOTE, NOTE_CITATION) or c.tag in SKIP:
            pass  # a footnote's text is not part of the sentence it is attached to
        else:
            _inline(c, out)
        if c.tail:
            out.append(c.tail)


def _para(e) -> str:
    out: list[str] = []
    _inline(e, out)
    return "".join(out).strip()


def _blocks(e, out: list[str], name: str) -> None:
    """Paragraphs, headings and tables under e, in document order."""
    for c in e:
        if c.tag in (P, H):
            out.append(_para(c))
        elif c.tag == TABLE_T:
            out.append("\n".join(table_lines(_rows(c, name)[1])))
        elif c.tag in SKIP:
            continue
        else:  # lists, list items, sections, frames, text boxes: their paragraphs in order
            _blocks(c, out, name)


def _cell_text(cell, name: str) -> str:
    inner: list[str] = []
    _blocks(cell, inner, name)
    return " ".join(b for b in inner if b.strip())


def _rows(table, name: str, budget: int = MAX_SHEET_CELLS) -> tuple[int, list[list[str]]]:
    """(cells left in the budget, the table's rows as lists of cell texts), repeats expanded."""
    rows: list[list[str]] = []
    pending_empty = 0  # empty rows are only kept when a non-empty one follows

    def walk(e):
        nonlocal budget, pending_empty
        for r in e:
            if r.tag != ROW:
                if r.tag not in SKIP:
                    walk(r)  # table-header-rows, table-row-group, table-rows
                continue
            cells: list[str] = []
            blanks = 0
            for c in r:
                if c.tag not in (CELL, COVERED):
                    continue
                text = _cell_text(c, name)
                n = _count(c.get(_t(TABLE, "number-columns-repeated")))
                if not text:
                    blanks += n
                    continue
                budget -= blanks + n  # checked before anything is expanded
                if budget < 0:
                    raise InputError(f"{name}: more than {MAX_SHEET_CELLS:,} cells; split the file")
                cells.extend([""] * blanks)
                blanks = 0
                cells.extend([text] * n)
            repeat = _count(r.get(_t(TABLE, "number-rows-repeated")))
            if not any(cells):
                pending_empty += repeat
                continue
            budget -= len(cells) * repeat
            if budget < 0:
                raise InputError(f"{name}: more than {MAX_SHEET_CELLS:,} cells; split the file")
            rows.extend([[]] * min(pending_empty, 1))  # one empty row stands for a run of them
            pending_empty = 0
            rows.extend([cells] * repeat)

    walk(table)
    return budget, rows


def _count(value) -> int:
    return int(value) if isinstance(value, str) and value.isdigit() and int(value) > 0 else 1


def _sheets(sheets, name: str) -> list[str]:
    out = []
    budget = MAX_SHEET_CELLS
    for t in sheets.iter(TABLE_T):
        budget, rows = _rows(t, name, budget)
        lines = table_lines(rows)
        if lines:
            out.append("\n".join([f"Blad: {t.get(_t(TABLE, 'name')) or '?'}"] + lines))
    return out
