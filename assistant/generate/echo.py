"""A model-free Generator: it answers with the first sentence of excerpt [1], cited as [1].

For checking the plumbing of the answer path in seconds, without an LLM: `eval/bench.py injection
--fake`, the load benchmark's fast mode and the fast unit tests. Its answers are extractive, so the
support check accepts them and the citation points at a real excerpt; with no excerpt in the prompt
it says NOT_FOUND. It declares no abilities (no pre-filled replies, no logits), like a plain chat
server, so the answer path puts the quote into its user turn.
"""

from __future__ import annotations

import re

from .base import Abilities, GenerationStats, Prompt, approx_tokens


class EchoGenerator:
    abilities = Abilities()

    def __init__(self):
        self.name = "echo"
        self.prompts: list[tuple[str, str]] = []  # (system, user) of every call
        self.calls: list[Prompt] = []
        self.last_stats: GenerationStats | None = None

    def stream(self, prompt: Prompt, max_tokens: int, temperature: float):
        self.prompts.append((prompt.system, prompt.user))
        self.calls.append(prompt)
        m = re.search(r"^\[1\] (?:\([^)]*\) )?(.*)$", prompt.user, re.M)
        first = re.split(r"(?<=[.!?])\s", m.group(1).strip())[0] if m else "NOT_FOUND"
        yield first + (" [1]" if m else "")

    def choose(self, prompt: Prompt, options):
        return None

    def count_tokens(self, text: str) -> int:
        return approx_tokens(text)

    def close(self) -> None:
        pass
