"""Appending to a large index (assistant/index/segment.py, writer._append): a new or changed
document is written as a new segment and the old version marked deleted, instead of everything
being written again; the answers are those a full write gives, and compaction folds the segments
back into one."""

from __future__ import annotations

import os

import numpy as np
import pytest
from fakes import HashEmbedder
from test_index import _sync, _write_docs

from assistant import index
from assistant.check import check
from assistant.index import writer
from assistant.retrieve import HybridRetriever

QUERIES = ["Waarom is er geen projectplan opgesteld?", "motie regiegemeente 2012", "deelfietsen in Zuiderzee",
           "kosten clinics"]


def _indexed(tmp_path):
    """The three test documents, indexed: (their folder, the index folder, the embedder)."""
    docs, idx_dir, emb = tmp_path / "docs", tmp_path / "index", HashEmbedder()
    _write_docs(docs)
    _sync(idx_dir, docs, emb)
    return docs, idx_dir, emb


def _add_new(docs, idx_dir, emb):
    """One new document in the folder, ingested."""
    (docs / "nieuw.txt").write_text("Nieuw. Een nieuw document over parkeren.", encoding="utf-8")
    return _sync(idx_dir, docs, emb)


def _hits(idx_dir, emb, k=6):
    idx = index.load(idx_dir)
    r = HybridRetriever(idx, emb)
    out = {}
    for q in QUERIES:
        got = r.retrieve(q, k)
        # equal scores are ordered by row, and rows differ between layouts: compare ties as a set
        out[q] = sorted(((round(h.score, 4), h.chunk.id, tuple(idx.sentence_text(j) for j in got.sentence_scores
                                                               if idx.sentences[j].source == h.chunk.source)))
                        for h in got.hits)
    docs = {s: (d.sha256, d.title) for s, d in idx.docs.items()}
    idx.close()
    return out, docs


def test_an_added_changed_and_removed_document_are_appended_and_answer_as_a_full_write(tmp_path, appending):
    docs, idx_dir, emb = _indexed(tmp_path)
    first = index.current_generation(idx_dir)
    calls = emb.calls

    (docs / "zuiderzee.txt").write_text("Zuiderzee. Een nieuw document over deelfietsen in Zuiderzee.", encoding="utf-8")
    (docs / "lochem.txt").write_text("Regisserend Lochem. Een geheel nieuwe tekst over deelfietsen.", encoding="utf-8")
    (docs / "altena.txt").unlink()
    report = _sync(idx_dir, docs, emb)
    assert report.added == ["docs/zuiderzee.txt"] and report.updated == ["docs/lochem.txt"]
    assert report.removed == ["docs/altena.txt"] and report.unchanged == ["docs/sezen.txt"]
    gen = index.current_generation(idx_dir)
    idx = index.load(idx_dir)
    assert len(idx.segments) == 2 and idx.manifest["segments"][0]["deleted"]  # lochem's and altena's old rows
    assert (gen / idx.manifest["segments"][1]["dir"] / "texts.sqlite").is_file()  # the new segment's own folder
    # only the two new documents were embedded: they are the new segment
    seg = idx.segments[1]
    assert emb.calls - calls == report.texts_embedded
    assert report.chunks_embedded == seg.n_chunks and report.sentences_embedded == seg.texts.n_sentences
    assert {seg.texts.doc_source(i) for i in range(seg.texts.n_docs)} == {"docs/zuiderzee.txt", "docs/lochem.txt"}
    assert sorted(idx.docs) == ["docs/lochem.txt", "docs/sezen.txt", "docs/zuiderzee.txt"]
    assert idx.docs["docs/lochem.txt"].text.startswith("Regisserend Lochem. Een geheel nieuwe")
    assert report.chunks_total == idx.stats()["chunks"]
    # deleted rows are never found, by vector or by BM25
    dead = {c.id for seg in idx.segments[:1] for c in [seg.texts.chunk(int(r)) for r in seg.dead()]}
    assert dead
    r = HybridRetriever(idx, emb)
    for q in QUERIES + ["Altena ontwikkelteam sneeuwbaleffect", "gemeenteraad 2 juli 2012"]:
        for h in r.retrieve(q, 20).hits:
            assert h.chunk.source != "docs/altena.txt"
            assert not (h.chunk.source == "docs/lochem.txt" and "motie" in h.chunk.text)
    idx.close()
    assert check(idx_dir).ok, check(idx_dir).text()
    assert not first.exists()

    # the same documents written in one full write give the same hits, scores and sentences
    full = tmp_path / "full"
    _sync(full, docs, HashEmbedder())
    assert len(index.load(full).segments) == 1
    assert _hits(idx_dir, emb) == _hits(full, HashEmbedder())


