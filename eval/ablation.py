"""Retrieval ablation on the gold set: each component of the retriever switched off in turn.

    python eval/ablation.py [--out FILE.json]

Builds a temporary seeds index per indexing variant (title in EmbeddingGemma's title slot, the
chunk's heading/question context, outline sections) and runs the retrieval-only evaluation for each retriever variant
(best-sentence score, BM25, English IDF floor). Prints a Markdown table. LegalQA-NL's side of the
ablation is `python eval/legalqa.py` (its modes are the same switches).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from assistant import chunk as chunk_mod  # noqa: E402
from assistant import evaluation as evaluate  # noqa: E402
from assistant import index  # noqa: E402
from assistant import retrieve as retrieve_mod  # noqa: E402
from assistant.config import Settings  # noqa: E402
from assistant.embed import onnx_rt, torch_st  # noqa: E402
from assistant.library import Library  # noqa: E402
from assistant.pipeline import make_embedder  # noqa: E402

GOLD = ROOT / "eval" / "gold.jsonl"
KEYS = ("recall@1", "recall@5", "recall@10", "ndcg@10", "context_recall")


@contextmanager
def patched(obj, name, value):
    old = getattr(obj, name)
    setattr(obj, name, value)
    try:
        yield
    finally:
        setattr(obj, name, old)


def old_document_text(prompts, title, text):
    """Before 2026-11-25: the model's own "title: none" prompt, the title as the passage's first line."""
    return prompts.get("document", "") + (f"{title}\n{text}" if title else text)


def recursive_only(doc, size, overlap, cuts=()):
    """Before 2026-11-25 (afternoon): chunks cut by the recursive splitter alone, ignoring the outline."""
    return chunk_mod.chunk_document(doc, size, overlap)


INDEX_VARIANTS = {  # name -> patches applied while ingesting
    "default": [],
    "title as text, not in the title slot": [(onnx_rt, "document_text", old_document_text),
                                              (torch_st, "document_text", old_document_text)],
    "no heading/question context": [(index.texts, "chunk_text", lambda c: c.text)],
    "recursive splitter only (no outline sections)": [(index.texts, "chunk_document", recursive_only)],
}
RETRIEVER_VARIANTS = {  # name -> (HybridRetriever switches, settings changed (Settings.with_))
    "default (chunk + best sentence + BM25)": ({}, {}),
    "no best-sentence score": ({"use_sentences": False}, {}),
    "no BM25": ({"use_lexical": False}, {}),
    "no BM25 for English questions": ({}, {"lexical_weight_en": 0.0}),
    "English BM25 without the IDF floor": ({}, {"lexical_idf_floor_en": 0.0, "lexical_idf_floor_nl": 0.0}),
    "chunk vectors only (no sentences, no BM25)": ({"use_sentences": False, "use_lexical": False}, {}),
}


def run(settings: Settings, tmp: Path) -> list[dict]:
    batch = Library(settings).read_folder(settings.storage.seeds_dir)
    emb = make_embedder(settings)
    rows = []
    for iname, patches in INDEX_VARIANTS.items():
        folder = tmp / f"index-{len(rows)}"
        s = settings.with_(index_dir=folder)
        with _all(patches):
            Library(s, emb).add(batch)
        variants = RETRIEVER_VARIANTS if iname == "default" else {"default (chunk + best sentence + BM25)": ({}, {})}
        for rname, (switches, changes) in variants.items():
            original = retrieve_mod.HybridRetriever.__init__

            def init(self, *a, _kw=switches, **k):
                original(self, *a, **{**k, **_kw})

            with patched(retrieve_mod.HybridRetriever, "__init__", init), _all(patches):
                report = evaluate.run(s.with_(**changes), GOLD, tmp / f"eval-{len(rows)}", retrieval_only=True, embedder=emb,
                                      show_progress=False)
            m = report["metrics"]
            row = {"index": iname, "retriever": rname, **{k: m["all"][k] for k in KEYS},
                   "recall@5_en": m["en"]["recall@5"], "recall@5_nl": m["nl"]["recall@5"]}
            rows.append(row)
            print(json.dumps(row), file=sys.stderr, flush=True)
    return rows


@contextmanager
def _all(patches):
    if not patches:
        yield
        return
    (obj, name, value), rest = patches[0], patches[1:]
    with patched(obj, name, value), _all(rest):
        yield


def table(rows: list[dict]) -> str:
    out = ["| index | retriever | recall@1 | recall@5 | recall@10 | nDCG@10 | context recall | recall@5 en / nl |",
           "|---|---|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        out.append(f"| {r['index']} | {r['retriever']} | {r['recall@1']:.3f} | {r['recall@5']:.3f} | {r['recall@10']:.3f} | "
                   f"{r['ndcg@10']:.3f} | {r['context_recall']:.3f} | {r['recall@5_en']:.3f} / {r['recall@5_nl']:.3f} |")
    return "\n".join(out)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", help="also write the rows as JSON")
    args = ap.parse_args()
    settings = Settings.from_env()
    with tempfile.TemporaryDirectory() as tmp:
        rows = run(settings, Path(tmp))
    print(table(rows))
    if args.out:
        Path(args.out).write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
