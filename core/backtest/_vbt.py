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

    vectorbt imports quantstats (with yfinance, matplotlib and seaborn, about 1.3 s) only
    for its optional ``returns.qs`` adapter, which the workbench does not use: while
    vectorbt loads, ``import quantstats`` fails so the adapter is skipped; afterwards
    quantstats imports normally (the tear sheet imports it itself).
    """
    import sys

    first = "vectorbt" not in sys.modules
    block = first and "quantstats" not in sys.modules
    if block:
        sys.modules["quantstats"] = None  # type: ignore[assignment]  # makes the import fail
    try:
        import vectorbt as vbt
    finally:
        if block and "quantstats" in sys.modules and sys.modules["quantstats"] is None:
            del sys.modules["quantstats"]

    if first:
        gc.freeze()
    return vbt


def freeze_long_lived() -> None:
    """Move every object alive now out of the collector's reach (after a warm-up)."""
    gc.freeze()
