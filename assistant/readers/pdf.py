"""PDF: each page's text layer (pypdf), or OCR where a page has none (ocr.py).

A page with a ruled table (cells drawn as a grid of lines or rectangles) is read by pdfplumber
instead: its text outside the table(s) in reading order, and each table at its position as one line
per row with its headers (table.py), a blank line around it. Every other page is read by pypdf
exactly as before, so documents without tables keep their text (and their index entries).
Tables without ruling lines are not detected (pdfplumber's text strategy cut the test table's
cells in the middle): such a page reads as before, the row's cells on one line.
"""

from __future__ import annotations

import io
import logging
import re
import time
from pathlib import Path

from .. import ocr
from ..errors import InputError
from . import limits
from .limits import too_long
from .table import block

# Bounds on table detection (pdfminer, which pdfplumber runs on, is pure Python: a hostile page with
# a huge content stream or hundreds of thousands of objects would take minutes). A page over them
# is read by pypdf without table detection, as are the rest of a document once the time is spent.
MAX_TABLE_PAGE_BYTES = 250_000  # the page's decoded content stream (a table page: ~5-50 KB)
MAX_TABLE_PAGE_OBJECTS = 20_000  # characters + lines + rectangles + curves on the page
TABLE_SECONDS = 20.0  # table detection time for one document
MIN_RULES = 4  # path segments/rectangles in the content stream before a page can hold a ruled table
_RULE = re.compile(rb"(?<![A-Za-z])(?:re|l)(?![A-Za-z])")

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
    tables = _Tables(data)
    for i, page in enumerate(reader.pages):
        if i >= limits.MAX_PDF_PAGES:
            raise InputError(f"{name}: more than {limits.MAX_PDF_PAGES:,} pages; split it into smaller files")
        text = (page.extract_text() or "").strip()
        if text and tables.candidate(page):
            text = tables.page_text(i) or text
        total += len(text)
        if total > limits.MAX_CHARS:  # stop early; the joined text is checked exactly in load_file
            raise too_long(name)
        parts.append(text)
    tables.close()
    return ocr.read_pages(data, name, parts, max_chars=limits.MAX_CHARS, on_page=on_page, cache=ocr_cache)


class _Tables:
    """Table detection for one document's pages, pdfplumber opened only when a page may hold a
    table. Any failure (a damaged file pypdf could read but pdfminer cannot) or a bound reached
    means the page keeps pypdf's text: tables never make a readable document unreadable."""

    def __init__(self, data: bytes):
        self.data = data
        self.pdf = None
        self.failed = False
        self.spent = 0.0

    def candidate(self, page) -> bool:
        """Does the page's content stream draw enough lines/rectangles for a ruled table, and is it
        small enough to hand to pdfminer?"""
        if self.failed or self.spent > TABLE_SECONDS:
            return False
        try:
            contents = page.get_contents()
            raw = contents.get_data() if contents is not None else b""
        except Exception:
            return False
        return len(raw) <= MAX_TABLE_PAGE_BYTES and len(_RULE.findall(raw, 0, MAX_TABLE_PAGE_BYTES)) >= MIN_RULES

    def page_text(self, i: int) -> str | None:
        """Page i's text with its tables as rows, or None (no table found, or detection failed)."""
        start = time.monotonic()
        try:
            if self.pdf is None:
                import pdfplumber

                logging.getLogger("pdfminer").setLevel(logging.ERROR)  # its warnings on odd files are noise
                self.pdf = pdfplumber.open(io.BytesIO(self.data))
            page = self.pdf.pages[i]
            if sum(len(page.objects.get(k, ())) for k in ("char", "line", "rect", "curve")) > MAX_TABLE_PAGE_OBJECTS:
                return None
            found = [t for t in page.find_tables() if _is_table(t)]
            return _page_text(page, found) if found else None
        except Exception:
            self.failed = True
            return None
        finally:
            self.spent += time.monotonic() - start

    def close(self):
        if self.pdf is not None:
            try:
                self.pdf.close()
            except Exception:
                pass


def _is_table(t) -> bool:
    """At least two rows and two columns with text: a single framed box (a bordered paragraph, a
    letterhead) is not a table."""
    rows = [r for r in t.extract() if sum(1 for c in r if c and c.strip()) >= 1]
    return len(rows) >= 2 and max(sum(1 for c in r if c and c.strip()) for r in rows) >= 2


def _page_text(page, tables) -> str:
    """The text above, between and below the tables (in pdfplumber's reading order) with each
    table's rows at its place, blocks separated by blank lines."""
    tables = sorted(tables, key=lambda t: t.bbox[1])

    def mid_y(o):
        return (o["top"] + o["bottom"]) / 2

    def in_table(o):
        x, y = (o["x0"] + o["x1"]) / 2, mid_y(o)
        return any(t.bbox[0] <= x <= t.bbox[2] and t.bbox[1] <= y <= t.bbox[3] for t in tables)

    outside = page.filter(lambda o: o.get("object_type") == "char" and not in_table(o))
    parts, top = [], float("-inf")
    for t in tables:
        bottom = t.bbox[1]
        parts.append(outside.filter(lambda o, a=top, b=bottom: a <= mid_y(o) < b).extract_text())
        parts.append(block(t.extract()))
        top = max(top, t.bbox[3])
    parts.append(outside.filter(lambda o, a=top: mid_y(o) >= a).extract_text())
    return "\n\n".join(p.strip() for p in parts if p and p.strip())
