"""Compaction: the live documents of every segment, and the documents of this write, written as one
segment again, streamed from the previous generation's files.

An ingest into a large index appends a segment (writer._append); when segments or deleted rows pile
up (writer.MAX_SEGMENTS, MAX_DEAD), or `assistant ingest --compact` asks, the write folds them into
one. A full write from a plan (plan.py) holds every chunk and sentence as Python objects and every
chunk vector in memory: at a million chunks that is several GB. Here nothing is held whole: the
documents are copied one at a time into texts.sqlite, their vectors in blocks into files, their BM25
tokens read back from the segments' lexical.sqlite, and the HNSW graph is built from the vectors'
file (store.build_store_from_file). Only the new documents are embedded. The generation is
published like any other (layout.publish): a kill at any point leaves the previous one live.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np

from .. import lexical
from ..pages import page_at
from ..store import build_store_from_file
from . import textstore
from .diskfull import allocated
from .hooks import point
from .layout import (FORMAT, SENTENCE_VECTORS, TEXTS, TMP_PREFIX, folder_tag, new_generation_name, publish,
                     write_manifest)
from .plan import Delta
from .reader import Index
from .segment import Segment
from .sentence_vectors import drop_pages
from .texts import lexical_text

CHUNK_PART = ".chunk_vectors.part.npy"  # the chunk vectors while they are gathered (the store's file after)
# Rows read back at a time: 8,192 chunks' tokens as Python lists are ~50 MB, 16,384 float32 vectors
# 50 MB (at 65,536 the two came to ~600 MB at once)
TOKEN_BLOCK = 8_192
VECTOR_BLOCK = 16_384
SENTENCE_BLOCK = 65_536  # sentence vector rows copied between letting go of the two files' pages


def fold(index_dir: Path, old: Index, change: Delta, given: list[str], vectors: np.ndarray, s_vectors: np.ndarray,
         entries: dict, vector_store: str | None) -> int:
    """Write `old`'s live documents less those `change` deletes, and `change`'s new documents (their
    vectors `vectors` / `s_vectors`, embedded by the caller), as a generation of one segment, and
    make it live; `old` is closed on the way. `given`: the sources the write was given, in order;
    `entries`: the manifest's "documents", "added" and "updated". Returns the chunks written."""
    new = change.plan
    items = _order(old, change, given)
    segs = old.segments
    n_chunks = sum(len(segs[it[1]].texts.doc_chunk_rows(it[2])) for it in items if it[0] == "old") + len(new.chunks)
    n_sents = sum(len(segs[it[1]].texts.doc_sentence_rows(it[2])) for it in items if it[0] == "old") + len(new.sentences)
    dim = int(old.manifest["dim"])
    manifest = {**{k: v for k, v in old.manifest.items() if k not in ("upgraded_from", "segments")},
                **entries, "format": FORMAT, "chunks": n_chunks, "sentences": n_sents}
    name = new_generation_name()
    tmp = index_dir / f"{TMP_PREFIX}{name}"
    tmp.mkdir(parents=True)
    lexical.write_tokens(tmp / lexical.FILE, _tokens(old, items, new), n_chunks)
    chunk_vectors = allocated(tmp / CHUNK_PART, (n_chunks, dim), np.float32)
    sentence_vectors = allocated(tmp / SENTENCE_VECTORS, (n_sents, dim), np.float16)
    ids = _texts_and_vectors(tmp / TEXTS, old, items, new, vectors, s_vectors, chunk_vectors, sentence_vectors)
    for out in (chunk_vectors, sentence_vectors):
        out.flush()
    del chunk_vectors, sentence_vectors, s_vectors
    old.close()  # nothing more is read from it (Windows: its folder is deleted by publish)
    point("generation")
    store = build_store_from_file(vector_store or "auto", ids, tmp / CHUNK_PART, tmp,
                                  name=f"{folder_tag(index_dir)}_{name}")
    store.close()
    write_manifest(tmp, {**manifest, "generation": name, "vector_store": store.kind})
    publish(index_dir, tmp, name, vector_store)
    return n_chunks


