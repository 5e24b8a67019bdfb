"""A synthetic but complete format-4 index of N chunks, for `eval/bench.py scale --full`.

    build_index(seeds_index, n, backend, workdir, corpus_path) -> WORKDIR/index-N-BACKEND/

The index is a normal one (assistant/index/layout.py: manifest.json, texts.sqlite,
sentence_vectors.f16.npy, lexical.sqlite, the chunk vector store; published with layout.publish), so
`assistant search`, `ingest`, `docs remove` and `check` run on it as on a real one:

- documents: synthetic/<d>.txt of CHUNKS_PER_DOC chunks, one "page" per chunk (page offsets), the
  title a seed document's title with the document's number;
- text: REAL sentences of the seeds index (its docs' sentences), 5-7 consecutive ones per chunk, so
  BM25's term statistics are those of Dutch government text; a chunk is its sentences joined by a
  space, a document its chunks joined by a blank line, so every span is exact (chunk.text ==
  doc.text[start:end], chunk id "<source>#<start>-<end>" as ingest makes them);
- chunk vectors: row i of the clustered synthetic corpus of eval/scale.py (corpus());
- sentence vectors: their chunk's vector + noise (cosine ~0.85 to it), unit length, float16;
- lexical.sqlite: each distinct seed sentence (and title) is tokenised once and a chunk's tokens are
  the join of its parts' cached tokens (lexical.write_tokens): the Tokenizer is compositional over
  text joined by whitespace, and tokenising a million chunks costs ~27 min;
- manifest: format 4, the seeds index's embedder and dim (so the default settings accept the index)
  and chunking settings.

Memory stays bounded: documents, chunk rows, sentence vectors and tokens are produced BLOCK chunks at
a time and streamed to their files (the vector store is the exception the backend decides: FAISS
holds its index in memory while building). A finished index is reused by later runs (marker file
synthetic.json beside CURRENT, written last).
"""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from pathlib import Path

import numpy as np

from assistant import index as index_mod
from assistant import lexical
from assistant.index import textstore
from assistant.index.layout import (FORMAT, LEXICAL, SENTENCE_VECTORS, TEXTS, TMP_PREFIX, folder_tag,
                                    new_generation_name, read_manifest, write_manifest)
from assistant.index.layout import publish
from assistant.store import new_store
from assistant.types import Chunk, Document, SentenceSpan

CHUNKS_PER_DOC = 20
SENTENCES_PER_CHUNK = (5, 7)  # inclusive range: ~6 sentences per chunk
SENTENCE_NOISE = 0.6  # noise norm relative to the (unit) chunk vector: cosine ~ 1/sqrt(1 + 0.36) = 0.86
BLOCK = 20_000  # chunks produced and written at a time
SVEC_BLOCK = 1_024  # chunks whose sentence vectors are made at a time (~6,000 x dim float32 temporaries, ~80 MB)
MARKER = "synthetic.json"
RECIPE = 1  # bumped when what is generated changes: an index of another recipe is built again


def log(msg: str) -> None:
    import sys

    print(msg, file=sys.stderr, flush=True)


def folder_for(workdir: Path, n: int, backend: str) -> Path:
    return Path(workdir) / f"index-{n}-{backend}"


class SeedText:
    """The seeds index's sentences (distinct, in text order) and titles, each tokenised once."""

    def __init__(self, seeds_index: Path):
        idx = index_mod.load(seeds_index)
        try:
            self.manifest = dict(idx.manifest)
            seen: set[str] = set()
            self.sentences: list[str] = []
            for j in range(len(idx.sentences)):
                s = " ".join(idx.sentence_text(j).split())  # one line: spans stay simple, tokens do not change
                if len(s) >= 20 and s not in seen:
                    seen.add(s)
                    self.sentences.append(s)
            self.titles = sorted({d.title for d in idx.docs.values()}) or ["Document"]
        finally:
            idx.close()
        if len(self.sentences) < 2 * SENTENCES_PER_CHUNK[1]:
            raise ValueError(f"the seeds index in {seeds_index} has only {len(self.sentences)} usable sentences; "
                             "run `assistant ingest` to index seeds/ first")
        tokenize = lexical.Tokenizer()
        self.tokens = [tokenize(s) for s in self.sentences]
        self.tokenize = tokenize


