"""One settings object, built once at the edge (CLI, UI, eval) and passed down.

Only `Settings.from_env` looks at the environment; every other module takes a Settings.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, fields, replace
from pathlib import Path

from .errors import InputError
from .models import DEFAULT_EMBEDDER, DEFAULT_LLM, MODELS

REPO_ROOT = Path(__file__).resolve().parent.parent


def default_home() -> Path:
    return Path.home() / ".cache" / "nl-gov-assistant"


@dataclass(frozen=True)
class Settings:
    home: Path = default_home()  # cache: models, pip wheels
    index_dir: Path = REPO_ROOT / "index"
    prompts_dir: Path = REPO_ROOT / "prompts"
    seeds_dir: Path = REPO_ROOT / "seeds"
    # A model key from assistant.models.MODELS, or a path to your own GGUF file / ST folder.
    llm: str = DEFAULT_LLM
    embedder: str = DEFAULT_EMBEDDER
    # "auto": the ONNX int8 export when it exists (1.5-2x faster ingest, 3-4x faster queries,
    # depending on the CPU), else PyTorch; an existing index keeps the backend it was built with.
    # "onnx" / "torch" force one.
    embed_backend: str = "auto"
    # An OpenAI-compatible embeddings server (POST {url}/v1/embeddings) instead of the local model;
    # empty = local. embed_api_model is the model name sent; embed_prompts the query/document prompts
    # as JSON {"query": ..., "document": ...} ("" = EmbeddingGemma's, "none" = no prompts).
    embed_base_url: str = ""
    embed_api_model: str = "local"
    embed_prompts: str = ""
    # Generation
    llm_base_url: str = ""  # OpenAI-compatible server; empty = local llama.cpp
    llm_api_model: str = "local"
    n_ctx: int = 4096
    n_threads: int = max(1, os.cpu_count() or 1)
    temperature: float = 0.1
    # llama.cpp's penalty on tokens of the last 64 (which at the start are the question's own words)
    repeat_penalty: float = 1.1
    max_tokens: int = 200  # answers are a few sentences; a cap stops a model that rambles
    # Chunking (characters; ~250 tokens, small enough for precise citations, 5 fit the context)
    chunk_size: int = 900
    chunk_overlap: int = 150
    # Retrieval
    top_k: int = 5  # chunks retrieved; the evidence is chosen from their sentences
    candidates: int = 40  # per retriever, before fusion
    # Where chunk vectors live (assistant/store/): "flat" (exact, in memory), "hnsw" (FAISS HNSW +
    # SQ8, memory-mapped, exact re-scoring), "auto" (hnsw past 200,000 chunks) or a PostgreSQL URL
    # "postgresql://user:pass@host/db" (pgvector). Applied when a generation is written (`ingest`).
    vector_store: str = "auto"
    # Evidence given to the model, in tokens (evidence.py; chosen from the context-recall curve, README)
    evidence_tokens: int = 350
    # Below this cosine similarity of the best passage the assistant abstains without asking the LLM.
    min_similarity: float = 0.30
    # The answer step's decisions (answer.py, README "Answers"): abstain when the model's p(NOT_FOUND)
    # at its first reply token reaches not_found_threshold; answer "yes" when p(yes) after the quote
    # reaches yes_threshold; quote_first: start from the chosen sentence (off: the model answers alone).
    not_found_threshold: float = 0.5
    yes_threshold: float = 0.5
    yes_calibration: bool = True
    quote_first: bool = True
    quote_prefill: bool = True
    follow_up_tokens: int = 24

    @property
    def models_dir(self) -> Path:
        return self.home / "models"

    @property
    def ocr_cache_dir(self) -> Path:
        """Text of OCR'd PDF pages, by file hash and page (ocr.py): a re-ingest never OCRs a page twice."""
        return self.home / "ocr"

    def llm_path(self) -> Path:
        return _resolve(self.models_dir, self.llm)

    def embedder_path(self) -> Path:
        return _resolve(self.models_dir, self.embedder)

    def llm_key(self) -> str | None:
        return self.llm if self.llm in MODELS else None

    def embedder_key(self) -> str | None:
        return self.embedder if self.embedder in MODELS else None

    def embed_prompt_dict(self) -> dict[str, str] | None:
        """The prompts for a served embedder (None: the default, EmbeddingGemma's)."""
        raw = (self.embed_prompts or "").strip()
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
        if self.embed_backend not in ("auto", "onnx", "torch"):
            raise InputError(f"embed backend {self.embed_backend!r} is not one of auto, onnx, torch")
        if self.embed_base_url and not self.embed_base_url.startswith(("http://", "https://")):
            raise InputError(f"ASSISTANT_EMBED_BASE_URL={self.embed_base_url!r} must start with http:// or https://")
        self.embed_prompt_dict()  # raises InputError for bad JSON
        from .store import kind_for

        kind_for(self.vector_store, 0)  # raises InputError for an unknown setting

    def with_(self, **changes) -> "Settings":
        return replace(self, **{k: v for k, v in changes.items() if v is not None})

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None, **overrides) -> "Settings":
        """Defaults <- ASSISTANT_<FIELD> environment variables <- explicit overrides (CLI flags)."""
        env = dict(os.environ if env is None else env)
        values = {}
        for f in fields(cls):
            raw = env.get(f"ASSISTANT_{f.name.upper()}")
            if raw is None or raw == "":
                continue
            values[f.name] = _parse(f.name, raw, f.default)
        return cls(**values).with_(**overrides)


def _parse(name: str, raw: str, default):
    try:
        if isinstance(default, Path):
            return Path(raw).expanduser()
        if isinstance(default, bool):
            return raw.lower() in {"1", "true", "yes", "on"}
        if isinstance(default, int):
            return int(raw)
        if isinstance(default, float):
            return float(raw)
    except ValueError:
        raise InputError(f"ASSISTANT_{name.upper()}={raw!r} is not a valid {type(default).__name__}")
    return raw


def _resolve(models_dir: Path, name: str) -> Path:
    if name in MODELS:
        return models_dir / MODELS[name].name
    return Path(name).expanduser()
