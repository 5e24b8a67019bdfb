"""`assistant import ori|diwoo|woogle`: documents + meta.json from open-government sources into a
folder, for `assistant ingest FOLDER` (the module is not called import.py: that word is reserved)."""

from __future__ import annotations

import argparse
import re
import sys
import textwrap
from pathlib import Path

from ..errors import InputError


def make_fetcher():
    """The network layer (tests replace this factory with a fake that serves recorded responses)."""
    from ..importers.base import UrlFetcher

    return UrlFetcher()


def _date(value: str) -> str:
    if not re.fullmatch(r"(?:19|20)\d\d-[01]\d-[0-3]\d", value):
        raise InputError(f"--since {value!r}: not a date; write it as YYYY-MM-DD, e.g. --since 2024-01-01")
    return value


def _limit(args) -> int | None:
    if args.limit is not None and args.limit < 1:
        raise InputError(f"--limit {args.limit}: give a positive number of documents, e.g. --limit 50")
    return args.limit


def _from_dir(args):
    from ..importers.base import DirFetcher

    return DirFetcher(Path(args.from_dir).expanduser()) if args.from_dir else None


def cmd_import(args) -> int:
    from ..importers import diwoo, ori, woogle
    from ..importers.base import LocalThenNetwork, import_records

    out = Path(args.out)
    limit = _limit(args)
    totals: dict = {}
    if args.source == "ori":
        since = _date(args.since) if args.since else None
        if args.from_dir:
            fetcher = None if args.text_only else _from_dir(args)
            records = ori.from_dir(Path(args.from_dir).expanduser(), args.municipality)
        else:
            fetcher = make_fetcher()
            records = ori.search(fetcher, args.municipality, since, index=args.index,
                                 page_size=min(limit or ori.PAGE_SIZE, ori.PAGE_SIZE),
                                 on_total=lambda n: totals.setdefault("n", n), log=_log)
            fetcher = None if args.text_only else fetcher
        result = import_records(records, out, fetcher, limit=limit, total=lambda: totals.get("n"),
                                what="ORI documents")
    elif args.source == "diwoo":
        url, first, folder = diwoo.read_start(args.sitemap)
        if args.from_dir:
            fetcher = _from_dir(args)
        elif folder is not None:
            fetcher = LocalThenNetwork(folder, make_fetcher())
        else:
            fetcher = make_fetcher()
        records = diwoo.walk(fetcher, url, first, on_total=lambda n: totals.setdefault("n", n))
        result = import_records(records, out, fetcher, limit=limit, total=lambda: totals.get("n"),
                                what="DiWoo documents")
    else:
        result = import_records(woogle.records(Path(args.file)), out, None, limit=limit, what="Woogle documents")
    print(result.summary())
    print(f"next: assistant ingest {out}")
    return 0


def _log(msg: str) -> None:
    from tqdm import tqdm

    tqdm.write(msg, file=sys.stderr)


COMMON = ("Writes each document (the PDF or other file where it can be downloaded whole, else the "
          "extracted text as .txt) and its metadata in OUT_FOLDER/meta.json, which `assistant ingest` "
          "reads. All or nothing: the documents are gathered in a hidden folder beside OUT_FOLDER and "
          "moved in at the end, meta.json last; a failed or interrupted import leaves OUT_FOLDER as it "
          "was. Importing again into the same folder adds new documents and changes nothing else; an "
          "existing file of the same name with other content is never overwritten. Records that are "
          "individually bad are skipped (each one named on stderr); a response that is unusable as a "
          "whole stops the import.")


def _wrap(text: str) -> str:
    return textwrap.fill(text, width=100)


