"""Fakes for fast unit tests: scripted generators and indexes built with the hashing embedder.

HashEmbedder and EchoGenerator are model-free components of the package (the eval scripts' fast
modes use them too); they are re-exported here so the tests keep one place to import fakes from.
"""

from __future__ import annotations

import re
from pathlib import Path

from assistant.embed.hashing import HashEmbedder
from assistant.generate_echo import EchoGenerator

__all__ = ["EchoGenerator", "HashEmbedder", "ScriptedGenerator", "hashed_index", "seeds_runtime"]


class ScriptedGenerator:
    """Streams a fixed reply word by word and records the prompts it was given."""

    def __init__(self, reply: str, name: str = "scripted"):
        self.reply = reply
        self.name = name
        self.prompts: list[tuple[str, str]] = []

    def stream(self, system, user, max_tokens, temperature, examples=()):
        self.prompts.append((system, user))
        self.examples = list(examples)
        for piece in re.findall(r"\S+\s*|\s+", self.reply):
            yield piece


def hashed_index(index_dir, folder):
    """The documents in `folder` indexed (scope "seeds", chunks 900/150) with HashEmbedder into
    `index_dir`: (the loaded Index, the embedder), for the fast retrieval and answer tests."""
    from assistant import index
    from assistant.ingest import load_folder

    emb = HashEmbedder()
    docs, _ = load_folder(folder)
    index.sync(index_dir, docs, emb, 900, 150, scope="seeds")
    return index.load(index_dir), emb


def seeds_runtime(index_dir, folder, generator=None, **settings):
    """The chat's Runtime over the documents in `folder` (scope "seeds"), indexed with HashEmbedder,
    answering with `generator` (default EchoGenerator), every passage admitted (min_similarity 0):
    what the fast UI, filter, document and load tests start from. `settings`: more Settings fields."""
    from assistant import index, ui
    from assistant.config import Settings
    from assistant.ingest import load_folder
    from assistant.pipeline import build

    s = Settings(index_dir=Path(index_dir), min_similarity=0.0, **settings)
    emb = HashEmbedder()
    docs, _ = load_folder(folder)
    index.sync(s.index_dir, docs, emb, s.chunk_size, s.chunk_overlap, scope="seeds")
    return ui.Runtime(s, build(s, embedder=emb, generator=generator or EchoGenerator()))
