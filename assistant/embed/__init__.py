"""Embedders: turn text into unit vectors. One Protocol, one backend per file.

    base.py      the Embedder Protocol, the model-folder fingerprint, EmbeddingGemma's prompt format,
                 EmbeddingSettings (the `embedding` section of config.Settings)
    torch_st.py  sentence-transformers on PyTorch (the reference; always available)
    onnx_rt.py   the same model exported to ONNX and int8-quantised, run by ONNX Runtime: about 2x
                 faster to ingest, 4x faster per query, and no torch import (a cold `search` starts
                 in seconds)
    onnx_export.py  makes that ONNX folder from the installed sentence-transformers model (offline)
    http.py      an OpenAI-compatible embeddings server (ASSISTANT_EMBED_BASE_URL)
    hashing.py   words hashed into buckets, no model: the eval scripts' fast modes and the unit tests
"""

from .base import Embedder, EmbeddingSettings, document_text, fingerprint, read_prompts
from .torch_st import SentenceTransformerEmbedder

__all__ = ["Embedder", "EmbeddingSettings", "SentenceTransformerEmbedder", "document_text", "fingerprint", "read_prompts"]
