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

import contextlib
import hashlib
import json
import socket
import sqlite3
import tempfile
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from ...errors import IndexStoreError
from ... import lexical
from ...store.pgvector import PgVectorStore
from ..reader import Index
from ..segment import Segment, SegmentEntry, entries
from ..sentence_vectors import drop_pages
from ..texts import lexical_text
from .address import TABLES, Address, ensure_registry, parse

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
            keys = [segment_key(e, seg) for e, seg in zip(entries(index.manifest), index.segments)]
            # two segments with one key hold the same rows (e.g. a document added, removed and added
            # again before origins were recorded): one copy serves both
            todo = list({k: seg for k, seg in reversed(list(zip(keys, index.segments))) if k not in have}.items())[::-1]
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
            return {"generation": index.generation, "copied": len(todo), "kept": len(set(keys)) - len(todo), "dropped": dropped}
        finally:
            conn.execute("SELECT pg_advisory_unlock(hashtext(%s))", (_LOCK + addr.name,))


def segment_key(entry: SegmentEntry, seg: Segment) -> str:
    """A name for the segment that stays the same in every generation sharing it: the generation
    that wrote it and its folder. An entry written before origins were recorded: what it holds (its
    documents' sources, hashes and row ranges, its first and last chunk ids)."""
    if entry.origin:
        return f"{entry.origin}/{entry.dir}"
    h = hashlib.sha256()
    for row in seg.texts.query("SELECT source, sha256, chunk_lo, chunk_hi, sent_lo, sent_hi FROM docs ORDER BY row"):
        h.update(repr(tuple(row)).encode())
    ends = sorted({0, max(seg.n_chunks - 1, 0)})
    h.update(repr([c.id for c in seg.texts.chunks_at(ends)] if seg.n_chunks else []).encode())
    return "content:" + h.hexdigest()[:32]


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
    src = sqlite3.connect(lexical.read_only_uri(seg.texts.path), uri=True)
    try:
        with _lexical_file(seg) as lex_path, conn.transaction():
            lex = sqlite3.connect(lexical.read_only_uri(lex_path), uri=True)
            try:
                meta = dict(lex.execute("SELECT key, value FROM meta"))  # lengths, k1, b: as StoredBM25 reads them
                for t in TABLES:
                    conn.execute(f'DROP TABLE IF EXISTS "{p}_{t}"')
                for t in ("docs", "doc_texts", "chunks", "sentences", "postings"):
                    conn.execute(f'CREATE TABLE "{p}_{t}" ({_SCHEMA[t]})')
                conn.execute(f'CREATE TABLE "{p}_svec" (row integer PRIMARY KEY, v bytea NOT NULL)')
                for t in ("docs", "doc_texts", "sentences"):
                    _copy_rows(conn, src, t, p)
                _copy_rows(conn, src, "chunks", p, step)
                _copy_rows(conn, lex, "postings", p)
            finally:
                lex.close()
            _copy_sentence_vectors(conn, seg, p)
            store = PgVectorStore(addr.dsn, "", dim, table=f"{p}_vectors", conn=conn)
            for lo in range(0, seg.n_chunks, BLOCK):
                ids = [c.id for c in seg.texts.chunks_at(range(lo, min(lo + BLOCK, seg.n_chunks)))]
                store.add(ids, seg.store.vectors(ids))
            store._ensure_index()
            conn.execute(f'CREATE UNIQUE INDEX "{p}_chunks_id" ON "{p}_chunks" (id)')
            for t in ("docs", "chunks", "sentences", "postings"):
                conn.execute(f'ANALYZE "{p}_{t}"')
            t = seg.texts
            conn.execute("INSERT INTO assistant_shared_segments (name, key, prefix, docs, chunks, sentences, dim, k1, b, lengths) "
                         "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                         (addr.name, key, p, t.n_docs, t.n_chunks, t.n_sentences, dim, float(meta["k1"]), float(meta["b"]),
                          bytes(meta["lengths"])))
    finally:
        src.close()


