"""The write side (assistant/library.py): a Library takes the Settings (chunking, vector store,
index folder, OCR cache), picks the index's own embedder, and holds the index's write lock for a
whole change. Fast: the hashed fake embedder. (Removing and re-indexing one document through the
browser and the CLI: tests/test_documents.py.)"""

from __future__ import annotations

import threading
import time

import pytest
from fakes import HashEmbedder
from test_index import _write_docs

from assistant import cli, index
from assistant.config import Settings
from assistant.errors import IndexStoreError
from assistant.library import Batch, Library


@pytest.fixture
def docs(tmp_path):
    folder = tmp_path / "docs"
    _write_docs(folder)
    return folder


def test_add_folder_writes_with_the_settings(tmp_path, docs):
    s = Settings().with_(index_dir=tmp_path / "index", chunk_size=300, chunk_overlap=30, vector_store="hnsw")
    report = Library(s, HashEmbedder()).add_folder(docs)
    assert sorted(report.added) == ["docs/altena.txt", "docs/lochem.txt", "docs/sezen.txt"]
    idx = index.load(s.storage.index_dir)
    assert idx.store.kind == "hnsw"  # the setting reached the write (eval/load.py ignored it before)
    assert idx.manifest["chunking"]["chunk_size"] == 300 and idx.manifest["chunking"]["chunk_overlap"] == 30
    assert {d.source for d in idx.docs.values()} == set(report.added)
    idx.store.close()


def test_a_batch_without_scope_adds_and_keeps_the_rest(tmp_path, docs):
    lib = Library(Settings().with_(index_dir=tmp_path / "index"), HashEmbedder())
    batch = lib.read_folder(docs)
    assert batch.scope == "docs" and len(batch.docs) == 3 and batch.problems == ()
    lib.add(batch)
    one = next(d for d in batch.docs if d.source == "docs/sezen.txt")
    report = lib.add(Batch((one,), None))  # like LegalQA's batches: nothing removed
    assert report.unchanged == ["docs/sezen.txt"] and report.removed == []
    (docs / "altena.txt").unlink()
    report = lib.add_folder(docs)  # the folder's scope: a file gone is a document gone
    assert report.removed == ["docs/altena.txt"]
    assert set(index.load(tmp_path / "index").docs) == {"docs/lochem.txt", "docs/sezen.txt"}


def test_uploads_are_checked_stored_and_indexed(tmp_path):
    lib = Library(Settings().with_(index_dir=tmp_path / "index"), HashEmbedder())
    good, exe = tmp_path / "nota.txt", tmp_path / "tool.exe"
    good.write_text("De gemeente Zuiderzee start een proef met deelfietsen.", encoding="utf-8")
    exe.write_bytes(b"MZ\x00\x01")
    stages = []
    result = lib.add_uploads([good, exe], progress=lambda *a: stages.append(a))
    assert result.accepted == ["nota.txt"] and [p.source for p in result.problems] == ["tool.exe"]
    assert (lib.uploads_dir / "nota.txt").is_file() and result.report.added == ["uploads/nota.txt"]
    assert stages[0] == ("checking", 0, 2) and ("embedding", 0, result.report.texts_embedded) in stages
    nothing = lib.add_uploads([exe])
    assert nothing.accepted == [] and nothing.report is None  # the index is not written


def test_the_index_keeps_the_embedder_it_was_built_with(tmp_path, docs, monkeypatch):
    import assistant.pipeline

    asked = []

    def make_embedder(settings, built_with=None):
        asked.append(built_with)
        return HashEmbedder(name=built_with or "hash-embedder")

    monkeypatch.setattr(assistant.pipeline, "make_embedder", make_embedder)
    s = Settings().with_(index_dir=tmp_path / "index")
    Library(s).add_folder(docs)
    assert asked == [None]  # no index yet: the settings' choice
    lib = Library(s)
    lib.add_folder(docs)
    lib.add_folder(docs)
    assert asked == [None, "hash-embedder"]  # the manifest's embedder, made once per Library
    Library(s).add_folder(docs, rebuild=True)
    assert asked[-1] is None  # a rebuild starts over


def test_one_document_changes_need_the_index_embedder(tmp_path, docs):
    s = Settings().with_(index_dir=tmp_path / "index")
    with pytest.raises(IndexStoreError, match="no index in"):
        Library(s, HashEmbedder()).remove("docs/sezen.txt")
    Library(s, HashEmbedder()).add_folder(docs)
    with pytest.raises(IndexStoreError, match="would re-embed all of them"):
        Library(s, HashEmbedder(name="other")).remove("docs/sezen.txt")
    report = Library(s, HashEmbedder()).remove("docs/sezen.txt")
    assert report.removed == ["docs/sezen.txt"] and report.chunks_embedded == 0
    assert (docs / "sezen.txt").is_file()  # a folder's document keeps its file


