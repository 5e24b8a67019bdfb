"""Wiring: build the real components from one Settings object (used by CLI, UI and eval); each
component gets its own section of the settings."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from . import index as index_mod
from .answer import Assistant
from .config import Settings
from .embed import Embedder, SentenceTransformerEmbedder
from .embed.onnx_export import export_folder
from .embed.onnx_rt import OnnxEmbedder, is_export
from .errors import ModelMissingError
from .evidence import EvidenceSelector
from .generate import Generator, LlamaCppGenerator, OpenAICompatGenerator, approx_tokens
from .index import Index
from .prompts import Prompts
from .retrieve import HybridRetriever
from .token_cache import LineSumCounter


def make_embedder(settings: Settings, index_embedder: str | None = None) -> Embedder:
    """The embedder the settings ask for. With backend "auto", an index built by one backend keeps
    it (vectors of different backends differ slightly and are never mixed); a new index gets ONNX
    when its export exists (`assistant models fetch` makes it), else PyTorch. With
    ASSISTANT_EMBED_BASE_URL set, an OpenAI-compatible embeddings server (embed/http.py)."""
    e = settings.embedding
    if e.base_url:
        from .embed.http import HttpEmbedder

        return HttpEmbedder(e.base_url, e.api_model, prompts=e.prompt_dict())
    path = settings.embedder_path()
    onnx_dir = export_folder(path)
    backend = e.backend
    if backend == "auto":
        backend = "onnx" if is_export(onnx_dir) else "torch"
        if index_embedder and backend == "onnx" and index_embedder == OnnxEmbedder(onnx_dir).meta["source_name"]:
            backend = "torch"  # the index was built by PyTorch: keep using it until a rebuild
    if backend == "onnx":
        if not is_export(onnx_dir) and not path.exists():
            raise ModelMissingError(f"Embedding model not found at {path}: run `assistant models fetch`.")
        return OnnxEmbedder(onnx_dir, threads=settings.generation.n_threads, key=settings.embedder_key())
    return SentenceTransformerEmbedder(path, key=settings.embedder_key())


def make_generator(settings: Settings) -> Generator:
    g = settings.generation
    if g.base_url:
        return OpenAICompatGenerator(g.base_url, g.api_model)
    return LlamaCppGenerator(settings.llm_path(), g.n_ctx, g.n_threads, key=settings.llm_key(), repeat_penalty=g.repeat_penalty)


def token_counter(settings: Settings):
    """The LLM's own token count without loading its weights (vocab only, ~0.3 s), so evidence
    budgets are exact in retrieval-only runs; the character estimate when no local GGUF is in use."""
    path = settings.llm_path()
    if settings.generation.base_url or not path.is_file():
        return approx_tokens
    vocab = []

    def count(text: str) -> int:
        if not vocab:  # loaded on first use: `assistant search` never needs it
            import contextlib
            import os

            from llama_cpp import Llama

            with open(os.devnull, "w") as null, contextlib.redirect_stderr(null):
                vocab.append(Llama(model_path=str(path), vocab_only=True, verbose=False))
        return len(vocab[0].tokenize(text.encode("utf-8"), add_bos=False, special=True))

    return count


@dataclass
class Pipeline:
    settings: Settings
    index: Index
    embedder: Embedder
    assistant: Assistant


def build(settings: Settings, with_llm: bool = True, embedder=None, generator=None) -> Pipeline:
    """Load the index and wire the assistant. Models load lazily, on first query."""
    if with_llm and generator is None:  # checked before the index: a wrong model path is named first
        generator = make_generator(settings)
    idx = index_mod.open_live(settings.storage)
    embedder = embedder or make_embedder(settings, idx.manifest["embedder"])
    if idx.manifest["embedder"] != embedder.name:
        from .errors import IndexStoreError

        raise IndexStoreError(
            f"the index in {settings.storage.index_dir} was built with embedder {idx.manifest['embedder']}, "
            f"but the settings select {embedder.name}: run `assistant ingest` to rebuild it."
        )
    retriever = HybridRetriever(idx, embedder, settings.retrieval)
    count = getattr(generator, "count_tokens", None) if with_llm else token_counter(settings)
    prompts = Prompts(settings.storage.prompts_dir)
    # exact counts made fast: per-line counts summed once the model's tokenizer is seen to allow it
    selector = EvidenceSelector(idx, settings.evidence, LineSumCounter(count) if count else approx_tokens,
                                render=prompts.excerpts)
    assistant = Assistant(retriever, generator if with_llm else None, prompts, selector, embedder, settings.answer,
                          quote=settings.quote)
    return Pipeline(settings, idx, embedder, assistant)


def model_label(settings: Settings, pipeline: Pipeline) -> str:
    """The LLM that answers, for people: the page's stats and every saved or exported answer
    (history.models_of) name it the same way, a server's model included."""
    gen = pipeline.assistant.generator
    g = settings.generation
    if g.base_url:
        return f"{g.api_model} at {g.base_url}"
    name = settings.llm_key() or Path(g.model).name
    return name if gen is None or getattr(gen, "name", name) == name else f"{name} ({gen.name})"
