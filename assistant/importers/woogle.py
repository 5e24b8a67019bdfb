"""Woogle (UvA, wooverheid.nl): the Woo dataset's dump, read from a CSV (.csv, .csv.gz) or JSON
Lines file (.jsonl, .jsonl.gz).

The dump's tables use Dublin Core / FOI column names: woo_bodytext has one row per page
(foi_documentId, foi_pageNumber, foi_bodyText, foi_bodyTextOCR, dc_publisher_name, ...),
woo_documents one row per document (dc_identifier, dc_title, foi_dossierId, dc_type, ...); merged
exports prefix them ("bodytext_foi_bodyText", "document_dc_title"). Any of these shapes is read:
rows are grouped by document id (pages joined in page order, one form feed apart), the first
non-empty value of each field is kept. A row without a document id or text is skipped.
"""

from __future__ import annotations

import csv
import io
import json
import sys
from pathlib import Path
from typing import Iterator

from ..errors import InputError
from .base import Bad, Record, entry, iso_date, maybe_gunzip, municipality_of, one_line, show

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
MAX_DOCS = 1_000_000


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


def rows(path: Path) -> Iterator[tuple[int, dict]]:
    """(line number, row) for each row of the dump; InputError when the file is not readable at all."""
    data = maybe_gunzip(path.read_bytes(), str(path))
    name = path.name.lower().removesuffix(".gz")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise InputError(f"{path}: not UTF-8 text ({e}); Woogle's dumps are UTF-8 CSV or JSON Lines") from e
    if name.endswith((".jsonl", ".ndjson", ".json")):
        for n, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except ValueError as e:
                yield n, {"__error__": f"not valid JSON ({e})"}
                continue
            yield n, row if isinstance(row, dict) else {"__error__": "not a JSON object"}
        return
    csv.field_size_limit(min(sys.maxsize, 2**31 - 1))  # a page of text is one (long) field
    reader = csv.DictReader(io.StringIO(text, newline=""))
    if not reader.fieldnames or not any(c in _normalise(dict.fromkeys(reader.fieldnames)) for c in FIELDS["id"]):
        raise InputError(f"{path}: no document id column (one of {', '.join(FIELDS['id'])}); is this a Woogle dump? "
                         f"columns: {', '.join(show(c, 40) for c in (reader.fieldnames or [])[:12]) or 'none'}")
    try:
        for row in reader:
            if None in row:  # more values than columns
                yield reader.line_num, {"__error__": f"{len(row[None])} value(s) more than the header has columns"}
                continue
            if any(v is None for v in row.values()):  # fewer: a cut-off line
                yield reader.line_num, {"__error__": "fewer values than the header has columns (a cut-off line?)"}
                continue
            yield reader.line_num, row
    except csv.Error as e:
        raise InputError(f"{path}: broken CSV at line {reader.line_num} ({e}); the file may be cut off") from e


def records(path: Path) -> Iterator[Record | Bad]:
    """One Record per document id (its page rows joined), in the order the ids first appear."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise InputError(f"{path}: no such file; give a Woogle dump (.csv, .csv.gz or .jsonl)")
    docs: dict[str, dict] = {}
    bad: list[Bad] = []
    for n, raw in rows(path):
        where = f"{path.name} line {n}"
        if "__error__" in raw:
            bad.append(Bad(where, raw["__error__"]))
            continue
        row = _normalise(raw)
        ident = _field(row, "id")
        if not ident:
            bad.append(Bad(where, f"no document id ({' / '.join(FIELDS['id'])})"))
            continue
        doc = docs.get(ident)
        if doc is None:
            if len(docs) >= MAX_DOCS:
                raise InputError(f"{path}: more than {MAX_DOCS:,} documents; split the dump")
            doc = docs[ident] = {"pages": [], "where": where}
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
    yield from bad
    for ident, doc in docs.items():
        if not doc["pages"]:
            yield Bad(f"document {show(ident)} ({doc['where']})", "no text in any of its rows")
            continue
        text = "\f".join(t for _, t in sorted(doc["pages"], key=lambda p: p[0]))
        publisher = one_line(doc.get("publisher"))
        town = municipality_of(publisher)
        kind = one_line(doc.get("type"))
        meta = entry(
            title=one_line(doc.get("title")) or ident,
            date=iso_date(doc.get("date")),
            municipality=town,
            organisation=None if town else publisher,
            type=kind,
            source_url=one_line(doc.get("source_url")),
            dossier=one_line(doc.get("dossier")),
            source="woogle",
            id=ident,
        )
        yield Record(f"woogle:{ident}", meta, text=text)