def test_a_change_holds_the_write_lock(tmp_path, docs, monkeypatch):
    """While a Library writes, another writer (here a thread taking the lock, as another process or
    browser tab would) waits until the new generation is in place."""
    s = Settings().with_(index_dir=tmp_path / "index")
    lib = Library(s, HashEmbedder())
    lib.add_folder(docs)
    real_sync, events = index.sync, []

    def slow_sync(*a, **kw):
        events.append("sync")
        time.sleep(0.3)
        report = real_sync(*a, **kw)
        events.append("written")
        return report

    monkeypatch.setattr(index, "sync", slow_sync)
    writer = threading.Thread(target=lib.remove, args=("docs/sezen.txt",))
    writer.start()
    while "sync" not in events:
        time.sleep(0.01)

    def other():
        with index.write_lock(s.storage.index_dir):
            events.append("other")

    waiting = threading.Thread(target=other)
    waiting.start()
    writer.join()
    waiting.join()
    assert events == ["sync", "written", "other"]


def test_write_lock_is_reentrant_in_one_thread(tmp_path):
    with index.write_lock(tmp_path / "index"):
        with index.write_lock(tmp_path / "index"):  # Library around sync: no deadlock
            pass
        assert (tmp_path / "index" / ".lock").is_file()


def test_cli_ingest_names_a_damaged_manifest(tmp_path, docs, capsys):
    s = Settings().with_(index_dir=tmp_path / "index")
    Library(s, HashEmbedder()).add_folder(docs)
    gen = index.current_generation(s.storage.index_dir)
    (gen / "manifest.json").write_text("{cut", encoding="utf-8")
    assert cli.main(["--index-dir", str(s.storage.index_dir), "ingest", str(docs)]) == 2
    err = capsys.readouterr().err
    assert f"{gen / 'manifest.json'} is unreadable" in err and "assistant ingest --rebuild" in err


def _many(folder, n: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        (folder / f"nota{i:02d}.txt").write_text(
            f"Nota {i}. De gemeente Zuiderzee bespreekt voorstel {i} over deelfietsen en parkeren. "
            f"Het college besluit in vergadering {i} over de kosten.", encoding="utf-8")


def test_a_large_folder_is_read_and_written_in_batches(tmp_path, monkeypatch, appending):
    """add_folder never holds more than a batch of documents read from the folder (the rest of a
    large archive stays on disk): each batch is added to the index, then the documents of the
    folder that are gone are removed. The index equals one written in one go."""
    from assistant import library

    docs = tmp_path / "docs"
    _many(docs, 9)
    one_go = Settings().with_(index_dir=tmp_path / "one", chunk_size=200, chunk_overlap=20)
    whole = Library(one_go, HashEmbedder()).add_folder(docs)

    monkeypatch.setattr(library, "FOLDER_BATCH_CHARS", 300)  # two or three of these documents
    calls = []
    real = index.sync

    def sync(index_dir, given, *a, **kw):
        calls.append(([d for d in given if type(d).__name__ == "Document"], kw.get("scope")))  # read, not stored
        return real(index_dir, given, *a, **kw)

    monkeypatch.setattr(index, "sync", sync)
    s = one_go.with_(index_dir=tmp_path / "batched")
    emb = HashEmbedder()
    progress = []
    report = Library(s, emb).add_folder(docs, progress=lambda done, total: progress.append((done, total)))
    assert len(calls) >= 3 and all(scope is None for _, scope in calls[:-1]) and calls[-1][1] == "docs"
    assert all(len(read) <= 3 for read, _ in calls)  # never more than a batch read into memory
    assert sorted(report.added) == sorted(whole.added) and report.unchanged == [] and report.removed == []
    assert report.chunks_total == whole.chunks_total and report.texts_embedded == whole.texts_embedded
    assert progress[-1][0] == progress[-1][1] == report.texts_embedded  # counted over all batches
    a, b = index.load(tmp_path / "one"), index.load(tmp_path / "batched")
    assert sorted(c.id for c in a.chunks) == sorted(c.id for c in b.chunks)
    assert {s: d.sha256 for s, d in a.docs.items()} == {s: d.sha256 for s, d in b.docs.items()}
    a.close()
    b.close()

    (docs / "nota03.txt").unlink()  # gone from the folder: gone from the index
    (docs / "nota05.txt").write_text("Nota 5. Een nieuwe tekst over de begroting.", encoding="utf-8")
    calls.clear()
    before = emb.calls
    report = Library(s, emb).add_folder(docs)
    assert report.removed == ["docs/nota03.txt"] and report.updated == ["docs/nota05.txt"] and not report.added
    assert len(report.unchanged) == 7 and emb.calls - before == report.texts_embedded > 0
    idx = index.load(s.storage.index_dir)
    assert "docs/nota03.txt" not in idx.docs and idx.docs["docs/nota05.txt"].text.startswith("Nota 5. Een nieuwe")
    idx.close()


def test_a_missing_folder_is_named_before_any_model_is_looked_for(tmp_path, monkeypatch):
    from assistant.errors import InputError, ModelMissingError

    def no_model(*a, **k):
        raise ModelMissingError("Embedding model not found: run `assistant models fetch`.")

    monkeypatch.setattr("assistant.pipeline.make_embedder", no_model)
    with pytest.raises(InputError, match="not a folder: .*nope"):
        Library(Settings().with_(index_dir=tmp_path / "index")).add_folder(tmp_path / "nope")
