"""`assistant history list|show|delete|rename`: the saved conversations (history.py) of one user.

`assistant ask` saves each answer there (query.py); the chat saves every turn under its login.
--user NAME: a chat login's conversations (default "": the local user, where the chat has no logins).
"""

from __future__ import annotations

import json
import time

from .common import settings


def _history(args):
    from ..history import History

    return History.for_index(settings(args).storage.index_dir)


def _when(t: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(t)) if t else "-"


def cmd_list(args) -> int:
    with _history(args) as h:
        rows = h.list(args.user)
    if args.json:
        print(json.dumps({"user": args.user, "conversations": [r.to_json() for r in rows]}, ensure_ascii=False, indent=2))
        return 0
    if not rows:
        who = f" for user {args.user!r}" if args.user else ""
        print(f"no saved conversations{who} (`assistant ask` and the chat save them)")
    for r in rows:
        print(f"{r.id}  {_when(r.updated)}  {r.turns:>3} turn{'s' if r.turns != 1 else ' '}  {r.title}")
    return 0


def cmd_show(args) -> int:
    with _history(args) as h:
        conv = h.get(args.user, args.id)
    if args.json:
        print(json.dumps(conv.to_json(), ensure_ascii=False, indent=2))
        return 0
    print(f"# {conv.title}  ({conv.id}, {_when(conv.updated)})")
    for i, t in enumerate(conv.turns, 1):
        print(f"\n[{i}] Q: {t.question}")
        print(f"    A: {t.error or t.answer}")
        for s in t.sources:
            page = f", p. {s.page}" if s.page else ""
            print(f"      [{s.n}] {s.title} ({s.source}{page}, {s.start}-{s.end})")
            if s.cited:
                print(f"          «{' '.join(s.cited.split())}»")
    return 0


def cmd_delete(args) -> int:
    with _history(args) as h:
        h.delete(args.user, args.id)
    print(json.dumps({"deleted": args.id}) if args.json else f"deleted conversation {args.id}")
    return 0


def h_title(title: str) -> str:
    return " ".join(title.split())


def cmd_rename(args) -> int:
    with _history(args) as h:
        h.rename(args.user, args.id, args.title)
    print(json.dumps({"renamed": args.id, "title": h_title(args.title)}) if args.json else f"renamed conversation {args.id}")
    return 0


def _user(p) -> None:
    p.add_argument("--user", default="", metavar="NAME",
                   help="whose conversations: a chat login (default: the local user, where the chat has no logins)")


def add(sub, default) -> None:
    h = sub.add_parser("history", help="saved conversations: list | show ID | delete ID | rename ID TITLE",
                       description=f"Saved conversations, in <index dir>/history.sqlite (now "
                                   f"{default.storage.index_dir}/history.sqlite); each chat login has its own.")
    hs = h.add_subparsers(dest="history_command", required=True, metavar="ACTION")
    ls = hs.add_parser("list", help="the conversations, newest first (id, updated, turns, title)")
    ls.add_argument("--json", action="store_true", help="print JSON: {user, conversations:[{id,title,updated,turns}]}")
    _user(ls)
    ls.set_defaults(func=cmd_list)
    sh = hs.add_parser("show", help="one conversation: every question, answer and cited source")
    sh.add_argument("id")
    sh.add_argument("--json", action="store_true", help="print the conversation as JSON (turns with their sources)")
    _user(sh)
    sh.set_defaults(func=cmd_show)
    de = hs.add_parser("delete", help="delete a conversation (its text is removed from the file, not just hidden)")
    de.add_argument("id")
    de.add_argument("--json", action="store_true", help='print JSON: {"deleted": ID}')
    _user(de)
    de.set_defaults(func=cmd_delete)
    rn = hs.add_parser("rename", help="give a conversation a new title")
    rn.add_argument("id")
    rn.add_argument("title")
    rn.add_argument("--json", action="store_true", help='print JSON: {"renamed": ID, "title": TITLE}')
    _user(rn)
    rn.set_defaults(func=cmd_rename)
