"""Publish the index folder's live generation to its shared index in PostgreSQL.

Each segment is copied once (segments never change once written; an appended generation shares
all but its new one with the generation before it), in one transaction per segment: a kill leaves
either the whole segment or nothing. Then one transaction points the index's name at the new
generation, keeping the one before it for readers still answering from it; segments neither of the
two uses are dropped. So a reader sees the old generation or the new one, never a mix, as with the
files' CURRENT swap.

One folder publishes an index (its host and path are recorded): another folder publishing to the
same name would replace every document with its own, so it is refused unless told to take over.
"""

from __future__ import annotations

import json
import socket
import sqlite3
from collections import Counter
from pathlib import Path
from typing import Callable

import numpy as np

from ...errors import IndexStoreError
from ...lexical import FILE as LEXICAL_FILE, StoredBM25, Tokenizer
from ...store.pgvector import PgVectorStore
from ..reader import Index
from ..segment import Segment, entries, segment_key
from ..texts import lexical_text
from .address import Address, ensure_registry, parse, TABLES

BLOCK = 5_000  # rows per read from the segment's files while copying: memory stays bounded
_LOCK = "assistant_shared:"  # advisory lock per index name: one publisher at a time


def writer_id(index_dir: Path) -> str:
    return f"{socket.gethostname()}:{Path(index_dir).resolve()}"


def check_writer(url: str, index_dir: Path, take_over: bool = False) -> None:
    """Refuse early (before an ingest writes anything) when another folder publishes this index."""
    addr = parse(url)
    with addr.connect() as conn:
        ensure_registry(conn)
        row = conn.execute("SELECT writer FROM assistant_shared WHERE name = %s", (addr.name,)).fetchone()
    _refuse_other(addr, row[0] if row else None, writer_id(index_dir), take_over)


def _refuse_other(addr: Address, writer: str | None, me: str, take_over: bool) -> None:
    if writer and writer != me and not take_over:
        raise IndexStoreError(
            f"the shared index {addr} is published from {writer}, not from {me}: add documents there, or "
            f"publish this folder's documents in its place with `assistant ingest --take-over`")


def publish(index: Index, index_dir: Path, url: str, take_over: bool = False,
            progress: Callable[[str, int, int], None] | None = None) -> dict:
    """Copy what the database lacks of `index` (the folder's loaded live generation) and make it
    the shared index's live generation. Returns {"generation", "copied", "kept", "dropped"}."""
    addr = parse(url)
    say = progress or (lambda stage, done, total: None)
    me = writer_id(index_dir)
    with addr.connect() as conn:
        ensure_registry(conn)
        conn.execute("SELECT pg_advisory_lock(hashtext(%s))", (_LOCK + addr.name,))
        try:
            row = conn.execute("SELECT writer, generation FROM assistant_shared WHERE name = %s", (addr.name,)).fetchone()
            _refuse_other(addr, row[0] if row else None, me, take_over)
            if row and row[1] == index.generation:
                return {"generation": index.generation, "copied": 0, "kept": len(index.segments), "dropped": 0}
            have = {k for (k,) in conn.execute("SELECT key FROM assistant_shared_segments WHERE name = %s", (addr.name,))}
            keys = [segment_key(e, index.manifest) for e in entries(index.manifest)]
            todo = [(k, seg) for k, seg in zip(keys, index.segments) if k not in have]
            total = sum(seg.n_chunks for _, seg in todo)
            done = 0
            for key, seg in todo:
                def step(n, base=done):
                    say("copying", base + n, total)
                _copy_segment(conn, addr, key, seg, int(index.manifest["dim"]), step)
                done += seg.n_chunks
            manifest = {**index.manifest, "shared": [{"key": k, "prefix": addr.prefix(k)} for k in keys]}
            with conn.transaction():
                conn.execute(
                    "INSERT INTO assistant_shared (name, generation, manifest, previous, writer) VALUES (%s, %s, %s, NULL, %s) "
                    "ON CONFLICT (name) DO UPDATE SET previous = assistant_shared.manifest, manifest = EXCLUDED.manifest, "
                    "generation = EXCLUDED.generation, writer = EXCLUDED.writer, published = now()",
                    (addr.name, index.generation, json.dumps(manifest), me))
            dropped = _drop_unused(conn, addr)
            return {"generation": index.generation, "copied": len(todo), "kept": len(keys) - len(todo), "dropped": dropped}
        finally:
            conn.execute("SELECT pg_advisory_unlock(hashtext(%s))", (_LOCK + addr.name,))


