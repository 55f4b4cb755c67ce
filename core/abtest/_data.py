"""Alignment and validation of the return series every A/B test starts from."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypeAlias

import numpy as np
import pandas as pd

MIN_OBS = 20
"""Fewest aligned days any A/B test accepts."""

TRADING_DAYS = 252.0

ReturnsLike: TypeAlias = pd.Series | np.ndarray


def _check_count(n: int) -> None:
    if n < MIN_OBS:
        raise ValueError(
            f"need at least {MIN_OBS} aligned days with returns for every strategy, got {n}; "
            "widen the date range or check that the strategies cover the same period"
        )


def _check_finite(values: np.ndarray, what: str) -> None:
    if not np.all(np.isfinite(values)):
        raise ValueError(f"{what} contain infinite values; clean the returns first")


def align_pair(a: ReturnsLike, b: ReturnsLike) -> tuple[np.ndarray, np.ndarray]:
    """Two float64 arrays over the days both strategies have a return.

    Series are inner-joined on their index and rows with a NaN are dropped; plain arrays
    must have the same length (NaN rows are dropped too).

    >>> a, b = align_pair(np.arange(20.0), np.arange(20.0) + 1)
    >>> float((b - a).mean()), a.size
    (1.0, 20)
    """
    if isinstance(a, pd.Series) and isinstance(b, pd.Series):
        frame = pd.concat([a.rename("a"), b.rename("b")], axis=1, join="inner")
        values = frame.to_numpy(dtype=np.float64)
    else:
        arr_a = np.asarray(a, dtype=np.float64).ravel()
        arr_b = np.asarray(b, dtype=np.float64).ravel()
        if arr_a.shape != arr_b.shape:
            raise ValueError(
                f"a and b must have the same length, got {arr_a.size} and {arr_b.size}; "
                "pass pandas Series to align them by date"
            )
        values = np.column_stack([arr_a, arr_b])
    values = values[~np.isnan(values).any(axis=1)]
    _check_finite(values, "returns")
    _check_count(values.shape[0])
    return values[:, 0].copy(), values[:, 1].copy()


def align_frame(returns: Mapping[str, pd.Series]) -> pd.DataFrame:
    """Inner-join named return Series on their dates and drop days with any NaN."""
    if not isinstance(returns, Mapping):
        raise TypeError(f"returns must be a dict of name -> Series, got {type(returns).__name__}")
    if len(returns) < 2:
        raise ValueError(f"need at least 2 strategies to compare, got {len(returns)}")
    for name, series in returns.items():
        if not isinstance(series, pd.Series):
            raise TypeError(f"returns[{name!r}] must be a pandas Series, got {type(series)}")
    frame = pd.concat({str(k): v for k, v in returns.items()}, axis=1, join="inner")
    if frame.shape[1] != len(returns):
        raise ValueError("strategy names must be unique as strings")
    frame = frame.astype(np.float64).dropna(how="any")
    _check_finite(frame.to_numpy(), "returns")
    _check_count(len(frame))
    return frame
