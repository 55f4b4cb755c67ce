"""Seeded price data with planted effects, shared by tests of several layers."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd


def gbm_bars(rng: np.random.Generator, sd: np.ndarray, index: pd.Index) -> pd.DataFrame:
    """Consistent OHLCV bars of a GBM whose per-bar volatility is ``sd`` (one per bar of
    ``index``), drawn from ``rng`` in a fixed order: returns, spreads, volumes."""
    n = len(sd)
    r = rng.normal(0, 1, n) * sd
    close = 100 * np.exp(np.cumsum(r))
    spread = np.abs(rng.normal(0, 1, n)) * sd + sd / 2
    frame = pd.DataFrame(
        {
            "open": close * np.exp(-r / 2),
            "high": close * np.exp(spread),
            "low": close * np.exp(-spread),
            "close": close,
            "volume": rng.uniform(0.8e6, 1.2e6, n),
        },
        index=index,
    )
    frame["high"] = frame[["open", "high", "close"]].max(axis=1)
    frame["low"] = frame[["open", "low", "close"]].min(axis=1)
    return frame


def volatility_shift_csv(seed: int, *, n: int, shift: int, rows: int | None = None) -> bytes:
    """Upload CSV of ``n`` seeded GBM daily bars (from 2020-01-02) whose daily volatility
    triples (1% -> 3%) from bar ``shift``; only the first ``rows`` rows when given (the
    same draws, so a prefix is the calm part of the full series)."""
    sd = np.where(np.arange(n) >= shift, 0.03, 0.01)
    frame = gbm_bars(np.random.default_rng(seed), sd, pd.RangeIndex(n))
    frame["volume"] = frame["volume"].round()
    frame.insert(0, "date", pd.bdate_range("2020-01-02", periods=n).strftime("%Y-%m-%d"))
    buf = io.StringIO()
    frame.iloc[: n if rows is None else rows].to_csv(buf, index=False, float_format="%.6f")
    return buf.getvalue().encode()
