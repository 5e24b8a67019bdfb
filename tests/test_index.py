import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from fakes import HashEmbedder

from assistant import index
from assistant.errors import IndexStoreError
from assistant.ingest import load_folder
from assistant.retrieve import HybridRetriever

ROOT = Path(__file__).resolve().parent.parent


def _write_docs(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "sezen.txt").write_text(
        "Traject Sezen. Juist omdat contextgedreven organiseren niet uitgaat van planningen is er geen projectplan opgesteld.\n\n"
        + "De kosten bedragen twee keer vijftigduizend euro voor clinics en trainingen. " * 5,
        encoding="utf-8",
    )
    (folder / "lochem.txt").write_text(
        "Regisserend Lochem. De gemeenteraad nam op 2 juli 2012 een motie aan over de regiegemeente.\n\n"
        + "Competentieprofielen voor medewerkers in de regierol worden beschreven. " * 5,
        encoding="utf-8",
    )
    (folder / "altena.txt").write_text(
        "Altena richtte een ontwikkelteam op om een sneeuwbaleffect te organiseren in de organisatie. " * 6,
        encoding="utf-8",
    )


def _sync(idx_dir, folder, emb, **kw):
    docs, problems = load_folder(folder)
    return index.sync(idx_dir, docs, emb, 200, 40, scope=folder.name, problems=problems, **kw)


def test_missing_index_says_how_to_build_it(tmp_path):
    with pytest.raises(IndexStoreError, match="assistant ingest"):
        index.load(tmp_path / "index")


def test_incremental_reingest_embeds_only_changes(tmp_path):
    docs, idx_dir, emb = tmp_path / "docs", tmp_path / "index", HashEmbedder()
    _write_docs(docs)
    first = _sync(idx_dir, docs, emb)
    assert sorted(first.added) == ["docs/altena.txt", "docs/lochem.txt", "docs/sezen.txt"]
    total = first.texts_embedded  # chunks and sentences are both embedded, a repeated text once
    assert emb.calls == total and first.chunks_total > 3 and first.sentences_embedded > first.chunks_total
    # Each doc repeats a sentence: embedded once, copied to every row (the vectors are checked below).
    assert 0 < first.chunks_total + first.sentences_embedded - total

    again = _sync(idx_dir, docs, emb)  # nothing changed: nothing embedded
    assert again.chunks_embedded == again.sentences_embedded == 0 and len(again.unchanged) == 3 and emb.calls == total

    (docs / "lochem.txt").write_text("Regisserend Lochem. Een geheel nieuwe tekst over deelfietsen.", encoding="utf-8")
    edited = _sync(idx_dir, docs, emb)
    idx = index.load(idx_dir)
    lochem_chunks = [c for c in idx.chunks if c.source == "docs/lochem.txt"]
    lochem_sentences = [sp for sp in idx.sentences if sp.source == "docs/lochem.txt"]
    assert edited.updated == ["docs/lochem.txt"]
    assert edited.chunks_embedded == len(lochem_chunks) and edited.sentences_embedded == len(lochem_sentences) == 2
    assert emb.calls - total == edited.texts_embedded == len(lochem_chunks) + len(lochem_sentences)
    # The sentence store is incremental too: unchanged documents keep their sentence vectors.
    for j, sp in enumerate(idx.sentences):
        text = idx.docs[sp.source].text[sp.start:sp.end]
        assert text == text.strip() and text
        # stored as float16: the cosine with its own text is 1 within float16's rounding (check.UNIT_TOLERANCE)
        assert abs(float(idx.sentence_vectors[j] @ emb.embed_query(text)) - 1.0) < 1e-3

    (docs / "sezen.txt").unlink()
    removed = _sync(idx_dir, docs, emb)
    assert removed.removed == ["docs/sezen.txt"] and removed.chunks_embedded == 0
    idx = index.load(idx_dir)
    assert all(c.source != "docs/sezen.txt" for c in idx.chunks)
    hits = HybridRetriever(idx, emb).search("geen projectplan opgesteld Sezen", k=10)
    assert hits and all(h.chunk.source != "docs/sezen.txt" for h in hits)
    # The vectors kept for unchanged documents are the same as freshly computed ones.
    for i, c in enumerate(idx.chunks):
        assert abs(float(idx.vectors()[i] @ emb.embed_query(index.chunk_text(c))) - 1.0) < 1e-5


