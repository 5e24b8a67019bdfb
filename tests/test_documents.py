"""Document management (assistant/documents.py, assistant/library.py): the list, removing and
re-indexing one document, through the browser's runtime and through `assistant docs`. Fast: the
hashed fake embedder."""

from __future__ import annotations

import json
import shutil

import pytest
from fakes import HashEmbedder, seeds_runtime

from assistant import cli, documents, index
from assistant.errors import IndexStoreError, InputError
from assistant.library import Library

NOTE = """Proef met deelfietsen in Zuiderzee

De gemeente Zuiderzee heeft in 2025 een proef met deelfietsen gestart. Op twaalf plekken staan samen
140 elektrische deelfietsen, die inwoners met een pasje van de bibliotheek gratis mogen gebruiken.
"""
QUESTION = "Hoeveel deelfietsen zijn er in de proef van de gemeente Zuiderzee?"


@pytest.fixture
def runtime(tmp_path, seeds_dir):
    # A private copy of the seeds: re-indexing reads the files, and a test may change one.
    seeds = tmp_path / "seeds"
    shutil.copytree(seeds_dir, seeds)
    return seeds_runtime(tmp_path / "index", seeds, seeds_dir=seeds)


def _upload(runtime, tmp_path, name="zuiderzee.txt", text=NOTE):
    f = tmp_path / "in" / name
    f.parent.mkdir(exist_ok=True)
    f.write_text(text, encoding="utf-8")
    result = runtime.add_files([f])
    assert result.accepted == [name], result.problems
    return f"uploads/{name}"


def test_list_shows_title_chunks_date_and_origin(runtime, tmp_path):
    source = _upload(runtime, tmp_path)
    listed = {d.source: d for d in runtime.list_documents()}
    assert len(listed) == 6
    up = listed[source]
    assert up.title == "Proef met deelfietsen in Zuiderzee" and up.uploaded
    assert up.chunks == sum(1 for c in runtime.pipeline.index.chunks if c.source == source) > 0
    assert up.added[:4].isdigit() and "T" in up.added  # an ISO time
    assert up.pages is None  # a text file has no pages
    seed = next(d for s, d in listed.items() if s.startswith("seeds/"))
    assert not seed.uploaded and seed.added  # the seeds' first sync recorded them too
    added = [d.added for d in runtime.list_documents()]
    assert added == sorted(added, reverse=True)  # newest first
    assert json.loads(json.dumps(up.to_json()))["chunks"] == up.chunks


def test_list_shows_what_the_metadata_says_when_documents_have_it():
    from types import SimpleNamespace

    assert documents._about(SimpleNamespace(title="t")) == ""  # no metadata recorded
    meta = SimpleNamespace(municipalities=("Blaricum", "Eemnes"), organisation=None, type="raadsinformatiebrief",
                           date="2014-09-09")
    assert documents._about(SimpleNamespace(meta=meta)) == "Blaricum, Eemnes · raadsinformatiebrief · 2014-09-09"
    ministry = SimpleNamespace(municipalities=(), organisation="BZK", type=None, date=None)
    assert documents._about(SimpleNamespace(meta=ministry)) == "BZK"


def test_an_upload_keeps_its_added_date_when_others_change(runtime, tmp_path):
    source = _upload(runtime, tmp_path)
    first = {d.source: d.added for d in runtime.list_documents()}[source]
    _upload(runtime, tmp_path, "ander.txt", "Een andere notitie over de haven van Zuiderzee en de veerpont.\n")
    assert {d.source: d.added for d in runtime.list_documents()}[source] == first


def test_removing_an_upload_takes_its_passages_and_file_at_once(runtime, tmp_path):
    source = _upload(runtime, tmp_path)
    assert runtime.pipeline.assistant.search(QUESTION, 3)[0].chunk.source == source
    before = runtime.pipeline
    report = runtime.remove_document(source)
    assert report.removed == [source] and report.chunks_embedded == 0 and report.sentences_embedded == 0
    assert runtime.pipeline is not before  # swapped: the next answer searches the new generation
    assert source not in runtime.pipeline.index.docs
    assert all(h.chunk.source != source for h in runtime.pipeline.assistant.search(QUESTION, 10))
    assert not (runtime.uploads_dir / "zuiderzee.txt").exists()
    assert not any(runtime.uploads_dir.iterdir())  # nothing parked left behind
    on_disk = index.load(runtime.settings.storage.index_dir)
    assert source not in on_disk.docs and len(on_disk.docs) == 5
    assert source not in on_disk.manifest["added"]
    # The next upload (which syncs the whole uploads folder) does not bring it back.
    _upload(runtime, tmp_path, "ander.txt", "Een andere notitie over de haven van Zuiderzee en de veerpont.\n")
    assert source not in runtime.pipeline.index.docs


