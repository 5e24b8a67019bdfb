"""A shared index in PostgreSQL (assistant/index/shared/): published from an index folder, read by
any number of servers, with the same rows, vectors, BM25 scores and answers as the folder gives.
Against the real PostgreSQL + pgvector server of the pg_dsn fixture (conftest.py)."""

from __future__ import annotations

import sys

import numpy as np
import pytest
from fakes import EchoGenerator, HashEmbedder
from legacy import as_texts_schema_1
from test_index import _sync, _write_docs
from test_segments import QUERIES, _indexed

from assistant import index, ui
from assistant.config import Settings
from assistant.errors import IndexStoreError, InputError
from assistant.index import shared
from assistant.index.shared.address import TABLES
from assistant.library import Library
from assistant.pipeline import build
from assistant.retrieve import HybridRetriever


@pytest.fixture
def url(pg_dsn, request):
    # one index name per test: tests share the session's database
    return f"{pg_dsn}#{request.node.name[:60].replace('[', '_').replace(']', '')}"


def _publish(idx_dir, url, **kw):
    idx = index.load(idx_dir)
    try:
        return shared.publish(idx, idx_dir, url, **kw)
    finally:
        idx.close()


def _same(idx_dir, url, emb):
    """The shared index reads exactly what the folder holds, and answers the same."""
    loc, sh = index.load(idx_dir), shared.load(url)
    try:
        assert sh.generation == loc.generation
        assert list(sh.docs) == list(loc.docs)
        for s in loc.docs:
            assert sh.docs[s] == loc.docs[s] and sh.docs[s].text == loc.docs[s].text
            assert sh.chunk_rows(s) == loc.chunk_rows(s) and sh.sentence_rows(s) == loc.sentence_rows(s)
        assert list(sh.chunks) == list(loc.chunks) and list(sh.sentences) == list(loc.sentences)
        assert np.array_equal(np.asarray(sh.sentence_vectors), np.asarray(loc.sentence_vectors))
        rows = [0, len(loc.sentences) - 1, 3]
        assert np.array_equal(sh.sentence_vectors[rows], loc.sentence_vectors[rows])
        assert sh.chunk_counts() == loc.chunk_counts() and sh.dead_chunks == loc.dead_chunks
        a, b = loc.lexical(), sh.lexical()
        for q in QUERIES + ["projectplan", "geen woord hiervan staat erin"]:
            assert np.array_equal(a.scores(q), b.scores(q)), q  # BM25 from PostgreSQL's full-text index: same floats
            assert np.array_equal(a.scores(q, min_idf=1.0), b.scores(q, min_idf=1.0)), q
        ra, rb = HybridRetriever(loc, emb), HybridRetriever(sh, emb)
        for q in QUERIES:
            ha, hb = ra.retrieve(q, 6), rb.retrieve(q, 6)
            assert [h.chunk.id for h in ha.hits] == [h.chunk.id for h in hb.hits], q
            assert np.allclose([h.score for h in ha.hits], [h.score for h in hb.hits], atol=1e-5)
            assert ha.sentence_scores.keys() == hb.sentence_scores.keys()
        assert sh.stats()["documents"] == loc.stats()["documents"] and sh.stats()["shared"].endswith(sh.address.name)
    finally:
        loc.close()
        sh.close()


