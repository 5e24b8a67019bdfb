"""BM25 over chunks with Dutch-aware tokens: lowercase, accents folded, stopwords out, Snowball stems.

English questions rarely share words with Dutch text, but names, numbers and loan words
("Sezen", "InAxis", "50.000", "clinic") do, and those are exactly where dense retrieval is weakest.

Two forms with the same scores: `BM25` built in memory from texts, and `StoredBM25`, which reads
`lexical.sqlite`, written with each index generation (`write_stored`): an SQLite FTS5 table over
the same stemmed tokens, its fts5vocab tables for document frequencies and postings, and the token
count of every chunk. A process then opens a file instead of tokenising and stemming every chunk.
"""

from __future__ import annotations

import itertools
import math
import os
import re
import sqlite3
import threading
import unicodedata
from array import array
from collections import Counter
from collections.abc import Iterable

import numpy as np
import snowballstemmer

_STOP = set(
    """de het een en van in op te dat die voor met is zijn er aan om ook als bij of door naar
    uit over tot wat wordt worden werd dan nog niet wel maar hun hij zij ze we wij je u ik dit deze
    daar hier heeft hebben had was waren zal zullen kan kunnen moet moeten al meer geen zo
    the a an and of to in on for with is are was were be been by at as or from that this these those
    it its which who whom what why how when where did do does has have had not no than then there
    their they them he she we you i our your""".split()
)
_WORD = re.compile(r"[0-9a-z]+(?:[.,][0-9]+)*")


class Tokenizer:
    """Safe to share between threads: cite.py, question.py and cells.py keep one per module and the
    chat answers several questions at once, but a snowball stemmer keeps its word in itself while
    stemming, so each thread gets its own."""

    def __init__(self):
        self._local = threading.local()

    def __call__(self, text: str) -> list[str]:
        stem = getattr(self._local, "stem", None)
        if stem is None:
            stem = self._local.stem = snowballstemmer.stemmer("dutch")
        text = unicodedata.normalize("NFKD", text.lower())
        text = "".join(ch for ch in text if not unicodedata.combining(ch))
        words = [w for w in _WORD.findall(text) if w not in _STOP and len(w) > 1]
        return stem.stemWords(words)


class BM25:
    def __init__(self, texts: list[str], k1: float = 1.2, b: float = 0.75):
        self.tokenize = Tokenizer()
        self.k1, self.b = k1, b
        docs = [Counter(self.tokenize(t)) for t in texts]
        self.lengths = np.array([sum(d.values()) for d in docs], dtype=np.float32)
        self.avg = float(self.lengths.mean()) if len(docs) else 0.0
        self.postings: dict[str, list[tuple[int, int]]] = {}
        for i, d in enumerate(docs):
            for term, tf in d.items():
                self.postings.setdefault(term, []).append((i, tf))
        n = len(docs)
        self.idf = {t: _idf(n, len(p)) for t, p in self.postings.items()}
        self.n = n

    def _idf(self, term: str) -> float:
        return self.idf.get(term, 0.0)

    def _postings(self, term: str):
        return self.postings.get(term, ())

    def scores(self, query: str, min_idf: float = 0.0) -> np.ndarray:
        """BM25 of every text for the query. Terms with an IDF below `min_idf` (common in this
        corpus) are ignored: used for English questions, whose only useful matches in Dutch text
        are rare terms such as names and numbers."""
        out = np.zeros(self.n, dtype=np.float32)
        if not self.n:
            return out
        norm = None
        for term in set(self.tokenize(query)):
            idf = self._idf(term)
            if idf < min_idf:
                continue
            postings = self._postings(term)
            if not len(postings):
                continue
            if norm is None:
                norm = self.k1 * (1 - self.b + self.b * self.lengths / max(self.avg, 1e-9))
            # one row per text in a term's postings: the whole term in one vectorised step (a
            # common term has ~10% of a million chunks)
            rows, tf = np.asarray(postings, dtype=np.int64).reshape(-1, 2).T
            tf = tf.astype(np.float32)
            out[rows] += np.float32(idf) * tf * np.float32(self.k1 + 1) / (tf + norm[rows])
        return out


def _idf(n: int, df: int) -> float:
    return math.log(1 + (n - df + 0.5) / (df + 0.5))


FILE = "lexical.sqlite"
TOKENIZER = "dutch-snowball-v1"  # what the stored tokens are; another tokenizer means rebuild the file
_BATCH = 20_000  # rows per INSERT: memory stays bounded for a million chunks


