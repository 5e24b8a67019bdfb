"""Generators: the language model behind the answer step, one backend per file.

base.py: the Generator Protocol (what a backend declares it can do), Prompt, Choice, stats.
llamacpp.py: a local GGUF through llama.cpp (pre-filled replies, logits). openai_compat.py: any
OpenAI-compatible server (no pre-fill; logprobs where the server sends them).
"""

from .base import (Abilities, Choice, GenerationStats, Generator, Prompt, approx_tokens, chat_messages,
                   defuse)
from .llamacpp import LlamaCppGenerator
from .openai_compat import OpenAICompatGenerator

__all__ = ["Abilities", "Choice", "GenerationStats", "Generator", "LlamaCppGenerator", "OpenAICompatGenerator",
           "Prompt", "approx_tokens", "chat_messages", "defuse"]
