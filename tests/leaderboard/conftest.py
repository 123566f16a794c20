"""Make the helper modules beside these tests (``_cdp_pipe``, ``_leaderboard_records``)
importable under any pytest import mode (``importlib`` does not put this folder on
``sys.path``)."""

from __future__ import annotations

import sys
from pathlib import Path

_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)
