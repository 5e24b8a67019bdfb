"""Readers: the bytes of one file -> its text. One module per format, each with SUFFIXES and
`read(data, name, **context) -> str` (a paged format sets PAGED = True and returns ocr.PdfPages; a
format with its own metadata or attachments returns base.Extracted);
a new format is one new module and one line in MODULES. ingest.py walks folders, applies the
limits and builds Documents; the readers only turn bytes into text.

    limits.py  the limits every reader keeps (file sizes, characters, zip members, pages)
    names.py   file names shown safely (control characters, bidi controls escaped)
    text.py    .txt .md (encoding detection, binary files refused)
    pdf.py     .pdf (text layer per page, OCR for pages without one)
    docx.py    .docx (zip checked and re-packed before python-docx opens it)
    html.py    .html .htm (linear-time scanner)
    odf.py     .odt .ods (LibreOffice; content.xml with the standard library)
    xlsx.py    .xlsx (openpyxl, read-only)
    pptx.py    .pptx (slide XML straight from the zip)
    eml.py     .eml (standard library email; attachments become documents of their own)
    msg.py     .msg (Outlook, olefile; attachments become documents of their own, as with .eml)
    base.py    Extracted/Attachment: what a reader returns when a file carries metadata or attachments
    zipsafe.py xmlsafe.py  zips read with bounded reads, XML without DTDs
    table.py   tables as one line per row with its headers (used by pdf.py and docx.py)
"""

from __future__ import annotations

from . import docx, eml, html, msg, odf, pdf, pptx, text, xlsx

MODULES = (text, pdf, docx, html, odf, xlsx, pptx, eml, msg)
READERS = {suffix: module for module in MODULES for suffix in module.SUFFIXES}
SUFFIXES = tuple(READERS)
TEXT_SUFFIXES = text.SUFFIXES + html.SUFFIXES  # read whole as text: MAX_TEXT_FILE_BYTES applies


def reader_for(suffix: str):
    """The reader module for a file suffix (".pdf"), or None when the format is not supported."""
    return READERS.get(suffix.lower())
