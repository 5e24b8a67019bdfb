"""Limits every reader keeps (hostile or broken files: tests/test_hostile.py)."""

from __future__ import annotations

from ..errors import InputError

MAX_CHARS = 5_000_000  # characters of text in one document (~2,000 pages); longer ones are skipped
MAX_FILE_BYTES = 100 * 2**20  # .pdf / .docx file size
MAX_TEXT_FILE_BYTES = 4 * MAX_CHARS  # .txt / .md / .html (UTF-8 needs at most 4 bytes a character)
MAX_UNZIPPED_BYTES = 200 * 2**20  # .docx: all members together, as declared in the zip
MAX_ZIP_XML_BYTES = 25 * 2**20  # .docx: one XML part (python-docx parses each into a tree)
MAX_ZIP_MEMBERS = 10_000
MAX_PDF_PAGES = 10_000
MAX_META_BYTES = 10 * 2**20


def too_long(name: str, chars: int | None = None) -> InputError:
    size = f"{chars:,} characters of text" if chars else f"more than {MAX_CHARS:,} characters of text"
    return InputError(f"{name}: {size}, over the limit of {MAX_CHARS:,} for one document; "
                      "split it into smaller files")

# Spreadsheets (.ods .xlsx): at most this many cells in one file (each sheet's rows become lines of
# text; an empty cell costs nothing) and this many rows in one sheet.
MAX_SHEET_CELLS = 2_000_000
MAX_SHEET_ROWS = 200_000
# Mail (.eml .msg): at most this many attachments are read, this many bytes of them in all; an attached
# mail is read, its own attachments are not (depth 2).
MAX_ATTACHMENTS = 100
MAX_ATTACHMENT_BYTES = 100 * 2**20
