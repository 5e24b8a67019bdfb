"""PostgreSQL + pgvector: chunk vectors in a table, an HNSW index, exact re-scoring in SQL.

One table per index generation (`<prefix>_<generation>`), so a generation is still written
beside the live one and swapped atomically by CURRENT, like the files:

    label bigint PRIMARY KEY   insertion order (ties are broken by it, as FAISS does by row)
    chunk_id text UNIQUE
    embedding vector(dim)      the float32 vector exactly as embedded

The HNSW index is built on `embedding::halfvec(dim)` with halfvec_ip_ops (half the size of a
float32 index, so it stays in shared buffers longer); a search takes `rerank` x k candidates from
it and orders them by the exact float32 inner product in the same statement. `vector()` reads the
stored float32 vector in binary, so it is bit-exact.

The generation folder's store.json records the table and the URL without its password; loading
uses the ASSISTANT_VECTOR_STORE URL when one is set (that is where a password belongs).
"""

from __future__ import annotations

import hashlib
import re
import struct
from pathlib import Path
from typing import Sequence
from urllib.parse import urlsplit, urlunsplit

import numpy as np

from ..errors import IndexStoreError
from .common import META, as_matrix, as_query, damaged, read_meta, reading, write_meta

M = 16
EF_CONSTRUCTION = 64
# At 1M chunks recall@10 against exact search was 0.90 / 0.93 / 0.96 at ef_search 40 / 64 / 96 (p50
# 2.3 ms at 96; README "At scale", 2026-12-06): 100 keeps >= 0.95 at that size for ~1 ms.
EF_SEARCH = 100
RERANK = 4
BUILD_MEMORY = "2GB"
_NAME = re.compile(r"[^a-z0-9_]+")


def public_dsn(dsn: str) -> str:
    """The URL without its password (what is written into the index folder)."""
    parts = urlsplit(dsn)
    if parts.password is None:
        return dsn
    netloc = parts.netloc.rsplit("@", 1)
    user = (parts.username or "") + "@" if parts.username else ""
    return urlunsplit((parts.scheme, user + netloc[-1], parts.path, parts.query, parts.fragment))


def table_name(name: str) -> str:
    """A safe, short SQL identifier for a generation name."""
    base = _NAME.sub("_", name.lower()).strip("_")[:40] or "store"
    return f"assistant_{base}_{hashlib.sha256(name.encode()).hexdigest()[:6]}"


def connect(dsn: str):
    import psycopg

    try:
        # prepare_threshold=None: no server-side prepared statements, so a plan never outlives a
        # SET (an "exact" baseline with enable_indexscan=off would otherwise keep the index plan).
        return psycopg.connect(dsn, autocommit=True, prepare_threshold=None)
    except psycopg.Error as e:
        raise IndexStoreError(f"cannot connect to PostgreSQL at {public_dsn(dsn)}: {e}".strip()) from e


def drop_table(dsn: str, table: str) -> None:
    if not dsn or not table:
        return
    try:
        with connect(dsn) as conn:
            conn.execute(f'DROP TABLE IF EXISTS "{table}"')
    except Exception:  # cleanup must never break a write that already succeeded
        pass


