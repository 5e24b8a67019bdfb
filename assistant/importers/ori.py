"""Open Raadsinformatie (ORI): council documents of Dutch municipalities, from its Elasticsearch API.

    POST https://api.openraadsinformatie.nl/v1/elastic/ori_<municipality>_*/_search
    {"query": {"bool": {"filter": [MediaObject, modified/discussed since]}}, "from": 0, "size": 100, "sort": ...}

Each hit's _source is a schema.org-like MediaObject: `name`, `url` (ORI's copy of the file) /
`original_url` (the municipality's), `content_type`, `text` (the extracted text: a string or a list
of pages), `last_discussed_at` / `date_modified`, `has_organization_name`, `is_referenced_by`, ...
Paged with from/size (Elasticsearch returns at most 10,000 hits per query: narrow with --since).
The PDF is downloaded when it can be (whole); otherwise the extracted text is written as .txt.
`--from-dir DIR`: the _search responses saved by hand as DIR/*.json (read in name order), PDFs
looked up in DIR by their URL's last path segment.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Iterator

from ..errors import InputError
from .base import Bad, FetchError, Fetcher, Record, entry, iso_date, municipality_of, one_line, show

API = "https://api.openraadsinformatie.nl/v1/elastic"
PAGE_SIZE = 100
MAX_WINDOW = 10_000  # Elasticsearch's index.max_result_window
DEFAULT_TYPE = "raadsinformatie"

# meta.json key <- the MediaObject fields that give it, the first one present wins
FIELDS = {
    "title": ("name", "title"),
    "date": ("last_discussed_at", "date_modified", "date_created"),
    "type": ("classification",),  # else DEFAULT_TYPE
    "source_url": ("original_url", "url"),
}
TEXT_FIELDS = ("text", "md_text")  # a string, or a list of page strings
FILE_FIELDS = ("url", "original_url")  # downloaded when content_type says PDF


def index_for(municipality: str) -> str:
    """"Den Haag" -> "ori_den_haag_*" (ORI's indexes are named ori_<municipality>_<timestamp>)."""
    slug = re.sub(r"[^a-z0-9]+", "_", municipality.casefold().replace("'s-", "s_")).strip("_")
    if not slug:
        raise InputError(f"--municipality {municipality!r}: no letters in it; give a municipality name, e.g. Utrecht")
    return f"ori_{slug}_*"


def query(since: str | None, start: int, size: int) -> dict:
    filters: list[dict] = [{"match": {"@type": "MediaObject"}}]
    if since:
        filters.append({"bool": {"minimum_should_match": 1, "should": [
            {"range": {"last_discussed_at": {"gte": since}}}, {"range": {"date_modified": {"gte": since}}}]}})
    return {"query": {"bool": {"filter": filters}}, "from": start, "size": size,
            "sort": [{"date_modified": {"order": "asc", "unmapped_type": "date"}}, "_doc"]}


def _first(src: dict, keys) -> object:
    for k in keys:
        v = src.get(k)
        if v not in (None, "", []):
            return v
    return None


def _text(value) -> str | None:
    if isinstance(value, list):
        pages = [p for p in value if isinstance(p, str)]
        value = "\f".join(pages) if pages else None  # one page a form feed apart, as ingest keeps them
    return value if isinstance(value, str) and value.strip() else None


def record(hit, municipality: str, where: str) -> Record | Bad:
    """One search hit -> a Record, or Bad saying what is missing."""
    if not isinstance(hit, dict) or not isinstance(hit.get("_source"), dict):
        return Bad(where, "not a search hit (no _source object)")
    src = hit["_source"]
    ident = hit.get("_id") or src.get("@id") or src.get("id")
    if not isinstance(ident, (str, int)) or not str(ident).strip():
        return Bad(where, "no _id")
    where = f"{where} (_id {show(str(ident))})"
    kind = src.get("@type")
    if kind not in (None, "MediaObject"):
        return Bad(where, f"@type is {show(str(kind))}, not MediaObject")
    text = None
    for k in TEXT_FIELDS:
        text = text or _text(src.get(k))
    file_url = None
    content_type = str(src.get("content_type") or "").lower()
    url = _first(src, FILE_FIELDS)
    if isinstance(url, str) and ("pdf" in content_type or url.lower().split("?")[0].endswith(".pdf")):
        file_url = url
    if not text and not file_url:
        return Bad(where, "no text and no PDF url")
    kind_value = one_line(_first(src, FIELDS["type"]))
    source_url = _first(src, FIELDS["source_url"])
    meta = entry(
        title=one_line(_first(src, FIELDS["title"])),
        date=iso_date(_first(src, FIELDS["date"])),
        municipality=municipality,
        type=kind_value.lower() if kind_value else DEFAULT_TYPE,
        source_url=source_url if isinstance(source_url, str) else None,
        source="ori",
        id=str(ident),
    )
    return Record(f"ori:{ident}", meta, text=text, file_url=file_url)


def _hits(data: bytes, where: str) -> tuple[list, int | None]:
    """A _search response's hits and total; InputError when the response is unusable."""
    try:
        doc = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise InputError(f"{where}: not a valid JSON search response ({e}); the response may be cut off or "
                         "an error page") from e
    if isinstance(doc, dict) and "error" in doc:
        raise InputError(f"{where}: the search failed: {show(json.dumps(doc['error'])[:300], 300)}")
    hits = doc.get("hits") if isinstance(doc, dict) else None
    if not isinstance(hits, dict) or not isinstance(hits.get("hits"), list):
        raise InputError(f"{where}: not an Elasticsearch search response (no hits.hits list)")
    total = hits.get("total")
    total = total.get("value") if isinstance(total, dict) else total
    return hits["hits"], total if isinstance(total, int) else None


def search(fetcher: Fetcher, municipality: str, since: str | None, index: str | None = None,
           page_size: int = PAGE_SIZE, on_total=None, log=None) -> Iterator[Record | Bad]:
    """Page through ORI's search for one municipality's MediaObjects."""
    name = municipality_of(municipality) or municipality
    url = f"{API}/{index or index_for(municipality)}/_search"
    start = 0
    while True:
        where = f"ORI search {url} (from {start})"
        body = json.dumps(query(since, start, page_size)).encode("utf-8")
        try:
            data = fetcher.get(url, body)
        except FetchError as e:
            hint = (f"; check --municipality (index {index or index_for(municipality)}) or give --index"
                    if e.reason.startswith(("HTTP 400", "HTTP 404")) else "")
            raise InputError(f"ORI search failed: {e}{hint}") from e
        hits, total = _hits(data, where)
        if start == 0 and on_total and total is not None:
            on_total(total)
        for i, hit in enumerate(hits):
            yield record(hit, name, f"ORI hit {start + i + 1}")
        if len(hits) < page_size:
            return
        start += page_size
        if start + page_size > MAX_WINDOW:
            if log:
                log(f"ORI gives at most {MAX_WINDOW:,} results per search: stopped there; import the rest with a "
                    "later --since")
            return


def from_dir(folder: Path, municipality: str) -> Iterator[Record | Bad]:
    """_search responses saved by hand: DIR/*.json in name order."""
    name = municipality_of(municipality) or municipality
    pages = sorted(p for p in Path(folder).glob("*.json") if p.is_file())
    if not pages:
        raise InputError(f"--from-dir {folder}: no .json files (save ORI's _search responses there)")
    n = 0
    for page in pages:
        hits, _ = _hits(page.read_bytes(), str(page))
        for hit in hits:
            n += 1
            yield record(hit, name, f"{page.name} hit {n}")
