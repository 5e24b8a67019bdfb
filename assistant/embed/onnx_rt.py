"""The embedding model as one ONNX graph (transformer, pooling, dense layers, normalisation), int8
weights, run by ONNX Runtime with the `tokenizers` library: no torch, no sentence-transformers import.

Why: on a 2-core CPU, torch spent ~110 ms per query and importing sentence-transformers alone took
5.5 s, which made every cold `assistant search` a 15 s wait. The folder is made locally from the
installed sentence-transformers model by onnx_export.py (`assistant models fetch` does it).
Measured numbers are in the README ("Speed") and `python eval/bench.py embed`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from ..errors import ModelMissingError
from .base import document_text, length_sorted_batches, query_text

MANIFEST = "embedder.json"


def is_export(folder: Path) -> bool:
    return (Path(folder) / MANIFEST).is_file()


class OnnxEmbedder:
    backend = "onnx"

    def __init__(self, folder: Path, threads: int | None = None, batch_size: int = 16, key: str | None = None):
        self.folder = Path(folder)
        if not is_export(self.folder):
            raise ModelMissingError(
                f"ONNX embedder not found at {self.folder}: run `assistant models fetch` (it exports the installed "
                f"embedding model to ONNX, about 2 minutes), or set ASSISTANT_EMBED_BACKEND=torch."
            )
        self.meta = json.loads((self.folder / MANIFEST).read_text(encoding="utf-8"))
        self.prompts = self.meta["prompts"]
        self.dim = int(self.meta["dim"])
        # Same source model + same export recipe -> same vectors; anything else is another embedder.
        self.name = f"{self.meta['source_name']}+{self.meta['recipe']}"
        self.threads = threads or os.cpu_count() or 1
        self.batch_size = batch_size
        self._session = None
        self._tokenizer = None

    def _load(self):
        session, tok = self._session, self._tokenizer  # one read: release() may clear them meanwhile
        if session is None or tok is None:
            import onnxruntime as ort
            from tokenizers import Tokenizer

            opts = ort.SessionOptions()
            opts.intra_op_num_threads = self.threads
            opts.inter_op_num_threads = 1
            opts.log_severity_level = 3
            session = ort.InferenceSession(str(self.folder / self.meta["model_file"]), opts,
                                           providers=["CPUExecutionProvider"])
            tok = Tokenizer.from_file(str(self.folder / "tokenizer.json"))
            tok.enable_truncation(int(self.meta["max_tokens"]))
            tok.enable_padding(pad_id=int(self.meta["pad_id"]), pad_token=self.meta["pad_token"])
            self._session, self._tokenizer = session, tok
        return session, tok

    def release(self) -> None:
        """Let go of the model and tokenizer (~0.6 GB); the next call loads them again. A long
        write that embeds first and then builds a large graph (index/compact.py) calls it. A call
        running in another thread keeps the session it started with."""
        self._session = self._tokenizer = None

    def _encode(self, texts: list[str]) -> np.ndarray:
        session, tok = self._load()
        enc = tok.encode_batch(texts)
        ids = np.array([e.ids for e in enc], dtype=np.int64)
        mask = np.array([e.attention_mask for e in enc], dtype=np.int64)
        out = session.run(None, {"input_ids": ids, "attention_mask": mask})[0]
        return np.asarray(out, dtype=np.float32)

    def embed_documents(self, texts, progress=None, titles=None):
        titles = list(titles) if titles is not None else [""] * len(texts)
        full = [document_text(self.prompts, t, x) for t, x in zip(titles, texts)]
        result = np.empty((len(full), self.dim), dtype=np.float32)
        for batch in length_sorted_batches(full, self.batch_size):
            result[batch] = self._encode([full[j] for j in batch])
            if progress:
                progress(len(batch))
        return result

    def embed_query(self, text):
        return self._encode([query_text(self.prompts, text)])[0]
