"""The persisted lexical index (lexical.sqlite, SQLite FTS5) scores exactly like in-memory BM25."""

import json
from pathlib import Path

import numpy as np
from fakes import HashEmbedder

from assistant import index, lexical
from assistant.ingest import load_folder
from assistant.retrieve import HybridRetriever

ROOT = Path(__file__).resolve().parent.parent


def test_stored_bm25_scores_are_identical_on_the_seeds_and_gold_questions(tmp_path):
    docs, _ = load_folder(ROOT / "seeds")
    texts = []
    for d in docs:
        chunks = index.document_chunks(d, 900, 150)
        texts += [index.lexical_text(c) for c in chunks]
    lexical.write_stored(tmp_path / "lex.sqlite", texts)
    mem, stored = lexical.BM25(texts), lexical.StoredBM25(tmp_path / "lex.sqlite")
    assert stored.n == mem.n == len(texts) and np.array_equal(stored.lengths, mem.lengths) and stored.avg == mem.avg
    assert stored.idf == mem.idf
    questions = [json.loads(line)["question"] for line in (ROOT / "eval" / "gold.jsonl").read_text(encoding="utf-8").splitlines()]
    questions += ["50.000 euro voor clinics", "1,5 miljoen", "", "onbekendwoordxyz"]
    for q in questions:
        for floor in (0.0, 2.0):
            assert np.array_equal(stored.scores(q, floor), mem.scores(q, floor)), q
    stored.close()


def test_each_generation_writes_it_and_the_retriever_uses_it(tmp_path):
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "a.txt").write_text("De kosten van Sezen bedragen 50.000 euro. " * 8, encoding="utf-8")
    (folder / "b.txt").write_text("Lochem regisseert de gemeente met een motie van 2 juli 2012. " * 8, encoding="utf-8")
    docs, _ = load_folder(folder)
    emb = HashEmbedder()
    index.sync(tmp_path / "index", docs, emb, 200, 40, scope="docs")
    idx = index.load(tmp_path / "index")
    assert (idx.folder / lexical.FILE).is_file()
    r = HybridRetriever(idx, emb)
    assert isinstance(r.bm25, lexical.StoredBM25)
    memory = lexical.BM25([index.lexical_text(c) for c in idx.chunks])
    assert np.array_equal(r.bm25.scores("kosten Sezen 50.000"), memory.scores("kosten Sezen 50.000"))
    assert r.search("motie Lochem 2012", 1)[0].chunk.source == "docs/b.txt"
    # A generation without the file (written before it existed) builds BM25 in memory, same scores.
    (idx.folder / lexical.FILE).unlink()
    old = index.load(tmp_path / "index")
    assert type(old.lexical()) is lexical.BM25


def test_a_shared_tokenizer_is_safe_across_threads():
    """cite.py, question.py and cells.py share one Tokenizer per module while the chat answers
    several questions at once; one snowball stemmer shared by 4 threads gave wrong stems and
    IndexErrors here (2026-12-05), so each thread gets its own."""
    import threading

    from assistant.lexical import Tokenizer

    tok = Tokenizer()
    text = "De verantwoordelijke afdelingen voerden gemeentelijke werkzaamheden en projecten uit " * 5
    ref = tok(text)
    wrong: list = []

    def run():
        try:
            for _ in range(1500):
                if tok(text) != ref:
                    wrong.append("stems")
        except Exception as e:  # what a shared stemmer raised
            wrong.append(repr(e))

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert wrong == []


def test_write_tokens_is_the_writer_and_checks_the_row_count(tmp_path):
    """write_stored is write_tokens over tokenised texts; a caller announcing another row count than
    it gives gets an error naming the file, not a file whose lengths disagree with its rows."""
    import pytest

    texts = ["De gemeente Lochem betaalt 50.000 euro.", "Sezen en InAxis, 1,5 miljoen."]
    tok = lexical.Tokenizer()
    lexical.write_tokens(tmp_path / "a.sqlite", (tok(t) for t in texts), len(texts))
    stored, mem = lexical.StoredBM25(tmp_path / "a.sqlite"), lexical.BM25(texts)
    assert np.array_equal(stored.scores("Lochem 50.000 euro"), mem.scores("Lochem 50.000 euro"))
    stored.close()
    for n in (1, 3):
        with pytest.raises(ValueError, match="b.sqlite"):
            lexical.write_tokens(tmp_path / "b.sqlite", (tok(t) for t in texts), n)
        assert not (tmp_path / "b.sqlite").exists()


