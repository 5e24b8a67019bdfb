"""Where things live: a checkout of the project, or an installed package (pip / pipx / uv tool).

From a checkout (pyproject.toml beside the package) the project's own folders are used, as always:
`index/`, `prompts/`, `seeds/`. Installed, nothing is ever written next to the code (site-packages may
be read-only, and is replaced on upgrade): prompts and the bundled seeds are package data
(`assistant/bundled/`, put there by pyproject.toml's package-dir), and user data (the index, uploads)
and caches (models, OCR'd pages) go to the operating system's own folders (platformdirs):

                 user data (index/)                         cache (models/, ocr/, pip/)
    Linux        ~/.local/share/nl-gov-assistant            ~/.cache/nl-gov-assistant
    macOS        ~/Library/Application Support/nl-gov-...   ~/Library/Caches/nl-gov-assistant
    Windows      %LOCALAPPDATA%\\nl-gov-assistant            %LOCALAPPDATA%\\nl-gov-assistant\\Cache

The cache folder is ASSISTANT_HOME (also from a checkout); ASSISTANT_INDEX_DIR etc. still win.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

APP = "nl-gov-assistant"
PACKAGE_DIR = Path(__file__).resolve().parent


def checkout_root() -> Path | None:
    """The project folder when running from a checkout (editable install or `python -m assistant`
    beside pyproject.toml), None when installed from a wheel."""
    root = PACKAGE_DIR.parent
    pyproject = root / "pyproject.toml"
    try:
        if pyproject.is_file() and (root / "prompts").is_dir() and f'name = "{APP}"' in pyproject.read_text("utf-8"):
            return root
    except OSError:
        pass
    return None


def _dirs():
    from platformdirs import PlatformDirs

    # appauthor=False: no "<author>\" level in the Windows folders.
    return PlatformDirs(APP, appauthor=False)


@dataclass(frozen=True)
class Places:
    mode: str  # "checkout" or "installed"
    cache: Path  # default ASSISTANT_HOME
    index: Path
    prompts: Path
    seeds: Path
    config: Path  # the default config file (need not exist)

    def describe(self) -> str:
        where = f"checkout {checkout_root()}" if self.mode == "checkout" else f"installed package {PACKAGE_DIR}"
        return (f"running from: {where}\n"
                f"index:        {self.index}\n"
                f"cache:        {self.cache} (models, OCR'd pages)\n"
                f"config file:  {self.config}{'' if self.config.is_file() else ' (none)'}")


def places() -> Places:
    dirs = _dirs()
    root = checkout_root()
    cache = Path(dirs.user_cache_dir)
    config = Path(dirs.user_config_dir) / "config.toml"
    if root is not None:
        return Places("checkout", cache, root / "index", root / "prompts", root / "seeds", config)
    bundled = PACKAGE_DIR / "bundled"
    return Places("installed", cache, Path(dirs.user_data_dir) / "index", bundled / "prompts", bundled / "seeds", config)


def version() -> str:
    from importlib.metadata import PackageNotFoundError, version as dist_version

    try:
        return dist_version(APP)
    except PackageNotFoundError:  # a checkout run without installing (python -m assistant)
        return "0+checkout"
