"""Saved conversations: a SQLite file `<index_dir>/history.sqlite`, one owner's conversations apart
from every other owner's.

Owner: a login name (`assistant chat --auth/--users`, `assistant ask --user`); "" is the local user
where the chat has no accounts. Every method takes the owner, and another owner's conversation is
"no such conversation", exactly as an id that never existed: nobody learns which ids exist.

Crash safety: WAL with synchronous=FULL, one transaction per write, so a killed process leaves every
committed turn readable and no half-written one. Deletion: secure_delete=ON zeroes the freed cells
and pages, and a WAL checkpoint (TRUNCATE) afterwards empties the WAL, so a deleted conversation's
text is gone from the files on disk, not just unlisted.

The index writer never deletes it: its cleanups remove only generation, temp and checkpoint folders
(index/writer.py, index/checkpoints.py, index/diskfull.py), never a file beside them.

Thread-safe: one connection behind a lock (the chat's tabs answer concurrently; writes are small).
"""

from __future__ import annotations

import json
import secrets
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from .conversation import Conversation, SavedTurn, title_of
from .errors import InputError

FILE_NAME = "history.sqlite"
MAX_TITLE = 200

SCHEMA = """
CREATE TABLE IF NOT EXISTS conversations (
    id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    title TEXT NOT NULL,
    created REAL NOT NULL,
    updated REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS conversations_owner ON conversations(owner, updated);
CREATE TABLE IF NOT EXISTS turns (
    conv_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    pos INTEGER NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (conv_id, pos)
);
"""


@dataclass(frozen=True)
class Summary:
    """One row of an owner's conversation list."""

    id: str
    title: str
    updated: float
    turns: int

    def to_json(self) -> dict:
        return {"id": self.id, "title": self.title, "updated": self.updated, "turns": self.turns}


class NoSuchConversation(InputError):
    """The id is not one of this owner's conversations (never existed, deleted, or someone else's)."""

    def __init__(self, conv_id: str, owner: str):
        who = f" --user {owner}" if owner else ""
        super().__init__(f"no conversation {conv_id!r} for {'user ' + repr(owner) if owner else 'this user'}: "
                         f"`assistant history list{who}` lists the ones there are")
        self.conv_id = conv_id


def path_for(index_dir: Path | str) -> Path:
    return Path(index_dir) / FILE_NAME


def _title(title: str) -> str:
    t = " ".join((title or "").split())
    if not t:
        raise InputError("a conversation title cannot be empty: give a few words")
    return t[:MAX_TITLE]


