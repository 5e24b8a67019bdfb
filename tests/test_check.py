"""`assistant check` (assistant/check.py) and the messages of index.load for a damaged index, over
every vector store: flat, hnsw and pgvector (a real PostgreSQL + pgvector, the `pg_dsn` fixture of
conftest.py). Every corruption gives one error that names the file and the fix."""

from __future__ import annotations

import json

import numpy as np
import pytest
from fakes import HashEmbedder
from test_index import _sync, _write_docs

from assistant import cli, index
from assistant.check import check
from assistant.errors import IndexStoreError
from assistant.store import discard, read_ids, read_meta

STORES = ["flat", "hnsw", "pgvector"]


@pytest.fixture
def store(request):
    """The vector_store setting of a backend (pgvector: the test server's URL)."""
    return request.getfixturevalue("pg_dsn") if request.param == "pgvector" else request.param


@pytest.fixture
def built(tmp_path, store):
    docs, idx_dir = tmp_path / "docs", tmp_path / "index"
    _write_docs(docs)
    _sync(idx_dir, docs, HashEmbedder(), vector_store=store)
    yield idx_dir, index.current_generation(idx_dir), store
    gen = index.current_generation(idx_dir)
    if gen is not None:
        discard(gen, store)  # a pgvector generation's table


def _cli(idx_dir, store, *args) -> int:
    return cli.main(["--index-dir", str(idx_dir), "--vector-store", store, "check", *args])


@pytest.mark.parametrize("store", STORES, indirect=True)
def test_good_index_passes(built, capsys):
    idx_dir, gen, store = built
    report = check(idx_dir, store)
    assert report.ok, report.text()
    idx = index.load(idx_dir, store)
    kind = idx.store.kind
    assert report.counts == {"documents": 3, "chunks": len(idx.chunks), "sentences": len(idx.sentences), "dim": 256,
                             "vector_store": kind}
    idx.store.close()
    assert _cli(idx_dir, store) == 0
    out = capsys.readouterr().out
    assert out.startswith("index OK: ") and "3 documents" in out and f"{kind} store" in out
    assert _cli(idx_dir, store, "--json") == 0
    assert json.loads(capsys.readouterr().out)["ok"] is True