def test_other_scopes_are_kept(tmp_path):
    emb = HashEmbedder()
    _write_docs(tmp_path / "docs")
    up = tmp_path / "uploads"
    up.mkdir()
    (up / "new.txt").write_text("Zuiderzee startte een proef met deelfietsen.", encoding="utf-8")
    _sync(tmp_path / "index", tmp_path / "docs", emb)
    _sync(tmp_path / "index", up, emb)
    sources = set(index.load(tmp_path / "index").docs)
    assert sources == {"docs/sezen.txt", "docs/lochem.txt", "docs/altena.txt", "uploads/new.txt"}


def test_embedder_change_triggers_full_rebuild(tmp_path):
    docs, idx_dir = tmp_path / "docs", tmp_path / "index"
    _write_docs(docs)
    _sync(idx_dir, docs, HashEmbedder(name="model-a"))
    other = HashEmbedder(dim=128, name="model-b")
    report = _sync(idx_dir, docs, other)
    assert "embedder changed" in report.rebuilt
    assert report.chunks_embedded == report.chunks_total
    assert report.texts_embedded == other.calls
    idx = index.load(idx_dir)
    assert idx.manifest["embedder"] == "model-b" and idx.manifest["dim"] == 128 and idx.store.dim == 128


def test_chunk_setting_change_rechunks_and_keeps_what_it_can(tmp_path):
    """Another chunk size or chunker splits every document again; sentences and chunks whose span
    and context are unchanged keep their vectors (nothing is re-embedded twice), the rest are new."""
    docs, idx_dir, emb = tmp_path / "docs", tmp_path / "index", HashEmbedder()
    _write_docs(docs)
    (docs / "kort.txt").write_text("Korte notitie: de raad vergadert op 3 maart.", encoding="utf-8")  # one chunk at any size
    _sync(idx_dir, docs, emb)
    before = index.load(idx_dir)
    d, p = load_folder(docs)
    calls = emb.calls
    report = index.sync(idx_dir, d, emb, 300, 40, scope="docs")
    assert "chunk settings changed (chunk_size 200 -> 300" in report.rechunked and not report.rebuilt
    assert report.sentences_embedded == 0 and 0 < report.texts_embedded == emb.calls - calls <= report.chunks_embedded
    assert report.chunks_embedded < report.chunks_total  # the short document's chunk kept its vector
    after = index.load(idx_dir)
    assert after.manifest["chunking"]["chunk_size"] == 300
    fresh = HashEmbedder()  # a from-scratch index at 300/40 has the same vectors
    scratch = tmp_path / "scratch"
    index.sync(scratch, d, fresh, 300, 40, scope="docs")
    new = index.load(scratch)
    by_span = {(c.source, c.start, c.end): new.vector_at(i) for i, c in enumerate(new.chunks)}
    assert set(by_span) == {(c.source, c.start, c.end) for c in after.chunks}  # the same chunks as from scratch
    for i, c in enumerate(after.chunks):
        assert (after.vector_at(i) == by_span[(c.source, c.start, c.end)]).all(), c.id
    assert (np.asarray(after.sentence_vectors) == np.asarray(before.sentence_vectors)).all()
    # Same settings again: nothing to split or embed.
    report = index.sync(idx_dir, d, emb, 300, 40, scope="docs")
    assert not report.rechunked and report.chunks_embedded == 0


def test_embedding_text_change_triggers_rebuild(tmp_path, monkeypatch):
    docs, idx_dir, emb = tmp_path / "docs", tmp_path / "index", HashEmbedder()
    _write_docs(docs)
    _sync(idx_dir, docs, emb)
    monkeypatch.setattr(index.texts, "CHUNK_TEXT", "something-else")
    d, p = load_folder(docs)
    report = index.sync(idx_dir, d, emb, 200, 40, scope="docs")
    assert "chunk settings changed (chunk_text title-slot+context-v1 -> something-else)" in report.rebuilt
    assert not report.rechunked and report.sentences_embedded > 0


