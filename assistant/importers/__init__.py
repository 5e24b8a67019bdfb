"""`assistant import ori|diwoo|woogle`: documents + metadata from Dutch open-government sources into a
folder that `assistant ingest` reads (the documents, and a meta.json beside them).

    base.py    the network layer (Fetcher: get(url) -> bytes), safe file names, and the staging
               folder that makes an import all-or-nothing
    ori.py     Open Raadsinformatie (Elasticsearch _search responses, MediaObjects)
    diwoo.py   open.overheid.nl / DiWoo (sitemap index -> sitemaps -> DiWoo metadata XML)
    woogle.py  Woogle's dump (CSV / JSONL rows, one per page or per document)
Each source module turns its responses into `Record`s through one small field-mapping table.
"""

from .base import Fetcher, FetchError, ImportResult, Record, UrlFetcher, import_records, safe_name

__all__ = ["Fetcher", "FetchError", "ImportResult", "Record", "UrlFetcher", "import_records", "safe_name"]
