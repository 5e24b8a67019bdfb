"""Raw llama.cpp prompt-reading speed on this machine: the yardstick for first-token times.

    python -m assistant.prefill [--extra-buffers] [--tokens 800]   # prints {"prefill_tok_s", ...}

Reads ~800 tokens of Dutch text (from seeds/) with llama.cpp alone, no assistant code, and prints
tokens per second. `assistant eval` runs it with CPU repack (extra buffer types) off and on, each in
its own process (repack crashes some builds), and reports the first-token p50 times the faster
speed: a first token in "token equivalents", comparable across machines.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

from .config import PLACES, Settings
from .places import checkout_root


def prefill_text(tokens: int = 800) -> str:
    text = (PLACES.seeds / "001_df41d20decff5aed.txt").read_text(encoding="utf-8")
    return text[: int(tokens * 3.4)]  # 3.4 characters per token (Qwen2.5 on Dutch, measured)


def measure(settings: Settings, extra_buffers: bool = False, tokens: int = 800, reps: int = 2) -> dict:
    from .generate import LlamaCppGenerator

    gen = LlamaCppGenerator(settings.llm_path(), n_ctx=2048, n_threads=settings.generation.n_threads, extra_buffers=extra_buffers)
    llm = gen.llm
    ids = llm.tokenize(prefill_text(tokens).encode("utf-8"), add_bos=False)
    speeds = []
    for _ in range(reps):
        llm.reset()
        t = time.perf_counter()
        llm.eval(ids)
        speeds.append(len(ids) / (time.perf_counter() - t))
    return {"prompt_tokens": len(ids), "prefill_tok_s": round(max(speeds), 1), "extra_buffers": extra_buffers,
            "threads": settings.generation.n_threads}


def both(timeout: float = 600) -> dict:
    """Speeds with repack off and on, each in a fresh process; "prefill_tok_s" is the faster."""
    out: dict = {}
    for name, flag in (("repack_off", []), ("repack_on", ["--extra-buffers"])):
        proc = subprocess.run([sys.executable, "-m", "assistant.prefill", *flag], capture_output=True, text=True,
                              timeout=timeout, cwd=checkout_root())
        if proc.returncode == 0 and proc.stdout.strip():
            out[name] = json.loads(proc.stdout.strip().splitlines()[-1])["prefill_tok_s"]
        else:
            out[name] = None
            out[f"{name}_error"] = f"exit {proc.returncode}: {(proc.stderr or '').strip()[-200:]}"
    speeds = [v for k, v in out.items() if k in ("repack_off", "repack_on") and v]
    out["prefill_tok_s"] = max(speeds) if speeds else None
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--extra-buffers", action="store_true", help="CPU repack (llama.cpp extra buffer types) on")
    ap.add_argument("--tokens", type=int, default=800)
    args = ap.parse_args()
    print(json.dumps(measure(Settings.from_env(), args.extra_buffers, args.tokens)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
