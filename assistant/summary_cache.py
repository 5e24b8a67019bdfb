"""Summaries kept per document version, so asking again costs nothing and a change gives a new one.

Key: the document's source and sha256 (its text), the model's name, the hash of the prompt text,
the language and the sectioning settings. Any of them changed: another key, another summary. One
JSON file per key in `<index_dir>/summaries/`, written to a temporary file and renamed (atomic: a
crash or a second tab writing the same summary never leaves half a file to read).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Callable, Iterator

from .generate import Generator
from .prompts import Prompts
from .sections import Sections
from .summarize import Summary, SummaryEvent, SummarySettings, prompt_hash, summarize_stream
from .types import Document

FOLDER = "summaries"
VERSION = 1  # of the stored JSON: a new layout reads old files as misses


def key(document: Document, model: str, prompt_hash: str, lang: str, settings: SummarySettings) -> str:
    parts = [str(VERSION), document.source, document.sha256, model, prompt_hash, lang,
             json.dumps(dataclasses.asdict(settings), sort_keys=True)]
    return hashlib.sha256("\0".join(parts).encode("utf-8")).hexdigest()


def path(index_dir: Path, cache_key: str) -> Path:
    return Path(index_dir) / FOLDER / f"{cache_key}.json"


def load(index_dir: Path, cache_key: str, document: Document) -> Summary | None:
    """The stored summary, marked cached; None when there is none (or it cannot be read: it is
    made again and overwritten)."""
    p = path(index_dir, cache_key)
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
        if data.get("key") != cache_key:
            return None
        return dataclasses.replace(Summary.from_json(data["summary"], document), cached=True)
    except (OSError, ValueError, KeyError, TypeError):
        return None


def save(index_dir: Path, cache_key: str, summary: Summary) -> Path:
    p = path(index_dir, cache_key)
    p.parent.mkdir(parents=True, exist_ok=True)
    data = {"key": cache_key, "summary": {**summary.to_json(), "cached": False}}
    fd, tmp = tempfile.mkstemp(prefix=".summary-", suffix=".tmp", dir=p.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f, ensure_ascii=False, indent=1)
        os.replace(tmp, p)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return p


def stream(document: Document, generator: Generator, prompts: Prompts, lang: str, index_dir: Path,
           settings: SummarySettings | None = None, score: Callable | None = None,
           use_cache: bool = True) -> Iterator[SummaryEvent]:
    """summarize.summarize_stream's events, served from the cache when this version of the document
    was summarised before with this model, prompt, language and settings (no model call), and
    stored after a new summary (also with use_cache off: --no-cache makes a fresh one)."""
    s = settings or SummarySettings()
    k = key(document, generator.name, prompt_hash(prompts, lang), lang, s)
    found = load(index_dir, k, document) if use_cache else None
    if found is not None:
        yield SummaryEvent("sections", Sections(found.sections, found.omitted))
        for sentence in found.sentences:
            yield SummaryEvent("sentence", sentence)
        yield SummaryEvent("summary", found)
        return
    for event in summarize_stream(document, generator, prompts, lang, s, score):
        if event.kind == "summary":
            save(index_dir, k, event.data)
        yield event


def for_pipeline(pipeline, source: str, lang: str, use_cache: bool = True,
                 settings: SummarySettings | None = None) -> Iterator[SummaryEvent]:
    """stream() for one indexed document, with the pipeline's model, prompts and support check (the
    answer path's: lexical overlap, figures, and embedding similarity to the section's stored
    sentence vectors, so an English summary sentence is checked against a Dutch section)."""
    from .errors import InputError

    assistant = pipeline.assistant
    if assistant.generator is None:
        raise InputError("summaries need the language model: build the pipeline with the LLM")
    docs = pipeline.index.docs
    if source not in docs:  # documents.find names a split Woo bundle by its file: its parts are the documents
        parts = sorted(s for s in docs if s.startswith(source + "#"))
        raise InputError(f"{source} is not one document" + (f" but {len(parts)} ({', '.join(parts[:5])}"
                         f"{', …' if len(parts) > 5 else ''}): summarise one of them" if parts else
                         ": see `assistant docs list` for the sources"))
    document = docs[source]
    return stream(document, assistant.generator, assistant.prompts, lang, pipeline.settings.storage.index_dir,
                  settings, assistant._support_score(), use_cache)
