"""What a write keeps and what it embeds: the step between the previous generation and the new one.

Re-ingest reuses the vectors of unchanged documents (same text hash, same title, same chunk
settings, same embedder), embeds only new or changed ones, and drops the documents of the scope
that are no longer given. When only where chunks are cut changed (chunk size, overlap, chunker),
every document is split again and a chunk with the same span and context keeps its vector;
sentences keep theirs. Another embedder, or another way of embedding chunks, re-embeds everything.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from ..pages import page_at
from ..types import Chunk, Document, SentenceSpan
from . import texts
from .reader import Index


@dataclass(frozen=True)
class Reuse:
    """Whether the previous generation's vectors can be used, and why not."""
    keep: bool  # use the previous generation's vectors where texts are unchanged
    rechunk: bool  # split every document again; identical chunks and all sentences keep their vectors
    rebuilt: str = ""  # why everything is re-embedded, if it is
    rechunked: str = ""  # why every document is split again


def reuse(manifest: dict | None, embedder_name: str, settings: dict, rebuild: bool) -> Reuse:
    """Compare the previous generation's manifest (None: there is none, or it is not to be read)
    with the embedder and chunk settings of this write."""
    if manifest is None:
        return Reuse(False, False, "requested" if rebuild else "")
    was = manifest["chunking"]
    if manifest["embedder"] != embedder_name:
        return Reuse(False, False, f"embedder changed ({manifest['embedder']} -> {embedder_name})")
    if was != settings and all(was.get(k) == settings[k] for k in texts.RECHUNK_KEEPS):
        # Only where chunks are cut changed (size, overlap, chunker): the texts are embedded the
        # same way, so a chunk with the same span and context has the same vector.
        return Reuse(True, True, rechunked=f"chunk settings changed ({_changed(was, settings)})")
    if was != settings:
        return Reuse(False, False, f"chunk settings changed ({_changed(was, settings)})")
    return Reuse(True, False)


def _changed(was: dict, now: dict) -> str:
    return ", ".join(f"{k} {was.get(k)} -> {now.get(k)}" for k in now if was.get(k) != now.get(k))


@dataclass(frozen=True)
class Plan:
    """The rows of the new generation and where each vector comes from."""
    docs: dict[str, Document]  # every document of the new generation: the kept ones, then the given ones
    chunks: tuple[Chunk, ...]
    chunk_from: tuple[int | None, ...]  # the previous generation's row of each chunk's vector; None: embed it
    sentences: tuple[SentenceSpan, ...]
    sentence_from: tuple[int | None, ...]
    embed_chunks: tuple[int, ...]  # rows of `chunks` to embed, in order
    embed_sentences: tuple[int, ...]
    added: tuple[str, ...] = ()
    updated: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    unchanged: tuple[str, ...] = ()

    def items(self) -> list[tuple[str, str]]:
        """The (title, text) pairs to embed: the chunks to embed, then the sentences."""
        out = [(self.chunks[i].title, texts.chunk_text(self.chunks[i])) for i in self.embed_chunks]
        for i in self.embed_sentences:
            s = self.sentences[i]
            d = self.docs[s.source]
            out.append((d.title, d.text[s.start:s.end]))
        return out


