"""A local GGUF model through llama.cpp (llama-cpp-python): streaming, pre-filled replies, and
next-token probabilities read straight from the logits."""

from __future__ import annotations

import contextlib
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Sequence

import numpy as np

from ..errors import GenerationError, ModelMissingError
from .base import Abilities, Choice, GenerationSettings, GenerationStats, Prompt, chat_messages, defuse


@contextmanager
def _no_extra_buffer_types():
    """llama.cpp's CPU "extra buffer types" (AMX/repacked weights) segfault in decode on some VMs
    with native builds. Llama() reads the C default params inside its constructor, so we wrap that
    one function for the duration of the load (shared MODELS.md: stable and fastest)."""
    import llama_cpp.llama_cpp as C

    original = C.llama_model_default_params

    def patched():
        params = original()
        if hasattr(params, "use_extra_bufts"):
            params.use_extra_bufts = False
        return params

    C.llama_model_default_params = patched
    try:
        yield
    finally:
        C.llama_model_default_params = original


class LlamaCppGenerator:
    """A local GGUF model, loaded on first use and kept; one call at a time (llama.cpp contexts are
    not thread-safe, and two concurrent answers on 2 cores would both crawl).

    The prompt is rendered with the model's own chat template and tokenized here, so we know how
    many of its tokens llama.cpp can reuse from the previous call: it keeps the KV cache of the
    longest common prefix, which is why the fixed system prompt and examples come first, and why a
    quote added to the reply, a verdict read after it, and a follow-up turn after the answer each
    cost only their own new tokens. Each call records `last_stats` (GenerationStats).
    """

    abilities = Abilities(prefill=True, logits=True, exact_tokens=True)

    def __init__(self, path: Path, n_ctx: int = GenerationSettings.n_ctx, n_threads: int = GenerationSettings.n_threads,
                 seed: int = 0, key: str | None = None, n_batch: int = 512, flash_attn: bool = False,
                 extra_buffers: bool = False, repeat_penalty: float = GenerationSettings.repeat_penalty):
        self.path = Path(path)
        if not self.path.is_file():
            from ..models import missing_message

            raise ModelMissingError(missing_message("LLM (GGUF file)", self.path, key))
        self.n_ctx, self.n_threads, self.seed = n_ctx, n_threads, seed
        self.n_batch, self.flash_attn, self.extra_buffers = n_batch, flash_attn, extra_buffers
        self.repeat_penalty = repeat_penalty
        self.name = self.path.name
        self._llm = None
        self._format = None
        self._lock = threading.Lock()
        self.last_stats: GenerationStats | None = None

    @property
    def llm(self):
        if self._llm is None:
            from llama_cpp import Llama

            guard = _no_extra_buffer_types() if not self.extra_buffers else contextlib.nullcontext()
            with guard:
                try:
                    self._llm = Llama(
                        model_path=str(self.path), n_ctx=self.n_ctx, n_threads=self.n_threads,
                        n_threads_batch=self.n_threads, seed=self.seed, verbose=False,
                        n_batch=self.n_batch, n_ubatch=self.n_batch, flash_attn=self.flash_attn,
                    )
                except (ValueError, RuntimeError) as e:
                    raise ModelMissingError(f"cannot load GGUF model {self.path}: {e}") from e
        return self._llm

    def close(self) -> None:
        with self._lock:
            if self._llm is not None:
                self._llm.close()
                self._llm = None
                self._format = None

    def count_tokens(self, text: str) -> int:
        return len(self.llm.tokenize(text.encode("utf-8"), add_bos=False, special=True))

    def prompt_tokens(self, prompt: Prompt) -> list[int]:
        """The tokens llama.cpp will read for this conversation: the model's chat template with the
        assistant turn opened, then the prefix."""
        if self._format is None:
            from llama_cpp.llama_chat_format import Jinja2ChatFormatter

            llm = self.llm
            template = llm.metadata.get("tokenizer.chat_template")
            if not template:
                raise GenerationError(f"{self.path.name} has no chat template: use a chat/instruct GGUF")
            eos = llm.detokenize([llm.token_eos()], special=True).decode("utf-8", "replace")
            bos = llm.detokenize([llm.token_bos()], special=True).decode("utf-8", "replace") if llm.token_bos() >= 0 else ""
            self._format = Jinja2ChatFormatter(template=template, eos_token=eos, bos_token=bos)
        rendered = self._format(messages=chat_messages(prompt))
        text = rendered.prompt + defuse(prompt.prefix)
        return self.llm.tokenize(text.encode("utf-8"), add_bos=not rendered.added_special, special=True)

    def _common(self, tokens: list[int]) -> int:
        """How many leading tokens of `tokens` llama.cpp's KV cache holds now."""
        llm = self.llm
        previous = llm._input_ids[: llm.n_tokens].tolist()
        n = 0
        for a, b in zip(previous, tokens):
            if a != b:
                break
            n += 1
        return n

    def _check_fits(self, tokens: list[int], max_tokens: int) -> None:
        if len(tokens) + max_tokens > self.n_ctx:
            raise GenerationError(f"prompt of {len(tokens)} tokens + {max_tokens} answer tokens does not fit the "
                                  f"context of {self.n_ctx}: raise ASSISTANT_N_CTX or lower ASSISTANT_EVIDENCE_TOKENS")

    def _read(self, tokens: list[int]) -> np.ndarray:
        """Bring the KV cache to exactly `tokens` (reading only what it lacks) and return the
        next-token logits. When the cache already holds all of them, the last is read again: logits
        are only kept for the last token llama.cpp evaluated."""
        llm = self.llm
        common = self._common(tokens)
        keep = min(common, len(tokens) - 1)
        llm.n_tokens = keep  # eval() drops the KV cache past n_tokens before reading
        llm.eval(tokens[keep:])
        self.last_stats = GenerationStats(len(tokens), keep, len(tokens) - keep)
        return np.ctypeslib.as_array(llm._ctx.get_logits_ith(-1), shape=(llm.n_vocab(),)).copy()

    def first_tokens(self, prompt_tokens: list[int], prompt: Prompt, options: Sequence[str]) -> dict[str, int]:
        """The token each option starts with when written right after the prompt (tokenized in
        context: "Nee" after a newline is not the token of "Nee" after a space)."""
        out: dict[str, int] = {}
        n = len(prompt_tokens)
        for option in options:
            both = self.prompt_tokens(prompt.then(option))
            if both[: n] != prompt_tokens or len(both) <= n:
                raise GenerationError(f"option {option!r} merges with the end of the prompt into one token: "
                                      "end the prefix with a space or newline")
            out[option] = both[n]
        if len(set(out.values())) < len(out):
            raise GenerationError(f"options {list(options)} do not start with different tokens")
        return out

    def choose(self, prompt: Prompt, options: Sequence[str]) -> Choice:
        with self._lock:
            tokens = self.prompt_tokens(prompt)
            self._check_fits(tokens, 1)
            firsts = self.first_tokens(tokens, prompt, options)
            logits = self._read(tokens)
        z = logits - logits.max()
        p = np.exp(z) / np.exp(z).sum()
        raw = {o: float(p[t]) for o, t in firsts.items()}
        mass = sum(raw.values())
        return Choice({o: v / mass if mass > 0 else 1.0 / len(raw) for o, v in raw.items()}, mass)

    def stream(self, prompt: Prompt, max_tokens: int, temperature: float):
        with self._lock:
            tokens = self.prompt_tokens(prompt)
            self._check_fits(tokens, max_tokens)
            common = self._common(tokens)
            llm = self.llm
            # What llama-cpp-python's generate() will read: nothing when the cache holds exactly the
            # prompt with its logits (a choose() on it just ran), else the tokens past the common prefix.
            exact = common == len(tokens) == llm.n_tokens
            cached = len(tokens) if exact else min(common, len(tokens) - 1)
            self.last_stats = GenerationStats(len(tokens), cached, len(tokens) - cached)
            chunks = llm.create_completion(
                prompt=tokens, max_tokens=max_tokens, temperature=temperature, stream=True,
                repeat_penalty=self.repeat_penalty,
            )
            for chunk in chunks:
                piece = chunk["choices"][0].get("text")
                if piece:
                    yield piece
