"""`python -m assistant.cli` (the same as `python -m assistant` and the `assistant` command)."""

import sys

from . import main

sys.exit(main())