def _drop_unused(conn, addr: Address) -> int:
    """Drop the segments neither the live generation nor the one before it uses."""
    live, previous = conn.execute("SELECT manifest, previous FROM assistant_shared WHERE name = %s", (addr.name,)).fetchone()
    used = {s["key"] for m in (live, previous) if m for s in m.get("shared", ())}
    rows = conn.execute("SELECT key, prefix FROM assistant_shared_segments WHERE name = %s", (addr.name,)).fetchall()
    gone = [(k, p) for k, p in rows if k not in used]
    for key, prefix in gone:
        with conn.transaction():
            for t in TABLES:
                conn.execute(f'DROP TABLE IF EXISTS "{prefix}_{t}"')
            conn.execute("DELETE FROM assistant_shared_segments WHERE name = %s AND key = %s", (addr.name, key))
    return len(gone)


def _copy_segment(conn, addr: Address, key: str, seg: Segment, dim: int, step: Callable[[int], None]) -> None:
    p = addr.prefix(key)
    src = sqlite3.connect(f"file:{seg.texts.path}?mode=ro", uri=True)
    tokens_of = _Tokens(seg)
    try:
        with conn.transaction():
            for t in TABLES:
                conn.execute(f'DROP TABLE IF EXISTS "{p}_{t}"')
            conn.execute(f'CREATE TABLE "{p}_docs" (row integer PRIMARY KEY, source text NOT NULL, title text NOT NULL, '
                         'sha256 text NOT NULL, pages text NOT NULL, ocr_pages text NOT NULL, meta text, '
                         'chunk_lo integer NOT NULL, chunk_hi integer NOT NULL, sent_lo integer NOT NULL, sent_hi integer NOT NULL)')
            conn.execute(f'CREATE TABLE "{p}_doc_texts" (row integer PRIMARY KEY, text text NOT NULL)')
            conn.execute(f'CREATE TABLE "{p}_chunks" (row integer PRIMARY KEY, id text NOT NULL, doc integer NOT NULL, '
                         'title text NOT NULL, start integer NOT NULL, "end" integer NOT NULL, text text NOT NULL, '
                         'context text NOT NULL, page integer, sent_lo integer NOT NULL, sent_hi integer NOT NULL, '
                         'tsv tsvector NOT NULL)')
            conn.execute(f'CREATE TABLE "{p}_sentences" (row integer PRIMARY KEY, doc integer NOT NULL, '
                         'start integer NOT NULL, "end" integer NOT NULL)')
            conn.execute(f'CREATE TABLE "{p}_svec" (row integer PRIMARY KEY, v bytea NOT NULL)')
            conn.execute(f'CREATE TABLE "{p}_terms" (term text PRIMARY KEY, df integer NOT NULL)')
            for table in ("docs", "doc_texts", "sentences"):
                _copy_rows(conn, src, table, p)
            lengths, df = _copy_chunks(conn, src, seg, p, tokens_of, step)
            with conn.cursor() as cur, cur.copy(f'COPY "{p}_terms" (term, df) FROM STDIN') as copy:
                for term, n in df.items():
                    copy.write_row((term, n))
            _copy_sentence_vectors(conn, seg, p)
            store = PgVectorStore(addr.dsn, "", dim, table=f"{p}_vectors", conn=conn)
            for lo in range(0, seg.n_chunks, BLOCK):
                ids = [c.id for c in seg.texts.chunks_at(range(lo, min(lo + BLOCK, seg.n_chunks)))]
                store.add(ids, seg.store.vectors(ids))
            store._ensure_index()
            conn.execute(f'CREATE UNIQUE INDEX "{p}_chunks_id" ON "{p}_chunks" (id)')
            conn.execute(f'CREATE INDEX "{p}_chunks_doc" ON "{p}_chunks" (doc)')
            conn.execute(f'CREATE INDEX "{p}_chunks_tsv" ON "{p}_chunks" USING gin (tsv)')
            for t in ("docs", "chunks", "sentences", "terms"):
                conn.execute(f'ANALYZE "{p}_{t}"')
            t = seg.texts
            conn.execute("INSERT INTO assistant_shared_segments (name, key, prefix, docs, chunks, sentences, dim, k1, b, lengths) "
                         "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                         (addr.name, key, p, t.n_docs, t.n_chunks, t.n_sentences, dim, 1.2, 0.75,
                          lengths.astype("<f4").tobytes()))
    finally:
        src.close()
        tokens_of.close()


