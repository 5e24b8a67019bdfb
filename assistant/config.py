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
keyword and, where there is one, its CLI flag. Only `Settings.resolve` (and `from_env`, which calls it)
looks at the environment and the config file. Each setting comes from, last wins:

    default  <-  config file (TOML)  <-  ASSISTANT_<NAME> environment variable  <-  CLI flag

The config file is ASSISTANT_CONFIG, else `config.toml` in the OS's config folder (places.py);
`assistant config show` prints every setting with where it came from.
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
from .places import places
from .quote import QuoteSettings
from .retrieve import RetrievalSettings

PLACES = places()  # checkout or installed: where the index, prompts, seeds and caches are by default
CONFIG_ENV = "ASSISTANT_CONFIG"


@dataclass(frozen=True)
class StorageSettings:
    """Where things are kept: no single component reads all of it (index, library, prompts, OCR)."""

    home: Path = PLACES.cache  # cache: models, pip wheels, OCR'd pages
    index_dir: Path = PLACES.index  # also the browser's uploads (index_dir/uploads)
    prompts_dir: Path = PLACES.prompts
    seeds_dir: Path = PLACES.seeds
    # Chunking (characters; ~250 tokens, small enough for precise citations, 5 fit the context)
    chunk_size: int = 900
    chunk_overlap: int = 150
    # Where chunk vectors live (assistant/store/): "flat" (exact, in memory), "hnsw" (FAISS HNSW +
    # SQ8, memory-mapped, exact re-scoring), "auto" (hnsw past 200,000 chunks) or a PostgreSQL URL
    # "postgresql://user:pass@host/db" (pgvector). Applied when a generation is written (`ingest`).
    vector_store: str = "auto"
    # A shared index: "postgresql://user:pass@host/db#name" keeps the whole index in PostgreSQL
    # (index/shared/), so several chat servers read one. `ingest` still writes index_dir, then
    # publishes it there; the chat, `ask` and `search` read the database. "" = the folder only.
    shared_index: str = ""

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
        if self.shared_index:
            from .index.shared.address import parse

            parse(self.shared_index)  # raises InputError for a bad URL or name


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
        """Defaults <- config file <- ASSISTANT_<NAME> environment variables <- explicit overrides (CLI flags)."""
        return cls.resolve(env, **overrides)[0]

    @classmethod
    def resolve(cls, env: dict[str, str] | None = None, config: Path | None = None,
                **overrides) -> tuple["Settings", dict[str, str]]:
        """The settings and, per flat name, where its value came from ("default", the config file's
        path, "ASSISTANT_<NAME>", "flag"). `config` is the config file (None: ASSISTANT_CONFIG, else the
        OS's default place; a missing default file is no error, a missing named one is)."""
        env = dict(os.environ if env is None else env)
        defaults = cls()
        sources = {name: "default" for name in FLAT}
        values: dict = {}
        path, named = _config_path(env, config)
        if path is not None and (named or path.is_file()):
            for name, value in read_config(path, defaults).items():
                values[name] = value
                sources[name] = str(path)
        for name, (section, attr) in FLAT.items():
            raw = env.get(f"ASSISTANT_{name.upper()}")
            if raw is None or raw == "":
                continue
            values[name] = _parse(name, raw, getattr(getattr(defaults, section), attr))
            sources[name] = f"ASSISTANT_{name.upper()}"
        for name, value in overrides.items():
            if value is not None and name in FLAT:
                sources[name] = "flag"
        return defaults.with_(**values).with_(**overrides), sources

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


def _config_path(env: dict[str, str], config: Path | None) -> tuple[Path | None, bool]:
    """(the config file to read, whether it was named explicitly)."""
    if config is not None:
        return Path(config).expanduser(), True
    if env.get(CONFIG_ENV):
        return Path(env[CONFIG_ENV]).expanduser(), True
    return PLACES.config, False


def read_config(path: Path, defaults: "Settings | None" = None) -> dict:
    """The settings a TOML config file sets, by flat name. Either flat names at the top level
    (`top_k = 3`, `llm = "/models/x.gguf"`) or sections (`[answer]` `top_k = 3`); an unknown name, a
    wrong type or a file that is not TOML is an InputError naming the file and the key."""
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib

    defaults = defaults or Settings()
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"config file {path} not found: create it, or fix the --config / {CONFIG_ENV} path")
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(f"config file {path} cannot be read: {e}")
    except tomllib.TOMLDecodeError as e:
        raise InputError(f"config file {path} is not valid TOML: {e}")
    by_field = {(section, attr): name for name, (section, attr) in FLAT.items()}
    out: dict = {}

    def put(name: str, value, key: str) -> None:
        if name not in FLAT:
            close = difflib.get_close_matches(name, list(FLAT), n=3)
            raise InputError(f"config file {path}: unknown setting {key!r}"
                             + (f" (did you mean {', '.join(close)}?)" if close else "")
                             + "; `assistant config show` lists them")
        section, attr = FLAT[name]
        default = getattr(getattr(defaults, section), attr)
        out[name] = _typed(name, value, default, f"config file {path}: {key}")

    for key, value in data.items():
        if key in SECTIONS and isinstance(value, dict):
            for attr, v in value.items():
                name = by_field.get((key, attr))
                if name is None:
                    raise InputError(f"config file {path}: [{key}] has no setting {attr!r}; "
                                     f"`assistant config show` lists them")
                put(name, v, f"[{key}] {attr}")
        else:
            put(key, value, key)
    return out


def _typed(name: str, value, default, where: str):
    """A config file value as the setting's type (TOML has its own types: check, do not guess)."""
    if isinstance(default, Path) or (default is None and isinstance(value, str)):
        if not isinstance(value, str):
            raise InputError(f"{where} must be a string (a path or a name), not {value!r}")
        return Path(value).expanduser() if isinstance(default, Path) else value
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise InputError(f"{where} must be true or false, not {value!r}")
        return value
    if isinstance(default, int) and not isinstance(value, bool):
        if not isinstance(value, int):
            raise InputError(f"{where} must be a whole number, not {value!r}")
        return value
    if isinstance(default, float):
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            raise InputError(f"{where} must be a number, not {value!r}")
        return float(value)
    if isinstance(default, str) and not isinstance(value, str):
        raise InputError(f"{where} must be a string, not {value!r}")
    return value


def _resolve(models_dir: Path, name: str) -> Path:
    if name in MODELS:
        return models_dir / MODELS[name].name
    return Path(name).expanduser()
