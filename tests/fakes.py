"""Fakes for fast unit tests only: a hashed bag-of-words embedder and scripted generators."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import numpy as np


class HashEmbedder:
    """Bag of words hashed into `dim` buckets: similar wording -> similar vectors. Deterministic."""

    def __init__(self, dim: int = 256, name: str = "hash-embedder"):
        self.dim = dim
        self.name = name
        self.calls = 0  # documents embedded so far (lets tests check incremental re-embedding)

    def _vec(self, text: str) -> np.ndarray:
        v = np.zeros(self.dim, dtype=np.float32)
        for w in re.findall(r"\w+", text.lower()):
            v[int(hashlib.sha256(w.encode()).hexdigest()[:8], 16) % self.dim] += 1.0
        n = np.linalg.norm(v)
        return v / n if n else v

    def embed_documents(self, texts, progress=None, titles=None):
        self.calls += len(texts)
        self.titles = list(titles) if titles is not None else None
        if progress:
            progress(len(texts))
        return np.stack([self._vec(t) for t in texts]) if texts else np.zeros((0, self.dim), np.float32)

    def embed_query(self, text):
        return self._vec(text)


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


class EchoGenerator(ScriptedGenerator):
    """Answers with the first sentence of excerpt [1] (without its label), cited as [1]."""

    def __init__(self):
        super().__init__("", name="echo")

    def stream(self, system, user, max_tokens, temperature, examples=()):
        self.prompts.append((system, user))
        m = re.search(r"^\[1\] (?:\([^)]*\) )?(.*)$", user, re.M)
        first = re.split(r"(?<=[.!?])\s", m.group(1).strip())[0] if m else "NOT_FOUND"
        yield first + (" [1]" if m else "")


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
