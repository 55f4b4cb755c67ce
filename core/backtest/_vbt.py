"""The lazy vectorbt import shared by the backtesters (importing core.backtest does not
import vectorbt; the first backtest does)."""

from __future__ import annotations

import gc
from typing import Any


def import_vectorbt() -> Any:
    """The ``vectorbt`` module, imported on first use.

    The first import also freezes the garbage collector's current objects (the hundreds
    of thousands that numba, pandas and vectorbt leave alive for the life of the
    process), so that a full collection no longer scans them: before this, one backtest
    in about fourteen paid a 0.3-0.6 s generation-2 collection (p95 14x the median).
    """
    import sys

    first = "vectorbt" not in sys.modules
    import vectorbt as vbt

    if first:
        gc.freeze()
    return vbt


def freeze_long_lived() -> None:
    """Move every object alive now out of the collector's reach (after a warm-up)."""
    gc.freeze()
