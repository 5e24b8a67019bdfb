"""One settings object, built once at the edge (CLI, UI, eval) and passed down, in sections.

Each section is a frozen dataclass that lives with the component that reads it and states its
defaults once; `pipeline.build` hands each component its section:

    storage     StorageSettings     (here)               folders, chunking, vector store
    embedding   EmbeddingSettings   (embed/base.py)      which embedder, local or served
    retrieval   RetrievalSettings   (retrieve.py)        candidates, fusion weights
    evidence    EvidenceSettings    (evidence.py)        token budget, windows
    quote       QuoteSettings       (quote.py)           how the quote is chosen
    answer      AnswerSettings      (answer.py)          top_k, thresholds, answer length
    generation  GenerationSettings  (generate/base.py)   which LLM, local or served, its runtime

Every field also has a flat name (FLAT): its environment variable ASSISTANT_<NAME>, its `with_()`
keyword and, where there is one, its CLI flag. Only `Settings.from_env` looks at the environment.
"""

from __future__ import annotations

import difflib
import os
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

from .answer import AnswerSettings
from .embed.base import EmbeddingSettings
from .errors import InputError
from .evidence import EvidenceSettings
from .generate.base import GenerationSettings
from .models import MODELS
from .quote import QuoteSettings
from .retrieve import RetrievalSettings

REPO_ROOT = Path(__file__).resolve().parent.parent


def default_home() -> Path:
    return Path.home() / ".cache" / "nl-gov-assistant"


@dataclass(frozen=True)
class StorageSettings:
    """Where things are kept: no single component reads all of it (index, library, prompts, OCR)."""

    home: Path = default_home()  # cache: models, pip wheels, OCR'd pages
    index_dir: Path = REPO_ROOT / "index"
    prompts_dir: Path = REPO_ROOT / "prompts"
    seeds_dir: Path = REPO_ROOT / "seeds"
    # Chunking (characters; ~250 tokens, small enough for precise citations, 5 fit the context)
    chunk_size: int = 900
    chunk_overlap: int = 150
    # Where chunk vectors live (assistant/store/): "flat" (exact, in memory), "hnsw" (FAISS HNSW +
    # SQ8, memory-mapped, exact re-scoring), "auto" (hnsw past 200,000 chunks) or a PostgreSQL URL
    # "postgresql://user:pass@host/db" (pgvector). Applied when a generation is written (`ingest`).
    vector_store: str = "auto"

    @property
    def models_dir(self) -> Path:
        return self.home / "models"

    @property
    def ocr_cache_dir(self) -> Path:
        """Text of OCR'd PDF pages, by file hash and page (ocr.py): a re-ingest never OCRs a page twice."""
        return self.home / "ocr"

    def __post_init__(self):
        from .store import kind_for

        kind_for(self.vector_store, 0)  # raises InputError for an unknown setting


@dataclass(frozen=True)
class Settings:
    storage: StorageSettings = field(default_factory=StorageSettings)
    embedding: EmbeddingSettings = field(default_factory=EmbeddingSettings)
    retrieval: RetrievalSettings = field(default_factory=RetrievalSettings)
    evidence: EvidenceSettings = field(default_factory=EvidenceSettings)
    quote: QuoteSettings = field(default_factory=QuoteSettings)
    answer: AnswerSettings = field(default_factory=AnswerSettings)
    generation: GenerationSettings = field(default_factory=GenerationSettings)

    def llm_path(self) -> Path:
        return _resolve(self.storage.models_dir, self.generation.model)

    def embedder_path(self) -> Path:
        return _resolve(self.storage.models_dir, self.embedding.model)

    def llm_key(self) -> str | None:
        return self.generation.model if self.generation.model in MODELS else None

    def embedder_key(self) -> str | None:
        return self.embedding.model if self.embedding.model in MODELS else None

    def with_(self, **changes) -> "Settings":
        """A copy with some settings changed, by flat name (`top_k=3`, `index_dir=...`, see FLAT) or
        a whole section (`retrieval=RetrievalSettings(...)`). None means "not given" (an unset CLI
        flag) and changes nothing; an unknown name is a TypeError that names it."""
        whole = {k: v for k, v in changes.items() if k in SECTIONS and v is not None}
        parts: dict[str, dict] = {}
        for name, value in changes.items():
            if name in SECTIONS or value is None:
                continue
            if name not in FLAT:
                close = difflib.get_close_matches(name, list(FLAT) + list(SECTIONS), n=3)
                raise TypeError(f"unknown setting {name!r}" + (f" (did you mean {', '.join(close)}?)" if close else ""))
            section, attr = FLAT[name]
            parts.setdefault(section, {})[attr] = value
        for section, values in parts.items():
            whole[section] = replace(whole.get(section, getattr(self, section)), **values)
        return replace(self, **whole)

    def flat(self) -> dict:
        """Every setting by its flat name (what `ASSISTANT_<NAME>` sets)."""
        return {name: getattr(getattr(self, section), attr) for name, (section, attr) in FLAT.items()}

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None, **overrides) -> "Settings":
        """Defaults <- ASSISTANT_<NAME> environment variables <- explicit overrides (CLI flags)."""
        env = dict(os.environ if env is None else env)
        defaults = cls()
        values = {}
        for name, (section, attr) in FLAT.items():
            raw = env.get(f"ASSISTANT_{name.upper()}")
            if raw is None or raw == "":
                continue
            values[name] = _parse(name, raw, getattr(getattr(defaults, section), attr))
        return defaults.with_(**values).with_(**overrides)

    def __getattr__(self, name: str):
        # Only called for names that are not attributes: point a reader of the old flat layout to the section.
        if name in FLAT:
            section, attr = FLAT[name]
            raise AttributeError(f"Settings.{name} is now Settings.{section}.{attr}")
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")


SECTIONS = tuple(f.name for f in fields(Settings))

# The flat name of a section field is the field's own name, with the section's prefix where the bare
# name would be unclear, except for the names that predate the sections (kept as they were).
_PREFIX = {"embedding": "embed_", "evidence": "evidence_", "quote": "quote_"}
_KEPT = {("embedding", "model"): "embedder", ("generation", "model"): "llm", ("generation", "base_url"): "llm_base_url",
         ("generation", "api_model"): "llm_api_model", ("evidence", "budget"): "evidence_tokens"}


def _flat_names() -> dict[str, tuple[str, str]]:
    out: dict[str, tuple[str, str]] = {}
    for section in fields(Settings):
        for f in fields(section.default_factory):
            name = _KEPT.get((section.name, f.name), _PREFIX.get(section.name, "") + f.name)
            if name in out or name in SECTIONS:
                raise AssertionError(f"two settings named {name!r}: {out.get(name)} and {(section.name, f.name)}")
            out[name] = (section.name, f.name)
    return out


FLAT: dict[str, tuple[str, str]] = _flat_names()  # flat name -> (section, field)


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
