"""`assistant users add|list|remove`: the logins of `assistant chat --users FILE` (users.py)."""

from __future__ import annotations

import getpass
import json
import sys


def _path(args):
    from ..users import resolve_path

    return resolve_path(args.users)


def _password(args) -> str:
    from ..errors import InputError

    if args.password_stdin:
        line = sys.stdin.readline()
        password = line[:-1] if line.endswith("\n") else line
        return password.rstrip("\r")
    first = getpass.getpass(f"password for {args.name}: ")
    if getpass.getpass("again: ") != first:
        raise InputError("the two passwords differ: run the command again")
    return first


def cmd_add(args) -> int:
    from .. import users

    users.check_name(args.name)
    path = _path(args)
    new = users.add(path, args.name, _password(args))
    print(f"{'added' if new else 'changed the password of'} user {args.name} in {path}", file=sys.stderr)
    return 0


def cmd_list(args) -> int:
    from .. import users

    path = _path(args)
    names = sorted(users.load(path))
    if args.json:
        print(json.dumps({"file": str(path), "users": names}, ensure_ascii=False, indent=2))
    elif not names:
        print(f"no users in {path} (add one: assistant users add NAME)", file=sys.stderr)
    else:
        print("\n".join(names))
    return 0


def cmd_remove(args) -> int:
    from .. import users

    path = _path(args)
    users.remove(path, args.name)
    print(f"removed user {args.name} from {path} (their saved conversations stay: "
          f"`assistant history list --user {args.name}`)", file=sys.stderr)
    return 0


def _file(p) -> None:
    p.add_argument("--users", metavar="FILE",
                   help="the users file (default: ASSISTANT_USERS, else users.toml next to the config file)")


def add(sub, default) -> None:
    u = sub.add_parser("users", help="logins for `assistant chat --users`: add NAME | list | remove NAME",
                       description="Logins for the chat (`assistant chat --users FILE`): each has its own saved "
                                   "conversations; the documents are shared by all of them. Passwords are kept as "
                                   "salted scrypt hashes in a file readable by its owner only.")
    us = u.add_subparsers(dest="users_command", required=True, metavar="ACTION")
    a = us.add_parser("add", help="add a user, or set a new password for one (asks for it twice)")
    a.add_argument("name")
    a.add_argument("--password-stdin", action="store_true", help="read the password from the first line of stdin")
    _file(a)
    a.set_defaults(func=cmd_add)
    ls = us.add_parser("list", help="the user names")
    ls.add_argument("--json", action="store_true", help="print JSON: {file, users:[names]}")
    _file(ls)
    ls.set_defaults(func=cmd_list)
    r = us.add_parser("remove", help="remove a user (their saved conversations stay)")
    r.add_argument("name")
    _file(r)
    r.set_defaults(func=cmd_remove)
