"""The Generator role: what the answer step may ask of a language model, and the values it gets back.

A backend declares its `abilities` instead of being probed: whether it can continue an assistant
turn that code has pre-filled (the quote), and whether it exposes next-token probabilities (the
verdicts of answer.py: not found, yes or no). answer.py asks only for what a backend declares, so
an OpenAI-compatible server without either still answers, the older way.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Iterator, Protocol, Sequence, runtime_checkable

from ..models import DEFAULT_LLM


@dataclass(frozen=True)
class GenerationSettings:
    """Which LLM and how it runs: the `generation` section of config.Settings (pipeline.make_generator
    picks the backend). The answer's length and temperature are the answer step's (AnswerSettings)."""

    model: str = DEFAULT_LLM  # a model key from assistant.models.MODELS, or a path to your own GGUF file
    base_url: str = ""  # OpenAI-compatible server; empty = local llama.cpp
    api_model: str = "local"  # the model name sent to that server
    n_ctx: int = 4096
    n_threads: int = max(1, os.cpu_count() or 1)
    # llama.cpp's penalty on tokens of the last 64 (which at the start are the question's own words)
    repeat_penalty: float = 1.1


@dataclass(frozen=True)
class Prompt:
    """One conversation for the model. Turn order: system, worked examples, earlier turns of this
    answer (`history`, e.g. the first answer before a follow-up), the user turn, then the assistant
    turn, which starts with `prefix` when code wrote its beginning (a quote, a verdict). The fixed
    part (system and examples) comes first so that llama.cpp reads it once per process."""

    system: str
    user: str
    examples: tuple[tuple[str, str], ...] = ()
    history: tuple[tuple[str, str], ...] = ()
    prefix: str = ""

    def then(self, text: str) -> "Prompt":
        """The same conversation with `text` added to the assistant turn."""
        return Prompt(self.system, self.user, self.examples, self.history, self.prefix + text)

    def follow_up(self, reply: str, user: str) -> "Prompt":
        """The conversation after the assistant replied `reply` (its prefix included) and the user
        asked `user`: the whole earlier exchange becomes history, so its tokens stay cached."""
        return Prompt(self.system, user, self.examples, self.history + ((self.user, reply),), "")


@dataclass(frozen=True)
class Abilities:
    prefill: bool = False  # continues an assistant turn that starts with Prompt.prefix
    logits: bool = False  # choose(): next-token probabilities
    exact_tokens: bool = False  # count_tokens() is the model's own tokenizer, not an estimate


@dataclass(frozen=True)
class GenerationStats:
    """What one call cost: the prompt's tokens, how many llama.cpp found in its KV cache, how many it
    had to read (the cost that shows in the first-token time)."""

    prompt_tokens: int
    cached_tokens: int
    evaluated_tokens: int

    def __add__(self, other: "GenerationStats") -> "GenerationStats":
        return GenerationStats(max(self.prompt_tokens, other.prompt_tokens), self.cached_tokens + other.cached_tokens,
                               self.evaluated_tokens + other.evaluated_tokens)


@dataclass(frozen=True)
class Choice:
    """Next-token probabilities of a few options, renormalised among them (`probs`), and the share
    of the whole distribution they cover (`mass`: low means the model wanted to write something else)."""

    probs: dict[str, float]
    mass: float

    @property
    def best(self) -> str:
        return max(self.probs, key=lambda k: self.probs[k])


@runtime_checkable
class Generator(Protocol):
    name: str
    abilities: Abilities
    last_stats: GenerationStats | None

    def stream(self, prompt: Prompt, max_tokens: int, temperature: float) -> Iterator[str]:
        """Yield the reply piece by piece (after the prompt's prefix, which is not repeated)."""

    def choose(self, prompt: Prompt, options: Sequence[str]) -> Choice | None:
        """How likely each option is as the next text of the reply; None when the backend has no
        logits (abilities.logits is False) or cannot continue a prefix it was given."""

    def count_tokens(self, text: str) -> int:
        """Tokens of `text` (the model's tokenizer where abilities.exact_tokens, else an estimate)."""

    def close(self) -> None:
        """Free the model or connection; the generator loads again on next use."""


def approx_tokens(text: str) -> int:
    """Qwen2.5's tokenizer on the Dutch seed documents: 3.3 characters per token (measured);
    used where no tokenizer is loaded (an OpenAI-compatible server, unit tests)."""
    return max(1, round(len(text) / 3.3))


def chat_messages(prompt: Prompt) -> list[dict]:
    """The prompt as chat messages (without the assistant prefix, which backends add their own way).
    Document text can be in every turn after the examples (excerpts, quotes), so those are defused."""
    messages = [{"role": "system", "content": prompt.system}]
    for u, a in prompt.examples:
        messages += [{"role": "user", "content": u}, {"role": "assistant", "content": a}]
    for u, a in prompt.history:
        messages += [{"role": "user", "content": defuse(u)}, {"role": "assistant", "content": defuse(a)}]
    return messages + [{"role": "user", "content": defuse(prompt.user)}]


def defuse(text: str) -> str:
    """Break chat-template control strings inside document text ("<|im_start|>system", "<|eot_id|>"):
    the rendered prompt is tokenized with special tokens on (the template needs them), so a document
    containing one would otherwise open a real system turn. A zero-width space keeps it readable."""
    return text.replace("<|", "<\u200b|").replace("|>", "|\u200b>")
