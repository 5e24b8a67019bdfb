"""`assistant search|ask`: passages for a question, and the answer with its citations."""

from __future__ import annotations

import json
import sqlite3
import sys

from .common import add_where, location, meta_line, pipeline, settings, where as resolve_where


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
    from ..errors import InputError
    from ..filters import Where
    from ..history import History

    Where.parse(args.where)  # a malformed --where fails before any model loads
    target = export.check_path(args.export) if args.export else None  # a bad suffix too
    s = settings(args)
    history, before = None, None
    if args.conversation:
        history = History.for_index(s.storage.index_dir)
    elif not args.no_save:
        try:
            history = History.for_index(s.storage.index_dir)
        except (InputError, OSError) as e:  # a read-only index folder: answer anyway, say so
            print(f"warning: this answer will not be saved ({e}); pass --no-save to skip saving", file=sys.stderr)
    if args.conversation:  # checked before any model loads: a wrong id is named at once
        before = history.get(args.user, args.conversation)
    p = pipeline(args, with_llm=True)
    where = resolve_where(args, p.index)
    result = None
    # A follow-up: the earlier turns are the conversation the answer continues (like the chat's).
    earlier = [(t.question, t.answer) for t in before.turns if not t.error] if before is not None else []
    for event in p.assistant.stream(args.question, args.k, earlier or None, where=where):
        if event.kind == "quote" and not args.json:
            # The sentence the answer starts from, first: the reader sees the source before the model writes.
            q = event.data
            print(f"[{q.n}] «{' '.join(q.text.split())}»\n    {q.title} ({location(q)})\n", flush=True)
        elif event.kind == "token" and not args.json:
            print(event.data, end="", flush=True)
        elif event.kind == "answer":
            result = event.data
    conv_id = None
    turn = _record(p, result)
    if history is not None and not args.no_save:
        try:
            conv_id = history.save(args.user, args.conversation or None, turn)
            print(f"saved as conversation {conv_id} (assistant history show {conv_id}"
                  f"{' --user ' + args.user if args.user else ''})", file=sys.stderr)
        except (sqlite3.Error, OSError) as e:  # the answer is printed below all the same
            print(f"warning: this answer was not saved ({e}); pass --no-save to skip saving", file=sys.stderr)
    if target is not None:  # the whole conversation when it continues one, else this answer
        _export(before, turn, target)
    if history is not None:
        history.close()
    if args.json:
        print(json.dumps({**result.to_json(), "where": where.to_json(), "conversation_id": conv_id},
                         ensure_ascii=False, indent=2))
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


def _record(p, result):
    from ..conversation import from_answer
    from ..history import models_of

    return from_answer(result, models=models_of(p), generation=p.index.generation)


def _export(before, turn, target) -> None:
    """The answer (or the conversation it continues), its quote and its sources as Markdown or DOCX (export.py)."""
    from .. import export
    from ..conversation import Conversation, title_of

    conv = (before.with_turn(turn) if before is not None else
            Conversation(id="", title=title_of(turn.question), created=turn.asked_at, updated=turn.asked_at,
                         turns=(turn,)))
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
    a.add_argument("--no-save", action="store_true",
                   help="do not save the answer (by default each answer is saved as a conversation: assistant history list)")
    a.add_argument("--conversation", metavar="ID",
                   help="continue this saved conversation: its earlier turns are the answer's context, and it is added to it")
    a.add_argument("--user", default="", metavar="NAME",
                   help="save under this chat login's conversations (default: the local user)")
    add_where(a)
    a.set_defaults(func=cmd_ask)
