"""Split documents into overlapping chunks that remember their exact character span.

LangChain's recursive splitter picks the cut points (paragraph, line, sentence, word); we then
locate each piece in the source so that `doc.text[chunk.start:chunk.end] == chunk.text` always
holds, which lets a citation highlight exactly what the model was shown.
"""

from __future__ import annotations

from .types import Chunk, Document

SEPARATORS = ["\n\n", "\n", ". ", "; ", ", ", " ", ""]


def chunk_document(doc: Document, size: int, overlap: int) -> list[Chunk]:
    # Imported here: langchain costs 0.3 s to import, and `assistant search` never chunks.
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    splitter = RecursiveCharacterTextSplitter(
        chunk_size=size, chunk_overlap=overlap, separators=SEPARATORS, keep_separator="end"
    )
    chunks, cursor = [], 0
    for piece in splitter.split_text(doc.text):
        start = doc.text.find(piece, cursor)
        if start < 0:  # cannot happen with these settings; fail loudly rather than cite wrong text
            raise ValueError(f"{doc.source}: chunk not found in source text near offset {cursor}")
        end = start + len(piece)
        chunks.append(Chunk(f"{doc.source}#{start}-{end}", doc.source, doc.title, start, end, piece))
        cursor = start + 1
    return chunks


def chunk_documents(docs: list[Document], size: int, overlap: int) -> list[Chunk]:
    return [c for d in docs for c in chunk_document(d, size, overlap)]
