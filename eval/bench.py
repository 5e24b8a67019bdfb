"""Speed benchmarks that print numbers, each against a raw baseline measured in the same run.

    python eval/bench.py index    # ingest cold/warm, search p50, vs raw SentenceTransformer.encode
    python eval/bench.py answer   # ask first-token/total p50 vs raw llama.cpp on the same prompts

Uses the settings from the environment (ASSISTANT_*), a temporary index, and the real models.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from assistant import index  # noqa: E402
from assistant.config import Settings  # noqa: E402
from assistant.ingest import load_folder  # noqa: E402
from assistant.pipeline import build, make_embedder  # noqa: E402

GOLD = Path(__file__).resolve().parent / "gold.jsonl"


def questions(n: int, answerable_only: bool = False) -> list[str]:
    rows = [json.loads(line) for line in GOLD.read_text(encoding="utf-8").splitlines() if line.strip()]
    rows = [r for r in rows if r["answerable"] or not answerable_only]
    return [r["question"] for r in rows][:n]


def p50(xs: list[float]) -> float:
    return statistics.median(xs)


def bench_index(settings: Settings, n_queries: int) -> dict:
    docs, _ = load_folder(settings.seeds_dir)
    with tempfile.TemporaryDirectory() as tmp:
        idx_dir = Path(tmp) / "index"
        emb = make_embedder(settings)
        t = time.perf_counter()
        cold = index.sync(idx_dir, docs, emb, settings.chunk_size, settings.chunk_overlap, scope="seeds")
        cold_s = time.perf_counter() - t
        t = time.perf_counter()
        warm = index.sync(idx_dir, docs, emb, settings.chunk_size, settings.chunk_overlap, scope="seeds")
        warm_s = time.perf_counter() - t
        idx = index.load(idx_dir)
        # Baseline: the model alone, on exactly the texts the index embedded.
        texts = [index.embed_text(c) for c in idx.chunks]
        t = time.perf_counter()
        emb.model.encode_document(texts, batch_size=emb.batch_size, normalize_embeddings=True)
        raw_s = time.perf_counter() - t
        p = build(settings.with_(index_dir=idx_dir), with_llm=False, embedder=emb)
        qs = questions(n_queries)
        p.assistant.search(qs[0])  # warm: BM25 is built on first use
        lat, raw_q = [], []
        for q in qs:
            t = time.perf_counter()
            p.assistant.search(q)
            lat.append(time.perf_counter() - t)
            t = time.perf_counter()
            emb.model.encode_query([q], normalize_embeddings=True)
            raw_q.append(time.perf_counter() - t)
    return {
        "chunks": cold.chunks_total,
        "ingest_cold_s": round(cold_s, 2),
        "ingest_warm_s": round(warm_s, 3),
        "raw_encode_same_chunks_s": round(raw_s, 2),
        "ingest_cold_over_raw_encode": round(cold_s / raw_s, 3),
        "search_p50_ms": round(1000 * p50(lat), 1),
        "raw_query_encode_p50_ms": round(1000 * p50(raw_q), 1),
        "search_over_raw_query_encode": round(p50(lat) / p50(raw_q), 3),
        "queries": len(lat),
    }


def bench_answer(settings: Settings, n: int) -> dict:
    p = build(settings, with_llm=True)
    gen = p.assistant.generator
    qs = questions(n, answerable_only=True)
    p.assistant.answer(qs[0])  # warm: model load, BM25, embedder
    ours_first, ours_total, raw_first, raw_total = [], [], [], []
    for q in qs:
        prompts = []
        real_stream = gen.stream

        def recording(system, user, max_tokens, temperature):
            prompts.append((system, user, max_tokens, temperature))
            return real_stream(system, user, max_tokens, temperature)

        gen.stream = recording
        # llama-cpp-python reuses the KV cache of a matching prompt prefix: clear it before each run so
        # both sides evaluate the whole prompt (else the raw rerun of the same prompt would be free).
        gen.llm.reset()
        a = p.assistant.answer(q)
        gen.stream = real_stream
        if a.abstained or not prompts:
            continue
        ours_first.append(a.timings["first_token_s"])
        ours_total.append(a.timings["total_s"])
        # Baseline: llama.cpp alone, same prompt, same settings, same loaded model.
        system, user, max_tokens, temperature = prompts[0]
        gen.llm.reset()
        t = time.perf_counter()
        first = None
        for chunk in gen.llm.create_chat_completion(
            messages=[{"role": "system", "content": system}, {"role": "user", "content": user}],
            max_tokens=max_tokens, temperature=temperature, stream=True, repeat_penalty=1.1,
        ):
            if first is None and chunk["choices"][0]["delta"].get("content"):
                first = time.perf_counter() - t
        raw_total.append(time.perf_counter() - t)
        raw_first.append(first or raw_total[-1])
        print(f"{q[:60]!r}: ours {ours_first[-1]:.1f}/{ours_total[-1]:.1f} s, raw {raw_first[-1]:.1f}/{raw_total[-1]:.1f} s",
              file=sys.stderr)
    return {
        "model": gen.name,
        "questions": len(ours_total),
        "first_token_p50_s": round(p50(ours_first), 2),
        "total_p50_s": round(p50(ours_total), 2),
        "raw_llama_first_token_p50_s": round(p50(raw_first), 2),
        "raw_llama_total_p50_s": round(p50(raw_total), 2),
        "first_token_overhead_ratio": round(p50(ours_first) / p50(raw_first), 3),
        "total_overhead_ratio": round(p50(ours_total) / p50(raw_total), 3),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("part", choices=["index", "answer"])
    ap.add_argument("-n", type=int, default=None, help="queries (index: 50) or questions (answer: 10)")
    args = ap.parse_args()
    settings = Settings.from_env()
    if args.part == "index":
        out = bench_index(settings, args.n or 50)
    else:
        out = bench_answer(settings, args.n or 10)
    print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
