"""Validation of price and position inputs shared by the backtesters."""

from __future__ import annotations

import numpy as np
import pandas as pd


def as_price_frame(prices: pd.DataFrame | pd.Series) -> pd.DataFrame:
    """Return a canonical frame with at least ``close``; a Series is taken as close."""
    if isinstance(prices, pd.Series):
        prices = prices.rename("close").to_frame()
    if "close" not in prices.columns:
        raise ValueError("prices must have a 'close' column")
    if not isinstance(prices.index, pd.DatetimeIndex):
        raise ValueError("prices must have a DatetimeIndex")
    if not prices.index.is_monotonic_increasing or not prices.index.is_unique:
        raise ValueError("prices index must be sorted and unique")
    if len(prices) < 2:
        raise ValueError(f"need at least 2 bars, got {len(prices)}")
    for col in ("open", "close"):
        if col in prices.columns:
            values = prices[col].to_numpy(dtype=np.float64)
            if not np.all(np.isfinite(values)) or np.any(values <= 0):
                raise ValueError(f"prices[{col!r}] must be finite and > 0 on every bar")
    return prices


def fill_prices(prices: pd.DataFrame) -> np.ndarray:
    """The order fill price per bar: open when present, else close."""
    col = "open" if "open" in prices.columns else "close"
    out: np.ndarray = prices[col].to_numpy(dtype=np.float64)
    return out


def align_positions(positions: pd.Series, index: pd.Index) -> pd.Series:
    """Reindex positions to the price bars (missing bars are flat) and check their range."""
    if not isinstance(positions, pd.Series):
        raise TypeError(f"positions must be a pandas Series, got {type(positions).__name__}")
    aligned = positions.reindex(index).astype(np.float64).fillna(0.0)
    values = aligned.to_numpy()
    if not np.all(np.isfinite(values)) or np.any(np.abs(values) > 1.0 + 1e-12):
        raise ValueError("positions must be finite and within [-1, 1]")
    return aligned
