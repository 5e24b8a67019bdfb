"""Word (.docx): a zip, checked and re-packed with bounded reads before python-docx opens it."""

from __future__ import annotations

import io
import zipfile

from ..errors import InputError
from .limits import MAX_UNZIPPED_BYTES, MAX_ZIP_MEMBERS, MAX_ZIP_XML_BYTES
from .names import printable
from . import table

SUFFIXES = (".docx",)


def safe_zip(data: bytes, name: str) -> io.BytesIO:
    """The .docx re-packed so that python-docx cannot be made to unpack a bomb.

    The zip's central directory is checked first (member count, declared sizes). Then every XML part
    is copied out with bounded reads (zipfile stops at the declared size and checks the CRC), and
    every other part (images, fonts, embedded files: no text in them) is replaced by an empty one,
    into a new uncompressed zip. This matters because zipfile's read() of a whole member inflates
    all of its compressed data at once, whatever size the header declares."""
    try:
        z = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as e:
        raise InputError(f"{name}: not a valid .docx (it is not a zip archive: {e})") from e
    out = io.BytesIO()
    with z, zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as safe:
        infos = z.infolist()
        if len(infos) > MAX_ZIP_MEMBERS:
            raise InputError(f"{name}: {len(infos):,} parts in the archive, over the limit of {MAX_ZIP_MEMBERS:,}")
        total = sum(i.file_size for i in infos)
        if total > MAX_UNZIPPED_BYTES:
            raise InputError(f"{name}: unpacks to {total / 2**20:,.0f} MB, over the {MAX_UNZIPPED_BYTES / 2**20:.0f} MB "
                             "limit (a zip bomb?)")
        for i in infos:
            if i.is_dir():
                continue
            if not i.filename.lower().endswith((".xml", ".rels")):
                safe.writestr(i.filename, b"")
                continue
            if i.file_size > MAX_ZIP_XML_BYTES:
                raise InputError(f"{name}: part {printable(i.filename)} unpacks to {i.file_size / 2**20:,.0f} MB, "
                                 f"over the {MAX_ZIP_XML_BYTES / 2**20:.0f} MB limit (a zip bomb?)")
            buf = bytearray()
            with z.open(i) as f:
                while chunk := f.read(2**20):
                    buf += chunk
                    if len(buf) > i.file_size:  # zipfile prevents this; keep the bound explicit anyway
                        raise InputError(f"{name}: part {printable(i.filename)} is larger than its header says")
            safe.writestr(i.filename, bytes(buf))
    out.seek(0)
    return out


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
