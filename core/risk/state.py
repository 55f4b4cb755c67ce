"""The portfolio snapshot every risk computation reads, with cached derived arrays."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property

import numpy as np
import pandas as pd

HistoryArrays = tuple[dict[str, int], np.ndarray, np.ndarray, np.ndarray]
NO_HISTORY: HistoryArrays = ({}, np.empty((0, 0)), np.empty(0), np.empty((0, 0)))


def history_arrays(matrix: np.ndarray, columns: Sequence[object]) -> HistoryArrays:
    """Column index, returns matrix (T, N), column means and sample covariance of the
    complete rows ``matrix`` of daily returns (what every risk computation reads)."""
    matrix = np.ascontiguousarray(matrix, dtype=np.float64)
    index = {str(c): i for i, c in enumerate(columns)}
    if matrix.shape[0] < 2:
        return index, matrix, np.zeros(matrix.shape[1]), np.zeros((matrix.shape[1],) * 2)
    cov = np.atleast_2d(np.cov(matrix, rowvar=False, ddof=1))
    return index, matrix, matrix.mean(axis=0), cov


def with_history(state: PortfolioState, history: HistoryArrays) -> PortfolioState:
    """``state`` reading ``history`` (:func:`history_arrays` of its returns) instead of
    deriving it, so the many snapshots of one bar share one covariance."""
    state.__dict__["_history"] = history
    return state


@dataclass(frozen=True)
class PortfolioState:
    """A consistent snapshot of the account, taken once per trading cycle.

    Parameters
    ----------
    equity
        Current account value (cash plus signed position values).
    cash
        Cash balance.
    positions
        Signed quantity per symbol (negative for shorts).
    prices
        Latest price per symbol; every non-zero position needs one.
    start_of_day_equity
        Equity at the start of the trading day (daily-loss limit).
    peak_equity
        Highest equity seen (drawdown limit and kill switch).
    recent_order_times
        Submission times of recent orders (the order-rate limit); naive times are UTC.
    returns_history
        Daily simple returns, one column per symbol (VaR, correlation, concentration);
        rows with any missing value are dropped.

    Derived arrays (exposures, covariance) are computed once and cached, so one snapshot
    can check many orders quickly.
    """

    equity: float
    cash: float
    positions: Mapping[str, float]
    prices: Mapping[str, float]
    start_of_day_equity: float
    peak_equity: float
    recent_order_times: Sequence[datetime] = ()
    returns_history: pd.DataFrame | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        # SQLite hands back naive datetimes: read naive as UTC so comparisons never fail.
        times = [t if t.tzinfo else t.replace(tzinfo=UTC) for t in self.recent_order_times]
        object.__setattr__(self, "recent_order_times", times)
        for name in ("equity", "cash", "start_of_day_equity", "peak_equity"):
            value = getattr(self, name)
            if not math.isfinite(value):
                raise ValueError(f"{name} must be a finite number; got {value!r}")
        if self.start_of_day_equity <= 0 or self.peak_equity <= 0:
            raise ValueError(
                "start_of_day_equity and peak_equity must be positive; "
                f"got {self.start_of_day_equity!r} and {self.peak_equity!r}"
            )
        missing = [s for s, q in self.positions.items() if q != 0 and s not in self.prices]
        if missing:
            raise ValueError(f"prices missing for held positions {sorted(missing)}; add them")
        bad = [s for s, p in self.prices.items() if not (p > 0 and math.isfinite(p))]
        if bad:
            raise ValueError(f"prices must be positive and finite; bad for {sorted(bad)}")

    # ---------------------------------------------------------------- exposures
    @cached_property
    def position_values(self) -> dict[str, float]:
        """Signed value per held symbol."""
        return {s: q * self.prices[s] for s, q in self.positions.items() if q != 0}

    @cached_property
    def gross_value(self) -> float:
        """Sum of absolute position values."""
        return float(sum(abs(v) for v in self.position_values.values()))

    @cached_property
    def net_value(self) -> float:
        """Sum of signed position values."""
        return float(sum(self.position_values.values()))

    @property
    def daily_loss(self) -> float:
        """Loss since the start of the day as a fraction (negative when up)."""
        return 1.0 - self.equity / self.start_of_day_equity

    @property
    def drawdown(self) -> float:
        """Fall from peak equity as a fraction (0 at a new high)."""
        return max(0.0, 1.0 - self.equity / self.peak_equity)

    # ---------------------------------------------------------------- history
    @cached_property
    def _history(self) -> HistoryArrays:
        """Column index, returns matrix (T, N), column means and sample covariance."""
        if self.returns_history is None or self.returns_history.empty:
            return NO_HISTORY
        frame = self.returns_history.dropna(how="any")
        return history_arrays(frame.to_numpy(dtype=np.float64), frame.columns)

    @cached_property
    def weights_vector(self) -> np.ndarray:
        """Signed weights aligned with the columns of ``returns_history``."""
        index, matrix, _, _ = self._history
        w = np.zeros(matrix.shape[1])
        if self.equity > 0:
            for sym, value in self.position_values.items():
                j = index.get(sym)
                if j is not None:
                    w[j] = value / self.equity
        return w

    def unmodelled(self, extra: str | None = None) -> list[str]:
        """Held symbols (and ``extra``) with no column in ``returns_history``."""
        index = self._history[0]
        names = set(self.position_values)
        if extra is not None:
            names.add(extra)
        return sorted(s for s in names if s not in index)


def build_portfolio_state(
    *,
    equity: float,
    cash: float,
    positions: Mapping[str, float],
    prices: Mapping[str, float],
    bar: int | None = None,
    equity_at_close: Mapping[int, float] | None = None,
    peak_equity: float | None = None,
    recent_order_times: Sequence[datetime] = (),
    returns_history: pd.DataFrame | None = None,
) -> PortfolioState:
    """The one way to build a :class:`PortfolioState`: the paper worker, the pre-trade
    check and the risk report all call it, so they agree on the daily loss and drawdown.

    Parameters
    ----------
    equity, cash
        The account now, marked at bar ``bar``'s close.
    positions, prices
        Signed quantities (flat ones are dropped) and their prices.
    bar, equity_at_close
        The bar the book stands at, and the equity at the close of earlier bars (e.g.
        a paper session's equity snapshots). Bars are trading days, so the day starts
        at the close of the last bar before ``bar`` (any bar when ``bar`` is None);
        with none, at ``equity`` (no loss yet).
    peak_equity
        Highest equity recorded; the peak is never below the day's start or ``equity``.
    recent_order_times, returns_history
        As in :class:`PortfolioState`.

    >>> s = build_portfolio_state(equity=97.0, cash=97.0, positions={}, prices={},
    ...     bar=3, equity_at_close={1: 99.0, 2: 100.0, 3: 97.0}, peak_equity=100.0)
    >>> round(s.daily_loss, 6), round(s.drawdown, 6)
    (0.03, 0.03)
    """
    closes = equity_at_close or {}
    before = [b for b in closes if bar is None or b < bar]
    start = closes[max(before)] if before else equity
    peak = max(equity if peak_equity is None else peak_equity, start, equity)
    return PortfolioState(
        equity=equity,
        cash=cash,
        positions={s: q for s, q in positions.items() if q != 0},
        prices=dict(prices),
        start_of_day_equity=start,
        peak_equity=peak,
        recent_order_times=list(recent_order_times),
        returns_history=returns_history,
    )
