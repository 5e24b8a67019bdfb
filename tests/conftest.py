import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

SEEDS = ROOT / "seeds"
PROMPTS = ROOT / "prompts"


@pytest.fixture
def seeds_dir() -> Path:
    return SEEDS


@pytest.fixture
def prompts_dir() -> Path:
    return PROMPTS


@pytest.fixture(scope="session")
def real_settings():
    """Settings for the real-model tests: the small LLM and the seeds index cached in
    $ASSISTANT_HOME/test-index (ingested here; a warm run embeds nothing)."""
    from assistant import index
    from assistant.config import Settings
    from assistant.ingest import load_folder
    from assistant.pipeline import make_embedder

    s = Settings.from_env(llm="qwen2.5-coder-0.5b")
    s = s.with_(index_dir=s.home / "test-index")
    docs, problems = load_folder(SEEDS)
    assert problems == []
    index.sync(s.index_dir, docs, make_embedder(s), s.chunk_size, s.chunk_overlap, scope="seeds")
    return s
