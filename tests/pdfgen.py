"""A minimal text PDF written by hand (no PDF writer in the venv): one Helvetica line per text line,
which pypdf extracts line by line. For tests that need PDFs with given page texts (test_woo.py)."""

from __future__ import annotations

from tablefiles import _esc, pdf


def text_pdf(pages: list[list[str]]) -> bytes:
    """A PDF with one page per list of lines (A4, 10 pt Helvetica, top to bottom)."""
    return pdf([b"\n".join([b"BT /F1 10 Tf 14 TL 50 800 Td", *(b"(" + _esc(line) + b") Tj T*" for line in lines), b"ET"])
                for lines in pages])