# -- the generation's own files: the same for every store -------------------------------------------
def _truncate_mid_line(path, store):
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _truncate_whole_lines(path, store):
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    path.write_text("".join(lines[: len(lines) // 2]), encoding="utf-8")


def _garbage(path, store):
    path.write_bytes(b"this is not an index file \x00\x01\x02" * 10)


def _wrong_rows(path, store):
    v = np.load(path)
    np.save(path, v[:-3])


def _hash_mismatch(path, store):
    m = json.loads(path.read_text())
    first = sorted(m["documents"])[0]
    m["documents"][first] = "0" * 64
    path.write_text(json.dumps(m))


def _not_unit(path, store):
    v = np.load(path)
    v[2] *= 3.0
    np.save(path, v)


def _nan(path, store):
    v = np.load(path)
    v[0, 0] = np.nan
    np.save(path, v)


def _shift_span(path, store):
    rows = [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines()]
    rows[1]["start"] += 1
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")


def _delete(path, store):
    path.unlink()


def _texts_sql(path, *statements):
    import sqlite3

    conn = sqlite3.connect(path)
    for st in statements:
        conn.execute(st)
    conn.commit()
    conn.close()


def _drop_half_the_chunks(path, store):
    """Rows lost, its own count made to agree: only the manifest can tell."""
    _texts_sql(path, "DELETE FROM chunks WHERE row >= (SELECT count(*) FROM chunks) / 2",
               "UPDATE meta SET value = (SELECT count(*) FROM chunks) WHERE key = 'chunks'")


def _shift_a_chunk(path, store):
    _texts_sql(path, "UPDATE chunks SET start = start + 1 WHERE row = 1")


def _sentence_outside(path, store):
    _texts_sql(path, 'UPDATE sentences SET "end" = 10000000 WHERE row = 2')


GENERATION = [  # (file, how, what the check says, whether index.load notices too)
    ("texts.sqlite", _drop_half_the_chunks, "but the manifest says", True),
    ("texts.sqlite", _garbage, "file is not a database", True),
    ("texts.sqlite", _delete, "missing", True),
    ("sentence_vectors.f16.npy", _wrong_rows, "rows for", True),
    ("manifest.json", _hash_mismatch, "sha256", False),  # load does not hash the documents; check does
    ("sentence_vectors.f16.npy", _not_unit, "not finite unit vectors", False),
    ("sentence_vectors.f16.npy", _nan, "not finite", False),
    ("texts.sqlite", _shift_a_chunk, "do not match their document's text", False),
    ("texts.sqlite", _sentence_outside, "sentence spans lie outside their document (first: row 2)", False),
    ("manifest.json", _delete, "missing", True),
    # BM25 in SQLite: load falls back to an in-memory BM25 (same scores), so only check notices
    ("lexical.sqlite", _garbage, "unreadable (file is not a database)", False),
    ("lexical.sqlite", _truncate_mid_line, "", False),
]


# -- the chunk vector store: each kind of damage in each backend -------------------------------------
def _rewrite_faiss(path, change):
    import faiss

    fi = faiss.read_index(str(path))
    v = change(fi.reconstruct_n(0, fi.ntotal))
    out = faiss.IndexFlatIP(fi.d)
    out.add(np.ascontiguousarray(v, dtype=np.float32))
    faiss.write_index(out, str(path))


def _rewrite_npy(path, change):
    np.save(path, np.ascontiguousarray(change(np.load(path)), dtype=np.float32))


def _drop_last_line(path, store):
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    path.write_text("".join(lines[:-1]), encoding="utf-8")


def _rename_an_id(path, store):
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    lines[1] = "docs/nowhere.txt#0-1\n"
    path.write_text("".join(lines), encoding="utf-8")


def _times_three(v):
    v[2] *= 3.0
    return v


def _with_nan(v):
    v[0, 0] = np.nan
    return v


def _sql(gen, store, statement, *params):
    """Run one statement on a pgvector generation's table ({table} in `statement`)."""
    from assistant.store.pgvector import connect

    table = read_meta(gen)["table"]
    with connect(store) as conn:
        return conn.execute(statement.format(table=f'"{table}"'), params)


def _pg_drop_table(path, store):
    _sql(path.parent, store, "DROP TABLE {table}")


def _pg_delete_a_row(path, store):
    _sql(path.parent, store, "DELETE FROM {table} WHERE label = (SELECT max(label) FROM {table})")


def _pg_rename_an_id(path, store):
    _sql(path.parent, store, "UPDATE {table} SET chunk_id = 'docs/nowhere.txt#0-1' WHERE label = 1")


def _pg_stretch_a_vector(path, store):
    from assistant.store.pgvector import connect

    table = read_meta(path.parent)["table"]
    with connect(store) as conn:
        text = conn.execute(f'SELECT embedding::text FROM "{table}" WHERE label = 2').fetchone()[0]
        v = 3.0 * np.asarray(json.loads(text), dtype=np.float64)
        conn.execute(f'UPDATE "{table}" SET embedding = %s::vector WHERE label = 2',
                     ("[" + ",".join(repr(float(x)) for x in v) + "]",))


STORE_DAMAGE = {  # backend -> [(file, how, what the check says, whether index.load notices too)]
    "flat": [
        ("vectors.faiss", _delete, "missing", True),
        ("vectors.faiss", _truncate_mid_line, "unreadable", True),
        ("vectors.faiss", _garbage, "unreadable", True),
        ("vectors.faiss", lambda p, s: _rewrite_faiss(p, lambda v: v[:-1]), "store.json records", True),
        # without its id file a flat store still loads (ids in chunk order, as before stores)
        ("vector_ids.txt", _delete, "missing", False),
        ("vector_ids.txt", _drop_last_line, "ids for the", True),
        ("vector_ids.txt", _rename_an_id, "no vector for 1 chunk(s)", False),
        ("vectors.faiss", lambda p, s: _rewrite_faiss(p, _times_three), "has length 3.0000", False),
        ("vectors.faiss", lambda p, s: _rewrite_faiss(p, _with_nan), "not finite (NaN or inf)", False),
        ("store.json", _delete, "missing", True),
    ],
    "hnsw": [
        ("vectors.npy", _delete, "missing", True),
        ("vectors.npy", _truncate_mid_line, "cut off: the file is truncated", True),
        ("vectors.npy", lambda p, s: _rewrite_npy(p, lambda v: v[:-1]), "has shape", True),
        ("vectors.hnsw.faiss", _delete, "missing", True),
        ("vectors.hnsw.faiss", _garbage, "unreadable", True),
        ("vector_ids.txt", _delete, "missing", True),
        ("vector_ids.txt", _drop_last_line, "ids for the", True),
        ("vector_ids.txt", _rename_an_id, "no vector for 1 chunk(s)", False),
        ("vectors.npy", lambda p, s: _rewrite_npy(p, _times_three), "has length 3.0000", False),
        ("vectors.npy", lambda p, s: _rewrite_npy(p, _with_nan), "not finite (NaN or inf)", False),
        ("store.json", _delete, "missing", True),
    ],
    # The vectors and their ids are a table's rows; store.json names the table.
    "pgvector": [
        ("store.json", _pg_drop_table, "which is missing from postgresql://", True),
        ("store.json", _pg_delete_a_row, "vectors for", True),
        ("store.json", _pg_rename_an_id, "no vector for 1 chunk(s)", False),
        ("store.json", _pg_stretch_a_vector, "has length 3.0000", False),
        ("store.json", _delete, "missing", True),
        ("store.json", _garbage, "unreadable", True),
    ],
}

CASES = [pytest.param(s, *c, id=f"{s}-{c[0]}-{c[1].__name__ if c[1].__name__ != '<lambda>' else c[2]}")
         for s in STORES for c in GENERATION + STORE_DAMAGE[s]]


@pytest.mark.parametrize("store,name,corrupt,says,load_fails", CASES, indirect=["store"])
def test_each_corruption_gives_one_clear_error(built, capsys, name, corrupt, says, load_fails):
    idx_dir, gen, store = built
    corrupt(gen / name, store)
    report = check(idx_dir, store)
    assert not report.ok
    assert [f.file for f in report.problems] == [name], report.text()
    assert says in report.problems[0].message, report.text()
    text = report.text()
    assert str(gen / name) in text and "assistant ingest --rebuild" in text

    assert _cli(idx_dir, store) == 1
    err = capsys.readouterr().err
    assert str(gen / name) in err and "assistant ingest --rebuild" in err

    if load_fails:
        with pytest.raises(IndexStoreError) as e:
            index.load(idx_dir, store)
        assert name in str(e.value) and "assistant ingest --rebuild" in str(e.value)
    else:
        index.load(idx_dir, store).store.close()


@pytest.mark.parametrize("store", STORES, indirect=True)
def test_the_id_file_is_read_as_written(built):
    """The ids a store loads are the chunk ids, in chunk order (what the id checks compare with)."""
    idx_dir, gen, store = built
    idx = index.load(idx_dir, store)
    assert idx.store.ids() == [c.id for c in idx.chunks]
    if (gen / "vector_ids.txt").exists():
        assert read_ids(gen) == [c.id for c in idx.chunks]
    idx.store.close()


def test_no_index_and_dangling_pointer(tmp_path):
    report = check(tmp_path / "nothing")
    assert not report.ok and "assistant ingest" in report.text()
    docs, idx_dir = tmp_path / "docs", tmp_path / "index"
    _write_docs(docs)
    _sync(idx_dir, docs, HashEmbedder())
    (idx_dir / "CURRENT").write_text("gen-gone\n")
    report = check(idx_dir)
    assert not report.ok and "gen-gone" in report.problems[0].message


VECTORS = {"flat": "vectors.faiss", "hnsw": "vectors.npy", "pgvector": "store.json"}


@pytest.mark.parametrize("store", STORES, indirect=True)
def test_rebuild_repairs_a_damaged_index(built, tmp_path):
    idx_dir, gen, store = built
    kind = read_meta(gen)["backend"]
    if kind == "pgvector":
        _pg_drop_table(gen / "store.json", store)
    else:
        _garbage(gen / VECTORS[kind], store)
    with pytest.raises(IndexStoreError, match=VECTORS[kind]):
        _sync(idx_dir, tmp_path / "docs", HashEmbedder(), vector_store=store)  # an incremental ingest cannot reuse it
    _sync(idx_dir, tmp_path / "docs", HashEmbedder(), vector_store=store, rebuild=True)
    assert check(idx_dir, store).ok