def _documents(seed: SeedText, lo_doc: int, hi_doc: int, n: int, rng):
    """Documents lo_doc..hi_doc-1 with their chunks, sentences, each chunk's token list and sentence count."""
    pool = len(seed.sentences)
    for d in range(lo_doc, hi_doc):
        n_chunks = min(CHUNKS_PER_DOC, n - d * CHUNKS_PER_DOC)
        source = f"synthetic/{d:07d}.txt"
        title = f"{seed.titles[d % len(seed.titles)]} ({d})"
        title_tokens = seed.tokenize(title)
        parts: list[str] = []
        spans: list[tuple[int, int, list[int]]] = []  # chunk start, end, its seed sentence numbers
        sent_spans: list[tuple[int, int]] = []
        at = 0
        for _ in range(n_chunks):
            k = int(rng.integers(SENTENCES_PER_CHUNK[0], SENTENCES_PER_CHUNK[1] + 1))
            first = int(rng.integers(0, pool - k))
            picks = list(range(first, first + k))
            start = at
            for i, p in enumerate(picks):
                if i:
                    parts.append(" ")
                    at += 1
                sent_spans.append((at, at + len(seed.sentences[p])))
                parts.append(seed.sentences[p])
                at += len(seed.sentences[p])
            spans.append((start, at, picks))
            parts.append("\n\n")
            at += 2
        text = "".join(parts)[:-2]
        pages = tuple(s for s, _, _ in spans)
        doc = Document(source, title, text, hashlib.sha256(text.encode("utf-8")).hexdigest(), pages)
        chunks = [Chunk(f"{source}#{a}-{b}", source, title, a, b, text[a:b], "", page)
                  for page, (a, b, _) in enumerate(spans, start=1)]
        sentences = [SentenceSpan(source, a, b) for a, b in sent_spans]
        tokens = [title_tokens + [t for p in picks for t in seed.tokens[p]] for _, _, picks in spans]
        yield doc, chunks, sentences, tokens, [len(picks) for _, _, picks in spans]