_COLUMNS = {"docs": "row, source, title, sha256, pages, ocr_pages, meta, chunk_lo, chunk_hi, sent_lo, sent_hi",
            "doc_texts": "row, text", "sentences": 'row, doc, start, "end"'}


def _copy_rows(conn, src: sqlite3.Connection, table: str, p: str) -> None:
    cols = _COLUMNS[table]
    with conn.cursor() as cur, cur.copy(f'COPY "{p}_{table}" ({cols}) FROM STDIN') as copy:
        for row in src.execute(f"SELECT {cols} FROM {table} ORDER BY row"):
            copy.write_row(row)


class _Tokens:
    """A segment's stored BM25 tokens by row (its lexical.sqlite), else the chunks tokenised again."""

    def __init__(self, seg: Segment):
        self.stored = None
        path = seg.folder / LEXICAL_FILE
        try:
            self.stored = StoredBM25(path) if path.is_file() else None
        except (sqlite3.Error, ValueError, KeyError):
            self.stored = None
        self.tokenize = Tokenizer()

    def __call__(self, rows: range, chunks) -> list[list[str]]:
        got = self.stored.tokens(rows) if self.stored is not None else {}
        return [got[r] if r in got else self.tokenize(lexical_text(c)) for r, c in zip(rows, chunks)]

    def close(self) -> None:
        if self.stored is not None:
            self.stored.close()


def _copy_chunks(conn, src: sqlite3.Connection, seg: Segment, p: str, tokens_of, step) -> tuple[np.ndarray, Counter]:
    """Chunks with their tsvector (our own tokens as lexemes, each occurrence a position: the
    term frequencies BM25 needs); returns the token counts and document frequencies."""
    n = seg.n_chunks
    lengths = np.zeros(n, np.float32)
    df: Counter = Counter()
    cols = 'row, id, doc, title, start, "end", text, context, page, sent_lo, sent_hi'
    with conn.cursor() as cur, cur.copy(f'COPY "{p}_chunks" ({cols}, tsv) FROM STDIN') as copy:
        for lo in range(0, n, BLOCK):
            rows = range(lo, min(lo + BLOCK, n))
            found = src.execute(f"SELECT {cols} FROM chunks WHERE row >= ? AND row < ? ORDER BY row",
                                (rows.start, rows.stop)).fetchall()
            toks = tokens_of(rows, seg.texts.chunks_at(rows))
            for row, t in zip(found, toks):
                lengths[row[0]] = len(t)
                df.update(set(t))
                copy.write_row((*row, tsvector(t)))
            step(rows.stop)
    return lengths, df


def tsvector(tokens: list[str]) -> str:
    """The tsvector literal of a token list: each token a lexeme, its occurrences its positions
    (1-based, at most 16383 of them count as distinct: chunks are far shorter)."""
    at: dict[str, list[int]] = {}
    for i, t in enumerate(tokens, 1):
        at.setdefault(t, []).append(min(i, 16383))
    return " ".join("'" + t.replace("\\", "\\\\").replace("'", "''") + "':" + ",".join(map(str, pos))
                    for t, pos in at.items())


def _copy_sentence_vectors(conn, seg: Segment, p: str) -> None:
    vecs = seg.sentence_vectors
    with conn.cursor() as cur, cur.copy(f'COPY "{p}_svec" (row, v) FROM STDIN') as copy:
        for lo in range(0, len(vecs), BLOCK * 4):
            block = np.asarray(vecs[lo:lo + BLOCK * 4], dtype="<f2")
            for k, v in enumerate(block):
                copy.write_row((lo + k, v.tobytes()))
