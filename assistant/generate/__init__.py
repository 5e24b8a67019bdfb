"""Generators: the language model behind the answer step, one backend per file.

base.py: the Generator Protocol (what a backend declares it can do), Prompt, Choice, stats, and
GenerationSettings (the `generation` section of config.Settings).
llamacpp.py: a local GGUF through llama.cpp (pre-filled replies, logits). openai_compat.py: any
OpenAI-compatible server (no pre-fill; logprobs where the server sends them). echo.py: a model-free
generator for plumbing checks (eval scripts' fast modes).
"""

from .base import (Abilities, Choice, GenerationSettings, GenerationStats, Generator, Prompt, approx_tokens,
                   chat_messages, defuse)
from .echo import EchoGenerator
from .llamacpp import LlamaCppGenerator
from .openai_compat import OpenAICompatGenerator

__all__ = ["Abilities", "Choice", "EchoGenerator", "GenerationSettings", "GenerationStats", "Generator", "LlamaCppGenerator", "OpenAICompatGenerator",
           "Prompt", "approx_tokens", "chat_messages", "defuse"]
