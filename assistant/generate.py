"""Generators: stream answer tokens from a local GGUF (llama.cpp) or an OpenAI-compatible server."""

from __future__ import annotations

import contextlib
import json
import threading
import urllib.error
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Protocol, Sequence

from .errors import GenerationError, ModelMissingError


class Generator(Protocol):
    name: str

    def stream(self, system: str, user: str, max_tokens: int, temperature: float,
               examples: Sequence[tuple[str, str]] = ()) -> Iterator[str]:
        """Yield the answer text piece by piece. `examples` are (user, assistant) turns placed
        between the system prompt and the question (worked examples)."""


def chat_messages(system: str, user: str, examples: Sequence[tuple[str, str]] = ()) -> list[dict]:
    messages = [{"role": "system", "content": system}]
    for u, a in examples:
        messages += [{"role": "user", "content": u}, {"role": "assistant", "content": a}]
    return messages + [{"role": "user", "content": defuse(user)}]


def defuse(text: str) -> str:
    """Break chat-template control strings inside document text ("<|im_start|>system", "<|eot_id|>"):
    the rendered prompt is tokenized with special tokens on (the template needs them), so a document
    containing one would otherwise open a real system turn. A zero-width space keeps it readable."""
    return text.replace("<|", "<\u200b|").replace("|>", "|\u200b>")


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
    """A local GGUF model, loaded on first use and kept; one generation at a time (llama.cpp
    contexts are not thread-safe, and two concurrent answers on 2 cores would both crawl).

    The prompt is rendered with the model's own chat template and tokenized here, so we know how
    many of its tokens llama.cpp could reuse from the previous prompt: it keeps the KV cache of the
    longest common prefix, which is why the fixed system prompt and examples come first. Each call
    records `last_stats` = {prompt_tokens, cached_tokens, evaluated_tokens}.
    """

    def __init__(self, path: Path, n_ctx: int = 4096, n_threads: int = 2, seed: int = 0, key: str | None = None,
                 n_batch: int = 512, flash_attn: bool = False, extra_buffers: bool = False, repeat_penalty: float = 1.1):
        self.path = Path(path)
        if not self.path.is_file():
            from .models import missing_message

            raise ModelMissingError(missing_message("LLM (GGUF file)", self.path, key))
        self.n_ctx, self.n_threads, self.seed = n_ctx, n_threads, seed
        self.n_batch, self.flash_attn, self.extra_buffers = n_batch, flash_attn, extra_buffers
        self.repeat_penalty = repeat_penalty
        self.name = self.path.name
        self._llm = None
        self._format = None
        self._lock = threading.Lock()
        self.last_stats: dict = {}

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

    def count_tokens(self, text: str) -> int:
        return len(self.llm.tokenize(text.encode("utf-8"), add_bos=False, special=True))

    def prompt_tokens(self, system: str, user: str, examples: Sequence[tuple[str, str]] = ()) -> list[int]:
        """The tokens llama.cpp will read for this conversation (the model's chat template)."""
        if self._format is None:
            from llama_cpp.llama_chat_format import Jinja2ChatFormatter

            llm = self.llm
            template = llm.metadata.get("tokenizer.chat_template")
            if not template:
                raise GenerationError(f"{self.path.name} has no chat template: use a chat/instruct GGUF")
            eos = llm.detokenize([llm.token_eos()], special=True).decode("utf-8", "replace")
            bos = llm.detokenize([llm.token_bos()], special=True).decode("utf-8", "replace") if llm.token_bos() >= 0 else ""
            self._format = Jinja2ChatFormatter(template=template, eos_token=eos, bos_token=bos)
        rendered = self._format(messages=chat_messages(system, user, examples))
        return self.llm.tokenize(rendered.prompt.encode("utf-8"), add_bos=not rendered.added_special, special=True)

    def _reuse(self, tokens: list[int]) -> int:
        """How many leading tokens llama.cpp's KV cache already holds (it always re-reads the last one)."""
        previous = self.llm._input_ids[: self.llm.n_tokens].tolist()
        cached = 0
        for a, b in zip(previous, tokens[:-1]):
            if a != b:
                break
            cached += 1
        return cached

    def stream(self, system, user, max_tokens, temperature, examples=()):
        with self._lock:
            tokens = self.prompt_tokens(system, user, examples)
            if len(tokens) + max_tokens > self.n_ctx:
                raise GenerationError(f"prompt of {len(tokens)} tokens + {max_tokens} answer tokens does not fit the "
                                      f"context of {self.n_ctx}: raise ASSISTANT_N_CTX or lower ASSISTANT_EVIDENCE_TOKENS")
            cached = self._reuse(tokens)
            self.last_stats = {"prompt_tokens": len(tokens), "cached_tokens": cached, "evaluated_tokens": len(tokens) - cached}
            chunks = self.llm.create_completion(
                prompt=tokens, max_tokens=max_tokens, temperature=temperature, stream=True,
                repeat_penalty=self.repeat_penalty,
            )
            for chunk in chunks:
                piece = chunk["choices"][0].get("text")
                if piece:
                    yield piece


class OpenAICompatGenerator:
    """Any server speaking the OpenAI chat-completions API (llama-server, vLLM, Ollama, ...).

    Lets a team move generation to a bigger machine by setting a base URL, no code change.
    """

    def __init__(self, base_url: str, model: str = "local", api_key: str = "", timeout: float = 300):
        self.base_url = base_url.rstrip("/")
        if not self.base_url.startswith(("http://", "https://")):
            raise GenerationError(f"LLM base URL must start with http:// or https://, got {base_url!r}")
        self.model, self.api_key, self.timeout = model, api_key, timeout
        self.name = f"{model}@{self.base_url}"

    def _url(self) -> str:
        return self.base_url + ("/chat/completions" if self.base_url.endswith("/v1") else "/v1/chat/completions")

    def stream(self, system, user, max_tokens, temperature, examples=()):
        body = json.dumps({
            "model": self.model, "stream": True, "max_tokens": max_tokens, "temperature": temperature,
            "messages": chat_messages(system, user, examples),
        }).encode()
        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        req = urllib.request.Request(self._url(), data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                for raw in resp:
                    line = raw.decode("utf-8", "replace").strip()
                    if not line.startswith("data:"):
                        continue
                    data = line[5:].strip()
                    if data == "[DONE]":
                        break
                    piece = (json.loads(data).get("choices") or [{}])[0].get("delta", {}).get("content")
                    if piece:
                        yield piece
        except urllib.error.URLError as e:
            raise GenerationError(f"LLM server at {self.base_url} failed: {e}") from e
        except ValueError as e:
            raise GenerationError(f"LLM server at {self.base_url} sent an unreadable stream: {e}") from e
