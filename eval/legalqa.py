"""Retrieval on LegalQA-NL, an external Dutch benchmark, with the assistant's own index and retriever.

LegalQA-NL (Redelaar et al., NLLP 2024): 102 expert-checked Dutch legal questions whose gold
passages are articles of 17 Dutch laws (4,653 passages). The data is CC BY-NC-SA 4.0 and is NOT part
of this repository; get the two CSV files from the public GitHub repository
fRedelaar/Legal-Dutch-Attributed-Question-Answering:

    git clone --depth 1 https://github.com/fRedelaar/Legal-Dutch-Attributed-Question-Answering legalqa
    # questions: legalqa/datasets/QA_set/QA_set_102_smallcorpus.csv
    #            (question_id, question, human_answer, human_attribution = gold DOC_IDs, ...)
    # corpus:    legalqa/datasets/knowledge_corpus/small_corpus/knowledge_corpus_small.csv
    #            (DOC_ID, law_id, law_name, ..., artikel, article_name, text)

Usage:

    python eval/legalqa.py --questions .../QA_set_102_smallcorpus.csv \\
        --corpus .../knowledge_corpus_small.csv [--cache-dir DIR] [--limit N] [--corpus-limit M]

or `--data-dir DIR` with both files in DIR. Every corpus row becomes one Document, indexed by
`assistant.library.Library` with a chunk size larger than the longest passage, so one passage is exactly
one retrievable chunk (checked). Embedding all 4,653 passages with EmbeddingGemma takes a while on a
small CPU, so the index is cached in --cache-dir (default <ASSISTANT_HOME>/legalqa), written in
batches so an interrupted build resumes where it stopped; later runs only load it.

Reports nDCG@10, recall@10 and MRR@10 for dense-only, BM25-only and hybrid (RRF) retrieval, next to
published figures on the same corpus. Relevance is binary (a retrieved DOC_ID is in
human_attribution); recall@10 = gold passages in the top 10 / gold passages, averaged over questions
(as MTEB / pytrec_eval compute it).
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout without installing

QUESTIONS_FILE = "QA_set_102_smallcorpus.csv"
CORPUS_FILE = "knowledge_corpus_small.csv"
SCOPE = "legalqa"
K = 10
BATCH = 128  # passages per index write: an interrupted build keeps what was embedded (long passages take ~2 s each)

REFERENCE = [  # (system, nDCG@10, recall@10)
    ("multilingual-e5-small, dense (published, MTEB)", 0.726, 0.857),
    ("BM25 (reference)", 0.687, 0.825),
]
# (name, chunk vectors, best sentence, BM25): ablation of the assistant's retriever, last = its default.
MODES = [("dense", True, False, False), ("dense+sentences", True, True, False), ("bm25", False, False, True),
         ("hybrid", True, True, True)]


def fix_mojibake(text: str) -> str:
    """A few questions are UTF-8 read as Latin-1 ("financiÃ«le"); undo that when it round-trips."""
    if "Ã" not in text and "â€" not in text:
        return text
    for enc in ("cp1252", "latin-1"):
        try:
            return text.encode(enc).decode("utf-8")
        except (UnicodeEncodeError, UnicodeDecodeError):
            continue
    return text


def read_questions(path: Path) -> list[dict]:
    with open(path, encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        need = {"question_id", "question", "human_attribution"}
        if not need <= set(reader.fieldnames or []):
            sys.exit(f"{path}: expected columns {sorted(need)}, got {reader.fieldnames}")
        out = []
        for row in reader:
            gold = [x.strip() for x in row["human_attribution"].split(",") if x.strip()]
            if gold:
                out.append({"id": row["question_id"], "question": fix_mojibake(row["question"]).strip(), "gold": gold,
                            "answer": fix_mojibake(row.get("human_answer") or "").strip()})
    return out


def read_corpus(path: Path) -> list[dict]:
    with open(path, encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        need = {"DOC_ID", "text"}
        if not need <= set(reader.fieldnames or []):
            sys.exit(f"{path}: expected columns {sorted(need)}, got {reader.fieldnames}")
        return [r for r in reader if r["text"].strip()]


def to_documents(rows: list[dict], titles: bool):
    from assistant.ingest import sha256_text
    from assistant.types import Document

    docs = []
    for r in rows:
        text = r["text"].strip()
        title = f"{r.get('law_name', '')}, {r.get('artikel', '')}".strip(", ") if titles else ""
        docs.append(Document(source=f"{SCOPE}/{r['DOC_ID']}", title=title, text=text, sha256=sha256_text(text)))
    # Similar lengths in one embedding batch waste less padding; the order in the index does not matter.
    return sorted(docs, key=lambda d: len(d.text))


class QueryCache:
    """The embedder, with each query embedded once (dense-only and hybrid ask for the same vector)."""

    def __init__(self, embedder):
        self.inner, self.name, self._cache = embedder, embedder.name, {}

    def embed_documents(self, texts, progress=None, titles=None):
        return self.inner.embed_documents(texts, progress=progress, titles=titles)

    def embed_query(self, text):
        if text not in self._cache:
            self._cache[text] = self.inner.embed_query(text)
        return self._cache[text]

    @property
    def dim(self):
        return self.inner.dim


def build_index(settings, docs, embedder):
    """Index `docs` into settings.storage.index_dir (reusing what is there) with a chunk_size larger than
    any passage, so one chunk per document, in batches."""
    from tqdm import tqdm

    from assistant import index as index_mod
    from assistant.library import Batch, Library

    folder, chunk_size = settings.storage.index_dir, settings.storage.chunk_size
    done: set[str] = set()
    if index_mod.exists(folder):
        old = index_mod.load(folder, settings.storage.vector_store)
        if old.manifest["embedder"] == embedder.name and old.manifest["chunking"]["chunk_size"] == chunk_size:
            done = {s for s, d in old.docs.items()}
    want = {d.source: d for d in docs}
    todo = [d for d in docs if d.source not in done]
    if todo:
        print(f"embedding {len(todo)} of {len(docs)} passages into {folder} (cached for later runs)", file=sys.stderr)
        bar = tqdm(total=len(todo), desc="embedding", unit="passage", file=sys.stderr, dynamic_ncols=True)
        library = Library(settings, embedder)
        try:
            for i in range(0, len(todo), BATCH):
                batch = todo[i : i + BATCH]
                # A write reports chunks + sentences; the bar counts passages of this batch pro rata.
                base = bar.n
                library.add(Batch(tuple(batch), None),  # no scope: each batch adds to the ones before
                            progress=lambda n, total: bar.update(base + (len(batch) * n) // max(total, 1) - bar.n))
        finally:
            bar.close()
    idx = index_mod.open_live(settings.storage)  # with ASSISTANT_SHARED_INDEX: its copy in PostgreSQL
    extra = set(idx.docs) - set(want)
    if extra:
        sys.exit(f"{folder} holds {len(extra)} passages that are not in this corpus selection: delete the folder")
    if len(idx.chunks) != len(idx.docs) or any(c.text != idx.docs[c.source].text for c in idx.chunks):
        sys.exit(f"{folder}: a passage was split into several chunks; delete the folder and raise the chunk size")
    return idx


def evaluate(idx, embedder, questions: list[dict], settings) -> dict:
    from assistant import metrics as M
    from assistant.retrieve import HybridRetriever

    results = {}
    for mode, dense, sentences, lexical in MODES:
        retriever = HybridRetriever(idx, embedder, settings.retrieval, use_dense=dense, use_sentences=sentences,
                                    use_lexical=lexical)
        retriever.search("opwarmen", k=1)  # load the model / build BM25 outside the timing
        ndcg, recall, mrr, seconds, per_q = [], [], [], [], {}
        for q in questions:
            t0 = time.perf_counter()
            hits = retriever.search(q["question"], k=K)
            seconds.append(time.perf_counter() - t0)
            ids = [h.chunk.source.split("/", 1)[1] for h in hits]
            gold = set(q["gold"])
            flags = [i in gold for i in ids]
            ndcg.append(M.ndcg_at_k(flags, len(gold), K))
            recall.append(M.recall_at_k(flags, len(gold), K))
            mrr.append(M.mrr_at_k(flags, K))
            per_q[q["id"]] = {"top10": ids, "gold": q["gold"], "ndcg@10": ndcg[-1], "recall@10": recall[-1]}
        results[mode] = {
            "ndcg@10": M.mean(ndcg), "recall@10": M.mean(recall), "mrr@10": M.mean(mrr),
            "query_p50_s": M.percentile(seconds, 50), "questions": len(questions), "per_question": per_q,
        }
    return results


# Quote choosers compared by --quotes: name -> QuoteSettings changes (None: the first sentence of
# excerpt [1], the baseline a reader gets without a chooser).
QUOTE_CHOOSERS = [("first sentence of excerpt [1]", None), ("best sentence cosine only",
                  {"chunk_weight": 0.0, "type_weight": 0.0, "question_penalty": 0.0}), ("the assistant's default", {})]
ANSWERING_SHARE = 0.6  # a gold-passage sentence "answers" when this share of its words is in the human answer


def _words(text: str) -> set[str]:
    import re

    return {w for w in re.findall(r"\w+", text.lower()) if len(w) > 2}


def quotes(idx, embedder, questions: list[dict], settings) -> dict:
    """How often each chooser's quote (quote.py) is a sentence that answers: a sentence of a gold
    passage whose words are mostly in the human answer (the answers quote the articles). The gold
    set's own check of the chooser is eval/gold.jsonl; this is the second set its weights must hold on."""
    from dataclasses import replace

    from assistant.evidence import EvidenceSelector
    from assistant.question import analyse
    from assistant.quote import QuoteChooser
    from assistant.retrieve import HybridRetriever

    retriever = HybridRetriever(idx, embedder, settings.retrieval)
    selector = EvidenceSelector(idx, settings.evidence)
    per_q, counts = {}, {name: {"best": 0, "quote": 0, "in_gold": 0} for name, _ in QUOTE_CHOOSERS}
    reachable = 0
    for q in questions:
        retrieval = retriever.retrieve(q["question"], settings.answer.top_k, language="nl")
        evidence = selector.select(retrieval)
        asked = analyse(q["question"], "nl")
        gold_sources = {f"{SCOPE}/{g}" for g in q["gold"]}
        answer_words = _words(q["answer"])

        def answers(source: str, text: str) -> bool:
            w = _words(text)
            return source in gold_sources and bool(w) and len(w & answer_words) / len(w) >= ANSWERING_SHARE

        row = {}
        for name, change in QUOTE_CHOOSERS:
            if change is None:  # the baseline: the first sentence of excerpt [1]
                if not evidence:
                    continue
                source, rows = evidence[0].source, selector.rows_of(evidence[0])[:1]
                best_text = idx.sentence_text(rows[0])
            else:
                chooser = QuoteChooser(selector, replace(settings.quote, **change))
                ranked = chooser.candidates(asked, retrieval, evidence)
                if not ranked:
                    continue
                quote = chooser.quote(ranked[:1], ranked)
                source, best_text = quote.source, ranked[0].text
                rows = [j for j in selector.rows_of(evidence[quote.n - 1])
                        if quote.start <= idx.sentences[j].start and idx.sentences[j].end <= quote.end]
            hit = {"best": answers(source, best_text), "in_gold": source in gold_sources,
                   "quote": any(answers(source, idx.sentence_text(j)) for j in rows)}
            for k, v in hit.items():
                counts[name][k] += v
            row[name] = hit
        # Every chooser ranks the same sentences (those of the excerpts); is any of them answering?
        reachable += any(answers(e.source, idx.sentence_text(j)) for e in evidence for j in selector.rows_of(e))
        per_q[q["id"]] = row
    n = len(questions)
    return {"questions": n, "reachable": reachable,
            "choosers": {name: {k: v / n for k, v in c.items()} for name, c in counts.items()}, "per_question": per_q}


