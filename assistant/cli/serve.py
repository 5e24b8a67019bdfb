"""`assistant chat|eval`: the browser chat and the evaluation over a gold set (same answer path)."""

from __future__ import annotations

import os
import sys

from .common import add_where, settings


def cmd_chat(args) -> int:
    from ..errors import InputError
    from ..ui import AUTH_ENV, launch, parse_auth
    from ..users import USERS_ENV, UsersFile

    if args.users and args.auth is not None:
        raise InputError("--auth and --users both set the chat's logins: give one of them (--users FILE for "
                         "several accounts, --auth USER:PASSWORD for a single one)")
    users_path = args.users or os.environ.get(USERS_ENV) or None
    if users_path and not args.users and args.auth is not None:
        print(f"note: {USERS_ENV} is ignored because of --auth", file=sys.stderr)
        users_path = None
    if users_path:
        users = UsersFile(os.path.expanduser(users_path))
        return launch(settings(args), host=args.host, port=args.port, open_browser=args.open,
                      users=users, no_auth=args.no_auth, lang=args.lang)
    auth = None
    if args.auth is not None:
        auth = parse_auth(args.auth, "--auth")
    elif os.environ.get(AUTH_ENV) and not args.no_auth:
        auth = parse_auth(os.environ[AUTH_ENV], AUTH_ENV)
    elif os.environ.get(AUTH_ENV):
        print(f"note: {AUTH_ENV} is ignored because of --no-auth", file=sys.stderr)
    # The login stays out of Settings on purpose: a secret, and only the chat needs it.
    return launch(settings(args), host=args.host, port=args.port, open_browser=args.open,
                  auth=auth, no_auth=args.no_auth, lang=args.lang)


def cmd_eval(args) -> int:
    from ..evaluation import run_cli

    return run_cli(settings(args), args)


def add(sub, default) -> None:
    c = sub.add_parser("chat", help="browser chat (Gradio) on the same answer path",
                       description="Browser chat on the same answer path as `ask`. Every answer is saved in the "
                                   "login's conversations (history.sqlite in the index folder). The documents are "
                                   "shared: one index per chat server, every login searches, adds and removes "
                                   "the same documents.")
    c.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default 127.0.0.1: this machine only); any other host needs --auth or --no-auth")
    c.add_argument("--port", type=int, default=7860)
    c.add_argument("--open", action="store_true", help="open a browser tab")
    c.add_argument("--auth", metavar="USER:PASSWORD",
                   help="require this login for the page and its API (or set ASSISTANT_AUTH=USER:PASSWORD, "
                        "which other users of the machine cannot see in the process list)")
    c.add_argument("--users", metavar="FILE",
                   help="require one of the logins in this users file (`assistant users add NAME`; or ASSISTANT_USERS); "
                        "each login has its own saved conversations, the documents are shared by all")
    c.add_argument("--no-auth", action="store_true",
                   help="serve on a non-loopback --host without a login, on purpose")
    c.add_argument("--lang", choices=["auto", "nl", "en"], default="auto",
                   help="language the page starts in (default auto: the browser's; the page's NL | EN switch changes it)")
    c.set_defaults(func=cmd_chat)

    e = sub.add_parser("eval", help="evaluate on a gold Q&A file and write a report")
    e.add_argument("--gold", default="eval/gold.jsonl", help="gold JSONL file (default eval/gold.jsonl)")
    e.add_argument("--out", default="eval/runs/latest", help="output folder for records, report and plot")
    e.add_argument("--compare", help="an earlier output folder to compare against")
    e.add_argument("--retrieval-only", action="store_true", help="skip generation (fast)")
    e.add_argument("--limit", type=int, help="only the first N questions")
    e.add_argument("-k", type=int, default=None, help=f"chunks retrieved for the evidence (default {default.answer.top_k})")
    e.add_argument("--no-prefill", action="store_true",
                   help="skip measuring raw llama.cpp prefill speed after a full run (~1 minute)")
    add_where(e, " (only gold questions about matching documents are asked)")
    e.set_defaults(func=cmd_eval)
