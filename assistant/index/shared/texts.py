"""A segment's documents, chunks and sentences read from its PostgreSQL tables: texts.sqlite's
TextStore (caches, row ranges, lazy document texts) with its queries sent to the database."""

from __future__ import annotations

import re
from pathlib import Path

from ..textstore import TextStore
from .db import Db

_TABLE = re.compile(r"\b(FROM|JOIN)\s+(docs|doc_texts|chunks|sentences)\b")


class PgTextStore(TextStore):
    def __init__(self, db: Db, prefix: str, docs: int, chunks: int, sentences: int):
        # TextStore's state without its SQLite file (its __init__ opens one)
        self.path = Path(f"{db.addr}/{prefix}")  # for messages: "chunk row N is not in <this>"
        self.db, self.prefix = db, prefix
        self._start(docs, chunks, sentences, "doc_texts")

    def query(self, sql: str, args=()) -> list[tuple]:
        # TextStore's SQL is plain enough for both: its tables get this segment's prefix, "?" is "%s"
        sql = _TABLE.sub(lambda m: f'{m.group(1)} "{self.prefix}_{m.group(2)}"', sql).replace("?", "%s")
        return self.db.query(sql, tuple(args))

    def close(self) -> None:
        pass  # the connection is the index's (reader.py closes it)