def test_manifest_records_hashes_and_settings(tmp_path):
    docs, idx_dir = tmp_path / "docs", tmp_path / "index"
    _write_docs(docs)
    _sync(idx_dir, docs, HashEmbedder())
    m = index.load(idx_dir).manifest
    assert m["chunking"] == {"chunk_size": 200, "chunk_overlap": 40, "chunker": "outline-sections-v1",
                             "chunk_text": index.CHUNK_TEXT, "sentences": "syntok-lines-v1"}
    assert m["format"] == index.FORMAT and m["sentences"] == len(index.load(idx_dir).sentences)
    assert set(m["documents"]) == {"docs/sezen.txt", "docs/lochem.txt", "docs/altena.txt"}
    assert all(len(h) == 64 for h in m["documents"].values())


KILL_SCRIPT = textwrap.dedent(
    """
    import os, signal, sys
    sys.path.insert(0, {tests!r}); sys.path.insert(0, {root!r})
    from pathlib import Path
    from fakes import HashEmbedder
    from assistant import index
    from assistant.ingest import load_folder
    where = sys.argv[1]
    real_replace = os.replace
    def killing_replace(src, dst):
        if where == "swap" and Path(dst).name == "CURRENT":
            os.kill(os.getpid(), signal.SIGKILL)
        return real_replace(src, dst)
    index.writer.os.replace = killing_replace
    docs, _ = load_folder(Path({docs!r}))
    index.sync(Path({idx!r}), docs, HashEmbedder(), 200, 40, scope="docs",
               _after_embed=(lambda: os.kill(os.getpid(), signal.SIGKILL)) if where == "embed" else None)
    """
)


@pytest.mark.parametrize("where", ["embed", "swap"])
def test_kill_during_ingest_leaves_previous_index_usable(tmp_path, where):
    docs, idx_dir = tmp_path / "docs", tmp_path / "index"
    _write_docs(docs)
    _sync(idx_dir, docs, HashEmbedder())
    before = index.load(idx_dir)
    (docs / "extra.txt").write_text("Een nieuw document dat nooit in de index mag komen.", encoding="utf-8")
    script = KILL_SCRIPT.format(tests=str(ROOT / "tests"), root=str(ROOT), docs=str(docs), idx=str(idx_dir))
    proc = subprocess.run([sys.executable, "-c", script, where], capture_output=True, text=True, timeout=120)
    assert proc.returncode == -9, proc.stderr  # really killed
    after = index.load(idx_dir)
    assert after.generation == before.generation
    assert set(after.docs) == set(before.docs) and len(after.chunks) == before.store.count()
    # The next ingest cleans up the half-written generation and completes.
    report = _sync(idx_dir, docs, HashEmbedder())
    assert report.added == ["docs/extra.txt"]
    leftovers = [p.name for p in idx_dir.iterdir() if p.is_dir()]
    assert leftovers == [index.load(idx_dir).generation]


def test_corrupt_index_gives_clear_error(tmp_path):
    docs, idx_dir = tmp_path / "docs", tmp_path / "index"
    _write_docs(docs)
    _sync(idx_dir, docs, HashEmbedder())
    gen = index.current_generation(idx_dir)
    (gen / "texts.sqlite").write_bytes(b"not a database" * 100)
    with pytest.raises(IndexStoreError, match="rebuild"):
        index.load(idx_dir)


def test_an_index_from_before_outline_chunking_is_rechunked(tmp_path):
    """Indexes written before the "chunker" key: re-chunked on the next ingest, sentences kept."""
    docs, idx_dir, emb = tmp_path / "docs", tmp_path / "index", HashEmbedder()
    _write_docs(docs)
    _sync(idx_dir, docs, emb)
    (manifest_path,) = idx_dir.rglob("manifest.json")  # the one live generation
    m = json.loads(manifest_path.read_text())
    del m["chunking"]["chunker"]
    manifest_path.write_text(json.dumps(m))
    report = _sync(idx_dir, docs, emb)
    assert "chunker None -> outline-sections-v1" in report.rechunked and report.sentences_embedded == 0
    assert index.load(idx_dir).manifest["chunking"]["chunker"] == "outline-sections-v1"