class PgVectorStore:
    kind = "pgvector"

    def __init__(self, dsn: str, name: str, dim: int, m: int = M, ef_construction: int = EF_CONSTRUCTION,
                 ef_search: int = EF_SEARCH, rerank: int = RERANK, create: bool = True, table: str | None = None,
                 exact: bool = False, build_memory: str = "", conn=None):
        """`conn`: an open connection to use (and leave open): a shared index copies a segment's
        vectors inside the transaction that creates its other tables (index/shared/publish.py)."""
        self.dsn = dsn
        self.build_memory = build_memory or BUILD_MEMORY
        self.dim = int(dim)
        self.table = table or table_name(name)
        self.m, self.ef_construction, self.ef_search, self.rerank = int(m), int(ef_construction), int(ef_search), max(1, int(rerank))
        self.exact = exact
        self._own = conn is None
        self.conn = connect(dsn) if conn is None else conn
        try:
            if create:
                self.conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
                self.conn.execute(f'DROP TABLE IF EXISTS "{self.table}"')
                self.conn.execute(f'CREATE TABLE "{self.table}" (label bigint PRIMARY KEY, chunk_id text NOT NULL UNIQUE, '
                                  f'embedding vector({self.dim}) NOT NULL)')
            self._configure()
            self._next = self._max_label() + 1  # a missing table fails here (load names it)
            self._indexed = self.conn.execute("SELECT 1 FROM pg_indexes WHERE indexname = %s",
                                              (f"{self.table}_hnsw",)).fetchone() is not None
        except BaseException:
            if self._own:
                self.conn.close()
            raise

    def _configure(self) -> None:
        self.conn.execute(f"SET hnsw.ef_search = {max(self.ef_search, 1)}")
        if self.exact:  # the baseline: sequential scan, exact order
            self.conn.execute("SET enable_indexscan = off")
            self.conn.execute("SET enable_bitmapscan = off")

    # -- Protocol ---------------------------------------------------------------------------------
    def count(self) -> int:
        return int(self.conn.execute(f'SELECT count(*) FROM "{self.table}"').fetchone()[0])

    def ids(self) -> list[str]:
        return [r[0] for r in self.conn.execute(f'SELECT chunk_id FROM "{self.table}" ORDER BY label')]

    def add(self, ids: Sequence[str], vectors: np.ndarray) -> None:
        ids = list(ids)
        v = as_matrix(vectors, self.dim, len(ids))
        if not ids:
            return
        if len(set(ids)) != len(ids) or self.conn.execute(
                f'SELECT 1 FROM "{self.table}" WHERE chunk_id = ANY(%s) LIMIT 1', (ids,)).fetchone():
            raise ValueError("pgvector store: duplicate chunk id")
        # Into a table without its HNSW index yet (a new generation being filled, maybe in blocks),
        # rows are only copied; the index is built once, by the first search or persist(), which
        # is much faster than inserting into it row by row.
        header = struct.pack("!11sii", b"PGCOPY\n\xff\r\n\x00", 0, 0)
        vec_head = struct.pack("!ihh", 4 + 4 * self.dim, self.dim, 0)
        big = v.astype(">f4")
        with self.conn.cursor() as cur, cur.copy(
                f'COPY "{self.table}" (label, chunk_id, embedding) FROM STDIN WITH (FORMAT BINARY)') as copy:
            copy.write(header)
            buf = []
            for n, (i, row) in enumerate(zip(ids, big)):
                b = i.encode("utf-8")
                buf.append(struct.pack("!hiqi", 3, 8, self._next + n, len(b)) + b + vec_head + row.tobytes())
                if len(buf) >= 4096:
                    copy.write(b"".join(buf))
                    buf = []
            buf.append(struct.pack("!h", -1))
            copy.write(b"".join(buf))
        self._next += len(ids)

    def remove(self, ids: Sequence[str]) -> int:
        if not len(ids):
            return 0
        cur = self.conn.execute(f'DELETE FROM "{self.table}" WHERE chunk_id = ANY(%s)', (list(ids),))
        return int(cur.rowcount)

    def search(self, query: np.ndarray, k: int) -> tuple[list[str], np.ndarray]:
        q = _literal(as_query(query, self.dim))
        self._ensure_index()
        k = int(k)
        if k <= 0:
            return [], np.zeros(0, np.float32)
        if self.exact:
            sql = (f'SELECT chunk_id, -(embedding <#> %(q)s::vector) AS s FROM "{self.table}" '
                   f'ORDER BY embedding <#> %(q)s::vector, label LIMIT %(k)s')
        else:
            # Candidates from the halfvec HNSW index, then the exact float32 inner product.
            sql = (f'SELECT chunk_id, -(embedding <#> %(q)s::vector) AS s FROM ('
                   f'SELECT label, chunk_id, embedding FROM "{self.table}" '
                   f'ORDER BY embedding::halfvec({self.dim}) <#> %(qh)s::halfvec({self.dim}) LIMIT %(fetch)s) c '
                   f'ORDER BY embedding <#> %(q)s::vector, label LIMIT %(k)s')
        # Two parameters: PostgreSQL gives one parameter one type, and a halfvec-typed query would
        # reach the exact float32 re-scoring already rounded to half precision.
        rows = self.conn.execute(sql, {"q": q, "qh": q, "k": k, "fetch": k * self.rerank}).fetchall()
        return [r[0] for r in rows], np.asarray([r[1] for r in rows], dtype=np.float32)

    def vector(self, id: str) -> np.ndarray:
        out = self.vectors([id])
        return out[0]

    def vectors(self, ids: Sequence[str]) -> np.ndarray:
        ids = list(ids)
        if not ids:
            return np.zeros((0, self.dim), np.float32)
        with self.conn.cursor(binary=True) as cur:
            cur.execute(f'SELECT chunk_id, embedding FROM "{self.table}" WHERE chunk_id = ANY(%s)', (ids,))
            found = {r[0]: r[1] for r in cur.fetchall()}
        missing = [i for i in ids if i not in found]
        if missing:
            raise KeyError(missing[0])
        # Binary vector: int16 dim, int16 unused, dim x float4 big-endian: bit-exact float32.
        return np.stack([np.frombuffer(bytes(found[i]), dtype=">f4", offset=4) for i in ids]).astype(np.float32)

    def persist(self, folder: Path) -> None:
        self._ensure_index()
        write_meta(Path(folder), {"backend": self.kind, "dim": self.dim, "count": self.count(), "table": self.table,
                                  "dsn": public_dsn(self.dsn), "m": self.m, "ef_construction": self.ef_construction,
                                  "ef_search": self.ef_search, "rerank": self.rerank})

    def close(self) -> None:
        if not self._own:
            return
        try:
            self.conn.close()
        except Exception:
            pass

    def drop(self) -> None:
        """Delete the table (also after close())."""
        drop_table(self.dsn, self.table)

    # -- loading ----------------------------------------------------------------------------------
    @classmethod
    def files(cls, meta: dict) -> tuple[str, ...]:
        """No files besides store.json: the vectors and their ids are the table's rows."""
        return ()

    @classmethod
    def load(cls, folder: Path, dsn: str = "", ef_search: int | None = None, rerank: int | None = None,
             exact: bool = False) -> "PgVectorStore":
        import psycopg

        folder = Path(folder)
        meta = read_meta(folder)
        with reading(folder / META):
            dsn, table, dim = dsn or meta["dsn"], meta["table"], int(meta["dim"])
        try:
            return cls(dsn, "", dim, meta.get("m", M), meta.get("ef_construction", EF_CONSTRUCTION),
                       ef_search or meta.get("ef_search", EF_SEARCH), rerank or meta.get("rerank", RERANK),
                       create=False, table=table, exact=exact)
        except psycopg.errors.UndefinedTable as e:
            raise damaged(folder / META, f"names table {table}, which is missing from {public_dsn(dsn)}") from e

    # -- helpers ----------------------------------------------------------------------------------
    def _max_label(self) -> int:
        return int(self.conn.execute(f'SELECT coalesce(max(label), -1) FROM "{self.table}"').fetchone()[0])

    def _ensure_index(self) -> None:
        if not self._indexed and self._next > 0:
            self._build_index()
            self._indexed = True

    def _build_index(self) -> None:
        # pgvector builds fastest when the graph fits in maintenance_work_mem (else it warns and
        # continues on disk, several times slower).
        if not re.fullmatch(r"\d+\s*[kMG]B", self.build_memory):
            raise ValueError(f"build_memory {self.build_memory!r} is not like '2GB'")
        self.conn.execute(f"SET maintenance_work_mem = '{self.build_memory}'")
        self.conn.execute(
            f'CREATE INDEX IF NOT EXISTS "{self.table}_hnsw" ON "{self.table}" USING hnsw '
            f'((embedding::halfvec({self.dim})) halfvec_ip_ops) WITH (m = {self.m}, ef_construction = {self.ef_construction})')
        self.conn.execute(f'ANALYZE "{self.table}"')


def _literal(q: np.ndarray) -> str:
    # repr of a float32 widened to float64 round-trips: the server's float4 is the same value.
    return "[" + ",".join(repr(float(x)) for x in q) + "]"