def plan(old: Index | None, docs: list[Document], scope: str | None, chunk_size: int, chunk_overlap: int,
         rechunk: bool = False) -> Plan:
    """The new generation: exactly `docs` for `scope` (a source prefix; None: nothing is removed),
    every other document of `old` kept as it is."""
    old_docs = old.docs if old else {}

    def old_rows(source: str) -> range:  # the previous generation's chunk rows of a document
        return old.chunk_rows(source)

    def old_srows(source: str) -> range:
        return old.sentence_rows(source)

    new_by_source = {d.source: d for d in docs}
    keep_docs: dict[str, Document] = {}
    added, updated, removed, unchanged = [], [], [], []
    for source, d in old_docs.items():
        # "<mail>#<attachment>": a mail's attachments go with it (removed, re-indexed)
        in_scope = scope is not None and (source.startswith(scope + "/") or source == scope
                                          or source.startswith(scope + "#"))
        if source in new_by_source:
            continue
        if in_scope:
            removed.append(source)
        else:
            keep_docs[source] = d

    chunks: list[Chunk] = []
    chunk_from: list[int | None] = []
    embed_chunks: list[int] = []
    sents: list[SentenceSpan] = []
    sentence_from: list[int | None] = []
    embed_sentences: list[int] = []
    for source, d in {**keep_docs, **new_by_source}.items():
        prev = old_docs.get(source)
        if prev is not None and prev.sha256 == d.sha256 and prev.title == d.title:
            old.prefetch(old_rows(source))  # its chunks in one read
            if rechunk:  # split again; a chunk with the same span and context keeps its vector
                old_by_span = {(old.chunks[r].start, old.chunks[r].end, old.chunks[r].context): r
                               for r in old_rows(source)}
                for c in texts.document_chunks(d, chunk_size, chunk_overlap):  # sentences are kept as they are
                    row = old_by_span.get((c.start, c.end, c.context))
                    if row is None:
                        embed_chunks.append(len(chunks))
                    chunks.append(c)
                    chunk_from.append(row)
            else:
                for row in old_rows(source):
                    c = old.chunks[row]
                    # Same text, same vectors; the page comes from the document as read now, which
                    # gives pages to the chunks of an index written before they were recorded.
                    page = page_at(d.pages, c.start)
                    chunks.append(c if c.page == page else replace(c, page=page))
                    chunk_from.append(row)
            for row in old_srows(source):
                sents.append(old.sentences[row])
                sentence_from.append(row)
            if source in new_by_source:
                unchanged.append(source)
            continue
        (updated if prev is not None else added).append(source)
        doc_chunks, doc_sents = texts.split_document(d, chunk_size, chunk_overlap)
        for c in doc_chunks:
            embed_chunks.append(len(chunks))
            chunks.append(c)
            chunk_from.append(None)
        for sp in doc_sents:
            embed_sentences.append(len(sents))
            sents.append(sp)
            sentence_from.append(None)
    return Plan({**keep_docs, **new_by_source}, tuple(chunks), tuple(chunk_from), tuple(sents), tuple(sentence_from),
                tuple(embed_chunks), tuple(embed_sentences), tuple(added), tuple(updated), tuple(removed),
                tuple(unchanged))


@dataclass(frozen=True)
class Delta:
    """A write that appends a segment (segment.py): the documents to index in it, and the live
    documents of the previous generation to delete (their segment and row there)."""
    plan: Plan  # the new segment's rows, every one to embed
    deleted: tuple[tuple[int, int], ...]  # (segment, document row) of replaced or removed documents
    added: tuple[str, ...] = ()
    updated: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    unchanged: tuple[str, ...] = ()


def delta(old: Index, docs: list[Document], scope: str | None, chunk_size: int, chunk_overlap: int) -> Delta:
    """What a write that keeps the previous generation's segments must add and delete: the same
    decisions as `plan` (same text hash and title: unchanged), reading only the documents given."""
    new_by_source = {d.source: d for d in docs}
    added, updated, removed, unchanged = [], [], [], []
    deleted: list[tuple[int, int]] = []
    fresh: dict[str, Document] = {}
    for source, (k, row) in old.rows.docs.items():
        in_scope = scope is not None and (source.startswith(scope + "/") or source == scope
                                          or source.startswith(scope + "#"))
        if source not in new_by_source and in_scope:
            removed.append(source)
            deleted.append((k, row))
    for source, d in new_by_source.items():
        at = old.rows.docs.get(source)
        if at is not None:
            prev = old.docs[source]
            if prev.sha256 == d.sha256 and prev.title == d.title:
                unchanged.append(source)
                continue
            updated.append(source)
            deleted.append(at)
        else:
            added.append(source)
        fresh[source] = d
    new = plan(None, list(fresh.values()), None, chunk_size, chunk_overlap)
    return Delta(new, tuple(deleted), tuple(added), tuple(updated), tuple(removed), tuple(unchanged))
