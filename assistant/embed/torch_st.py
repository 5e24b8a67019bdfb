"""sentence-transformers on PyTorch: the reference backend, loaded on first use."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import ModelMissingError
from .base import document_text, fingerprint, length_sorted_batches, query_text, read_prompts


class SentenceTransformerEmbedder:
    """A sentence-transformers model from a local folder. Texts get the model's own prompts
    (EmbeddingGemma: "task: search result | query: " / "title: {title} | text: "), which matters
    for English->Dutch retrieval; see base.document_text."""

    backend = "torch"

    def __init__(self, path: Path, device: str = "cpu", batch_size: int = 16, key: str | None = None):
        self.path = Path(path)
        if not (self.path / "modules.json").is_file() and not (self.path / "config.json").is_file():
            from ..models import missing_message

            raise ModelMissingError(missing_message("Embedding model (sentence-transformers folder)", self.path, key))
        self.device = device
        self.batch_size = batch_size
        self.name = f"{self.path.name}@{fingerprint(self.path)}"
        self.prompts = read_prompts(self.path)
        self._model = None

    @property
    def model(self):
        if self._model is None:
            from sentence_transformers import SentenceTransformer

            self._model = SentenceTransformer(str(self.path), device=self.device, local_files_only=True)
        return self._model

    def _encode(self, texts: list[str]) -> np.ndarray:
        # The prompts are already in the texts: prompt="" stops sentence-transformers adding one.
        vecs = self.model.encode(texts, prompt="", normalize_embeddings=True, convert_to_numpy=True,
                                 batch_size=max(1, len(texts)))
        return np.asarray(vecs, dtype=np.float32)

    def embed_documents(self, texts, progress=None, titles=None):
        titles = list(titles) if titles is not None else [""] * len(texts)
        full = [document_text(self.prompts, t, x) for t, x in zip(titles, texts)]
        if not full:
            return np.zeros((0, self.dim), dtype=np.float32)
        result = None
        for batch in length_sorted_batches(full, self.batch_size):
            vecs = self._encode([full[j] for j in batch])
            if result is None:
                result = np.empty((len(full), vecs.shape[1]), dtype=np.float32)
            result[batch] = vecs
            if progress:
                progress(len(batch))
        return result

    def embed_query(self, text):
        return self._encode([query_text(self.prompts, text)])[0]

    @property
    def dim(self) -> int:
        return int(self.model.get_sentence_embedding_dimension())
