"""`python -m assistant.evaluate OUT [--compare PREV]`: write the report of an `assistant eval` run
again from its records, also of a run still going or killed (from records.jsonl.partial; the report
says it is partial).

The evaluation lives in the package assistant/evaluation/; this module keeps the command working.
"""

import sys

from .evaluation.report import main

if __name__ == "__main__":
    sys.exit(main())