def add(sub, default) -> None:
    p = sub.add_parser(
        "import", help="fetch documents + metadata from ORI, DiWoo (open.overheid.nl) or a Woogle dump",
        description=_wrap("Fetch documents and their metadata (title, date, municipality or organisation, type, "
                    "source URL) from a Dutch open-government source into a folder for `assistant ingest`. "
                    + COMMON),
        epilog="examples:\n"
               "  assistant import ori --municipality Utrecht --since 2024-01-01 --limit 200 docs/utrecht\n"
               "  assistant import diwoo https://open.overheid.nl/sitemap.xml docs/woo --limit 100\n"
               "  assistant import diwoo ~/Downloads/sitemap.xml docs/woo --from-dir ~/Downloads/diwoo\n"
               "  assistant import woogle woo_bodytext.csv.gz docs/woogle\n"
               "  assistant ingest docs/utrecht\n\n"
               "Without network: download the responses by hand and use --from-dir (see each source's --help).",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    src = p.add_subparsers(dest="source", required=True, metavar="SOURCE")

    def limit_arg(q):
        q.add_argument("--limit", type=int, metavar="N",
                       help="stop after N documents (default: all), e.g. --limit 50 for a first look")

    o = src.add_parser(
        "ori", help="Open Raadsinformatie: a municipality's council documents (Elasticsearch API)",
        description=_wrap("Council documents (MediaObjects: agendas, proposals, letters, minutes) of one municipality "
                    "from Open Raadsinformatie's search API, api.openraadsinformatie.nl/v1/elastic/ori_<name>_*/_search, "
                    "paged 100 at a time (at most 10,000 per search: narrow with --since). Metadata: title = name, "
                    "date = last_discussed_at (else date_modified), municipality = --municipality, type = ORI's "
                    "classification (else \"raadsinformatie\"), source_url = original_url. " + COMMON),
        epilog="examples:\n"
               "  assistant import ori --municipality Utrecht --since 2024-01-01 docs/utrecht\n"
               "  assistant import ori --municipality \"Den Haag\" --index ori_den_haag_20240101 --limit 20 docs/dh\n"
               "  assistant import ori --municipality Lochem --from-dir ~/Downloads/ori docs/lochem   # saved responses\n",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    o.add_argument("--municipality", required=True, metavar="NAME",
                   help="the municipality, e.g. Utrecht or \"Den Haag\": chooses the index ori_<name>_* and is "
                        "written as each document's municipality")
    o.add_argument("--since", metavar="YYYY-MM-DD",
                   help="only documents discussed or changed on or after this date, e.g. --since 2024-01-01")
    o.add_argument("--index", metavar="INDEX",
                   help="the Elasticsearch index (pattern) to search instead of ori_<name>_*, e.g. ori_utrecht_*")
    o.add_argument("--text-only", action="store_true",
                   help="write ORI's extracted text as .txt; do not download the PDFs (faster, smaller)")
    o.add_argument("--from-dir", metavar="DIR",
                   help="read _search responses saved by hand (DIR/*.json, in name order) instead of the API; "
                        "PDFs are looked up in DIR by the last part of their URL, else the text is used")
    limit_arg(o)
    o.add_argument("out", metavar="OUT_FOLDER", help="folder to write the documents and meta.json into")

    d = src.add_parser(
        "diwoo", help="DiWoo metadata from open.overheid.nl sitemaps (Woo publications)",
        description=_wrap("Woo publications listed by a sitemap index (or one sitemap) whose entries are DiWoo metadata "
                    "XML documents: title = officieleTitel, date = creatiedatum, municipality from the publisher's "
                    "TOOI code (e.g. .../tooi/id/gemeente/gm0363 = Amsterdam; an unknown gm-code is kept as it is) "
                    "or organisation for a ministry/province, type = informatiecategorie, source_url = weblocatie "
                    "(the file, downloaded). " + COMMON),
        epilog="examples:\n"
               "  assistant import diwoo https://open.overheid.nl/sitemap.xml docs/woo --limit 100\n"
               "  assistant import diwoo sitemap.xml docs/woo       # relative <loc>s are files beside sitemap.xml\n"
               "  assistant import diwoo sitemap.xml docs/woo --from-dir downloads   # every URL served from downloads/\n",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    d.add_argument("sitemap", metavar="SITEMAP_URL_OR_FILE", help="the sitemap index (or a sitemap): a URL or a downloaded file")
    d.add_argument("out", metavar="OUT_FOLDER", help="folder to write the documents and meta.json into")
    d.add_argument("--from-dir", metavar="DIR",
                   help="serve every URL from files downloaded by hand into DIR, found by the last part of the URL")
    limit_arg(d)

    w = src.add_parser(
        "woogle", help="a Woogle (UvA Woo dataset) dump: CSV or JSON Lines",
        description=_wrap("Documents from a Woogle dump file (.csv, .csv.gz, .jsonl): page rows are joined per document id "
                    "(foi_documentId), in page order. title = dc_title, date = foi_publishedDate / dc_date, "
                    "municipality (or organisation) = dc_publisher_name, type = dc_type; written as .txt. " + COMMON),
        epilog="examples:\n"
               "  assistant import woogle woo_bodytext.csv.gz docs/woogle --limit 500\n"
               "  assistant import woogle export.jsonl docs/woogle\n",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    w.add_argument("file", metavar="FILE", help="the dump: .csv, .csv.gz, .jsonl or .jsonl.gz")
    w.add_argument("out", metavar="OUT_FOLDER", help="folder to write the documents and meta.json into")
    limit_arg(w)
    p.set_defaults(func=cmd_import)
