"""Prompt templates live as files in prompts/; slots are named like {question}.

Filling a template checks both ways: a slot the template names but the caller did not give is an
error (a silently empty slot makes a silently worse prompt), and so is a template file that is missing.
"""

from __future__ import annotations

import string
from pathlib import Path

from .errors import PromptError


def slots(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def fill(template: str, name: str = "template", **values) -> str:
    missing = slots(template) - values.keys()
    if missing:
        raise PromptError(f"prompt {name!r} needs slot(s) {', '.join(sorted(missing))} that were not given")
    # Values are inserted verbatim: braces inside a document cannot re-open a slot.
    return template.format(**{k: v for k, v in values.items() if k in slots(template)})


class Prompts:
    def __init__(self, folder: Path):
        self.folder = Path(folder)
        if not self.folder.is_dir():
            raise PromptError(f"prompt folder not found: {self.folder}")
        self._cache: dict[str, str] = {}

    def text(self, name: str) -> str:
        if name not in self._cache:
            path = self.folder / f"{name}.txt"
            try:
                self._cache[name] = path.read_text(encoding="utf-8").strip("\n")
            except OSError as e:
                raise PromptError(f"prompt template missing: {path}") from e
        return self._cache[name]

    def render(self, name: str, **values) -> str:
        return fill(self.text(name), name, **values)