def quote_table(result: dict, full: bool) -> str:
    n = result["questions"]
    lines = [f"LegalQA-NL quote choice: {n} questions; excerpts hold an answering sentence for {result['reachable']}"
             + ("" if full else "  (SUBSET of the corpus)"),
             "chooser                              best sentence answers  quote holds one  quote in a gold passage"]
    for name, c in result["choosers"].items():
        lines.append(f"{name:<36} {c['best']:>21.3f}  {c['quote']:>15.3f}  {c['in_gold']:>23.3f}")
    return "\n".join(lines)


def table(results: dict, embedder_name: str, n_docs: int, n_questions: int, full: bool) -> str:
    label = {"dense": f"dense: chunk vectors only ({embedder_name})",
             "dense+sentences": "dense: chunk + best sentence",
             "bm25": "BM25 only (assistant.lexical, Dutch stems)",
             "hybrid": "chunk + best sentence + BM25 (the assistant's default)"}
    rows = [("system", "nDCG@10", "recall@10", "MRR@10", "query p50")]
    for mode, *_ in MODES:
        r = results[mode]
        rows.append((label[mode], f"{r['ndcg@10']:.3f}", f"{r['recall@10']:.3f}", f"{r['mrr@10']:.3f}",
                     f"{r['query_p50_s'] * 1000:.0f} ms"))
    for name, nd, rc in REFERENCE:
        rows.append((name, f"{nd:.3f}", f"{rc:.3f}", "", ""))
    width = [max(len(r[i]) for r in rows) for i in range(5)]
    lines = [f"LegalQA-NL: {n_questions} questions, {n_docs} passages"
             + ("" if full else "  (SUBSET: not comparable with the published figures)")]
    for j, r in enumerate(rows):
        lines.append("  ".join(c.ljust(width[i]) if i == 0 else c.rjust(width[i]) for i, c in enumerate(r)))
        if j == 0:
            lines.append("  ".join("-" * w for w in width))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog="Data: github.com/fRedelaar/Legal-Dutch-Attributed-Question-Answering (see the module docstring).")
    ap.add_argument("--data-dir", help=f"folder holding {QUESTIONS_FILE} and {CORPUS_FILE}")
    ap.add_argument("--questions", help=f"path to {QUESTIONS_FILE} (datasets/QA_set/ in the LegalQA-NL repository)")
    ap.add_argument("--corpus", help=f"path to {CORPUS_FILE} (datasets/knowledge_corpus/small_corpus/)")
    ap.add_argument("--cache-dir", help="where the passage index is kept between runs (default <ASSISTANT_HOME>/legalqa)")
    ap.add_argument("--limit", type=int, help="only the first N questions")
    ap.add_argument("--corpus-limit", type=int,
                    help="index only the gold passages of the selected questions plus the first M others (fast smoke test)")
    ap.add_argument("--no-titles", dest="titles", action="store_false",
                    help="index passages without their title '<law name>, <article>' (by default each passage has it, "
                         "as the assistant gives every chunk its document title)")
    ap.add_argument("--embedder", help="embedder key or folder (default: the assistant's)")
    ap.add_argument("--out", help="also write the results (with per-question top 10) to this JSON file")
    ap.add_argument("--quotes", action="store_true",
                    help="also measure the quote choice (assistant/quote.py) against the human answers")
    args = ap.parse_args(argv)

    for var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
        os.environ.setdefault(var, "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    from assistant.config import Settings
    from assistant.errors import AssistantError
    from assistant.pipeline import make_embedder

    data = Path(args.data_dir) if args.data_dir else None
    qpath = Path(args.questions) if args.questions else (data / QUESTIONS_FILE if data else None)
    cpath = Path(args.corpus) if args.corpus else (data / CORPUS_FILE if data else None)
    if not qpath or not cpath:
        ap.error("give --data-dir, or both --questions and --corpus")
    for p in (qpath, cpath):
        if not p.is_file():
            ap.error(f"not found: {p} (download it from the LegalQA-NL repository, see --help)")

    settings = Settings.from_env(embedder=args.embedder)
    questions = read_questions(qpath)
    corpus = read_corpus(cpath)
    if args.limit:
        questions = questions[: args.limit]
    full = not args.limit and args.corpus_limit is None
    if args.corpus_limit is not None:
        gold = {g for q in questions for g in q["gold"]}
        others = [r for r in corpus if r["DOC_ID"] not in gold][: args.corpus_limit]
        corpus = [r for r in corpus if r["DOC_ID"] in gold] + others
    ids = {r["DOC_ID"] for r in corpus}
    missing = sorted({g for q in questions for g in q["gold"]} - ids)
    if missing:
        sys.exit(f"gold passages missing from the corpus file: {', '.join(missing[:10])}")

    try:
        embedder = QueryCache(make_embedder(settings))
        docs = to_documents(corpus, args.titles)
        chunk_size = max(4000, max(len(d.text) for d in docs) + 1)
        selection = "full" if args.corpus_limit is None else "sub-" + hashlib.sha256(" ".join(sorted(ids)).encode()).hexdigest()[:10]
        cache = Path(args.cache_dir) if args.cache_dir else settings.storage.home / "legalqa"
        folder = cache / f"{settings.embedder_path().name}-{'titles' if args.titles else 'text'}-{selection}"
        t0 = time.perf_counter()
        idx = build_index(settings.with_(index_dir=folder, chunk_size=chunk_size, chunk_overlap=0), docs, embedder)
        print(f"index ready: {len(idx.chunks)} passages ({time.perf_counter() - t0:.0f} s)", file=sys.stderr)
        results = evaluate(idx, embedder, questions, settings)
        quote_result = quotes(idx, embedder, questions, settings) if args.quotes else None
    except AssistantError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(table(results, settings.embedder_path().name, len(docs), len(questions), full))
    if quote_result:
        print(quote_table(quote_result, full))
    if args.out:
        out = {"questions": len(questions), "passages": len(docs), "titles": args.titles, "full": full,
               "embedder": embedder.name, "reference": [dict(zip(("system", "ndcg@10", "recall@10"), r)) for r in REFERENCE],
               "results": results, "quotes": quote_result}
        tmp = Path(args.out).with_suffix(".tmp")
        tmp.write_text(json.dumps(out, ensure_ascii=False, indent=1), encoding="utf-8")
        os.replace(tmp, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
