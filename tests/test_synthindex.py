"""eval/synthindex.py: the synthetic full index of `bench.py scale --full` is a real, consistent
format-4 index (built here at 2,000 chunks from a seeds index embedded with the HashEmbedder)."""

import json
import sys
from pathlib import Path

import numpy as np
import pytest
from fakes import HashEmbedder

from assistant import index, lexical
from assistant.ingest import load_folder

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "eval"))

import scale  # noqa: E402
import synthindex  # noqa: E402

N = 2_000


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    work = tmp_path_factory.mktemp("synth")
    docs, _ = load_folder(ROOT / "seeds")
    index.sync(work / "seeds-index", docs, HashEmbedder(), 900, 150, scope="seeds")
    seeds, _ = scale.seed_vectors(work / "seeds-index")
    corpus_path, _ = scale.corpus(N, seeds, work)
    blocks = synthindex.BLOCK, synthindex.SVEC_BLOCK
    synthindex.BLOCK, synthindex.SVEC_BLOCK = 300, 70  # several blocks, the last one partial, as at a million chunks
    try:
        folder, info = synthindex.build_index(work / "seeds-index", N, "flat", work, corpus_path)
    finally:
        synthindex.BLOCK, synthindex.SVEC_BLOCK = blocks
    return work, folder, info, corpus_path


def test_the_index_opens_with_the_counts_its_manifest_states(built):
    work, folder, info, corpus_path = built
    assert folder == synthindex.folder_for(work, N, "flat") and not info["reused"]
    idx = index.load(folder)
    m = idx.manifest
    seeds = index.load(work / "seeds-index").manifest
    assert m["format"] == index.FORMAT and m["embedder"] == seeds["embedder"] and m["dim"] == seeds["dim"]
    assert m["chunking"] == seeds["chunking"] and m["vector_store"] == "flat"
    assert len(idx.chunks) == m["chunks"] == N
    assert len(idx.docs) == len(m["documents"]) == info["documents"] == N // synthindex.CHUNKS_PER_DOC
    assert len(idx.sentences) == m["sentences"] == idx.sentence_vectors.shape[0] == info["sentences"]
    assert 5 * N <= m["sentences"] <= 7 * N  # ~6 sentences per chunk
    # chunk vectors are the corpus rows, sentence vectors unit length and close to their chunk's
    corpus = np.load(corpus_path)
    rows = [0, 7, N - 1]
    assert np.allclose(idx.vectors(rows), corpus[rows], atol=1e-6)
    sv = np.asarray(idx.sentence_vectors[:500], dtype=np.float32)
    assert np.allclose(np.linalg.norm(sv, axis=1), 1, atol=2e-3)
    for row in rows:
        rng = idx.sentences_of(row)
        assert len(rng) >= 5
        cos = np.asarray(idx.sentence_vectors[rng.start:rng.stop], dtype=np.float32) @ corpus[row]
        assert (cos > 0.7).all() and (cos < 0.99).all()


def test_every_span_is_exact_and_documents_match_their_hash(built):
    import hashlib

    _, folder, _, _ = built
    idx = index.load(folder)
    m = idx.manifest
    seen_sentences = 0
    for source, doc in idx.docs.items():
        assert hashlib.sha256(doc.text.encode("utf-8")).hexdigest() == m["documents"][source]
        chunk_rows = idx.chunk_rows(source)
        assert len(doc.pages) == len(chunk_rows) == synthindex.CHUNKS_PER_DOC
        for page, row in enumerate(chunk_rows, start=1):
            c = idx.chunks[row]
            assert c.source == source and c.text == doc.text[c.start:c.end] and c.id == f"{source}#{c.start}-{c.end}"
            assert c.page == page and doc.pages[page - 1] == c.start
            rng = idx.sentences_of(row)
            spans = [idx.sentences[j] for j in rng]
            assert spans[0].start == c.start and spans[-1].end == c.end
            assert all(s.source == source and c.start <= s.start < s.end <= c.end for s in spans)
            assert " ".join(idx.sentence_text(j) for j in rng) == c.text  # sentences joined by a space
            seen_sentences += len(rng)
    assert seen_sentences == len(idx.sentences)  # every sentence belongs to exactly one chunk


def test_stored_bm25_scores_like_bm25_over_the_chunk_texts(built):
    _, folder, _, _ = built
    idx = index.load(folder)
    stored = idx.lexical()
    assert isinstance(stored, lexical.StoredBM25)
    memory = lexical.BM25([index.lexical_text(c) for c in idx.chunks])
    assert stored.n == memory.n == N and np.array_equal(stored.lengths, memory.lengths)
    assert stored.idf == memory.idf
    questions = [json.loads(line)["question"] for line in (ROOT / "eval" / "gold.jsonl").read_text(encoding="utf-8").splitlines()]
    hits = 0
    for q in questions[:40]:
        for floor in (0.0, 2.0):
            s = stored.scores(q, floor)
            assert np.array_equal(s, memory.scores(q, floor)), q
            hits += int((s > 0).any())
    assert hits > 40  # the real Dutch questions do match the seed sentences' terms


def test_a_finished_index_is_reused(built):
    work, folder, _, corpus_path = built
    gen = index.current_generation(folder)
    again, info = synthindex.build_index(work / "seeds-index", N, "flat", work, corpus_path)
    assert again == folder and info["reused"] and index.current_generation(folder) == gen


def test_assistant_check_passes(built):
    from assistant.check import check

    _, folder, _, _ = built
    report = check(folder)
    assert report.ok, report.text()


def test_the_document_the_benchmark_adds_is_new_and_about_twenty_pages(built, tmp_path):
    import fullbench

    work, folder, _, _ = built
    path = fullbench.new_document(work / "seeds-index", tmp_path / fullbench.NEW_SCOPE, "t")
    text = path.read_text(encoding="utf-8")
    pages = text.strip().split("\n\n")
    assert len(pages) == fullbench.PAGES and all(len(p) >= fullbench.PAGE_CHARS for p in pages)
    idx = index.load(folder)
    indexed = "\n".join(d.text for d in idx.docs.values())
    assert not any(p[:300] in indexed for p in pages)  # new text (sentences in another order): it must be embedded
