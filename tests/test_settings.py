"""Settings in sections: each default stated once, the flat ASSISTANT_* names still work."""

import ast
from dataclasses import fields
from pathlib import Path

import pytest

from assistant.answer import AnswerSettings, Assistant
from assistant.config import FLAT, SECTIONS, Settings
from assistant.evidence import EvidenceSelector, EvidenceSettings
from assistant.generate.echo import EchoGenerator
from assistant.pipeline import build
from assistant.prompts import Prompts
from assistant.quote import QuoteChooser, QuoteSettings
from assistant.retrieve import HybridRetriever, RetrievalSettings
from fakes import hashed_index

PACKAGE = Path(__file__).resolve().parent.parent / "assistant"


def test_each_default_is_stated_once_and_reaches_its_component(tmp_path, seeds_dir, prompts_dir):
    idx, emb = hashed_index(tmp_path / "index", seeds_dir)
    s = Settings().with_(index_dir=tmp_path / "index", prompts_dir=prompts_dir)
    # What the components use when built by the pipeline (the CLI, the browser, eval) ...
    a = build(s, embedder=emb, generator=EchoGenerator()).assistant
    assert a.settings == s.answer == AnswerSettings()
    assert a.retriever.settings == s.retrieval == RetrievalSettings()
    assert a.selector.settings == s.evidence == EvidenceSettings()
    assert a.quotes.settings == s.quote == QuoteSettings()
    # ... and when built alone (tests, eval scripts): the same values, from the same dataclass.
    selector = EvidenceSelector(idx)
    assert selector.settings == s.evidence
    assert HybridRetriever(idx, emb).settings == s.retrieval
    assert QuoteChooser(selector).settings == s.quote
    assert Assistant(HybridRetriever(idx, emb), None, Prompts(prompts_dir), selector).settings == s.answer
    # A setting changed at the edge reaches the component that reads it.
    changed = s.with_(top_k=3, evidence_tokens=200, candidates=12, quote_next_sentence=False, not_found_threshold=0.9)
    a = build(changed, embedder=emb, generator=EchoGenerator()).assistant
    assert (a.settings.top_k, a.selector.settings.budget, a.retriever.settings.candidates) == (3, 200, 12)
    assert a.quotes.settings.next_sentence is False and a.settings.not_found_threshold == 0.9


def test_no_function_restates_a_setting_default():
    """A keyword default named like a setting (`budget=300`, `top_k=5`) is a second statement of
    the default that can drift from the section's (the 300-vs-350 evidence budget of before).
    None or "" ("not given") are allowed."""
    names = set(FLAT) | {f.name for section in fields(Settings) for f in fields(section.default_factory)}
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            args = node.args
            positional = args.posonlyargs + args.args
            pairs = list(zip(positional[len(positional) - len(args.defaults):], args.defaults))
            pairs += [(k, d) for k, d in zip(args.kwonlyargs, args.kw_defaults) if d is not None]
            for arg, default in pairs:
                if arg.arg in names and isinstance(default, ast.Constant) and default.value not in (None, ""):
                    found.append(f"{path.relative_to(PACKAGE)}:{node.lineno} {node.name}({arg.arg}={default.value!r})")
    assert not found, "defaults stated outside their settings section: " + "; ".join(found)


def test_flat_names_environment_and_errors():
    s = Settings.from_env({"ASSISTANT_TOP_K": "7", "ASSISTANT_EVIDENCE_TOKENS": "250", "ASSISTANT_LLM": "qwen2.5-coder-0.5b",
                           "ASSISTANT_QUOTE_PREFILL": "1", "ASSISTANT_VECTOR_STORE": "hnsw"})
    assert (s.answer.top_k, s.evidence.budget, s.generation.model) == (7, 250, "qwen2.5-coder-0.5b")
    assert s.answer.quote_prefill is True and s.storage.vector_store == "hnsw"
    assert s.flat()["top_k"] == 7 and set(s.flat()) == set(FLAT)
    assert all(FLAT[name][0] in SECTIONS for name in FLAT)
    # Explicit overrides (CLI flags) beat the environment; None means "flag not given".
    assert Settings.from_env({"ASSISTANT_TOP_K": "7"}, top_k=2, candidates=None).answer.top_k == 2
    with pytest.raises(TypeError, match="top_k"):
        Settings().with_(top_kk=3)
    with pytest.raises(AttributeError, match=r"Settings\.answer\.top_k"):
        Settings().top_k  # noqa: B018  the old flat layout names the section to use
