"""The Embedder role and what every backend shares: model identity and the prompt format."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Protocol, Sequence, runtime_checkable

import numpy as np

from ..errors import InputError
from ..models import DEFAULT_EMBEDDER


@runtime_checkable
class Embedder(Protocol):
    name: str  # recorded in the index manifest; a different name forces a rebuild

    def embed_documents(self, texts: Sequence[str], progress: Callable[[int], None] | None = None,
                        titles: Sequence[str] | None = None) -> np.ndarray:
        """float32 array (len(texts), dim), rows L2-normalised. `titles` (one per text) name the
        document each text comes from; backends put it where their model expects it."""

    def embed_query(self, text: str) -> np.ndarray:
        """float32 array (dim,), L2-normalised."""


def fingerprint(folder: Path) -> str:
    """Cheap identity of a model folder: file names and sizes plus the small JSON configs.

    Hashing the full weights would cost seconds per start; names, sizes and configs change
    whenever a different model is dropped in.
    """
    h = hashlib.sha256()
    for p in sorted(Path(folder).rglob("*")):
        if not p.is_file():
            continue
        rel = p.relative_to(folder).as_posix()
        h.update(f"{rel}:{p.stat().st_size}\n".encode())
        if p.suffix == ".json" and p.stat().st_size < 1_000_000:
            h.update(p.read_bytes())
    return h.hexdigest()[:16]


def read_prompts(folder: Path) -> dict[str, str]:
    """The model's own query/document prompts from config_sentence_transformers.json ({} if none)."""
    try:
        cfg = json.loads((Path(folder) / "config_sentence_transformers.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    prompts = cfg.get("prompts") or {}
    return {k: prompts[k] for k in ("query", "document") if isinstance(prompts.get(k), str)}


# EmbeddingGemma's own prompts (its config_sentence_transformers.json): what a served model gets
# unless ASSISTANT_EMBED_PROMPTS says otherwise.
EMBEDDINGGEMMA_PROMPTS = {"query": "task: search result | query: ", "document": "title: none | text: "}


def document_text(prompts: dict[str, str], title: str, text: str) -> str:
    """The full string a document passage is embedded as.

    EmbeddingGemma's document prompt is "title: none | text: "; its model card asks for the real
    title in that slot ("title: {title} | text: {content}"), which is how a chunk carries its
    document's name without the title being mistaken for passage text. Other models get their own
    document prompt (if any) and the title as a first line.
    """
    prompt = prompts.get("document", "")
    title = " ".join((title or "").replace("|", "/").split())
    if "title: none" in prompt:
        return prompt.replace("title: none", f"title: {title or 'none'}", 1) + text
    return prompt + (f"{title}\n{text}" if title else text)


def query_text(prompts: dict[str, str], text: str) -> str:
    return prompts.get("query", "") + text


def length_sorted_batches(texts: Sequence[str], batch_size: int):
    """Index batches of similar length (less padding: cold ingest was 1.40x the raw encode with
    batches in document order, 0.96x sorted)."""
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    for i in range(0, len(order), batch_size):
        yield order[i : i + batch_size]


@dataclass(frozen=True)
class EmbeddingSettings:
    """Which embedder: the `embedding` section of config.Settings (pipeline.make_embedder picks the backend)."""

    # A model key from assistant.models.MODELS, or a path to your own sentence-transformers folder.
    model: str = DEFAULT_EMBEDDER
    # "auto": the ONNX int8 export when it exists (1.5-2x faster ingest, 3-4x faster queries,
    # depending on the CPU), else PyTorch; an existing index keeps the backend it was built with.
    # "onnx" / "torch" force one.
    backend: str = "auto"
    # An OpenAI-compatible embeddings server (POST {url}/v1/embeddings) instead of the local model;
    # empty = local. api_model is the model name sent; prompts the query/document prompts as JSON
    # {"query": ..., "document": ...} ("" = EmbeddingGemma's, "none" = no prompts).
    base_url: str = ""
    api_model: str = "local"
    prompts: str = ""

    def prompt_dict(self) -> dict[str, str] | None:
        """The prompts for a served embedder (None: the default, EmbeddingGemma's)."""
        raw = (self.prompts or "").strip()
        if not raw:
            return None
        if raw.lower() == "none":
            return {}
        try:
            value = json.loads(raw)
            if not isinstance(value, dict) or not all(isinstance(value.get(k, ""), str) for k in ("query", "document")):
                raise ValueError
        except ValueError:
            raise InputError('ASSISTANT_EMBED_PROMPTS must be JSON {"query": "...", "document": "..."} or "none", '
                             f"got {raw!r}") from None
        return {k: value[k] for k in ("query", "document") if k in value}

    def __post_init__(self):
        if self.backend not in ("auto", "onnx", "torch"):
            raise InputError(f"embed backend {self.backend!r} is not one of auto, onnx, torch")
        if self.base_url and not self.base_url.startswith(("http://", "https://")):
            raise InputError(f"ASSISTANT_EMBED_BASE_URL={self.base_url!r} must start with http:// or https://")
        self.prompt_dict()  # raises InputError for bad JSON
