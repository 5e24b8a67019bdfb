"""A shared index: the whole index in PostgreSQL, so several chat servers (other machines too) read
one index: documents, chunks, sentences and their vectors, chunk vectors (pgvector) and BM25. Chosen with the `shared_index` setting (`--shared-index URL`).

Writing stays where it is: `assistant ingest` writes the generation in its index folder as always
(crash-safe, resumable, appended segments) and then publishes it (publish.py): each segment not yet
in the database is copied once, then one transaction points the index's name at the new
generation. Readers (reader.py) follow that pointer: a chat server notices a new generation within
seconds and swaps it in, as it does after its own uploads.

    address.py   the URL, the index's name, table names, the two registry tables
    publish.py   a local generation -> the database
    texts.py     documents, chunks and sentences read by row (texts.sqlite's queries, in PostgreSQL)
    vectors.py   sentence vectors (float16) read by row
    lexical.py   BM25 over segments, each term's postings one row
    reader.py    load the live generation as an Index
"""

from .address import Address, parse
from .publish import publish
from .reader import live_generation, load

__all__ = ["Address", "parse", "publish", "load", "live_generation"]
