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
