"""Causal per-bar features for regime models (the same formulas in batch and online)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

VOL_FLOOR = 1e-8
"""Floor on the trailing RMS return before its log is taken (constant prices)."""


def extract_close(prices: pd.DataFrame | pd.Series) -> pd.Series:
    """Return the close as a float Series from a price frame (any case of ``close``) or Series.

    Raises
    ------
    TypeError
        If ``prices`` is neither a DataFrame nor a Series.
    ValueError
        If there is no close column or a finite close is <= 0.
    """
    if isinstance(prices, pd.Series):
        close = prices
    elif isinstance(prices, pd.DataFrame):
        cols = {str(c).lower(): c for c in prices.columns}
        if "close" not in cols:
            raise ValueError(
                f"prices needs a 'close' column; got columns {list(prices.columns)[:10]}"
            )
        close = prices[cols["close"]]
    else:
        raise TypeError(f"prices must be a DataFrame or Series, got {type(prices).__name__}")
    close = pd.to_numeric(close, errors="coerce").astype("float64")
    values = close.to_numpy()
    finite = values[np.isfinite(values)]
    if finite.size and (finite <= 0).any():
        raise ValueError("close prices must be > 0 (log returns are undefined otherwise)")
    return close


def log_returns(close: np.ndarray) -> np.ndarray:
    """Log returns with NaN for the first bar and around missing closes.

    >>> log_returns(np.array([1.0, np.e, np.e])).tolist()
    [nan, 1.0, 0.0]
    """
    close = np.asarray(close, dtype=float)
    out = np.full(close.shape, np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        out[1:] = np.log(close[1:]) - np.log(close[:-1])
    out[~np.isfinite(out)] = np.nan
    return out


def rolling_log_vol(window_returns: np.ndarray) -> np.ndarray:
    """Log of the RMS of the finite returns in each row of ``window_returns`` (NaN if none).

    >>> rolling_log_vol(np.array([[np.nan, 0.01], [0.02, np.nan]])).round(4).tolist()
    [-4.6052, -3.912]
    """
    sq = np.square(window_returns)
    count = np.isfinite(sq).sum(axis=-1)
    total = np.where(np.isfinite(sq), sq, 0.0).sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        rms = np.sqrt(total / count)
    return np.where(count > 0, np.log(np.maximum(rms, VOL_FLOOR)), np.nan)


def feature_matrix(returns: np.ndarray, features: Sequence[str], vol_window: int) -> np.ndarray:
    """Raw (unstandardized) features ``(T, D)``; row ``t`` uses returns ``0..t`` only.

    A row is NaN (missing) when its log return is NaN, so the first bar carries no evidence.
    """
    returns = np.asarray(returns, dtype=float)
    cols = []
    for name in features:
        if name == "log_return":
            cols.append(returns)
        elif name == "rolling_vol":
            padded = np.concatenate([np.full(vol_window - 1, np.nan), returns])
            windows = np.lib.stride_tricks.sliding_window_view(padded, vol_window)
            cols.append(rolling_log_vol(windows))
        else:  # pragma: no cover - guarded by RegimeSpec
            raise ValueError(f"unknown feature {name!r}")
    x = np.column_stack(cols)
    x[np.isnan(returns)] = np.nan
    return x
