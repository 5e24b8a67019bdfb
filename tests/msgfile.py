"""Outlook .msg files for the tests: the writer lives beside the hostile-file corpus that uses it too
(eval/msgwriter.py: CFB v3 with mini stream and regular sectors, MAPI properties as MS-OXMSG lays
them out); eval scripts do not import from tests/ (test_eval_scripts.py), so the tests import from eval."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "eval"))
from msgwriter import cfb, message_storage, msg  # noqa: E402,F401
