"""Summaries of every document of an index with the configured model, timed, without the cache.

    python eval/summaries.py                      # the seed documents of the index in the settings
    python eval/summaries.py --all --lang en      # every document of the index, English summaries
    python eval/summaries.py --source seeds/004_cdb15e3e631d770e.txt --llm qwen2.5-coder-0.5b --json

Prints a table: document, pages, sections summarised, sentences, sentences the support check
accepts, seconds, seconds per 10 pages. Pages are the real PDF pages; a document without pages
counts characters / 3000 rounded up (about a printed page of Dutch text), marked "~". The cache is
neither read nor written: every run summarises. Time it alone: anything else on the cores slows
the model down 2-3x.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import time
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from assistant.config import Settings  # noqa: E402
from assistant.pipeline import build  # noqa: E402
from assistant.summarize import summarize  # noqa: E402

CHARS_PER_PAGE = 3000


def pages_of(doc) -> tuple[int, bool]:
    """(pages, estimated): the PDF's pages, else characters / 3000 rounded up."""
    if doc.pages:
        return len(doc.pages), False
    return max(1, math.ceil(len(doc.text) / CHARS_PER_PAGE)), True


def cpu_line() -> str:
    """The CPU and its vector flags: timings compare only on the same machine."""
    try:
        info = Path("/proc/cpuinfo").read_text()
    except OSError:
        return platform.processor() or platform.machine()
    name = next((l.split(":", 1)[1].strip() for l in info.splitlines() if l.startswith("model name")), "?")
    flags = next((l.split(":", 1)[1].split() for l in info.splitlines() if l.startswith("flags")), [])
    keep = [f for f in flags if f in ("avx2", "avx512f", "avx512_vnni", "avx512_bf16", "amx_tile")]
    return f"{name}, {os.cpu_count()} cores, flags {' '.join(keep)}"


def run(settings: Settings, sources: list[str] | None, everything: bool, lang: str) -> dict:
    p = build(settings)
    docs = p.index.docs
    scope = Path(settings.storage.seeds_dir).resolve().name + "/"
    chosen = sources or sorted(s for s in docs if everything or s.startswith(scope))
    unknown = [s for s in chosen if s not in docs]
    if unknown or not chosen:
        raise SystemExit(f"not in the index {settings.storage.index_dir}: {', '.join(unknown) or '(no seed documents)'}; "
                         f"see `assistant docs list`")
    # The baseline in the same run: the seconds spent inside llama.cpp's stream (the same prompts,
    # tokens counted), so the table says how much of a summary is the model and how much our code.
    gen = p.assistant.generator
    inner, spent = gen.stream, {"s": 0.0, "prompt_tokens": 0, "calls": 0}

    def timed_stream(prompt, max_tokens, temperature):
        t0 = time.perf_counter()
        try:
            yield from inner(prompt, max_tokens, temperature)
        finally:
            spent["s"] += time.perf_counter() - t0
            spent["calls"] += 1
            spent["prompt_tokens"] += len(gen.prompt_tokens(prompt)) if hasattr(gen, "prompt_tokens") else 0

    gen.stream = timed_stream
    rows = []
    for source in chosen:
        before = dict(spent)
        doc = docs[source]
        print(f"{source} …", file=sys.stderr, flush=True)
        s = summarize(doc, p.assistant.generator, p.assistant.prompts, lang, score=p.assistant._support_score(),
                      progress=lambda d, t: print(f"  section {d}/{t}", file=sys.stderr, flush=True))
        pages, estimated = pages_of(doc)
        rows.append({"source": source, "title": doc.title, "pages": pages, "pages_estimated": estimated,
                     "characters": len(doc.text), "sections": len(s.sections), "omitted": len(s.omitted),
                     "sentences": len(s.sentences), "supported": sum(x.supported for x in s.sentences),
                     "dropped": s.dropped, "seconds": s.seconds, "model_calls": spent["calls"] - before["calls"],
                     "prompt_tokens": spent["prompt_tokens"] - before["prompt_tokens"],
                     "model_seconds": round(spent["s"] - before["s"], 2),
                     "seconds_per_10_pages": round(s.seconds / pages * 10, 1)})
    pages = sum(r["pages"] for r in rows)
    seconds = sum(r["seconds"] for r in rows)
    model_seconds = sum(r["model_seconds"] for r in rows)
    return {"date": time.strftime("%Y-%m-%d %H:%M", time.gmtime()), "cpu": cpu_line(),
            "model": p.assistant.generator.name, "language": lang, "threads": settings.generation.n_threads,
            "documents": rows, "total": {"pages": pages, "seconds": round(seconds, 1),
                                         "seconds_per_10_pages": round(seconds / pages * 10, 1) if pages else None,
                                         "model_seconds": round(model_seconds, 1),
                                         "vs_model": round(seconds / model_seconds, 3) if model_seconds else None}}


def table(out: dict) -> str:
    head = ["document", "pages", "sections", "sentences", "supported", "seconds", "s / 10 pages", "model calls",
            "in llama.cpp s"]
    lines = [" | ".join(head), " | ".join("---" for _ in head)]
    for r in out["documents"]:
        pages = f"~{r['pages']}" if r["pages_estimated"] else str(r["pages"])
        sections = f"{r['sections']} (+{r['omitted']} not summarised)" if r["omitted"] else str(r["sections"])
        lines.append(" | ".join([r["source"], pages, sections, str(r["sentences"]), str(r["supported"]),
                                 f"{r['seconds']:.1f}", f"{r['seconds_per_10_pages']:.1f}", str(r["model_calls"]),
                                 f"{r['model_seconds']:.1f}"]))
    t = out["total"]
    lines.append(" | ".join(["total", str(t["pages"]), "", "", "", f"{t['seconds']:.1f}",
                             f"{t['seconds_per_10_pages']:.1f}" if t["seconds_per_10_pages"] is not None else "—",
                             "", f"{t['model_seconds']:.1f} (total = {t['vs_model']}x)"]))
    note = (f"\n{out['date']} UTC, {out['cpu']}\nmodel {out['model']}, summaries in {out['language']}, {out['threads']} threads; "
            f"~ = no PDF pages: characters / {CHARS_PER_PAGE}, rounded up")
    return "\n".join(lines) + note


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--source", action="append", help="a document's source (repeat); default: the seed documents")
    ap.add_argument("--all", action="store_true", help="every document of the index")
    ap.add_argument("--lang", choices=["nl", "en"], default="nl")
    ap.add_argument("--llm", help="model key or GGUF path (default: the settings' model)")
    ap.add_argument("--index-dir", help="index folder (default: the settings')")
    ap.add_argument("--json", action="store_true", help="print the rows as JSON instead of the table")
    args = ap.parse_args(argv)
    overrides = {k: v for k, v in (("llm", args.llm), ("index_dir", args.index_dir)) if v}
    settings = Settings.from_env(**overrides)
    out = run(settings, args.source, args.all, args.lang)
    print(json.dumps(out, ensure_ascii=False, indent=2) if args.json else table(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
