"""Where a shared index lives: `postgresql://user:pass@host/db#name` (the part after "#" names the
index, so one database can hold several; "default" when left out), and the tables it is kept in.

Two registry tables, shared by every index in the database:

    assistant_shared          name -> the live generation's manifest (the pointer readers follow),
                              the one before it, and the folder that publishes it
    assistant_shared_segments one row per copied segment: its tables' prefix, row counts, BM25
                              statistics; written last, so a segment without its row is a copy a
                              crash interrupted (dropped by the next publish)

Each segment's rows are in tables `<prefix>_docs`, `_doc_texts`, `_chunks`, `_sentences` (as in
its texts.sqlite), `_svec` (float16 sentence vectors), `_postings` (BM25 postings as in its
lexical.sqlite) and `_vectors` (pgvector, assistant/store/pgvector.py).
"""

from __future__ import annotations

import hashlib
import importlib.util
import re
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from ...errors import InputError
from ...store.pgvector import connect, public_dsn

DEFAULT_NAME = "default"
_NAME = re.compile(r"[A-Za-z0-9_.-]{1,64}")

DDL = """
CREATE TABLE IF NOT EXISTS assistant_shared (
    name text PRIMARY KEY, generation text NOT NULL, manifest jsonb NOT NULL, previous jsonb,
    writer text NOT NULL, published timestamptz NOT NULL DEFAULT now());
CREATE TABLE IF NOT EXISTS assistant_shared_segments (
    name text NOT NULL, key text NOT NULL, prefix text NOT NULL UNIQUE, docs integer NOT NULL,
    chunks integer NOT NULL, sentences integer NOT NULL, dim integer NOT NULL, k1 double precision NOT NULL,
    b double precision NOT NULL, lengths bytea NOT NULL, created timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (name, key));
"""
TABLES = ("docs", "doc_texts", "chunks", "sentences", "svec", "postings", "vectors")


@dataclass(frozen=True)
class Address:
    dsn: str  # the PostgreSQL URL without the "#name"
    name: str

    def __str__(self) -> str:
        """For people and messages: never the password."""
        return f"{public_dsn(self.dsn)}#{self.name}"

    def connect(self):
        if importlib.util.find_spec("psycopg") is None:
            raise InputError("a shared index needs psycopg: pip install 'nl-gov-assistant[pg]' "
                             "(or 'psycopg[binary]==3.3.9')")
        return connect(self.dsn)

    def prefix(self, key: str) -> str:
        """The table prefix of a segment (a short, safe identifier: names are at most 63 bytes)."""
        return "as_" + hashlib.sha256(f"{self.name}\0{key}".encode()).hexdigest()[:16]


def parse(url: str) -> Address:
    """The address in a `shared_index` setting; an InputError that names the bad value otherwise."""
    url = (url or "").strip()
    parts = urlsplit(url)
    if parts.scheme not in ("postgresql", "postgres"):
        raise InputError(f"shared index {url!r} is not a PostgreSQL URL: give postgresql://user:pass@host/db#name")
    name = parts.fragment or DEFAULT_NAME
    if not _NAME.fullmatch(name):
        raise InputError(f"shared index name {name!r} (after '#') may hold letters, digits, '.', '_' and '-' only "
                         "(at most 64)")
    return Address(urlunsplit(parts._replace(fragment="")), name)


def ensure_registry(conn) -> None:
    """The registry tables (created once; under a lock, as two servers may start together)."""
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(hashtext('assistant_shared registry'))")
        conn.execute(DDL)