def write_stored(path, texts: list[str], k1: float = 1.2, b: float = 0.75) -> None:
    """Tokenise `texts` once and write them as an FTS5 table (rowid = chunk row) + lengths."""
    tokenize = Tokenizer()
    write_tokens(path, (tokenize(t) for t in texts), len(texts), k1, b)


def write_tokens(path, rows: Iterable[list[str]], n: int, k1: float = 1.2, b: float = 0.75) -> None:
    """lexical.sqlite from already-tokenised rows (row i = chunk row i, `n` of them), streamed in
    batches: the one writer of the file. A caller that has the tokens already (the synthetic
    million-chunk index of eval/synthindex.py joins cached tokens of repeated sentences) skips the
    tokenising, which is most of the cost (~1.6 ms per chunk)."""
    tmp = f"{path}.tmp"
    if os.path.exists(tmp):
        os.unlink(tmp)
    conn = sqlite3.connect(tmp)
    try:
        # One writer, a new file renamed when complete: no journal needed.
        conn.execute("PRAGMA journal_mode=OFF")
        conn.execute("PRAGMA synchronous=OFF")
        # ascii tokenizer with "." and "," as token characters: our tokens ("50.000", "1,5", stems)
        # are split on spaces only, so FTS5 holds exactly the tokens BM25 scores.
        conn.execute("CREATE VIRTUAL TABLE lex USING fts5(tokens, tokenize=\"ascii tokenchars '.,'\")")
        conn.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value)")
        conn.execute("CREATE TABLE staging (term TEXT, part INTEGER, rows BLOB, tfs BLOB)")
        lengths = np.zeros(n, dtype=np.float32)
        batch: list[tuple[int, str]] = []
        # array('i'), not lists: 4 bytes a posting instead of ~36 (a part of 65,536 chunks held
        # ~280 MB of Python ints)
        postings: dict[str, tuple[array, array]] = {}
        part = 0
        i = -1
        for i, toks in enumerate(rows):
            if i >= n:
                raise ValueError(f"more than the {n} token rows announced for {path}")
            lengths[i] = len(toks)
            batch.append((i, " ".join(toks)))
            for term, tf in Counter(toks).items():
                got = postings.get(term)
                if got is None:
                    got = postings[term] = (array("i"), array("i"))
                got[0].append(i)
                got[1].append(tf)
            if len(batch) >= _BATCH:
                conn.executemany("INSERT INTO lex(rowid, tokens) VALUES (?, ?)", batch)
                batch.clear()
            if (i + 1) % POSTINGS_PART == 0:
                _stage(conn, postings, part)
                part += 1
        if i + 1 != n:
            raise ValueError(f"{i + 1} token rows for {path}, {n} announced")
        conn.executemany("INSERT INTO lex(rowid, tokens) VALUES (?, ?)", batch)
        _stage(conn, postings, part)
        _merge_postings(conn)
        conn.executemany("INSERT INTO meta VALUES (?, ?)", [
            ("n", n), ("k1", k1), ("b", b), ("tokenizer", TOKENIZER), ("lengths", lengths.tobytes()),
            ("postings", POSTINGS)])
        conn.execute("INSERT INTO lex(lex) VALUES ('optimize')")
        conn.commit()
    finally:
        conn.close()
    with open(tmp, "rb+") as f:
        os.fsync(f.fileno())
    os.replace(tmp, path)


# Each term's postings (the rows it occurs in and how often) as one row of arrays: a query term is
# one read of a few MB at most, where the FTS5 vocabulary returns one SQL row per occurrence (a
# common term at a million chunks: a second). Built a part of POSTINGS_PART rows at a time (memory
# stays bounded), the parts of each term joined at the end.
POSTINGS = "postings-v1"  # rows int32, tfs uint16, little-endian
POSTINGS_PART = 65_536


def _stage(conn, postings: dict[str, tuple[array, array]], part: int) -> None:
    conn.executemany("INSERT INTO staging VALUES (?, ?, ?, ?)", (
        (term, part, np.frombuffer(r, dtype=np.int32).astype("<i4").tobytes(),
         np.minimum(np.frombuffer(t, dtype=np.int32), 65535).astype("<u2").tobytes())
        for term, (r, t) in postings.items()))
    postings.clear()


