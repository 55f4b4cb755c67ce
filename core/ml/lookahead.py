"""Empirical look-ahead detection: recompute on truncated data and compare.

A causal function's value at bar t depends only on bars ``<= t``, so computing it on
``prices[:cut]`` must reproduce the full-sample values of every bar before ``cut``. Any
difference means the value at that bar used a later bar.

Training and model walk-forwards run :func:`check_features` first and refuse a leaky
feature (:class:`LookaheadError`) unless explicitly overridden; their out-of-sample
results are then screened by :func:`implausibility_warnings`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TypeAlias

import numpy as np
import pandas as pd

Computed: TypeAlias = pd.DataFrame | pd.Series


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
    method: str = "truncation"
    details: dict[str, str] = field(default_factory=dict)

    def message(self) -> str:
        """One line for a UI or CLI."""
        if self.method != "truncation":
            if not self.leaky:
                return f"no look-ahead found by the {self.method}"
            parts = [f"{c} ({self.details.get(c, 'flagged')})" for c in self.offending_columns]
            return f"look-ahead ({self.method}): " + ", ".join(parts)
        if not self.leaky:
            return f"no look-ahead found over {len(self.cuts)} truncation points"
        parts = [
            f"{c} (first at {self.first_offending_bars.get(c, '?')})"
            for c in self.offending_columns
        ]
        return "look-ahead: values change when later bars are added: " + ", ".join(parts)

    def as_dict(self) -> dict[str, object]:
        """JSON-friendly summary (method, verdict, offending columns, message)."""
        return {
            "method": self.method,
            "leaky": self.leaky,
            "offending_columns": list(self.offending_columns),
            "message": self.message(),
        }


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


IMPLAUSIBLE_SHARPE = 4.0
"""Annualized out-of-sample Sharpe at or above which a result is flagged (daily bars)."""
IMPLAUSIBLE_AUC = 0.9
"""Out-of-sample ROC AUC at or above which a result is flagged."""
MAX_FUTURE_IC = 0.25
"""Largest |rank correlation| of a precomputed feature with a forward return accepted
by :func:`future_correlation_screen`: ``IMPLAUSIBLE_SHARPE / sqrt(252)`` rounded, the
information coefficient of a daily signal whose Sharpe would already be implausible."""


class LookaheadError(ValueError):
    """A feature failed the look-ahead check; ``report`` says which and how."""

    def __init__(self, report: LookaheadReport) -> None:
        self.report = report
        names = ", ".join(report.offending_columns)
        super().__init__(
            f"refused: feature(s) {names} use future bars ({report.message()}). Remove them, "
            "fix them to use only bars up to t, or override the look-ahead check explicitly "
            "(the result is then flagged)."
        )


def future_correlation_screen(
    features: pd.DataFrame,
    prices: pd.DataFrame,
    *,
    horizon: int = 1,
    max_ic: float = MAX_FUTURE_IC,
) -> LookaheadReport:
    """Flag precomputed feature columns that track a FUTURE return too closely.

    A fixed frame cannot be recomputed on truncated prices, so instead each column's
    Spearman correlation with the forward returns ``close[t+h] / close[t] - 1``,
    ``h = 1..horizon + 1``, is measured, and so is that of its one-bar change (a future
    price level leaks through its changes); ``|IC_h| >= max_ic * sqrt(h)`` is flagged (an
    ``h``-bar signal with that IC would have an annualized Sharpe of about
    ``IMPLAUSIBLE_SHARPE``, see :data:`MAX_FUTURE_IC`). A feature holding the next return
    has IC 1. This screen catches blatant leaks only; pass a callable for the exact check.

    >>> idx = pd.bdate_range("2020-01-01", periods=300)
    >>> close = pd.Series(np.exp(np.cumsum(np.random.default_rng(0).normal(0, 0.01, 300))), idx)
    >>> p = pd.DataFrame({"close": close})
    >>> f = pd.DataFrame({"next": close.shift(-1) / close - 1, "past": close.pct_change()})
    >>> future_correlation_screen(f, p).offending_columns
    ('next',)
    """
    close = prices["close"].astype("float64")
    frame = features.reindex(prices.index).astype("float64")
    # a column, and its changes (a future price LEVEL leaks through its changes)
    views = [frame, frame.diff()]
    worst: dict[str, tuple[float, int]] = {}  # column -> (|IC| / threshold, h) at its worst
    for h in range(1, max(1, horizon) + 2):
        fwd = close.shift(-h) / close - 1.0
        for view in views:
            ic = view.corrwith(fwd, method="spearman")
            for col, value in ic.items():
                ratio = abs(float(value)) / (max_ic * np.sqrt(h)) if np.isfinite(value) else 0.0
                if ratio > worst.get(str(col), (0.0, 0))[0]:
                    worst[str(col)] = (ratio, h)
    flagged = tuple(c for c in map(str, frame.columns) if worst.get(c, (0.0, 0))[0] >= 1.0)
    return LookaheadReport(
        leaky=bool(flagged),
        offending_columns=flagged,
        method="future-correlation screen (a precomputed frame cannot be truncated)",
        details={
            c: f"|rank corr| {worst[c][0] * max_ic * np.sqrt(worst[c][1]):.2f} with the "
            f"{worst[c][1]}-bar forward return, limit {max_ic * np.sqrt(worst[c][1]):.2f}"
            for c in flagged
        },
    )


def check_features(
    features: Sequence[str] | pd.DataFrame | Callable[[pd.DataFrame], pd.DataFrame],
    prices: pd.DataFrame,
    *,
    horizon: int = 1,
    cuts: int = 8,
    seed: int = 0,
) -> LookaheadReport:
    """The look-ahead check of the features a model will use.

    Registered names and callables ``fn(prices) -> DataFrame`` are recomputed on
    truncated prices (:func:`lookahead_check`, exact); a precomputed DataFrame goes
    through :func:`future_correlation_screen`.
    """
    if isinstance(features, pd.DataFrame):
        return future_correlation_screen(features, prices, horizon=horizon)
    if callable(features):
        return lookahead_check(features, prices, cuts=cuts, seed=seed)
    from core.ml.dataset import feature_frame

    names = list(features)
    return lookahead_check(lambda p: feature_frame(p, names), prices, cuts=cuts, seed=seed)


def implausibility_warnings(
    *, sharpe: float | None = None, auc: float | None = None, what: str = "out-of-sample"
) -> list[str]:
    """Warnings for results too good to be true on daily bars (usually leaked data).

    >>> implausibility_warnings(sharpe=7.1, auc=1.0)[0][:38]
    'implausible out-of-sample Sharpe 7.10 '
    >>> implausibility_warnings(sharpe=1.2, auc=0.56)
    []
    """
    out = []
    if sharpe is not None and np.isfinite(sharpe) and sharpe >= IMPLAUSIBLE_SHARPE:
        out.append(
            f"implausible {what} Sharpe {sharpe:.2f} (>= {IMPLAUSIBLE_SHARPE:g} on daily bars): "
            "check the features and labels for look-ahead before trusting it"
        )
    if auc is not None and np.isfinite(auc) and auc >= IMPLAUSIBLE_AUC:
        out.append(
            f"implausible {what} AUC {auc:.3f} (>= {IMPLAUSIBLE_AUC:g}): market direction is "
            "not that predictable; check the features and labels for look-ahead"
        )
    return out


__all__ = [
    "IMPLAUSIBLE_AUC",
    "IMPLAUSIBLE_SHARPE",
    "MAX_FUTURE_IC",
    "LookaheadError",
    "LookaheadReport",
    "check_features",
    "future_correlation_screen",
    "implausibility_warnings",
    "lookahead_check",
]
