"""Fakes for fast unit tests: scripted generators and indexes built with the hashing embedder.

HashEmbedder and EchoGenerator are model-free components of the package (the eval scripts' fast
modes use them too); they are re-exported here so the tests keep one place to import fakes from.
"""

from __future__ import annotations

import re
from pathlib import Path

from assistant.embed.hashing import HashEmbedder
from assistant.generate import Abilities, Choice, EchoGenerator, GenerationStats, Prompt, approx_tokens

__all__ = ["EchoGenerator", "HashEmbedder", "LogitsGenerator", "ScriptedGenerator", "hashed_index", "seeds_runtime"]


class ScriptedGenerator:
    """Streams a fixed reply word by word and records the prompts it was given. Declares no
    abilities (no pre-filled reply, no logits), like a plain chat server."""

    abilities = Abilities()

    def __init__(self, reply: str, name: str = "scripted"):
        self.reply = reply
        self.name = name
        self.prompts: list[tuple[str, str]] = []
        self.calls: list[Prompt] = []
        self.last_stats = None

    def stream(self, prompt: Prompt, max_tokens, temperature):
        self.prompts.append((prompt.system, prompt.user))
        self.calls.append(prompt)
        self.examples = list(prompt.examples)
        for piece in re.findall(r"\S+\s*|\s+", self.reply):
            yield piece

    def choose(self, prompt, options):
        return None

    def count_tokens(self, text):
        return approx_tokens(text)

    def close(self):
        pass


class LogitsGenerator(ScriptedGenerator):
    """A generator with llama.cpp's abilities (pre-filled replies, next-token probabilities), for the
    decisions of answer.py: `probs` maps an option (as answer.py asks it, e.g. "NOT_FOUND", " Ja")
    to its probability; `replies` are streamed in turn (the last one repeats). It keeps a "KV cache"
    of the last conversation's words, so tests can check that a follow-up turn reads only its new
    words (`last_stats.evaluated_tokens`), as llama.cpp's prefix cache does."""

    abilities = Abilities(prefill=True, logits=True)

    def __init__(self, replies, probs=None, name: str = "logits", empty_quote_probs=None):
        super().__init__("", name=name)
        self.replies = list(replies) if not isinstance(replies, str) else [replies]
        self.probs = dict(probs or {})
        # Probabilities when the reply holds an empty quote "«»" (answer.py's yes-bias reading);
        # unset: options are equally likely there, so the calibrated p(yes) equals `probs`'.
        self.empty_quote_probs = dict(empty_quote_probs or {})
        self.choices: list[tuple[Prompt, tuple[str, ...]]] = []
        self._cache: list[str] = []

    @staticmethod
    def words(prompt: Prompt) -> list[str]:
        """The conversation as a chat template lays it out, a word per "token"."""
        out = re.findall(r"\S+", prompt.system)
        for u, a in prompt.examples + prompt.history:
            out += re.findall(r"\S+", u) + ["<assistant>"] + re.findall(r"\S+", a) + ["<end>"]
        return out + re.findall(r"\S+", prompt.user) + ["<assistant>"] + re.findall(r"\S+", prompt.prefix)

    def _read(self, words: list[str]) -> None:
        common = 0
        for a, b in zip(self._cache, words):
            if a != b:
                break
            common += 1
        self.last_stats = GenerationStats(len(words), common, len(words) - common)
        self._cache = list(words)

    def choose(self, prompt, options):
        self.choices.append((prompt, tuple(options)))
        self._read(self.words(prompt))
        probs = self.empty_quote_probs if "«»" in prompt.prefix else self.probs
        raw = {o: probs.get(o, 1.0) for o in options}
        total = sum(raw.values())
        # mass: how much of the whole next-token distribution the options hold (an option not in
        # `probs` counts as certain, so a single asked option the test did not set is "all of it").
        return Choice({o: v / total for o, v in raw.items()}, min(1.0, total))

    def stream(self, prompt: Prompt, max_tokens, temperature):
        self.prompts.append((prompt.system, prompt.user))
        self.calls.append(prompt)
        words = self.words(prompt)
        self._read(words)
        reply = self.replies.pop(0) if len(self.replies) > 1 else self.replies[0]
        for piece in re.findall(r"\S+\s*|\s+", reply):
            yield piece
        self._cache = words + re.findall(r"\S+", reply)


def hashed_index(index_dir, folder):
    """The documents in `folder` indexed (scope "seeds", chunks 900/150) with HashEmbedder into
    `index_dir`: (the loaded Index, the embedder), for the fast retrieval and answer tests."""
    from assistant import index
    from assistant.ingest import load_folder

    emb = HashEmbedder()
    docs, _ = load_folder(folder)
    index.sync(index_dir, docs, emb, 900, 150, scope="seeds")
    return index.load(index_dir), emb


def seeds_runtime(index_dir, folder, generator=None, **settings):
    """The chat's Runtime over the documents in `folder` (scope "seeds"), indexed with HashEmbedder,
    answering with `generator` (default EchoGenerator), every passage admitted (min_similarity 0):
    what the fast UI, filter, document and load tests start from. `settings`: more Settings fields."""
    from assistant import index, ui
    from assistant.config import Settings
    from assistant.ingest import load_folder
    from assistant.pipeline import build

    s = Settings().with_(index_dir=Path(index_dir), min_similarity=0.0, **settings)
    emb = HashEmbedder()
    docs, _ = load_folder(folder)
    index.sync(s.storage.index_dir, docs, emb, s.storage.chunk_size, s.storage.chunk_overlap, scope="seeds")
    return ui.Runtime(s, build(s, embedder=emb, generator=generator or EchoGenerator()))
