"""Wiring: build the real components from one Settings object (used by CLI, UI and eval)."""

from __future__ import annotations

from dataclasses import dataclass

from . import index as index_mod
from .answer import Assistant
from .config import Settings
from .embed import SentenceTransformerEmbedder
from .generate import Generator, LlamaCppGenerator, OpenAICompatGenerator
from .index import Index
from .prompts import Prompts
from .retrieve import HybridRetriever


def make_embedder(settings: Settings) -> SentenceTransformerEmbedder:
    return SentenceTransformerEmbedder(settings.embedder_path(), key=settings.embedder_key())


def make_generator(settings: Settings) -> Generator:
    if settings.llm_base_url:
        return OpenAICompatGenerator(settings.llm_base_url, settings.llm_api_model)
    return LlamaCppGenerator(settings.llm_path(), settings.n_ctx, settings.n_threads, key=settings.llm_key())


@dataclass
class Pipeline:
    settings: Settings
    index: Index
    embedder: SentenceTransformerEmbedder
    assistant: Assistant


def build(settings: Settings, with_llm: bool = True, embedder=None, generator=None) -> Pipeline:
    """Load the index and wire the assistant. Models load lazily, on first query."""
    embedder = embedder or make_embedder(settings)
    if with_llm and generator is None:  # checked before the index: a wrong model path is named first
        generator = make_generator(settings)
    idx = index_mod.load(settings.index_dir)
    if idx.manifest["embedder"] != embedder.name:
        from .errors import IndexStoreError

        raise IndexStoreError(
            f"the index in {settings.index_dir} was built with embedder {idx.manifest['embedder']}, "
            f"but the settings select {embedder.name}: run `assistant ingest` to rebuild it."
        )
    retriever = HybridRetriever(idx, embedder, settings.candidates, settings.rrf_k)
    assistant = Assistant(
        retriever, generator if with_llm else None, Prompts(settings.prompts_dir), embedder, idx.vector,
        top_k=settings.top_k, min_similarity=settings.min_similarity,
        max_tokens=settings.max_tokens, temperature=settings.temperature,
    )
    return Pipeline(settings, idx, embedder, assistant)