def test_postings_in_parts_and_files_without_postings_give_the_same_scores(tmp_path, monkeypatch):
    """The postings table (one row of arrays per term) is built in parts and joined; a file written
    before it existed is read through the FTS5 vocabulary: the scores are identical either way."""
    import sqlite3

    docs, _ = load_folder(Path(__file__).resolve().parent.parent / "seeds")
    texts = [c.text for d in docs for c in index.document_chunks(d, 300, 40)]
    monkeypatch.setattr(lexical, "POSTINGS_PART", 7)  # many parts, joined per term
    lexical.write_stored(tmp_path / "new.sqlite", texts)
    old = tmp_path / "old.sqlite"
    old.write_bytes((tmp_path / "new.sqlite").read_bytes())
    conn = sqlite3.connect(old)
    conn.execute("DROP TABLE postings")
    conn.execute("DELETE FROM meta WHERE key = 'postings'")
    conn.commit()
    conn.close()
    memory, new, before = lexical.BM25(texts), lexical.StoredBM25(tmp_path / "new.sqlite"), lexical.StoredBM25(old)
    assert new._arrays and not before._arrays
    gold = [json.loads(x)["question"] for x in (Path(__file__).resolve().parent.parent / "eval" / "gold.jsonl")
            .read_text(encoding="utf-8").splitlines() if x.strip()]
    for q in gold + ["gemeente raad college", "de het een"]:
        for floor in (0.0, 2.0):
            a = memory.scores(q, min_idf=floor)
            assert np.array_equal(a, new.scores(q, min_idf=floor)) and np.array_equal(a, before.scores(q, min_idf=floor)), q


def test_add_postings_rewrites_an_older_file_with_the_same_scores(tmp_path):
    import sqlite3

    docs, _ = load_folder(Path(__file__).resolve().parent.parent / "seeds")
    texts = [c.text for d in docs for c in index.document_chunks(d, 300, 40)]
    path = tmp_path / "lex.sqlite"
    lexical.write_stored(path, texts)
    conn = sqlite3.connect(path)
    conn.execute("DROP TABLE postings")
    conn.execute("DELETE FROM meta WHERE key = 'postings'")
    conn.commit()
    conn.close()
    assert lexical.add_postings(path) and not lexical.add_postings(path)
    stored, memory = lexical.StoredBM25(path), lexical.BM25(texts)
    assert stored._arrays and np.array_equal(stored.lengths, memory.lengths)
    for q in ("Waarom is er geen projectplan voor Sezen opgesteld?", "kosten clinics 50.000 euro"):
        assert np.array_equal(stored.scores(q), memory.scores(q))


def test_a_full_write_reuses_the_tokens_of_the_chunks_it_keeps(tmp_path, monkeypatch):
    """Only new or changed chunks are tokenised again; the file equals one written from scratch."""
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from test_index import _sync, _write_docs

    docs, idx_dir, emb = tmp_path / "docs", tmp_path / "index", HashEmbedder()
    _write_docs(docs)
    _sync(idx_dir, docs, emb)
    (docs / "lochem.txt").write_text("Regisserend Lochem. Een geheel nieuwe tekst over deelfietsen.", encoding="utf-8")
    seen = []
    real = lexical.Tokenizer.__call__
    monkeypatch.setattr(lexical.Tokenizer, "__call__", lambda self, text: seen.append(text) or real(self, text))
    _sync(idx_dir, docs, emb)  # a small index: written whole
    monkeypatch.undo()
    idx = index.load(idx_dir)
    assert len(idx.segments) == 1
    changed = [index.lexical_text(c) for c in idx.chunks if c.source == "docs/lochem.txt"]
    assert sorted(seen) == sorted(changed)  # the kept chunks' tokens came from the previous file
    texts = [index.lexical_text(c) for c in idx.chunks]
    stored, memory = idx.lexical(), lexical.BM25(texts)
    for q in ("Waarom is er geen projectplan opgesteld?", "deelfietsen Lochem", "motie regiegemeente 2012"):
        assert np.array_equal(stored.scores(q), memory.scores(q)), q
    idx.close()