def _merge_postings(conn) -> None:
    """The staged parts of each term joined into one postings row (parts are in row order)."""
    conn.execute("CREATE TABLE postings (term TEXT PRIMARY KEY, df INTEGER, rows BLOB, tfs BLOB) WITHOUT ROWID")
    conn.execute("CREATE INDEX staging_term ON staging(term, part)")

    def merged():
        staged = conn.cursor().execute("SELECT term, rows, tfs FROM staging ORDER BY term, part")
        for term, parts in itertools.groupby(staged, key=lambda r: r[0]):
            parts = list(parts)
            rows = b"".join(r for _, r, _ in parts)
            yield term, len(rows) // 4, rows, b"".join(f for _, _, f in parts)

    conn.executemany("INSERT INTO postings VALUES (?, ?, ?, ?)", merged())
    conn.execute("DROP INDEX staging_term")
    conn.execute("DROP TABLE staging")


def add_postings(path) -> bool:
    """Rewrite a lexical.sqlite written before the postings table with one (the tokens are read
    back from its FTS5 table, nothing is tokenised again); False when it has one already."""
    conn = sqlite3.connect(read_only_uri(path), uri=True)
    try:
        meta = dict(conn.execute("SELECT key, value FROM meta"))
        if meta.get("postings") == POSTINGS:
            return False
        n, k1, b = int(meta["n"]), float(meta["k1"]), float(meta["b"])
        rows = (text.split() for _, text in conn.execute("SELECT rowid, tokens FROM lex ORDER BY rowid"))
        write_tokens(f"{path}.new", rows, n, k1, b)
    finally:
        conn.close()
    os.replace(f"{path}.new", path)
    return True


class StoredBM25(BM25):
    """BM25 over a lexical.sqlite file: the same scores as BM25 over the same texts (same tokens,
    same IDF formula, same float32 arithmetic), postings read per query term."""

    def __init__(self, path):
        self.tokenize = Tokenizer()
        # Read-only and immutable: a generation never changes once written; one connection shared by
        # the UI's threads under a lock.
        self._conn = sqlite3.connect(read_only_uri(path, immutable=True), uri=True, check_same_thread=False)
        self._lock = threading.Lock()
        meta = dict(self._conn.execute("SELECT key, value FROM meta"))
        if meta.get("tokenizer") != TOKENIZER:
            raise ValueError(f"{path} holds tokens of {meta.get('tokenizer')!r}, not {TOKENIZER!r}")
        self.n = int(meta["n"])
        self.k1, self.b = float(meta["k1"]), float(meta["b"])
        self.lengths = np.frombuffer(meta["lengths"], dtype=np.float32).copy()
        self.avg = float(self.lengths.mean()) if self.n else 0.0
        self._conn.execute("CREATE VIRTUAL TABLE IF NOT EXISTS temp.vocab_row USING fts5vocab(main, lex, row)")
        self._conn.execute("CREATE VIRTUAL TABLE IF NOT EXISTS temp.vocab_inst USING fts5vocab(main, lex, instance)")
        self._cache: dict[str, float] = {}
        # files written before the postings table: postings from the FTS5 vocabulary (same scores)
        self._arrays = meta.get("postings") == POSTINGS

    @property
    def idf(self) -> dict[str, float]:
        """Every term's IDF (as BM25.idf; read from the vocabulary on first use)."""
        if not getattr(self, "_all_idf", None):
            with self._lock:
                rows = self._conn.execute("SELECT term, doc FROM temp.vocab_row").fetchall()
            self._all_idf = {t: _idf(self.n, int(df)) for t, df in rows}
        return self._all_idf

    def _idf(self, term: str) -> float:
        if term not in self._cache:
            df = self.df(term)
            self._cache[term] = _idf(self.n, df) if df else 0.0
        return self._cache[term]

    def _postings(self, term: str):
        """(row, tf) pairs of the rows the term occurs in, in row order (an (n, 2) array)."""
        if self._arrays:
            with self._lock:
                got = self._conn.execute("SELECT rows, tfs FROM postings WHERE term = ?", (term,)).fetchone()
            if got is None:
                return np.zeros((0, 2), np.int64)
            return np.stack([np.frombuffer(got[0], dtype="<i4"), np.frombuffer(got[1], dtype="<u2")], axis=1).astype(np.int64)
        with self._lock:
            return self._conn.execute("SELECT doc, count(*) FROM temp.vocab_inst WHERE term = ? GROUP BY doc ORDER BY doc",
                                      (term,)).fetchall()

    def tokens(self, rows) -> dict[int, list[str]]:
        """The stored tokens of these rows (a full write reuses them for the chunks it keeps:
        tokenising is ~1.6 ms a chunk, half an hour at a million)."""
        rows = sorted({int(r) for r in rows})
        out: dict[int, list[str]] = {}
        for at in range(0, len(rows), 500):
            part = rows[at:at + 500]
            with self._lock:
                found = self._conn.execute(f"SELECT rowid, tokens FROM lex WHERE rowid IN ({','.join('?' * len(part))})",
                                           part).fetchall()
            out.update((r, t.split()) for r, t in found)
        return out

    def df(self, term: str) -> int:
        """In how many rows the term occurs."""
        sql = ("SELECT df FROM postings WHERE term = ?" if self._arrays
               else "SELECT doc FROM temp.vocab_row WHERE term = ?")
        with self._lock:
            row = self._conn.execute(sql, (term,)).fetchone()
        return int(row[0]) if row else 0

    def close(self) -> None:
        self._conn.close()


