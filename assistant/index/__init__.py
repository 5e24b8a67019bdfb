"""The persisted index: documents, chunks, sentences, their vectors and BM25, one generation at a time.

    layout.py       the folder: file names, FORMAT, generations, the CURRENT pointer, the manifest
    texts.py        what is indexed of a document: chunks (with context and page) and sentences, and
                    the text each is embedded / matched as
    reader.py       `load` -> `Index`, the read-only live generation
    plan.py         what a write keeps (unchanged documents' vectors) and what it embeds
    checkpoints.py  embedding in checkpointed batches, so a killed ingest resumes
    writer.py       `sync`: the new generation written beside the live one and swapped in atomically,
                    under the write lock
    diskfull.py     a full disk during a write: one clear error, the half-written generation removed
    hooks.py        named points of the write path (the kill tests)
    shared/         the index published to PostgreSQL and read from there by several servers

The write side for a whole collection (folders, uploads, removing and re-indexing one document,
from the Settings) is library.Library; `assistant check` (check.py) audits a generation.
"""

from .checkpoints import EMBED_BATCH
from .layout import FORMAT, READABLE_FORMATS, WORK_PREFIX, current_generation, exists
from .reader import Index, load
from .texts import CHUNK_TEXT, chunk_text, document_chunks, lexical_text, split_document
from .writer import IngestReport, sync, write_lock


def open_live(storage) -> Index:
    """The live index the storage settings name: the shared one in PostgreSQL when set
    (shared/), else the index folder's."""
    if storage.shared_index:
        from .shared import load as load_shared

        return load_shared(storage.shared_index)
    return load(storage.index_dir, storage.vector_store)

__all__ = [
    "CHUNK_TEXT", "EMBED_BATCH", "FORMAT", "READABLE_FORMATS", "WORK_PREFIX", "Index", "IngestReport", "chunk_text",
    "current_generation", "document_chunks", "exists", "lexical_text", "load", "open_live", "split_document", "sync",
    "write_lock",
]