def _tables(url, prefix) -> list[str]:
    with shared.parse(url).connect() as conn:
        return [r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE tablename LIKE %s", (prefix + "%",))]


def test_a_published_folder_reads_and_answers_the_same(tmp_path, url):
    docs, idx_dir, emb = _indexed(tmp_path)
    got = _publish(idx_dir, url)
    assert got["copied"] == 1 and got["kept"] == 0
    _same(idx_dir, url, emb)
    assert _publish(idx_dir, url)["copied"] == 0  # nothing new: nothing copied


def test_appended_segments_are_copied_once_and_old_ones_dropped(tmp_path, url, appending):
    docs, idx_dir, emb = _indexed(tmp_path)
    _publish(idx_dir, url)
    first = shared.load(url)
    first_prefix = first.manifest["shared"][0]["prefix"]
    first.close()
    (docs / "nieuw.txt").write_text("Nieuw. Een nieuw document over parkeren in Zuiderzee.", encoding="utf-8")
    (docs / "lochem.txt").write_text("Regisserend Lochem. Een geheel nieuwe tekst over deelfietsen.", encoding="utf-8")
    _sync(idx_dir, docs, emb)
    assert len(index.load(idx_dir).segments) == 2
    got = _publish(idx_dir, url)
    assert got["copied"] == 1 and got["kept"] == 1  # the first segment is shared with the generation before
    _same(idx_dir, url, emb)  # deleted rows (lochem's old version) are left out of BM25 and search as in the folder
    # a full write (compaction): one new segment; the old ones stay while the generation before uses them
    _sync(idx_dir, docs, emb, rebuild=True)
    assert _publish(idx_dir, url)["dropped"] == 0
    _same(idx_dir, url, emb)
    (docs / "altena.txt").unlink()
    _sync(idx_dir, docs, emb, rebuild=True)
    assert _publish(idx_dir, url)["dropped"] == 2  # the two segments no live or previous generation uses
    assert _tables(url, first_prefix) == []
    _same(idx_dir, url, emb)


def test_segments_of_an_index_written_before_origins_are_copied_once(tmp_path, url, appending):
    from assistant.index.layout import current_generation, read_manifest, write_manifest

    docs, idx_dir, emb = _indexed(tmp_path)
    _add = lambda name: ((docs / name).write_text(f"{name}. Een nieuw document over parkeren.", encoding="utf-8"),  # noqa: E731
                         _sync(idx_dir, docs, emb))
    _add("een.txt")
    gen = current_generation(idx_dir)
    manifest = read_manifest(gen)
    for e in manifest["segments"]:
        del e["origin"]  # as the writer before origins left them
    write_manifest(gen, manifest)
    assert _publish(idx_dir, url)["copied"] == 2
    _add("twee.txt")  # a new generation: the two old segments (no origin) are the same segments
    got = _publish(idx_dir, url)
    assert (got["copied"], got["kept"]) == (1, 2)
    _same(idx_dir, url, emb)
    # the same document removed and added again, twice, before origins were recorded: two segments
    # with the same rows (the benchmark's index has them), copied once
    for _ in range(2):
        (docs / "drie.txt").write_text("Drie. Steeds hetzelfde document.", encoding="utf-8")
        _sync(idx_dir, docs, emb)
        (docs / "drie.txt").unlink()
        _sync(idx_dir, docs, emb)
    gen = current_generation(idx_dir)
    manifest = read_manifest(gen)
    for e in manifest["segments"][3:]:
        e.pop("origin", None)
    write_manifest(gen, manifest)
    got = _publish(idx_dir, url)
    assert len(manifest["segments"]) == 5 and (got["copied"], got["kept"]) == (1, 3)  # base, een, twee kept
    _same(idx_dir, url, emb)


def test_a_segment_without_its_bm25_file_and_with_the_first_texts_schema_is_copied(tmp_path, url):
    docs, idx_dir, emb = _indexed(tmp_path)
    (index.current_generation(idx_dir) / "lexical.sqlite").unlink()  # an index from before the file
    as_texts_schema_1(index.current_generation(idx_dir))  # document texts in the docs table
    _publish(idx_dir, url)
    _same(idx_dir, url, emb)  # the folder's BM25 is built in memory; the database's from postings written now


def test_another_folder_is_refused_before_it_writes_unless_it_takes_over(tmp_path, url):
    docs, emb = tmp_path / "docs", HashEmbedder()
    _write_docs(docs)
    s = Settings().with_(index_dir=tmp_path / "a", shared_index=url)
    Library(s, emb).add_folder(docs)
    assert shared.live_generation(url) == index.current_generation(tmp_path / "a").name
    other = s.with_(index_dir=tmp_path / "b")
    with pytest.raises(IndexStoreError, match="is published from .*--take-over"):
        Library(other, emb).add_folder(docs)
    assert index.current_generation(tmp_path / "b") is None  # refused before writing
    upload = tmp_path / "nota.txt"
    upload.write_text("Nota. Een geupload document.", encoding="utf-8")
    with pytest.raises(IndexStoreError, match="is published from"):
        Library(other, emb).add_uploads([upload])  # the browser's upload on a server that reads only
    assert not (tmp_path / "b" / "uploads").exists()  # refused before the file was kept
    for change in (Library(other, emb).remove, Library(other, emb).reindex):  # the document panel's buttons
        with pytest.raises(IndexStoreError, match="is published from"):
            change("docs/sezen.txt")
    report = Library(other, emb, take_over=True).add_folder(docs)
    assert "published to" in report.summary() and "1 segments copied" in report.summary()
    assert shared.live_generation(url) == index.current_generation(tmp_path / "b").name


def test_an_interrupted_copy_leaves_nothing_and_the_live_generation(tmp_path, url, monkeypatch):
    docs, idx_dir, emb = _indexed(tmp_path)
    _publish(idx_dir, url)
    live = shared.live_generation(url)
    (docs / "nieuw.txt").write_text("Nieuw. Een nieuw document over parkeren.", encoding="utf-8")
    _sync(idx_dir, docs, emb)

    def boom(*a, **k):
        raise OSError("killed while copying")

    # the module (the package's `publish` is its function)
    monkeypatch.setattr(sys.modules["assistant.index.shared.publish"], "_copy_sentence_vectors", boom)
    with pytest.raises(OSError):
        _publish(idx_dir, url)
    assert shared.live_generation(url) == live  # readers still see the old generation, whole
    new = index.load(idx_dir)
    prefix = shared.parse(url).prefix(sys.modules["assistant.index.shared.publish"].segment_key(
        index.segment.entries(new.manifest)[0], new.segments[0]))
    new.close()
    assert _tables(url, prefix) == []  # the segment's transaction rolled back: no half-copied tables
    monkeypatch.undo()
    assert _publish(idx_dir, url)["copied"] == 1
    _same(idx_dir, url, emb)


def test_a_chat_server_follows_what_another_publishes(tmp_path, url, monkeypatch):
    docs, emb = tmp_path / "docs", HashEmbedder()
    _write_docs(docs)
    writer = Settings().with_(index_dir=tmp_path / "writer", shared_index=url, min_similarity=0.0)
    Library(writer, emb).add_folder(docs)
    reader = writer.with_(index_dir=tmp_path / "reader")  # no index of its own: all from the database
    runtime = ui.Runtime(reader, build(reader, embedder=emb, generator=EchoGenerator()))
    assert runtime.pipeline.index.generation == shared.live_generation(url)
    (docs / "nieuw.txt").write_text("Parkeren. De parkeervergunning voor Zuiderveen kost 80 euro.", encoding="utf-8")
    Library(writer, emb).add_folder(docs)
    monkeypatch.setattr(ui.runtime, "FOLLOW_SECONDS", 0.0)
    runtime._next_check = 0.0
    idx = runtime.pipeline.index
    assert idx.generation == shared.live_generation(url) and "docs/nieuw.txt" in idx.docs
    hits = runtime.pipeline.assistant.retriever.retrieve("parkeervergunning Zuiderveen", 3).hits
    assert hits[0].chunk.source == "docs/nieuw.txt"
    from assistant.ui.render import render_stats

    page = render_stats(runtime, "nl")  # the page says where its documents come from
    assert "Gedeelde index" in page and f"#{shared.parse(url).name}" in page and "4 (0 geüpload)" in page


def test_a_server_whose_role_may_only_read_loads_it(tmp_path, url):
    """Chat servers may connect with a role that can only SELECT (PostgreSQL 15+ lets no other role
    create tables in public): loading reads, it creates nothing."""
    docs, idx_dir, emb = _indexed(tmp_path)
    _publish(idx_dir, url)
    addr = shared.parse(url)
    with addr.connect() as conn:
        conn.execute("DROP ROLE IF EXISTS assistant_reader")
        conn.execute("CREATE ROLE assistant_reader LOGIN")
        conn.execute("GRANT SELECT ON ALL TABLES IN SCHEMA public TO assistant_reader")
    reader = url.replace("postgres:@", "assistant_reader@", 1)
    assert reader != url
    sh = shared.load(reader)
    assert sorted(sh.docs) == sorted(index.load(idx_dir).docs) and sh.published_generation() == sh.generation
    assert shared.live_generation(reader) == sh.generation
    sh.close()


def test_a_dropped_connection_is_opened_again(tmp_path, url):
    docs, idx_dir, emb = _indexed(tmp_path)
    _publish(idx_dir, url)
    sh = shared.load(url)
    pid = sh.db.query("SELECT pg_backend_pid()")[0][0]
    with shared.parse(url).connect() as conn:
        conn.execute("SELECT pg_terminate_backend(%s)", (pid,))
    assert len(sh.chunks[0:3]) == 3 and sh.db.query("SELECT pg_backend_pid()")[0][0] != pid
    sh.close()


def test_clear_errors(tmp_path, pg_dsn):
    with pytest.raises(IndexStoreError, match="no shared index .*#nothing-here.*ingest"):
        shared.load(f"{pg_dsn}#nothing-here")
    with pytest.raises(InputError, match="not a PostgreSQL URL"):
        Settings().with_(shared_index="/var/index")
    with pytest.raises(InputError, match="may hold letters"):
        shared.parse(f"{pg_dsn}#bad name!")
    assert str(shared.parse("postgresql://u:secret@h/db#x")) == "postgresql://u@h/db#x"  # never the password
    assert set(TABLES) >= {"docs", "chunks", "sentences", "svec", "vectors"}