# texts.sqlite's tables as they are (texts.py reads them with the same queries) and lexical.sqlite's
# postings (lexical.py reads them as lexical.StoredBM25 does)
_SCHEMA = {
    "docs": "row integer PRIMARY KEY, source text NOT NULL, title text NOT NULL, sha256 text NOT NULL, pages text NOT NULL, "
            "ocr_pages text NOT NULL, meta text, chunk_lo integer NOT NULL, chunk_hi integer NOT NULL, "
            "sent_lo integer NOT NULL, sent_hi integer NOT NULL",
    "doc_texts": "row integer PRIMARY KEY, text text NOT NULL",
    "chunks": 'row integer PRIMARY KEY, id text NOT NULL, doc integer NOT NULL, title text NOT NULL, start integer NOT NULL, '
              '"end" integer NOT NULL, text text NOT NULL, context text NOT NULL, page integer, sent_lo integer NOT NULL, '
              "sent_hi integer NOT NULL",
    "sentences": 'row integer PRIMARY KEY, doc integer NOT NULL, start integer NOT NULL, "end" integer NOT NULL',
    "postings": "term text PRIMARY KEY, df integer NOT NULL, rows bytea NOT NULL, tfs bytea NOT NULL",
}
_COLUMNS = {"docs": "row, source, title, sha256, pages, ocr_pages, meta, chunk_lo, chunk_hi, sent_lo, sent_hi",
            "doc_texts": "row, text", "chunks": 'row, id, doc, title, start, "end", text, context, page, sent_lo, sent_hi',
            "sentences": 'row, doc, start, "end"', "postings": "term, df, rows, tfs"}


def _copy_rows(conn, src: sqlite3.Connection, table: str, p: str, step: Callable[[int], None] | None = None) -> None:
    """A table of the segment's SQLite files into its PostgreSQL table, streamed (COPY)."""
    cols = _COLUMNS[table]
    order = "term" if table == "postings" else "row"
    source = table
    if table == "doc_texts" and not src.execute("SELECT 1 FROM sqlite_master WHERE name = 'doc_texts'").fetchone():
        source = "docs"  # texts.sqlite schema 1 (format 4's first days) kept the texts with the metadata
    with conn.cursor() as cur, cur.copy(f'COPY "{p}_{table}" ({cols}) FROM STDIN') as copy:
        for n, row in enumerate(src.execute(f"SELECT {cols} FROM {source} ORDER BY {order}"), 1):
            copy.write_row(row)
            if step is not None and n % BLOCK == 0:
                step(n)


@contextlib.contextmanager
def _lexical_file(seg: Segment) -> Iterator[Path]:
    """The segment's lexical.sqlite when it has this version's postings for all its chunks, else
    one written now from its chunks (lexical.write_stored, in a temporary folder)."""
    path = seg.folder / lexical.FILE
    try:
        stored = lexical.StoredBM25(path) if path.is_file() else None
    except (sqlite3.Error, ValueError, KeyError):
        stored = None
    if stored is not None:
        usable = stored._arrays and stored.n == seg.n_chunks
        stored.close()
        if usable:
            yield path
            return
    with tempfile.TemporaryDirectory(prefix="assistant-publish-") as tmp:
        made = Path(tmp) / lexical.FILE
        lexical.write_stored(made, [lexical_text(c) for c in seg.texts.iter_chunks()])
        yield made


def _copy_sentence_vectors(conn, seg: Segment, p: str) -> None:
    vecs = seg.sentence_vectors
    with conn.cursor() as cur, cur.copy(f'COPY "{p}_svec" (row, v) FROM STDIN') as copy:
        for lo in range(0, len(vecs), BLOCK * 4):
            part = vecs[lo:lo + BLOCK * 4]
            block = np.asarray(part, dtype="<f2")
            for k, v in enumerate(block):
                copy.write_row((lo + k, v.tobytes()))
            drop_pages(part)  # pages read through the mapping would otherwise stay resident: 9 GB at 1M chunks
