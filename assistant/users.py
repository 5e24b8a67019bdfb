"""Accounts for the chat: a users file of login names with salted scrypt password hashes.

`assistant users add|list|remove` edits it; `assistant chat --users FILE` (or ASSISTANT_USERS) makes
the page require one of its logins, and each login has its own saved conversations (history.py).
The documents are shared: one index per chat server, every login searches and changes the same one.

Hashes: hashlib.scrypt (standard library, memory-hard) with a random 16-byte salt per user; bcrypt or
argon2 would be a new dependency for no gain here. The file is TOML (default `<config dir>/users.toml`,
next to config.toml), written atomically (temp file + fsync + rename) and readable by its owner only
(0600 where the system has such permissions).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import os
import re
import secrets
import threading
import tomllib
from dataclasses import dataclass
from pathlib import Path

from .errors import InputError

USERS_ENV = "ASSISTANT_USERS"
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
# scrypt cost: 16 MiB and ~50 ms per check on a laptop core (RFC 7914's interactive-login setting).
N, R, P = 2 ** 14, 8, 1
SALT_BYTES = 16
HASH_BYTES = 32


@dataclass(frozen=True)
class User:
    name: str
    salt: bytes
    hash: bytes
    n: int = N
    r: int = R
    p: int = P


def default_path() -> Path:
    from .places import places

    return places().config.parent / "users.toml"


def resolve_path(given: str | Path | None) -> Path:
    """--users FILE, else ASSISTANT_USERS, else the default next to the config file."""
    if given:
        return Path(given).expanduser()
    if os.environ.get(USERS_ENV):
        return Path(os.environ[USERS_ENV]).expanduser()
    return default_path()


def check_name(name: str) -> str:
    if not NAME.match(name or ""):
        raise InputError(f"user name {name!r}: use 1-64 letters, digits, '.', '_', '@' or '-', starting with a "
                         "letter or digit")
    return name


def _derive(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(password.encode("utf-8"), salt=salt, n=n, r=r, p=p, maxmem=128 * r * n * 2,
                          dklen=HASH_BYTES)


def make_user(name: str, password: str) -> User:
    if not password:
        raise InputError(f"the password for {name!r} is empty: give one")
    salt = secrets.token_bytes(SALT_BYTES)
    return User(check_name(name), salt, _derive(password, salt, N, R, P))


def load(path: Path) -> dict[str, User]:
    """The users in `path` ({} when it does not exist yet)."""
    path = Path(path)
    if not path.exists():
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        out = {}
        for name, u in (data.get("users") or {}).items():
            out[name] = User(check_name(name), bytes.fromhex(u["salt"]), bytes.fromhex(u["hash"]),
                             int(u.get("n", N)), int(u.get("r", R)), int(u.get("p", P)))
        return out
    except (tomllib.TOMLDecodeError, KeyError, ValueError, TypeError, AttributeError, InputError) as e:
        raise InputError(f"the users file {path} cannot be read ({e}); fix it or remove it and add the users "
                         "again with `assistant users add NAME`") from e


def save(path: Path, users: dict[str, User]) -> None:
    """Write the users file atomically, readable by its owner only."""
    from .store.common import fsync_path

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = ["# Logins for `assistant chat --users`: edit with `assistant users add|remove` (scrypt hashes).\n"]
    for name in sorted(users):
        u = users[name]
        # Names are plain ASCII (NAME), so a JSON string is a valid TOML key.
        lines.append(f"\n[users.{json.dumps(u.name)}]\nsalt = \"{u.salt.hex()}\"\nhash = \"{u.hash.hex()}\"\n"
                     f"n = {u.n}\nr = {u.r}\np = {u.p}\n")
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_BINARY", 0), 0o600)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write("".join(lines).encode("utf-8"))
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o600)  # also when the file existed with wider permissions
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_path(path.parent)


def add(path: Path, name: str, password: str) -> bool:
    """Add a user or set a new password; returns whether the user is new."""
    users = load(path)
    new = name not in users
    users[name] = make_user(name, password)
    save(path, users)
    return new


def remove(path: Path, name: str) -> None:
    users = load(path)
    if name not in users:
        known = ", ".join(sorted(users)) or "none"
        raise InputError(f"no user {name!r} in {path} (users: {known}); `assistant users list` shows them")
    del users[name]
    save(path, users)


# A hash to check unknown names against, so a wrong name costs as long as a wrong password.
_DUMMY = User("-", b"\0" * SALT_BYTES, b"\0" * HASH_BYTES)


def verify(users: dict[str, User], name: str, password: str) -> bool:
    """Constant work whatever is wrong: one scrypt and one compare_digest, known name or not."""
    u = users.get(name)
    want = u if u is not None else _DUMMY
    got = _derive(password or "", want.salt, want.n, want.r, want.p)
    return hmac.compare_digest(got, want.hash) and u is not None


class UsersFile:
    """The users file as the chat reads it: loaded again when it changes, so `assistant users add`
    and `remove` take effect for the next login without a restart."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._lock = threading.Lock()
        self._stamp = None
        self._users: dict[str, User] = {}
        if not self.users():
            raise InputError(f"the users file {self.path} has no users: add one with "
                             f"`assistant users add NAME --users {self.path}`")

    def users(self) -> dict[str, User]:
        with self._lock:
            try:
                st = self.path.stat()
                stamp = (st.st_mtime_ns, st.st_size, st.st_ino)
            except FileNotFoundError:
                stamp = None
            if stamp != self._stamp:
                self._users = load(self.path) if stamp is not None else {}
                self._stamp = stamp
            return self._users


def login_checker(users: UsersFile, delay_s: float):
    """Gradio's auth callable: async, the scrypt off the event loop, the same delay after any failure."""

    async def check(username: str, password: str) -> bool:
        ok = await asyncio.to_thread(verify, users.users(), username or "", password or "")
        if not ok:
            await asyncio.sleep(delay_s)
        return ok

    return check
