"""`assistant config show`: every setting, its value and where it came from (default, config file,
environment variable, flag), so a user can see why the assistant does what it does."""

from __future__ import annotations

import json

from .common import resolved


def cmd_config(args) -> int:
    from ..config import FLAT, PLACES, CONFIG_ENV

    s, sources = resolved(args)
    flat = s.flat()
    if args.json:
        out = {name: {"value": str(v) if not isinstance(v, (int, float, bool, str)) else v,
                      "section": FLAT[name][0], "source": sources[name]} for name, v in flat.items()}
        print(json.dumps(out, ensure_ascii=False, indent=2))
        return 0
    width = max(map(len, flat))
    section = None
    for name, (sec, _) in sorted(FLAT.items(), key=lambda kv: list(FLAT).index(kv[0])):
        if sec != section:
            section = sec
            print(f"[{sec}]")
        print(f"  {name:{width}}  {flat[name]!s:40}  {sources[name]}")
    print(f"\ndefault config file: {PLACES.config} ({'present' if PLACES.config.is_file() else 'none'}); "
          f"{CONFIG_ENV} or --config names another")
    return 0


def add(sub, default) -> None:
    c = sub.add_parser("config", help="show every setting, its value and where it came from")
    c.add_argument("action", choices=["show"])
    c.add_argument("--json", action="store_true", help="print {name: {value, section, source}}")
    c.set_defaults(func=cmd_config)
