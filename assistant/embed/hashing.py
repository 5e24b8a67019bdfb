"""A model-free embedder: words hashed into buckets. Deterministic, instant, no files.

Not for answering questions (it knows no meaning, only shared words); for what needs the whole
pipeline without loading a model: the eval scripts' fast modes (`eval/bench.py load`, `injection
--fake`, `faults`, `scale` without an index) and the fast unit tests. Similar wording gives similar
vectors, so retrieval over it still finds the passage that repeats the question's words.
"""

from __future__ import annotations

import hashlib
import re

import numpy as np


class HashEmbedder:
    """Bag of words hashed into `dim` buckets: similar wording -> similar vectors. Deterministic."""

    backend = "hash"

    def __init__(self, dim: int = 256, name: str = "hash-embedder"):
        self.dim = dim
        self.name = name
        self.calls = 0  # texts embedded so far (lets callers check incremental re-embedding)

    def _vec(self, text: str) -> np.ndarray:
        v = np.zeros(self.dim, dtype=np.float32)
        for w in re.findall(r"\w+", text.lower()):
            # sha256, not hash(): Python salts str hashes per process, and vectors must be the same in
            # every process (an index written by one is searched by another).
            v[int(hashlib.sha256(w.encode()).hexdigest()[:8], 16) % self.dim] += 1.0
        n = np.linalg.norm(v)
        return v / n if n else v

    def embed_documents(self, texts, progress=None, titles=None):
        """The titles are not embedded (this embedder has no slot for them); the last batch's are kept
        in `titles` so a caller can see what the index passed."""
        self.calls += len(texts)
        self.titles = list(titles) if titles is not None else None
        if progress:
            progress(len(texts))
        return np.stack([self._vec(t) for t in texts]) if texts else np.zeros((0, self.dim), np.float32)

    def embed_query(self, text):
        return self._vec(text)
