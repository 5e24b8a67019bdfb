"""`assistant ingest|check|docs`: what goes into the index, and whether it is intact."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from ..errors import InputError
from .common import progress_bar, settings


def _ocr_progress():
    """An on_page callback for ingest: one progress bar per PDF that is being OCR'd."""
    current: dict = {}

    def on_page(name: str, done: int, total: int) -> None:
        if current.get("name") != name:
            current.update(name=name, bar=progress_bar(f"OCR {name}", "page"))
        bar, update = current["bar"]
        update(done, total)
        if done >= total:
            bar.close()

    return on_page


def cmd_ingest(args) -> int:
    s = settings(args)
    ingest_folder(s, Path(args.path) if args.path else s.storage.seeds_dir, rebuild=args.rebuild,
                  take_over=args.take_over, compact=args.compact)
    return 0


def ingest_folder(s, folder: Path, rebuild: bool = False, take_over: bool = False, compact: bool = False):
    """Index `folder` into the settings' index (incremental: unchanged documents keep their vectors),
    with OCR and embedding progress, skipped files named and a one-line summary on stdout: what
    `assistant ingest` and `assistant setup` both do. Returns the IngestReport."""
    from ..library import Library
    from ..pages import ranges

    # An existing index keeps the embedding backend it was built with (Library.embedder), read from
    # its manifest: one that cannot be read stops the ingest with an error naming the file, before any
    # model loads. --rebuild starts over with the best available backend.
    library = Library(s, take_over=take_over)
    found = [0]

    def read(docs, problems) -> None:  # told file by file: a large folder is read and written in batches
        found[0] += len(docs) + len(problems)
        for p in problems:  # a kept one is a note on a document indexed all the same (woo.py)
            print(f"{'note on' if getattr(p, 'kept', False) else 'skipped'} {p.source}: {p.reason}", file=sys.stderr)
        for d in docs:
            if d.ocr_pages:
                print(f"read by OCR: {d.source}, page{'s' if len(d.ocr_pages) > 1 else ''} {ranges(d.ocr_pages)} "
                      f"of {len(d.pages)}", file=sys.stderr)

    bar, update = progress_bar("embedding", "text")
    try:
        report = library.add_folder(folder, rebuild=rebuild, compact=compact, progress=update, on_page=_ocr_progress(),
                                    on_read=read)
    finally:
        bar.close()
    if not found[0]:
        print(f"no documents found in {folder}", file=sys.stderr)
    if report.rebuilt:
        print(f"rebuilt the whole index: {report.rebuilt}", file=sys.stderr)
    if report.rechunked:
        print(f"split every document again, unchanged chunks keep their vectors: {report.rechunked}", file=sys.stderr)
    print(f"indexed {folder} into {s.storage.index_dir}: {report.summary()}")
    return report


def cmd_publish(args) -> int:
    """Publish the index folder to the shared index now (ingest does it after every change)."""
    from ..library import Library

    s = settings(args)
    if not s.storage.shared_index:
        raise InputError("no shared index to publish to: give --shared-index postgresql://user:pass@host/db#name "
                         "(or set ASSISTANT_SHARED_INDEX)")
    bar, update = progress_bar("copying", "chunk")
    try:
        said = Library(s, take_over=args.take_over).publish(progress=lambda stage, done, total: update(done, total))
    finally:
        bar.close()
    print(f"{s.storage.index_dir}: {said}")
    return 0


def cmd_check(args) -> int:
    from ..check import check

    s = settings(args)
    report = check(s.storage.index_dir, s.storage.vector_store)
    if args.json:
        print(json.dumps(report.to_json(), ensure_ascii=False, indent=2))
    else:
        print(report.text(), file=sys.stdout if report.ok else sys.stderr)
    return 0 if report.ok else 1


def cmd_docs(args) -> int:
    """List the indexed documents, or remove / re-index one (the browser's document panel does the same)."""
    from .. import documents, index
    from ..library import Library

    s = settings(args)
    idx = index.open_live(s.storage)
    if args.action == "list":
        docs = documents.list_documents(idx, s.storage.index_dir)
        if args.json:
            print(json.dumps([d.to_json() for d in docs], ensure_ascii=False, indent=2))
            return 0
        for d in docs:
            pages = f"{d.pages} pages, " if d.pages is not None else ""
            about = f"{d.about}; " if d.about else ""
            print(f"{d.source}  {d.title!r}  ({about}{pages}{d.chunks} chunks, added {d.added or 'unknown'})")
        print(f"{len(docs)} documents in {s.storage.index_dir}", file=sys.stderr)
        return 0
    if not args.name:
        raise InputError(f"`assistant docs {args.action}` needs the document: its source or file name (see `assistant docs list`)")
    source = documents.find(idx, args.name)
    idx.store.close()
    library = Library(s)  # embeds with the index's own embedder: nothing is re-embedded by mistake
    if args.action == "remove":
        report = library.remove(source)
        kept = "" if documents.is_upload(source) else " (its file stays in its folder: the next ingest of it adds it back)"
        print(f"removed {source}{kept}: {report.chunks_total} chunks left in {s.storage.index_dir}")
        return 0
    report = library.reindex(source)
    print(f"re-indexed {source}: {report.summary()}")
    return 0


def add(sub, default) -> None:
    i = sub.add_parser("ingest", help="index a folder of .txt .md .pdf .docx .html .odt .ods .xlsx .pptx .eml .msg (incremental)")
    i.add_argument("path", nargs="?", help="folder to index (default: the bundled seeds/)")
    i.add_argument("--rebuild", action="store_true", help="re-embed everything")
    i.add_argument("--compact", action="store_true",
                   help="write the index as one segment again: the segments small ingests appended are merged and "
                        "the rows of removed or replaced documents dropped, nothing is re-embedded (an ingest does "
                        "this by itself when appended segments or deleted rows pile up)")
    i.add_argument("--take-over", action="store_true",
                   help="with --shared-index: publish this folder's documents in place of those another folder "
                        "has been publishing under that name")
    i.set_defaults(func=cmd_ingest)

    p = sub.add_parser("publish", help="copy the index folder to the shared index (--shared-index) and make it live there",
                       description="Publish the index folder's live generation to the shared index in PostgreSQL: "
                                   "segments the database lacks are copied, then chat servers reading it switch to "
                                   "it within seconds. `ingest` does this after every change; this is for sharing "
                                   "an index that already exists, or after restoring the database.")
    p.add_argument("--take-over", action="store_true",
                   help="publish this folder in place of another folder that has been publishing under that name")
    p.set_defaults(func=cmd_publish)

    k = sub.add_parser("check", help="verify the index: files, counts, exact spans, document hashes, unit vectors "
                                     "(exit 0 when intact, 1 when damaged)")
    k.add_argument("--json", action="store_true", help="print {ok, generation, problems:[{file,message}], counts, seconds, fix}")
    k.set_defaults(func=cmd_check)

    d = sub.add_parser("docs", help="list the indexed documents, or remove / re-index one")
    d.add_argument("action", choices=["list", "remove", "reindex"])
    d.add_argument("name", nargs="?", help="remove / reindex: the document's source (uploads/nota.pdf) or file name")
    d.add_argument("--json", action="store_true", help="list: print [{source, title, chunks, pages, added, uploaded, about}]")
    d.set_defaults(func=cmd_docs)
