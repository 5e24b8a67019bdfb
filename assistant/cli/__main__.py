"""`python -m assistant.cli` (the same as `python -m assistant` and the `assistant` command)."""

import sys

from . import main

if __name__ == "__main__":
    sys.exit(main())
