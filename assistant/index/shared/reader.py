"""The live generation of a shared index, loaded as an Index: the same row space, views, search and
BM25 as a folder's, its rows read from the database (texts.py, vectors.py, lexical.py) and its
chunk vectors searched by pgvector. Nothing is read whole at start: the manifest, each segment's
registry row (counts, token lengths) and, on first use, the documents' metadata."""

from __future__ import annotations

import json
from pathlib import Path


from ...errors import IndexStoreError
from ...lexical import MultiBM25
from ...store.pgvector import PgVectorStore
from ..reader import Index
from ..segment import Segment, entries
from .address import parse
from .db import Db
from .lexical import PgPostings
from .texts import PgTextStore
from .vectors import PgSentenceVectors


class SharedIndex(Index):
    """An Index whose segments are in PostgreSQL (read-only: writes go through the folder that
    publishes it, publish.py)."""

    def __init__(self, manifest: dict, segments: list[Segment], db: Db, postings: list[PgPostings]):
        super().__init__(manifest, segments, folder=None)
        self.db = db
        self.address = db.addr
        self._postings = postings

    def lexical(self):
        return MultiBM25(self._postings, self.dead_rows())

    def lexical_tokens(self, rows) -> dict[int, list[str]]:
        return {}  # never written from: the folder that publishes it has its own

    def prefetch(self, rows) -> None:
        """A search's candidates: their chunks, then their sentences' vectors, one query per segment each."""
        super().prefetch(rows)
        by_seg: dict[int, tuple[Segment, list[int]]] = {}
        for r in rows:
            seg, local = self.rows.chunk(int(r))
            rng = seg.texts.chunk_sentences(local)
            by_seg.setdefault(id(seg), (seg, []))[1].extend(rng)
        for seg, sentence_rows in by_seg.values():
            if sentence_rows:
                seg.sentence_vectors.fetch(sentence_rows)

    def published_generation(self) -> str | None:
        """The generation the database now points at (a chat server reloads when it changes)."""
        return _live(self.db, self.address.name)

    def stats(self) -> dict:
        return {**super().stats(), "shared": str(self.address)}

    def close(self) -> None:
        super().close()
        self.db.close()


def live_generation(url: str) -> str | None:
    """The generation `url` now points at (None: nothing published there)."""
    db = Db(parse(url))
    try:
        return _live(db, db.addr.name)
    finally:
        db.close()


def _live(db: Db, name: str) -> str | None:
    # Readers never create the registry (a chat server's role may only read): before the first
    # publish there is no table, which is "nothing published".
    import psycopg

    try:
        got = db.query("SELECT generation FROM assistant_shared WHERE name = %s", (name,))
    except psycopg.errors.UndefinedTable:
        return None
    return got[0][0] if got else None


def load(url: str) -> SharedIndex:
    """The shared index's live generation; an IndexStoreError that says what to do when there is none."""
    addr = parse(url)
    db = Db(addr)
    segments: list[Segment] = []
    try:
        got = db.query("SELECT manifest FROM assistant_shared WHERE name = %s", (addr.name,)) if _live(db, addr.name) else []
        if not got:
            raise IndexStoreError(f"no shared index {addr}: publish one from the folder that holds the documents with "
                                  f"`assistant --shared-index URL ingest`")
        manifest = got[0][0] if isinstance(got[0][0], dict) else json.loads(got[0][0])
        registry = {k: rest for k, *rest in db.query(
            "SELECT key, prefix, docs, chunks, sentences, dim, k1, b, lengths FROM assistant_shared_segments WHERE name = %s",
            (addr.name,))}
        dim = int(manifest["dim"])
        postings = []
        chunk_base = sentence_base = 0
        for entry, shared in zip(entries(manifest), manifest["shared"]):
            row = registry.get(shared["key"])
            if row is None:
                raise IndexStoreError(f"the shared index {addr} lists segment {shared['key']!r}, which the database "
                                      "lacks: publish again from the folder that holds the documents")
            prefix, docs, chunks, sentences, seg_dim, k1, b, lengths = row
            if entry.chunks >= 0 and chunks != entry.chunks or int(seg_dim) != dim:
                raise IndexStoreError(f"the shared index {addr}: segment {shared['key']!r} holds {chunks} chunks of "
                                      f"{seg_dim} dimensions, its manifest says {entry.chunks} of {dim}: publish again")
            texts = PgTextStore(db, prefix, docs, chunks, sentences)
            store = PgVectorStore(addr.dsn, "", dim, create=False, table=f"{prefix}_vectors")
            svec = PgSentenceVectors(db, prefix, sentences, dim)
            segments.append(Segment(entry, Path(str(texts.path)), texts, store, svec, chunk_base, sentence_base))
            postings.append(PgPostings(db, prefix, chunks, k1, b, bytes(lengths)))
            chunk_base += chunks
            sentence_base += sentences
        return SharedIndex(manifest, segments, db, postings)
    except BaseException:
        for seg in segments:
            seg.close()
        db.close()
        raise