def test_removing_a_seed_document_keeps_its_file(runtime):
    source = next(s for s in runtime.pipeline.index.docs if s.startswith("seeds/"))
    path = runtime.settings.storage.seeds_dir / source.split("/", 1)[1]
    report = runtime.remove_document(source)
    assert report.removed == [source] and path.is_file()
    assert source not in runtime.pipeline.index.docs and len(runtime.pipeline.index.docs) == 4


def test_reindex_reads_the_file_again(runtime, tmp_path):
    source = _upload(runtime, tmp_path)
    same = runtime.reindex_document(source)
    assert same.unchanged == [source] and same.chunks_embedded == 0  # unchanged text keeps its vectors
    (runtime.uploads_dir / "zuiderzee.txt").write_text(NOTE.replace("140", "175"), encoding="utf-8")
    changed = runtime.reindex_document(source)
    assert changed.updated == [source] and changed.chunks_embedded > 0
    text = runtime.pipeline.index.docs[source].text
    assert "175 elektrische" in text and "140" not in text
    assert len(runtime.pipeline.index.docs) == 6  # the others stay


def test_reindex_of_a_seed_uses_its_meta_title(runtime):
    meta = json.loads((runtime.settings.storage.seeds_dir / "meta.json").read_text(encoding="utf-8"))
    rel, entry = next(iter(meta.items()))
    source = f"seeds/{rel}"
    before = runtime.pipeline.index.docs[source].title
    report = runtime.reindex_document(source)
    assert report.unchanged == [source]
    assert runtime.pipeline.index.docs[source].title == before == entry["title"]


def test_unknown_or_ambiguous_names_are_clear_errors(runtime, tmp_path):
    with pytest.raises(InputError, match=r"no document 'nope.txt' in the index; known: seeds/"):
        runtime.remove_document("nope.txt")
    source = _upload(runtime, tmp_path)
    assert documents.find(runtime.pipeline.index, "zuiderzee.txt") == source  # a unique file name will do
    with pytest.raises(InputError, match="came from a folder the index does not record"):
        documents.source_file(runtime.settings.storage.index_dir, runtime.settings.storage.seeds_dir, "elsewhere/x.txt")
    (runtime.uploads_dir / "zuiderzee.txt").unlink()
    with pytest.raises(InputError, match="the file of uploads/zuiderzee.txt is gone"):
        runtime.reindex_document(source)


def test_another_embedder_is_refused_before_anything_changes(runtime, tmp_path):
    source = _upload(runtime, tmp_path)
    s = runtime.settings
    with pytest.raises(IndexStoreError, match="would re-embed all of them"):
        Library(s, HashEmbedder(name="other")).remove(source)
    assert (runtime.uploads_dir / "zuiderzee.txt").is_file()
    assert source in index.load(s.storage.index_dir).docs


def test_a_failed_removal_puts_the_file_back(runtime, tmp_path, monkeypatch):
    source = _upload(runtime, tmp_path)

    def full_disk(*a, **kw):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(index, "sync", full_disk)
    with pytest.raises(OSError):
        runtime.remove_document(source)
    assert (runtime.uploads_dir / "zuiderzee.txt").is_file()
    assert source in runtime.pipeline.index.docs


def test_cli_docs_list_and_remove(runtime, tmp_path, monkeypatch, capsys):
    source = _upload(runtime, tmp_path)
    base = ["--index-dir", str(runtime.settings.storage.index_dir)]
    assert cli.main([*base, "docs", "list", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert {d["source"] for d in listed} == set(runtime.pipeline.index.docs)
    assert {"source", "title", "chunks", "pages", "added", "uploaded", "about"} <= set(listed[0])
    assert cli.main([*base, "docs", "list"]) == 0
    out = capsys.readouterr()
    assert f"{source}  'Proef met deelfietsen in Zuiderzee'" in out.out and "6 documents" in out.err

    # The CLI loads the index's own embedder; here that is the fake one.
    import assistant.pipeline

    monkeypatch.setattr(assistant.pipeline, "make_embedder", lambda settings, built=None: HashEmbedder())
    (runtime.uploads_dir / "zuiderzee.txt").write_text(NOTE.replace("140", "175"), encoding="utf-8")
    assert cli.main([*base, "docs", "reindex", source]) == 0
    assert f"re-indexed {source}: 0 added, 1 updated" in capsys.readouterr().out
    assert "175 elektrische" in index.load(runtime.settings.storage.index_dir).docs[source].text
    assert cli.main([*base, "docs", "remove", "zuiderzee.txt"]) == 0
    assert f"removed {source}" in capsys.readouterr().out
    assert source not in index.load(runtime.settings.storage.index_dir).docs
    assert not (runtime.uploads_dir / "zuiderzee.txt").exists()
    assert cli.main([*base, "docs", "remove", "zuiderzee.txt"]) == 2
    assert "no document 'zuiderzee.txt' in the index" in capsys.readouterr().err
    assert cli.main([*base, "docs", "remove"]) == 2
    assert "needs the document" in capsys.readouterr().err
