"""The lazy vectorbt import shared by the backtesters (importing core.backtest does not
import vectorbt; the first backtest does)."""

from __future__ import annotations

from typing import Any


def import_vectorbt() -> Any:
    """The ``vectorbt`` module, imported on first use."""
    import vectorbt as vbt

    return vbt