def _order(old: Index, change: Delta, given: list[str]) -> list[tuple]:
    """The documents of the new generation in the order a full write from a plan gives them (plan.py:
    the previous generation's documents that were not given, then the given ones in their order), so
    that a compacted index has the same rows as one written whole, ties in a search included. An
    item is ("old", segment, row) for a document copied from a segment, ("new", source, range of
    chunk rows, range of sentence rows) for one of `change.plan`."""
    new = change.plan
    fresh = textstore.grouped(new.docs, new.chunks, new.sentences)
    gone = set(change.deleted)
    live = {source: at for source, at in old.rows.docs.items() if at not in gone}
    given = list(dict.fromkeys(given))
    asked = set(given)
    items: list[tuple] = [("old", *live[s]) for s in live if s not in asked]
    for source in given:
        if source in fresh:
            items.append(("new", source, *fresh[source]))
        elif source in live:  # given unchanged
            items.append(("old", *live[source]))
    return items


def _tokens(old: Index, items: list[tuple], new):
    """BM25 tokens of every chunk of the new generation in row order: those of copied documents read
    back from the segments' lexical.sqlite a block at a time (tokenised again where a file cannot
    give them), the new ones tokenised."""
    tokenize = lexical.Tokenizer()
    pending: list[np.ndarray] = []
    size = 0

    def stored():
        block = np.concatenate(pending)
        got = old.lexical_tokens(block)
        for r in block.tolist():
            toks = got.get(r)
            yield toks if toks is not None else tokenize(lexical_text(old.chunks[r]))

    for it in items:
        if it[0] == "old":
            seg = old.segments[it[1]]
            r = seg.texts.doc_chunk_rows(it[2])
            pending.append(np.arange(r.start, r.stop) + seg.chunk_base)
            size += len(r)
            if size < TOKEN_BLOCK:
                continue
        if pending:
            yield from stored()
            pending, size = [], 0
        if it[0] == "new":
            for c in new.chunks[it[2].start:it[2].stop]:
                yield tokenize(lexical_text(c))
    if pending:
        yield from stored()


def _texts_and_vectors(path: Path, old: Index, items: list[tuple], new, vectors: np.ndarray, s_vectors: np.ndarray,
                       chunk_vectors: np.ndarray, sentence_vectors: np.ndarray) -> list[str]:
    """texts.sqlite, the chunk vectors and the sentence vectors of the new generation, document by
    document in the order of `items`; returns the chunk ids in row order."""
    writer = textstore.TextWriter(path)
    ids: list[str] = []
    c_at = s_at = 0
    pending: list[str] = []  # chunk ids of one segment whose vectors are still to be copied
    seg: Segment | None = None

    def flush() -> None:
        nonlocal c_at
        if pending:
            chunk_vectors[c_at:c_at + len(pending)] = seg.store.vectors(pending)
            drop_pages(chunk_vectors)
            c_at += len(pending)
            pending.clear()

    try:
        for it in items:
            if it[0] == "new":
                flush()
                source, rows, srows = it[1:]
                chunks = new.chunks[rows.start:rows.stop]
                writer.add(new.docs[source], chunks, new.sentences[srows.start:srows.stop])
                chunk_vectors[c_at:c_at + len(rows)] = vectors[rows.start:rows.stop]
                sentence_vectors[s_at:s_at + len(srows)] = s_vectors[srows.start:srows.stop]
            else:
                if seg is not old.segments[it[1]]:
                    flush()
                    if seg is not None:
                        drop_pages(seg.sentence_vectors)
                    seg = old.segments[it[1]]
                doc = seg.texts.document(it[2])
                # the page from the document's pages (as plan.py does: an index written before
                # pages were recorded gets them)
                chunks = [_paged(c, doc) for c in seg.texts.chunks_at(list(seg.texts.doc_chunk_rows(it[2])))]
                srows = seg.texts.doc_sentence_rows(it[2])
                writer.add(doc, chunks, seg.texts.sentences_in(srows))
                pending.extend(c.id for c in chunks)
                sentence_vectors[s_at:s_at + len(srows)] = seg.sentence_vectors[srows.start:srows.stop]
            ids.extend(c.id for c in chunks)
            if it[0] == "new":
                c_at += len(chunks)
            elif len(pending) >= VECTOR_BLOCK:
                flush()
            s_at += len(srows)
            if s_at % SENTENCE_BLOCK < len(srows):  # about every SENTENCE_BLOCK rows: written, not kept resident
                drop_pages(sentence_vectors)
                if seg is not None:
                    drop_pages(seg.sentence_vectors)
        flush()
        writer.close()
    except BaseException:
        writer.abort()
        raise
    return ids


def _paged(chunk, doc):
    """The chunk with its page taken from the document's pages (as plan.py does)."""
    page = page_at(doc.pages, chunk.start)
    return chunk if chunk.page == page else replace(chunk, page=page)
