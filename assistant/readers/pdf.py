"""PDF: each page's text layer (pypdf), or OCR where a page has none (ocr.py)."""

from __future__ import annotations

import io
from pathlib import Path

from .. import ocr
from ..errors import InputError
from . import limits
from .limits import too_long

SUFFIXES = (".pdf",)
PAGED = True  # read() returns ocr.PdfPages (one text per page), not one text


def read(data: bytes, name: str, on_page: ocr.PageProgress | None = None,
              ocr_cache: Path | None = None) -> ocr.PdfPages:
    """Each page's text: its text layer, or OCR where it has none (ocr.py)."""
    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(data))
    if reader.is_encrypted:  # pypdf has already tried the empty user password
        try:
            opened = reader.decrypt("")
        except Exception:
            opened = 0
        if not opened:
            raise InputError(f"{name}: the PDF is encrypted and needs a password; save a copy without one")
    parts, total = [], 0
    for i, page in enumerate(reader.pages):
        if i >= limits.MAX_PDF_PAGES:
            raise InputError(f"{name}: more than {limits.MAX_PDF_PAGES:,} pages; split it into smaller files")
        text = (page.extract_text() or "").strip()
        total += len(text)
        if total > limits.MAX_CHARS:  # stop early; the joined text is checked exactly in load_file
            raise too_long(name)
        parts.append(text)
    return ocr.read_pages(data, name, parts, max_chars=limits.MAX_CHARS, on_page=on_page, cache=ocr_cache)
