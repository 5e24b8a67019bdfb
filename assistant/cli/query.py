"""`assistant search|ask`: passages for a question, and the answer with its citations."""

from __future__ import annotations

import json
import sys

from .common import add_where, location, meta_line, pipeline, where as resolve_where


def cmd_search(args) -> int:
    from ..filters import Where

    Where.parse(args.where)  # a malformed --where fails before any model loads
    p = pipeline(args, with_llm=False)
    where = resolve_where(args, p.index)
    result = p.assistant.retriever.retrieve(p.assistant.check(args.question), p.assistant.top_k, where)
    hits = result.hits
    if args.json:
        out = {"question": args.question, "passages": [h.to_json(i + 1) for i, h in enumerate(hits)],
               "timings": result.timings, "where": where.to_json()}
        print(json.dumps(out, ensure_ascii=False, indent=2))
        return 0
    for i, h in enumerate(hits, 1):
        c = h.chunk
        print(f"[{i}] {c.title}  ({location(c)}, score {h.score:.4f})")
        meta_line(h.meta, "    ")
        print("    " + c.text[:300].replace("\n", " ") + ("..." if len(c.text) > 300 else ""))
    return 0


def cmd_ask(args) -> int:
    from .. import export
    from ..filters import Where

    Where.parse(args.where)  # a malformed --where fails before any model loads
    target = export.check_path(args.export) if args.export else None  # a bad suffix too
    p = pipeline(args, with_llm=True)
    where = resolve_where(args, p.index)
    result = None
    for event in p.assistant.stream(args.question, args.k, where=where):
        if event.kind == "quote" and not args.json:
            # The sentence the answer starts from, first: the reader sees the source before the model writes.
            q = event.data
            print(f"[{q.n}] «{' '.join(q.text.split())}»\n    {q.title} ({location(q)})\n", flush=True)
        elif event.kind == "token" and not args.json:
            print(event.data, end="", flush=True)
        elif event.kind == "answer":
            result = event.data
    if target is not None:
        _export(p, result, target)
    if args.json:
        print(json.dumps({**result.to_json(), "where": where.to_json()}, ensure_ascii=False, indent=2))
        return 0
    print("\n")
    if result.abstained:
        print("Nearest passages:" if result.language == "en" else "Dichtstbijzijnde passages:")
        for i, h in enumerate(result.hits, 1):
            print(f"  [{i}] {h.chunk.title} ({location(h.chunk)})")
        return 0
    for c in result.citations:
        if c.excerpt is None:
            print(f"  [{c.n}] (invalid: the model cited an excerpt it was not given)")
            continue
        flag = "" if c.supported else "  (not supported by the excerpt: check it)"
        e = c.excerpt
        print(f"  [{c.n}] {e.title} ({location(e)}){flag}")
        meta_line(e.meta, "      ")
        print("      " + e.text[:300].replace("\n", " ") + ("..." if len(e.text) > 300 else ""))
    t = result.timings
    quote = f", quote {t['quote_s']:.2f} s" if "quote_s" in t else ""
    print(f"\n(retrieval {t['retrieve_s']:.2f} s{quote}, first token {t['first_token_s']:.2f} s, total {t['total_s']:.2f} s)",
          file=sys.stderr)
    return 0


def _export(p, result, target) -> None:
    """The answer, its quote and its sources as a Markdown or DOCX file (export.py)."""
    from .. import export
    from ..conversation import Conversation, from_answer, title_of

    generator = p.assistant.generator
    models = {"llm": p.settings.llm_key() or getattr(generator, "name", ""),
              "embedder": p.settings.embedder_key() or p.embedder.name}
    turn = from_answer(result, models=models, generation=p.index.generation)
    conv = Conversation(id="", title=title_of(turn.question), created=turn.asked_at, updated=turn.asked_at,
                        turns=(turn,))
    export.write(conv, target)
    print(f"exported to {target}", file=sys.stderr)


def add(sub, default) -> None:
    s = sub.add_parser("search", help="show the passages that best match a question")
    s.add_argument("question")
    s.add_argument("-k", type=int, default=None, help=f"number of passages (default {default.answer.top_k}, ASSISTANT_TOP_K)")
    s.add_argument("--json", action="store_true", help="print JSON: {question, passages:[{rank,source,title,start,end,text,score,meta}], "
                                                       "timings:{embed_s,search_s,total_s}, where}")
    add_where(s)
    s.set_defaults(func=cmd_search)

    a = sub.add_parser("ask", help="answer a question with numbered citations (streams)")
    a.add_argument("question")
    a.add_argument("-k", type=int, default=None, help=f"passages given to the model (default {default.answer.top_k})")
    a.add_argument("--json", action="store_true", help="print one JSON object (answer, citations, evidence, passages, timings)")
    a.add_argument("--export", metavar="FILE.md|FILE.docx",
                   help="also write the question, quote, answer and numbered sources (title, page, cited sentence) "
                        "to this file; Markdown or Word by its suffix")
    add_where(a)
    a.set_defaults(func=cmd_ask)