def test_compaction_folds_the_segments_into_one(tmp_path, appending, monkeypatch):
    monkeypatch.setattr(writer, "MAX_SEGMENTS", 3)
    docs, idx_dir, emb = _indexed(tmp_path)
    seen = []
    for i in range(4):
        (docs / f"extra{i}.txt").write_text(f"Extra {i}. Een document over deelfietsen nummer {i} in Zuiderzee.",
                                            encoding="utf-8")
        calls = emb.calls
        report = _sync(idx_dir, docs, emb)
        assert report.added == [f"docs/extra{i}.txt"] and emb.calls - calls == report.texts_embedded  # the new one only
        seen.append(len(index.load(idx_dir).segments))
    assert seen == [2, 3, 1, 2]  # the third append would make 4 > MAX_SEGMENTS: one full write instead
    assert check(idx_dir).ok
    full = tmp_path / "full"
    _sync(full, docs, HashEmbedder())
    assert _hits(idx_dir, emb) == _hits(full, HashEmbedder())


def test_the_first_segments_files_are_shared_not_copied(tmp_path, appending):
    docs, idx_dir, emb = _indexed(tmp_path)
    before = {p.name: os.stat(p).st_ino for p in index.current_generation(idx_dir).iterdir() if p.is_file()}
    _add_new(docs, idx_dir, emb)
    gen = index.current_generation(idx_dir)
    for name in ("texts.sqlite", "sentence_vectors.f16.npy", "lexical.sqlite", "vectors.faiss", "vector_ids.txt"):
        assert os.stat(gen / name).st_ino == before[name], name
    assert (gen / "manifest.json").stat().st_ino != before["manifest.json"]
    vecs = np.asarray(index.load(idx_dir).sentence_vectors)
    assert vecs.shape[0] == index.load(idx_dir).manifest["sentences"]


def test_a_small_index_is_written_whole(tmp_path):
    docs, idx_dir, emb = _indexed(tmp_path)
    _add_new(docs, idx_dir, emb)
    idx = index.load(idx_dir)
    assert len(idx.segments) == 1 and "segments" not in idx.manifest


def test_damage_in_an_appended_segment_is_named(tmp_path, appending):
    from assistant.errors import IndexStoreError

    docs, idx_dir, emb = _indexed(tmp_path)
    _add_new(docs, idx_dir, emb)
    gen = index.current_generation(idx_dir)
    seg = index.load(idx_dir).manifest["segments"][1]["dir"]
    v = np.load(gen / seg / "sentence_vectors.f16.npy")
    np.save(gen / seg / "sentence_vectors.f16.npy", v[:-1])
    report = check(idx_dir)
    assert [f.file for f in report.problems] == [f"{seg}/sentence_vectors.f16.npy"], report.text()
    assert str(gen / seg / "sentence_vectors.f16.npy") in report.text()
    with pytest.raises(IndexStoreError, match=f"{seg}/sentence_vectors.f16.npy has {len(v) - 1} rows but"):
        index.load(idx_dir)


def test_the_manifest_counts_live_chunks_and_sentences(tmp_path, appending):
    docs, idx_dir, emb = _indexed(tmp_path)
    (docs / "lochem.txt").write_text("Regisserend Lochem. Een geheel nieuwe tekst over deelfietsen.", encoding="utf-8")
    _sync(idx_dir, docs, emb)
    idx = index.load(idx_dir)
    live = [s for s in idx.docs]
    assert idx.manifest["chunks"] == sum(len(idx.chunk_rows(s)) for s in live) == idx.stats()["chunks"] < len(idx.chunks)
    assert idx.manifest["sentences"] == sum(len(idx.sentence_rows(s)) for s in live) < len(idx.sentences)


def test_an_index_without_a_bm25_file_is_written_whole_not_appended(tmp_path, appending):
    docs, idx_dir, emb = _indexed(tmp_path)
    (index.current_generation(idx_dir) / "lexical.sqlite").unlink()  # as generations before it existed
    _add_new(docs, idx_dir, emb)
    idx = index.load(idx_dir)
    assert len(idx.segments) == 1 and (index.current_generation(idx_dir) / "lexical.sqlite").is_file()
    assert HybridRetriever(idx, emb).retrieve("parkeren", 3).hits
    idx.close()


