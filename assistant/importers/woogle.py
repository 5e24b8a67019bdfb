"""Woogle (UvA, wooverheid.nl): the Woo dataset's dump, read from a CSV (.csv, .csv.gz) or JSON
Lines file (.jsonl, .jsonl.gz).

The dump's tables use Dublin Core / FOI column names: woo_bodytext has one row per page
(foi_documentId, foi_pageNumber, foi_bodyText, foi_bodyTextOCR, dc_publisher_name, ...),
woo_documents one row per document (dc_identifier, dc_title, foi_dossierId, dc_type, ...); merged
exports prefix them ("bodytext_foi_bodyText", "document_dc_title"). Any of these shapes is read:
the file is streamed (gzip unpacked on the fly) and consecutive rows of one document id are joined
(pages in page order, one form feed apart); the first non-empty value of each field is kept. A
row without a document id, a cut-off row, or a document without text is skipped with a message.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import sys
from pathlib import Path
from typing import Iterator

from ..errors import InputError
from .base import Bad, Record, entry, iso_date, municipality_of, one_line, show

# meta.json key / what it is <- the dump's columns, the first non-empty one wins
FIELDS = {
    "id": ("foi_documentId", "document_id", "dc_identifier", "id"),
    "page": ("foi_pageNumber", "page_number", "page"),
    "text": ("foi_bodyTextOCR", "foi_bodyText", "all_foi_bodyText", "bodyText", "text", "full_text"),
    "title": ("dc_title", "title", "foi_fileName"),
    "date": ("foi_publishedDate", "dc_date", "foi_decisionDate", "date", "dc_date_year"),
    "publisher": ("dc_publisher_name", "publisher", "dc_publisher"),  # -> municipality or organisation
    "type": ("dc_type", "type"),
    "dossier": ("foi_dossierId", "dossier_id"),
    "source_url": ("dc_source", "url", "foi_url"),
}
PREFIXES = ("bodytext_", "document_", "documents_", "dossier_", "dossiers_")


def _field(row: dict, key: str) -> str | None:
    for col in FIELDS[key]:
        v = row.get(col)
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            v = str(int(v)) if float(v).is_integer() else str(v)
        if isinstance(v, str) and v.strip() and v.strip().lower() not in ("nan", "none", "null"):
            return v
    return None


def _normalise(row: dict) -> dict:
    """Prefixed columns ("bodytext_foi_bodyText") under their own name too (unprefixed ones win)."""
    out = {}
    for k, v in row.items():
        if not isinstance(k, str):
            continue
        for p in PREFIXES:
            if k.startswith(p) and k[len(p):] not in row:
                out.setdefault(k[len(p):], v)
        out[k] = v
    return out


def _open_text(path: Path):
    """The dump as a text stream (gzip unpacked on the fly: Woogle's page table is gigabytes)."""
    if _magic(path) == b"\x1f\x8b":
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8-sig", newline="")
    return open(path, encoding="utf-8-sig", newline="")


def _magic(path: Path) -> bytes:
    with open(path, "rb") as f:
        return f.read(2)


def rows(path: Path) -> Iterator[tuple[int, dict]]:
    """(line number, row) for each row of the dump, streamed; InputError when the file is not
    readable at all (not UTF-8, not CSV with a document id column, damaged gzip)."""
    name = path.name.lower().removesuffix(".gz")
    try:
        with _open_text(path) as f:
            if name.endswith((".jsonl", ".ndjson", ".json")):
                for n, line in enumerate(f, 1):
                    if not line.strip():
                        continue
                    try:
                        row = json.loads(line)
                    except ValueError as e:
                        yield n, {"__error__": f"not valid JSON ({e}; a cut-off line?)"}
                        continue
                    yield n, row if isinstance(row, dict) else {"__error__": "not a JSON object"}
                return
            csv.field_size_limit(min(sys.maxsize, 2**31 - 1))  # a page of text is one (long) field
            reader = csv.DictReader(f)
            if not reader.fieldnames or not any(c in _normalise(dict.fromkeys(reader.fieldnames)) for c in FIELDS["id"]):
                cols = ", ".join(show(c, 40) for c in (reader.fieldnames or [])[:12]) or "none"
                raise InputError(f"{path}: no document id column (one of {', '.join(FIELDS['id'])}); is this a "
                                 f"Woogle dump? columns: {cols}")
            try:
                for row in reader:
                    if None in row:  # more values than columns
                        yield reader.line_num, {"__error__": f"{len(row[None])} value(s) more than the header has columns"}
                    elif any(v is None for v in row.values()):  # fewer: a cut-off line
                        yield reader.line_num, {"__error__": "fewer values than the header has columns (a cut-off line?)"}
                    else:
                        yield reader.line_num, row
            except csv.Error as e:
                raise InputError(f"{path}: broken CSV at line {reader.line_num} ({e}); the file may be cut off") from e
    except UnicodeDecodeError as e:
        raise InputError(f"{path}: not UTF-8 text ({e}); Woogle's dumps are UTF-8 CSV or JSON Lines") from e
    except (OSError, EOFError) as e:  # gzip: damaged or cut off
        raise InputError(f"{path}: cannot read it ({type(e).__name__}: {e}); download it again") from e


def records(path: Path) -> Iterator[Record | Bad]:
    """One Record per document id, its page rows joined. Streamed: a document's rows must be
    together in the file (the dump is ordered by document); an id that comes back later is
    reported, not merged."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise InputError(f"{path}: no such file; give a Woogle dump (.csv, .csv.gz or .jsonl)")
    done: set[str] = set()
    doc: dict | None = None
    for n, raw in rows(path):
        where = f"{path.name} line {n}"
        if "__error__" in raw:
            yield Bad(where, raw["__error__"])
            continue
        row = _normalise(raw)
        ident = _field(row, "id")
        if not ident:
            yield Bad(where, f"no document id ({' / '.join(FIELDS['id'])})")
            continue
        if doc is None or doc["id"] != ident:
            if doc is not None:
                done.add(doc["id"])
                yield _record(doc)
            if ident in done:
                yield Bad(where, f"more rows of document {show(ident)} after other documents' rows (not merged; "
                                 "sort the dump by document id)")
                doc = None
                continue
            doc = {"id": ident, "pages": [], "where": where}
        text = _field(row, "text")
        if text:
            page = _field(row, "page")
            try:
                order = float(page) if page else len(doc["pages"])
            except ValueError:
                order = len(doc["pages"])
            doc["pages"].append((order, text))
        for key in ("title", "date", "publisher", "type", "dossier", "source_url"):
            if key not in doc:
                value = _field(row, key)
                if value:
                    doc[key] = value
    if doc is not None:
        yield _record(doc)


def _record(doc: dict) -> Record | Bad:
    ident = doc["id"]
    if not doc["pages"]:
        return Bad(f"document {show(ident)} ({doc['where']})", "no text in any of its rows")
    text = "\f".join(t for _, t in sorted(doc["pages"], key=lambda p: p[0]))
    publisher = one_line(doc.get("publisher"))
    town = municipality_of(publisher)
    meta = entry(
        title=one_line(doc.get("title")) or ident,
        date=iso_date(doc.get("date")),
        municipality=town,
        organisation=None if town else publisher,
        type=one_line(doc.get("type")),
        source_url=one_line(doc.get("source_url")),
        dossier=one_line(doc.get("dossier")),
        source="woogle",
        id=ident,
    )
    return Record(f"woogle:{ident}", meta, text=text)
