"""Empirical look-ahead detection: recompute on truncated data and compare.

A causal function's value at bar t depends only on bars ``<= t``, so computing it on
``prices[:cut]`` must reproduce the full-sample values of every bar before ``cut``. Any
difference means the value at that bar used a later bar.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

Computed = pd.DataFrame | pd.Series


@dataclass(frozen=True, kw_only=True)
class LookaheadReport:
    """Result of :func:`lookahead_check`.

    Attributes
    ----------
    leaky : bool
        True when any column changed on some bar when later bars were added.
    offending_columns : tuple of str
        Columns that changed.
    first_offending_bars : dict
        Column -> earliest bar (timestamp) whose value changed.
    cuts : tuple of int
        Truncation lengths that were checked.
    """

    leaky: bool
    offending_columns: tuple[str, ...]
    first_offending_bars: dict[str, pd.Timestamp] = field(default_factory=dict)
    cuts: tuple[int, ...] = ()

    def message(self) -> str:
        """One line for a UI or CLI."""
        if not self.leaky:
            return f"no look-ahead found over {len(self.cuts)} truncation points"
        parts = [f"{c} (first at {self.first_offending_bars[c]})" for c in self.offending_columns]
        return "look-ahead: values change when later bars are added: " + ", ".join(parts)


def _frame(values: Computed) -> pd.DataFrame:
    if isinstance(values, pd.Series):
        return values.to_frame(name=values.name if values.name is not None else "value")
    if isinstance(values, pd.DataFrame):
        return values
    raise TypeError(f"fn must return a DataFrame or Series, got {type(values).__name__}")


def lookahead_check(
    fn: Callable[[pd.DataFrame], Computed],
    prices: pd.DataFrame,
    *,
    cuts: int = 20,
    seed: int = 0,
    min_bars: int | None = None,
    rtol: float = 1e-9,
    atol: float = 1e-12,
) -> LookaheadReport:
    """Flag outputs of ``fn`` whose past values change when later bars are appended.

    Parameters
    ----------
    fn : callable
        ``fn(prices) -> DataFrame | Series`` on the same index (features, positions, ...).
    prices : DataFrame
        Canonical price frame.
    cuts : int
        Number of truncation lengths, drawn uniformly (seeded) from
        ``[min_bars, len(prices) - 1]``; the shortest and longest are always included.
    seed : int
        Seed of the draw.
    min_bars : int, optional
        Shortest truncation; default ``max(2, len(prices) // 10)``.
    rtol, atol : float
        Tolerance of the comparison; NaN equals NaN.

    Examples
    --------
    >>> idx = pd.bdate_range("2020-01-01", periods=50)
    >>> p = pd.DataFrame({"close": np.arange(1.0, 51.0)}, index=idx)
    >>> lookahead_check(lambda q: q["close"].shift(-1), p, cuts=5).leaky
    True
    >>> lookahead_check(lambda q: q["close"].rolling(3).mean(), p, cuts=5).leaky
    False
    """
    n = len(prices)
    if n < 3:
        raise ValueError(f"need at least 3 bars, got {n}")
    if cuts < 1:
        raise ValueError(f"cuts must be >= 1, got {cuts}")
    lo = max(2, n // 10) if min_bars is None else max(1, min_bars)
    hi = n - 1
    if lo > hi:
        raise ValueError(f"min_bars={lo} leaves nothing to check on {n} bars")
    rng = np.random.default_rng(seed)
    drawn = rng.integers(lo, hi + 1, size=max(cuts - 2, 0)) if hi > lo else np.array([], int)
    points = tuple(int(c) for c in np.unique(np.concatenate([[lo, hi], drawn])))
    full = _frame(fn(prices))
    if len(full) != n:
        raise ValueError("fn must return one row per price bar")
    first: dict[str, int] = {}
    for cut in points:
        part = _frame(fn(prices.iloc[:cut]))
        ref = full.iloc[:cut]
        for col in ref.columns:
            a = ref[col].to_numpy(dtype=np.float64)
            b = (
                part[col].to_numpy(dtype=np.float64)
                if col in part.columns
                else np.full(cut, np.nan)
            )
            same = np.isclose(a, b, rtol=rtol, atol=atol, equal_nan=True)
            if not same.all():
                bar = int(np.argmin(same))
                first[col] = min(first.get(col, bar), bar)
    columns = tuple(c for c in full.columns if c in first)
    return LookaheadReport(
        leaky=bool(columns),
        offending_columns=tuple(str(c) for c in columns),
        first_offending_bars={str(c): prices.index[first[c]] for c in columns},
        cuts=points,
    )


__all__ = ["LookaheadReport", "lookahead_check"]