def _segmented(tmp_path, ingest=None, **kw):
    """The test documents indexed, then a new one and a changed one appended: three segments, one
    document's old rows deleted. `ingest(docs, idx_dir)` indexes the folder (default: _sync)."""
    docs, idx_dir, emb = tmp_path / "docs", tmp_path / "index", HashEmbedder()
    ingest = ingest or (lambda docs, idx_dir: _sync(idx_dir, docs, emb, **kw))
    _write_docs(docs)
    ingest(docs, idx_dir)
    (docs / "zuiderzee.txt").write_text("Zuiderzee. Een nieuw document over deelfietsen in Zuiderzee.", encoding="utf-8")
    ingest(docs, idx_dir)
    (docs / "lochem.txt").write_text("Regisserend Lochem. Een geheel nieuwe tekst over deelfietsen.", encoding="utf-8")
    ingest(docs, idx_dir)
    idx = index.load(idx_dir)
    assert len(idx.segments) == 3 and idx.dead_chunks > 0
    idx.close()
    return docs, idx_dir, emb


@pytest.mark.parametrize("store", ["flat", "hnsw"])
def test_compaction_is_streamed_from_the_segments_and_equals_a_full_write(tmp_path, appending, monkeypatch, store):
    """A compaction copies the live rows from the segments' files (index/compact.py) instead of
    building a plan of every chunk and vector in memory (several GB at a million chunks): `plan` is
    never called; the result is the index a full write of the same documents gives, row for row."""
    docs, idx_dir, emb = _segmented(tmp_path, vector_store=store)
    (docs / "altena.txt").unlink()
    (docs / "nieuw.txt").write_text("Nieuw. Een nieuw document over parkeren in Zuiderzee.", encoding="utf-8")

    def no_plan(*a, **k):
        raise AssertionError("a compaction must not build a plan of the whole index")

    monkeypatch.setattr(writer, "plan", no_plan)
    released = []
    emb.release = lambda: released.append(emb.calls)  # the model let go of once embedding is done
    calls = emb.calls
    report = _sync(idx_dir, docs, emb, vector_store=store, compact=True)
    assert released == [emb.calls]
    assert report.added == ["docs/nieuw.txt"] and report.removed == ["docs/altena.txt"]
    assert emb.calls - calls == report.texts_embedded and report.chunks_embedded == 1  # the new document only
    assert report.compacted == 3 and "3 segments compacted into one" in report.summary()
    monkeypatch.undo()
    idx = index.load(idx_dir)
    assert len(idx.segments) == 1 and "segments" not in idx.manifest and idx.dead_chunks == 0
    assert idx.store.kind == store and report.chunks_total == len(idx.chunks) == idx.manifest["chunks"]
    assert check(idx_dir).ok, check(idx_dir).text()

    full = tmp_path / "full"
    _sync(full, docs, HashEmbedder(), vector_store=store)
    whole = index.load(full)
    assert [c.id for c in idx.chunks] == [c.id for c in whole.chunks]
    assert list(idx.sentences) == list(whole.sentences) and dict(idx.docs) == dict(whole.docs)
    assert np.array_equal(idx.vectors(), whole.vectors())
    assert np.array_equal(np.asarray(idx.sentence_vectors), np.asarray(whole.sentence_vectors))
    assert idx.lexical_tokens(range(len(idx.chunks))) == whole.lexical_tokens(range(len(whole.chunks)))
    assert idx.manifest["documents"] == whole.manifest["documents"]
    idx.close()
    whole.close()
    assert _hits(idx_dir, emb) == _hits(full, HashEmbedder())


def test_ingest_compact_on_the_command_line(tmp_path, appending, monkeypatch, capsys):
    from assistant import cli

    monkeypatch.setattr("assistant.pipeline.make_embedder", lambda settings, built_with=None: HashEmbedder())
    docs, idx_dir, _ = _segmented(tmp_path, lambda docs, idx_dir: cli.main(
        ["--index-dir", str(idx_dir), "ingest", str(docs)]))
    capsys.readouterr()
    assert cli.main(["--index-dir", str(idx_dir), "ingest", str(docs), "--compact"]) == 0
    out = capsys.readouterr().out
    assert "0 added" in out and "3 segments compacted into one" in out
    idx = index.load(idx_dir)
    assert len(idx.segments) == 1 and idx.dead_chunks == 0 and sorted(idx.docs) == [
        "docs/altena.txt", "docs/lochem.txt", "docs/sezen.txt", "docs/zuiderzee.txt"]
    idx.close()
    assert check(idx_dir).ok
