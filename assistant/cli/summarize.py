"""`assistant summarize SOURCE`: a summary of one indexed document, every sentence cited to its section."""

from __future__ import annotations

import json
import sys

from .common import pipeline, settings


def cmd_summarize(args) -> int:
    from .. import documents, index, summary_cache
    from ..summarize import check_language

    lang = check_language(args.lang)
    s = settings(args)
    idx = index.open_live(s.storage)
    source = documents.find(idx, args.source)  # an unknown SOURCE: an error naming `assistant docs list`, no model loaded
    idx.store.close()
    p = pipeline(args, with_llm=True)
    summary = None
    for event in summary_cache.for_pipeline(p, source, lang, use_cache=not args.no_cache):
        if event.kind == "progress":
            done, total = event.data
            print(f"section {done}/{total}", file=sys.stderr, flush=True)
        elif event.kind == "summary":
            summary = event.data
    if args.json:
        print(json.dumps(summary.to_json(), ensure_ascii=False, indent=2))
        return 0
    print(f"{summary.title}\n{summary.source}\n")
    print(summary.text or ("(geen samenvatting: het model schreef geen bruikbare zin)" if lang == "nl"
                           else "(no summary: the model wrote no usable sentence)"))
    print()
    flagged = {s.n for s in summary.sentences if not s.supported}
    for sec in summary.sections:
        page = f"p. {sec.page}, " if sec.page else ""
        heading = f"{sec.heading} — " if sec.heading else ""
        flag = "  (sentence not supported by this section: check it)" if sec.n in flagged else ""
        print(f"  [{sec.n}] {heading}{page}{sec.start}-{sec.end}{flag}")
        print(f"      {sec.first_words()}")
    if summary.omitted:
        print(f"  not summarised ({len(summary.omitted)} more sections, over the cap of {len(summary.sections)}): "
              + ", ".join(f"{s.start}-{s.end}" for s in summary.omitted))
    cached = "from the cache" if summary.cached else f"{summary.seconds:.1f} s"
    print(f"\n({len(summary.sentences)} sentences, {len(summary.sections)} sections, {summary.model}, {cached})",
          file=sys.stderr)
    return 0


def add(sub, default) -> None:
    s = sub.add_parser("summarize", help="summarise one indexed document; every sentence cites its section [n]")
    s.add_argument("source", help="the document's source or file name (see `assistant docs list`)")
    s.add_argument("--lang", choices=["nl", "en"], default="nl", help="language of the summary (default nl)")
    s.add_argument("--json", action="store_true", help="print {source, title, language, text, sentences:[{text, n, "
                                                       "start, end, page, supported}], sections, omitted, seconds, pages, model, cached}")
    s.add_argument("--no-cache", action="store_true", help="summarise again even when this version of the document "
                                                           "was summarised before (the new summary is stored)")
    s.set_defaults(func=cmd_summarize)