class History:
    """The conversations of every owner in one SQLite file (see the module docstring)."""

    def __init__(self, path: Path | str):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        try:
            self._db = sqlite3.connect(str(self.path), check_same_thread=False, isolation_level=None, timeout=30)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.execute("PRAGMA secure_delete=ON")
            self._db.execute("PRAGMA foreign_keys=ON")
            self._db.executescript(SCHEMA)
        except sqlite3.DatabaseError as e:
            raise InputError(f"cannot open the conversation history {self.path}: {e}; move the file aside to "
                             "start a new one") from e

    @classmethod
    def for_index(cls, index_dir: Path | str) -> "History":
        return cls(path_for(index_dir))

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _write(self, fn):
        """Run fn(db) in one IMMEDIATE transaction: all of it is on disk, or none of it."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                out = fn(self._db)
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
            return out

    @staticmethod
    def _own(db, owner: str, conv_id: str) -> None:
        row = db.execute("SELECT 1 FROM conversations WHERE id=? AND owner=?", (str(conv_id), owner)).fetchone()
        if row is None:
            raise NoSuchConversation(conv_id, owner)

    @staticmethod
    def _insert_conversation(db, owner: str, title: str) -> str:
        conv_id = secrets.token_hex(8)
        now = time.time()
        db.execute("INSERT INTO conversations(id, owner, title, created, updated) VALUES (?,?,?,?,?)",
                   (conv_id, owner, title, now, now))
        return conv_id

    @classmethod
    def _insert_turn(cls, db, owner: str, conv_id: str, turn: SavedTurn) -> int:
        cls._own(db, owner, conv_id)
        pos = db.execute("SELECT COALESCE(MAX(pos) + 1, 0) FROM turns WHERE conv_id=?", (conv_id,)).fetchone()[0]
        db.execute("INSERT INTO turns(conv_id, pos, data) VALUES (?,?,?)",
                   (conv_id, pos, json.dumps(turn.to_json(), ensure_ascii=False)))
        db.execute("UPDATE conversations SET updated=? WHERE id=?", (turn.asked_at or time.time(), conv_id))
        return pos

    def create(self, owner: str, title: str) -> str:
        """A new, empty conversation of `owner`; returns its id."""
        title = _title(title)
        return self._write(lambda db: self._insert_conversation(db, owner, title))

    def append(self, owner: str, conv_id: str, turn: SavedTurn) -> int:
        """Add a turn at the end of one of `owner`'s conversations; returns its position (0-based)."""
        return self._write(lambda db: self._insert_turn(db, owner, conv_id, turn))

    def save(self, owner: str, conv_id: str | None, turn: SavedTurn) -> str:
        """Append to `conv_id`, or (None) start a conversation titled by the question; returns the id.
        A new conversation and its first turn are one transaction: a kill never leaves it empty."""
        def add(db):
            cid = conv_id if conv_id is not None else self._insert_conversation(db, owner, _title(title_of(turn.question) or "…"))
            self._insert_turn(db, owner, cid, turn)
            return cid

        return self._write(add)

    def list(self, owner: str) -> list[Summary]:
        """`owner`'s conversations, the most recently updated first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT c.id, c.title, c.updated, (SELECT COUNT(*) FROM turns t WHERE t.conv_id = c.id) "
                "FROM conversations c WHERE c.owner=? ORDER BY c.updated DESC, c.created DESC", (owner,)).fetchall()
        return [Summary(id=r[0], title=r[1], updated=r[2], turns=r[3]) for r in rows]

    def get(self, owner: str, conv_id: str) -> Conversation:
        with self._lock:
            row = self._db.execute("SELECT id, title, owner, created, updated FROM conversations WHERE id=? AND owner=?",
                                   (str(conv_id), owner)).fetchone()
            if row is None:
                raise NoSuchConversation(conv_id, owner)
            turns = self._db.execute("SELECT data FROM turns WHERE conv_id=? ORDER BY pos", (row[0],)).fetchall()
        return Conversation(id=row[0], title=row[1], owner=row[2], created=row[3], updated=row[4],
                            turns=tuple(SavedTurn.from_json(json.loads(t[0])) for t in turns))

    def owns(self, owner: str, conv_id: str | None) -> bool:
        if not conv_id:
            return False
        with self._lock:
            return self._db.execute("SELECT 1 FROM conversations WHERE id=? AND owner=?",
                                    (str(conv_id), owner)).fetchone() is not None

    def rename(self, owner: str, conv_id: str, title: str) -> None:
        title = _title(title)

        def change(db):
            self._own(db, owner, conv_id)
            db.execute("UPDATE conversations SET title=? WHERE id=?", (title, conv_id))

        self._write(change)

    def delete(self, owner: str, conv_id: str) -> None:
        """Remove the conversation and its turns, and their text from the files (see the module docstring)."""
        def remove(db):
            self._own(db, owner, conv_id)
            db.execute("DELETE FROM turns WHERE conv_id=?", (conv_id,))
            db.execute("DELETE FROM conversations WHERE id=?", (conv_id,))

        self._write(remove)
        # The WAL still holds the pages as they were before the delete: copy the zeroed ones into the
        # database file and empty the WAL. A reader in another process (`assistant history` while the
        # chat runs) can hold it up for a moment: try again briefly.
        for _ in range(50):
            with self._lock:
                busy = self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
            if not busy:
                return
            time.sleep(0.1)


def models_of(pipeline) -> dict:
    """What a saved or exported turn records of the models that answered: the LLM as the page names it
    (pipeline.model_label: a server's model too) and the embedder."""
    from .pipeline import model_label

    llm = model_label(pipeline.settings, pipeline) if pipeline.assistant.generator is not None else ""
    return {"llm": llm, "embedder": pipeline.settings.embedder_key() or getattr(pipeline.embedder, "name", "")}
