"""Readers: the bytes of one file -> its text. One module per format, each with SUFFIXES and
`read(data, name, **context) -> str` (a paged format sets PAGED = True and returns ocr.PdfPages);
a new format is one new module and one line in MODULES. ingest.py walks folders, applies the
limits and builds Documents; the readers only turn bytes into text.

    limits.py  the limits every reader keeps (file sizes, characters, zip members, pages)
    names.py   file names shown safely (control characters, bidi controls escaped)
    text.py    .txt .md (encoding detection, binary files refused)
    pdf.py     .pdf (text layer per page, OCR for pages without one)
    docx.py    .docx (zip checked and re-packed before python-docx opens it)
    html.py    .html .htm (linear-time scanner)
    table.py   tables as one line per row with its headers (used by pdf.py and docx.py)
"""

from __future__ import annotations

from . import docx, html, pdf, text

MODULES = (text, pdf, docx, html)
READERS = {suffix: module for module in MODULES for suffix in module.SUFFIXES}
SUFFIXES = tuple(READERS)
TEXT_SUFFIXES = text.SUFFIXES + html.SUFFIXES  # read whole as text: MAX_TEXT_FILE_BYTES applies


def reader_for(suffix: str):
    """The reader module for a file suffix (".pdf"), or None when the format is not supported."""
    return READERS.get(suffix.lower())
