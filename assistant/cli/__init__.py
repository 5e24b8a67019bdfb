"""Command line: `assistant setup|models|import|ingest|check|docs|search|ask|history|summarize|chat|users|eval`. Run `assistant --help`.

    common.py  settings from flags + environment, progress bars, locations, --where
    setup.py   setup: check this machine, fetch the models, build the first index
    models.py  models list | fetch (and the ONNX export) | export | import (by USB stick)
    importing.py  import ori|diwoo|woogle: documents + meta.json from open-government sources
    index.py   ingest, check, docs
    query.py   search, ask
    history.py history list | show | delete | rename (saved conversations)
    summarize.py  summarize: one document, every sentence cited to its section
    serve.py   chat, eval
    users.py   users add | list | remove (the chat's logins)
    config.py  config show (every setting and where it came from)
Each command module adds its own subcommands (`add`); this file holds the global flags and main().
"""

from __future__ import annotations

import argparse
import os
import sys

from ..errors import AssistantError
from . import config, history, importing, index, models, query, serve, setup, summarize, users
from .common import offline_env

EPILOG = """examples:
  assistant setup                        # check this machine, fetch the models, index seeds/ (--check: only look)
  assistant models fetch                 # download + verify the default LLM and embedder (~2.3 GB)
  assistant models export /media/usb/m   # copy them to a stick; offline: assistant models import /media/usb/m
  assistant import ori --municipality Utrecht --since 2024-01-01 docs/utrecht   # then: assistant ingest docs/utrecht
  assistant ingest                       # index the bundled seeds/ folder (incremental)
  assistant check                        # verify the index files (counts, spans, hashes, vectors)
  assistant search "why was there no projectplan for Sezen?" -k 5 --json
  assistant search "Wat is de regiegemeente?" --where municipality=Lochem --where year=2012
  assistant ask "Waarom is er geen projectplan voor Sezen?"
  assistant summarize seeds/002_13e9976e58154e2c.txt --lang en   # every sentence cites its section
  assistant chat                         # browser chat on http://127.0.0.1:7860
  assistant docs list                    # the indexed documents; `docs remove NAME` takes one out
  ASSISTANT_AUTH=ana:s3cret assistant chat --host 0.0.0.0   # on the network: a login is required
  assistant users add ana && assistant chat --users ~/.config/nl-gov-assistant/users.toml --host 0.0.0.0
                                         # one login per person, each with own conversations (documents shared)
  assistant history list                 # saved conversations (`ask` and the chat save them); show ID, delete ID
  assistant eval --gold eval/gold.jsonl --out eval/runs/latest
  assistant config show                  # every setting, its value and where it came from

settings: every option below can also be set in the config file (TOML: `top_k = 3` or `[answer]
top_k = 3`; see `assistant --version` for where it is) or as an environment variable ASSISTANT_<NAME>,
e.g. ASSISTANT_LLM=/models/qwen2.5-7b-instruct-q4_k_m.gguf or ASSISTANT_HOME=/data/assistant.
A flag wins over the environment, the environment over the config file.
"""


class _Version(argparse.Action):
    """--version: the version, and whether this is a checkout or an installed package and where its
    index, cache and config file are (computed only when asked)."""

    def __init__(self, option_strings, dest=argparse.SUPPRESS, default=argparse.SUPPRESS, help=None):
        super().__init__(option_strings, dest=dest, default=default, nargs=0, help=help)

    def __call__(self, parser, namespace, values, option_string=None):
        from ..config import Settings
        from ..places import places, version

        p = places()
        s = Settings.from_env()
        print(f"assistant (nl-gov-assistant) {version()}, Python {sys.version.split()[0]}")
        print(p.describe())
        if (s.storage.index_dir, s.storage.home) != (p.index, p.cache):
            print(f"in use:       index {s.storage.index_dir}, cache {s.storage.home} (set by config/environment)")
        parser.exit()


COMMANDS = (setup, models, importing, index, query, history, summarize, serve, users, config)  # each adds its subcommands, in this order in --help


def parser() -> argparse.ArgumentParser:
    from ..config import Settings

    default = Settings()  # for the help texts
    ap = argparse.ArgumentParser(
        prog="assistant",
        description="Offline question answering over Dutch government documents, with numbered citations.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ap.add_argument("--version", action=_Version, help="print the version, where the index, cache and config file are, and exit")
    ap.add_argument("--config", metavar="FILE", help="config file (TOML) to read instead of the default one (also ASSISTANT_CONFIG)")
    g = ap.add_argument_group("settings (also ASSISTANT_<NAME> environment variables and the config file)")
    g.add_argument("--home", help=f"cache folder for models (default {default.storage.home})")
    g.add_argument("--index-dir", help=f"index folder (default {default.storage.index_dir})")
    g.add_argument("--llm", help="model key (see `assistant models list`) or path to your own .gguf")
    g.add_argument("--embedder", help="model key or path to a sentence-transformers folder")
    g.add_argument("--embed-backend", choices=["auto", "onnx", "torch"],
                   help="embedding runtime: onnx (int8, 1.5-2x faster ingest, 3-4x faster queries), torch, or auto "
                        "(default: onnx when its export exists; an existing index keeps its own)")
    g.add_argument("--vector-store", metavar="flat|hnsw|auto|postgresql://...",
                   help="where `ingest` puts chunk vectors: flat (exact, in memory), hnsw (FAISS HNSW + SQ8, "
                        "memory-mapped, exact re-scoring), auto (hnsw past 200,000 chunks; default) or a PostgreSQL "
                        "URL (pgvector); search reads whatever the index was written with")
    g.add_argument("--shared-index", metavar="postgresql://...#NAME",
                   help="keep the whole index in PostgreSQL too, so several chat servers share it: `ingest` writes "
                        "the index folder and publishes it there; chat, ask and search read it from there "
                        "(NAME after '#', default 'default')")
    g.add_argument("--llm-base-url", help="use an OpenAI-compatible server instead of local llama.cpp, e.g. http://gpu-box:8080")
    g.add_argument("--embed-base-url", help="use an OpenAI-compatible embeddings server (/v1/embeddings) instead of the "
                                            "local embedding model, e.g. http://gpu-box:8081")
    g.add_argument("--threads", type=int, help="CPU threads for the LLM (default: all cores)")
    g.add_argument("--n-ctx", type=int, help=f"LLM context size in tokens (default {default.generation.n_ctx})")
    g.add_argument("--temperature", type=float, help=f"sampling temperature (default {default.answer.temperature})")
    g.add_argument("--max-tokens", type=int, help=f"longest answer in tokens (default {default.answer.max_tokens})")
    sub = ap.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in COMMANDS:
        module.add(sub, default)
    return ap


def main(argv: list[str] | None = None) -> int:
    offline_env()
    try:
        args = parser().parse_args(argv)
        return args.func(args)
    except BrokenPipeError:
        # `assistant ... | head`: the reader left. Python's recommended exit: no traceback, and stdout
        # pointed at devnull so the interpreter's final flush does not raise again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except AssistantError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
