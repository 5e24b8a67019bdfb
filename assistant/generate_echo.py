"""A model-free Generator: it answers with the first sentence of excerpt [1], cited as [1].

For checking the plumbing of the answer path in seconds, without an LLM: `eval/bench.py injection
--fake` and the fast unit tests. Its answers are extractive, so the support check accepts them and
the citation points at a real excerpt; with no excerpt in the prompt it says NOT_FOUND.
"""

from __future__ import annotations

import re


class EchoGenerator:
    """Answers with the first sentence of excerpt [1] (without its label), cited as [1]. Records the
    (system, user) prompts it was given in `prompts`."""

    def __init__(self):
        self.name = "echo"
        self.prompts: list[tuple[str, str]] = []

    def stream(self, system, user, max_tokens, temperature, examples=()):
        self.prompts.append((system, user))
        m = re.search(r"^\[1\] (?:\([^)]*\) )?(.*)$", user, re.M)
        first = re.split(r"(?<=[.!?])\s", m.group(1).strip())[0] if m else "NOT_FOUND"
        yield first + (" [1]" if m else "")