def build_index(seeds_index: Path, n: int, backend: str, workdir: Path, corpus_path: Path,
                store_options: dict | None = None) -> tuple[Path, dict]:
    """WORKDIR/index-N-BACKEND holding N synthetic chunks (built, or reused when complete), and what
    building took ({"reused": bool, "index_build_s", "store_build_s", "documents", "sentences"})."""
    index_dir = folder_for(workdir, n, backend)
    marker = index_dir / MARKER
    want = {"recipe": RECIPE, "chunks": n, "backend": backend, "corpus": Path(corpus_path).name}
    if marker.is_file() and index_mod.exists(index_dir):
        have = json.loads(marker.read_text(encoding="utf-8"))
        # An ingest since the build (the benchmark's add + remove) may have left its document in it.
        manifest = read_manifest(index_mod.current_generation(index_dir))
        if all(have.get(k) == v for k, v in want.items()) and manifest.get("chunks") == n \
                and manifest.get("vector_store") == backend:
            log(f"[synth] reusing {index_dir}")
            return index_dir, {**have, "reused": True}
    shutil.rmtree(index_dir, ignore_errors=True)
    index_dir.mkdir(parents=True)
    t0 = time.perf_counter()
    seed = SeedText(seeds_index)
    vectors = np.load(corpus_path, mmap_mode="r")
    if len(vectors) != n:
        raise ValueError(f"{corpus_path} holds {len(vectors)} vectors, not {n}")
    dim = int(vectors.shape[1])
    if dim != int(seed.manifest["dim"]):
        raise ValueError(f"{corpus_path} is {dim}-dim but the seeds index is {seed.manifest['dim']}-dim")
    name = new_generation_name()
    tmp = index_dir / f"{TMP_PREFIX}{name}"
    tmp.mkdir()
    rng = np.random.default_rng(11)
    n_docs = -(-n // CHUNKS_PER_DOC)

    # Pass 1: texts.sqlite, the sentence counts per chunk (for the vectors), the documents' hashes
    # and the token rows (kept on disk as one tokens file per block, re-read by the lexical writer).
    writer = textstore.TextWriter(tmp / TEXTS)
    per_chunk = np.zeros(n, dtype=np.int8)
    documents: dict[str, str] = {}
    token_blocks: list[Path] = []
    row = 0
    try:
        docs_per_block = BLOCK // CHUNKS_PER_DOC
        for lo in range(0, n_docs, docs_per_block):
            rows_tokens: list[str] = []
            for doc, chunks, sentences, tokens, counts in _documents(seed, lo, min(n_docs, lo + docs_per_block), n, rng):
                writer.add(doc, chunks, sentences)
                documents[doc.source] = doc.sha256
                for k, toks in zip(counts, tokens):
                    per_chunk[row] = k  # its sentences lie wholly inside it, in row order
                    rows_tokens.append(" ".join(toks))
                    row += 1
            path = tmp / f"tokens-{len(token_blocks)}.txt"
            path.write_text("\n".join(rows_tokens) + "\n", encoding="utf-8")
            token_blocks.append(path)
            log(f"[synth] texts: {row}/{n} chunks")
        writer.close()
    except BaseException:
        writer.abort()
        raise
    n_sent = int(per_chunk.sum())

    def token_rows():
        for path in token_blocks:
            with open(path, encoding="utf-8") as f:
                for line in f:
                    yield line.split()

    lexical.write_tokens(tmp / LEXICAL, token_rows(), n)
    for path in token_blocks:
        path.unlink()
    log(f"[synth] lexical.sqlite written ({time.perf_counter() - t0:.0f} s)")

    # Sentence vectors: their chunk's vector + noise, unit length, float16, block by block. open_memmap
    # makes the .npy (header, full size); the rows are then written through a file, not the mapping:
    # a mapping's dirty pages count in this process's RSS (9 GB at a million chunks), a file's do not.
    out = np.lib.format.open_memmap(tmp / SENTENCE_VECTORS, mode="w+", dtype=np.float16, shape=(n_sent, dim))
    offset = out.offset
    del out
    s_at = 0
    with open(tmp / SENTENCE_VECTORS, "r+b") as f:
        f.seek(offset)
        for a in range(0, n, SVEC_BLOCK):
            v = np.asarray(vectors[a:a + SVEC_BLOCK], dtype=np.float32)
            reps = np.repeat(v, per_chunk[a:a + SVEC_BLOCK].astype(np.int64), axis=0)
            reps += rng.standard_normal(reps.shape, dtype=np.float32) * (SENTENCE_NOISE / np.sqrt(dim))
            reps /= np.linalg.norm(reps, axis=1, keepdims=True)
            f.write(reps.astype(np.float16).tobytes())
            s_at += len(reps)
    if s_at != n_sent:
        raise RuntimeError(f"{s_at} sentence vectors written for {n_sent} sentences")
    index_s = time.perf_counter() - t0
    log(f"[synth] {n_sent} sentence vectors written ({index_s:.0f} s); building the {backend} store ...")

    # The chunk vector store, fed block by block (ids as ingest makes them, read back in row order).
    t1 = time.perf_counter()
    store = new_store(backend, dim, n, name=f"{folder_tag(index_dir)}_{name}", **(store_options or {}))
    texts = textstore.TextStore(tmp / TEXTS)
    try:
        for a in range(0, n, BLOCK):
            ids = [r[0] for r in texts.query("SELECT id FROM chunks WHERE row >= ? AND row < ? ORDER BY row", (a, a + BLOCK))]
            store.add(ids, np.ascontiguousarray(vectors[a:a + BLOCK], dtype=np.float32))
        store.persist(tmp)
    finally:
        texts.close()
    kind = store.kind
    store.close()
    store_s = time.perf_counter() - t1

    now = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    write_manifest(tmp, {
        "format": FORMAT, "generation": name, "embedder": seed.manifest["embedder"], "dim": dim,
        "chunking": seed.manifest["chunking"], "chunks": n, "sentences": n_sent, "documents": dict(sorted(documents.items())),
        "updated": now, "added": {s: now for s in sorted(documents)}, "vector_store": kind,
    })
    publish(index_dir, tmp, name, backend)
    info = {**want, "documents": len(documents), "sentences": n_sent, "index_build_s": round(index_s, 1),
            "store_build_s": round(store_s, 1), "seeds": str(Path(seeds_index).resolve())}
    marker.write_text(json.dumps(info), encoding="utf-8")
    log(f"[synth] published {index_dir}: {n} chunks, {n_sent} sentences, {len(documents)} documents")
    return index_dir, {**info, "reused": False}