class MultiBM25(BM25):
    """BM25 over the lexical.sqlite files of several segments as one collection of their live
    rows: row numbers follow each other, rows in `dead` (deleted documents' chunks) are left out
    of the counts, the document frequencies and the average length, and score 0. So the scores are
    those of one index written over the live rows."""

    def __init__(self, parts: list[StoredBM25], dead: np.ndarray | None = None):
        self.tokenize = Tokenizer()
        self.parts = parts
        self.k1, self.b = parts[0].k1, parts[0].b
        self.bases = np.cumsum([0] + [p.n for p in parts])[:-1]
        self.lengths = np.concatenate([p.lengths for p in parts]) if parts else np.zeros(0, np.float32)
        self.live = np.ones(len(self.lengths), dtype=bool)
        if dead is not None and len(dead):
            self.live[dead] = False
        self.n = len(self.lengths)  # rows in the row space (the scores' length)
        self.n_live = int(self.live.sum())
        self.avg = float(self.lengths[self.live].mean()) if self.n_live else 0.0
        self._df: dict[str, int] = {}
        # the last term's postings: scores() asks for a new term's IDF (its live postings counted)
        # and then for its postings, one read for both
        self._last: tuple[str, np.ndarray] | None = None

    @property
    def idf(self) -> dict[str, float]:
        terms = set().union(*(p.idf for p in self.parts))
        return {t: self._idf(t) for t in terms}

    def _idf(self, term: str) -> float:
        if term not in self._df:
            self._df[term] = len(self._postings(term))
        df = self._df[term]
        return _idf(self.n_live, df) if df else 0.0

    def _postings(self, term: str):
        last = self._last  # one read of the attribute: other threads may replace it
        if last is not None and last[0] == term:
            return last[1]
        parts = []
        for base, p in zip(self.bases, self.parts):
            rows = np.asarray(p._postings(term), dtype=np.int64).reshape(-1, 2)
            rows[:, 0] += int(base)
            parts.append(rows[self.live[rows[:, 0]]])
        out = np.concatenate(parts) if parts else np.zeros((0, 2), np.int64)
        self._last = (term, out)
        return out

    def close(self) -> None:
        for p in self.parts:
            p.close()


def read_only_uri(path, immutable: bool = False) -> str:
    """The SQLite URI that opens `path` read-only: "file://" + the absolute path with "/" for
    separators and "%", "?" and "#" escaped (a bare "file:" + path opens another file when a folder
    name holds one of those, on any system). Windows: file:///C:/..., and a network share
    \\\\server\\share keeps an empty authority (file:////server/share/...), which SQLite requires."""
    p = os.path.abspath(path).replace(os.sep, "/").replace("%", "%25").replace("?", "%3f").replace("#", "%23")
    uri = "file://" + (p if p.startswith("/") else "/" + p)
    return uri + "?mode=ro" + ("&immutable=1" if immutable else "")


def verify(path, n: int | None) -> str:
    """What is wrong with a lexical.sqlite that should hold `n` chunks (None: not known): "" when
    it opens, passes SQLite's integrity check and holds one row and one length per chunk."""
    try:
        conn = sqlite3.connect(read_only_uri(path), uri=True)
    except sqlite3.Error as e:
        return f"cannot be opened ({e})"
    try:
        result = [r[0] for r in conn.execute("PRAGMA quick_check")]
        if result != ["ok"]:
            return f"fails SQLite's integrity check ({result[0]})"
        meta = dict(conn.execute("SELECT key, value FROM meta"))
        rows = int(conn.execute("SELECT count(*) FROM lex").fetchone()[0])
        stored, lengths = int(meta["n"]), len(meta["lengths"]) // 4
    except (sqlite3.Error, KeyError, TypeError, ValueError) as e:
        return f"unreadable ({e})"
    finally:
        conn.close()
    if not rows == stored == lengths:
        return f"holds {rows} rows, {lengths} lengths and says {stored} (damaged)"
    if n is not None and rows != n:
        return f"holds {rows} rows for {n} chunks"
    return ""
