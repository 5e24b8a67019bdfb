"""Embedders: turn text into unit vectors. The real one wraps a local sentence-transformers folder."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Callable, Protocol

import numpy as np

from .errors import ModelMissingError


class Embedder(Protocol):
    name: str  # recorded in the index manifest; a different name forces a rebuild

    def embed_documents(self, texts: list[str], progress: Callable[[int], None] | None = None) -> np.ndarray:
        """float32 array (len(texts), dim), rows L2-normalised."""

    def embed_query(self, text: str) -> np.ndarray:
        """float32 array (dim,), L2-normalised."""


def fingerprint(folder: Path) -> str:
    """Cheap identity of a model folder: file names and sizes plus the small JSON configs.

    Hashing the full weights would cost seconds per start; names, sizes and configs change
    whenever a different model is dropped in.
    """
    h = hashlib.sha256()
    for p in sorted(folder.rglob("*")):
        if not p.is_file():
            continue
        rel = p.relative_to(folder).as_posix()
        h.update(f"{rel}:{p.stat().st_size}\n".encode())
        if p.suffix == ".json" and p.stat().st_size < 1_000_000:
            h.update(p.read_bytes())
    return h.hexdigest()[:16]


class SentenceTransformerEmbedder:
    """A sentence-transformers model from a local folder, loaded on first use.

    Uses the model's own query/document prompts (EmbeddingGemma: "task: search result | query: ",
    "title: none | text: ") when it defines them, which matters for English->Dutch retrieval.
    """

    def __init__(self, path: Path, device: str = "cpu", batch_size: int = 16, key: str | None = None):
        self.path = Path(path)
        if not (self.path / "modules.json").is_file() and not (self.path / "config.json").is_file():
            from .models import missing_message

            raise ModelMissingError(missing_message("Embedding model (sentence-transformers folder)", self.path, key))
        self.device = device
        self.batch_size = batch_size
        self.name = f"{self.path.name}@{fingerprint(self.path)}"
        self._model = None

    @property
    def model(self):
        if self._model is None:
            from sentence_transformers import SentenceTransformer

            self._model = SentenceTransformer(str(self.path), device=self.device, local_files_only=True)
        return self._model

    def _has_prompts(self) -> bool:
        prompts = getattr(self.model, "prompts", None) or {}
        return "query" in prompts and "document" in prompts

    def embed_documents(self, texts, progress=None):
        # Batches of similar length waste less compute on padding (measured: cold ingest was
        # 1.40x the raw one-call encode with batches in document order).
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out = []
        for i in range(0, len(texts), self.batch_size):
            batch = [texts[j] for j in order[i : i + self.batch_size]]
            if self._has_prompts():
                vecs = self.model.encode_document(batch, normalize_embeddings=True, convert_to_numpy=True)
            else:
                vecs = self.model.encode(batch, normalize_embeddings=True, convert_to_numpy=True)
            out.append(np.asarray(vecs, dtype=np.float32))
            if progress:
                progress(len(batch))
        if not out:
            return np.zeros((0, self.dim), dtype=np.float32)
        result = np.empty((len(texts), out[0].shape[1]), dtype=np.float32)
        result[order] = np.vstack(out)
        return result

    def embed_query(self, text):
        if self._has_prompts():
            vec = self.model.encode_query([text], normalize_embeddings=True, convert_to_numpy=True)
        else:
            vec = self.model.encode([text], normalize_embeddings=True, convert_to_numpy=True)
        return np.asarray(vec[0], dtype=np.float32)

    @property
    def dim(self) -> int:
        return int(self.model.get_sentence_embedding_dimension())


def read_model_card(path: Path) -> dict:
    try:
        return json.loads((Path(path) / "config_sentence_transformers.json").read_text())
    except (OSError, ValueError):
        return {}
