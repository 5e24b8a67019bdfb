"""What the index makes of a document: its chunks (cut along the outline, each with its heading or
question as context and its page), its sentences, and the text each is embedded and matched as.

The chunking settings are recorded in the manifest; `RECHUNK_KEEPS` names the ones that, when
unchanged, let a re-chunk keep the vectors of identical chunks (writer.sync).
"""

from __future__ import annotations

from .. import sentences as sentence_splitter
from ..chunk import CHUNKER, chunk_document
from ..pages import page_at
from ..structure import Outline
from ..types import Chunk, Document, SentenceSpan

# What a chunk is embedded as (see chunk_text / embed.document_text); a change re-embeds everything.
CHUNK_TEXT = "title-slot+context-v1"
# Chunking settings that, when unchanged, let a re-chunk keep the vectors of identical chunks.
RECHUNK_KEEPS = ("chunk_text", "sentences")


def chunking(chunk_size: int, chunk_overlap: int) -> dict:
    """The chunking settings a generation records (manifest "chunking")."""
    return {"chunk_size": chunk_size, "chunk_overlap": chunk_overlap, "chunker": CHUNKER,
            "chunk_text": CHUNK_TEXT, "sentences": sentence_splitter.SPLITTER}


def chunk_text(chunk: Chunk) -> str:
    """What the embedder sees besides the title (which goes in the model's title slot): the chunk's
    heading / Q&A question, then its text, so "Nee, dat is niet het geval." is embedded together
    with the question it answers."""
    return f"{chunk.context}\n{chunk.text}" if chunk.context else chunk.text


def lexical_text(chunk: Chunk) -> str:
    """What BM25 matches: title, context and text (names in a title or heading count for the chunk)."""
    return "\n".join(p for p in (chunk.title, chunk.context, chunk.text) if p)


def document_chunks(doc: Document, chunk_size: int, chunk_overlap: int) -> list[Chunk]:
    """A document's chunks, cut along its outline, each with its context and page."""
    outline = Outline(doc.text)
    return [Chunk(c.id, c.source, c.title, c.start, c.end, c.text, outline.context(c.start), page_at(doc.pages, c.start))
            for c in chunk_document(doc, chunk_size, chunk_overlap, [m.start for m in outline.marks])]


def split_document(doc: Document, chunk_size: int, chunk_overlap: int) -> tuple[list[Chunk], list[SentenceSpan]]:
    """A document's chunks (with their context) and sentences."""
    sents = [SentenceSpan(doc.source, a, b) for a, b in sentence_splitter.split(doc.text)]
    return document_chunks(doc, chunk_size, chunk_overlap), sents
