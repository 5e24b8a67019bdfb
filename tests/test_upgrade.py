"""An index written before texts.sqlite (format 3, and 2) is read and upgraded once, in place, with
nothing re-embedded (assistant/index/upgrade.py); while another process writes the index, or if the
upgrade fails half-way, the index still loads and answers the same."""

from __future__ import annotations

import json
import threading

import numpy as np
import pytest
from fakes import HashEmbedder
from legacy import as_format_2, as_format_3, as_texts_schema_1
from test_index import _sync, _write_docs

from assistant import index
from assistant.check import check
from assistant.retrieve import HybridRetriever

QUERIES = ["Waarom is er geen projectplan opgesteld?", "motie regiegemeente 2012", "kosten clinics"]


def _answers(idx_dir, emb):
    """What a question sees: hit ids and scores, and each hit's sentences with their text."""
    idx = index.load(idx_dir)
    r = HybridRetriever(idx, emb)
    out = []
    for q in QUERIES:
        got = r.retrieve(q, 4)
        out.append([(h.chunk.id, round(h.score, 3), [idx.sentence_text(j) for j in idx.sentences_of(idx.row_of(h.chunk))])
                    for h in got.hits])
    rows = (len(idx.docs), len(idx.chunks), len(idx.sentences), [d.meta for d in idx.docs.values()])
    idx.close()
    return out, rows


@pytest.fixture
def old_index(tmp_path):
    docs, idx_dir, emb = tmp_path / "docs", tmp_path / "index", HashEmbedder()
    _write_docs(docs)
    _sync(idx_dir, docs, emb)
    before = _answers(idx_dir, emb)
    gen = index.current_generation(idx_dir)
    as_format_3(gen)
    return idx_dir, gen, emb, before


def test_a_format_3_index_is_upgraded_once_and_answers_the_same(old_index, capsys):
    idx_dir, gen, emb, before = old_index
    assert not (gen / "texts.sqlite").exists()
    calls = emb.calls
    assert _answers(idx_dir, emb) == before
    assert "upgrading the index" in capsys.readouterr().err
    manifest = json.loads((gen / "manifest.json").read_text())
    assert manifest["format"] == 4 and manifest["upgraded_from"] == 3
    assert (gen / "texts.sqlite").is_file() and np.load(gen / "sentence_vectors.f16.npy").dtype == np.float16
    assert emb.calls == calls  # nothing re-embedded (questions are not counted)
    assert check(idx_dir).ok, check(idx_dir).text()

    mtime = (gen / "texts.sqlite").stat().st_mtime_ns
    assert _answers(idx_dir, emb) == before  # once: the second load reads what the first wrote
    assert "upgrading" not in capsys.readouterr().err and (gen / "texts.sqlite").stat().st_mtime_ns == mtime

    report = _sync(idx_dir, idx_dir.parent / "docs", emb)  # the next ingest writes a plain format-4 generation
    assert report.chunks_embedded == report.sentences_embedded == 0
    new = index.current_generation(idx_dir)
    assert new != gen and not (new / "chunks.jsonl").exists() and not (new / "sentence_vectors.npy").exists()
    assert _answers(idx_dir, emb) == before


def test_a_format_2_index_is_upgraded_too(tmp_path):
    docs, idx_dir, emb = tmp_path / "docs", tmp_path / "index", HashEmbedder()
    _write_docs(docs)
    _sync(idx_dir, docs, emb)
    as_format_2(index.current_generation(idx_dir))
    idx = index.load(idx_dir)
    assert idx.manifest["upgraded_from"] == 2 and len(idx.chunks) > 0 and all(c.page is None for c in idx.chunks)
    idx.close()


def test_while_another_writer_holds_the_lock_it_is_read_from_a_temporary_copy(old_index):
    idx_dir, gen, emb, before = old_index
    held, done = threading.Event(), threading.Event()

    def writer():
        with index.write_lock(idx_dir):
            held.set()
            done.wait(30)

    t = threading.Thread(target=writer)
    t.start()
    held.wait(10)
    try:
        assert _answers(idx_dir, emb) == before
        assert not (gen / "texts.sqlite").exists()  # the folder is left to the writer
        assert json.loads((gen / "manifest.json").read_text())["format"] == 3
    finally:
        done.set()
        t.join()
    assert _answers(idx_dir, emb) == before  # the next load upgrades it
    assert (gen / "texts.sqlite").exists()


def test_an_upgrade_that_fails_half_way_leaves_the_old_format_readable(old_index, monkeypatch):
    idx_dir, gen, emb, before = old_index

    def broken(path, vectors):
        path.write_bytes(b"\x93NUMPY half")
        raise OSError(5, "Input/output error")

    monkeypatch.setattr("assistant.index.upgrade.write_sentence_vectors", broken)
    with pytest.raises(OSError, match="Input/output"):
        index.load(idx_dir)
    assert json.loads((gen / "manifest.json").read_text())["format"] == 3  # the manifest still says format 3
    monkeypatch.undo()
    assert _answers(idx_dir, emb) == before
    assert check(idx_dir).ok


def test_more_chunks_than_the_cache_holds_are_read_in_one_call(tmp_path, monkeypatch):
    """Index.vectors / chunks_at over more rows than the chunk cache keeps (a re-ingest reads all)."""
    docs, idx_dir, emb = tmp_path / "docs", tmp_path / "index", HashEmbedder()
    _write_docs(docs)
    _sync(idx_dir, docs, emb)
    idx = index.load(idx_dir)
    monkeypatch.setattr(idx.texts._chunks, "size", 2)
    rows = list(range(len(idx.chunks)))
    assert len(rows) > 2
    assert [c.id for c in idx.texts.chunks_at(rows)] == [c.id for c in idx.chunks]
    assert idx.vectors(rows).shape == (len(rows), idx.manifest["dim"])
    idx.close()


def test_texts_of_the_first_format_4_schema_are_read(tmp_path):
    """texts.sqlite schema 1 kept document texts in the docs table (written by this version's
    first days): still read, and checked."""
    docs, idx_dir, emb = tmp_path / "docs", tmp_path / "index", HashEmbedder()
    _write_docs(docs)
    _sync(idx_dir, docs, emb)
    before = _answers(idx_dir, emb)
    as_texts_schema_1(index.current_generation(idx_dir))
    assert _answers(idx_dir, emb) == before
    assert check(idx_dir).ok, check(idx_dir).text()


def test_rows_read_from_many_threads_with_small_caches(tmp_path):
    """The chat answers several questions at once: readers share the caches, which other threads
    may empty at any moment."""
    from concurrent.futures import ThreadPoolExecutor

    docs, idx_dir, emb = tmp_path / "docs", tmp_path / "index", HashEmbedder()
    _write_docs(docs)
    _sync(idx_dir, docs, emb)
    idx = index.load(idx_dir)
    for cache in (idx.texts._chunks, idx.texts._sentences, idx.texts._documents, idx.texts._texts):
        cache.size = 1
    want = ([c.id for c in idx.chunks], [(s.source, s.start) for s in idx.sentences],
            [idx.sentences_of(r) for r in range(len(idx.chunks))])

    def read(_):
        return ([idx.chunks[r].id for r in range(len(idx.chunks))],
                [(idx.sentences[j].source, idx.sentences[j].start) for j in range(len(idx.sentences))],
                [idx.sentences_of(r) for r in range(len(idx.chunks))])

    with ThreadPoolExecutor(8) as pool:
        assert all(got == want for got in pool.map(read, range(64)))
    idx.close()
