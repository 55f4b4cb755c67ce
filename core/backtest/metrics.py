"""Performance metrics as pure numpy functions.

Every function takes per-bar simple returns (or positions) as a 1-D array of shape
``(T,)`` or a 2-D array of shape ``(T, N)`` (one column per strategy) and reduces along
axis 0, so a parameter sweep computes all columns at once. Conventions: risk-free rate
0, sample standard deviation (``ddof=1``), drawdowns as non-positive fractions.
Degenerate inputs (zero variance, no losses) give NaN rather than infinities.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

TRADING_DAYS = 252.0


def _arr(values: np.ndarray) -> np.ndarray:
    return np.asarray(values, dtype=np.float64)


def _safe_div(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    num, den = np.broadcast_arrays(_arr(num), _arr(den))
    out = np.full(num.shape, np.nan)
    ok = den != 0
    np.divide(num, den, out=out, where=ok)
    return out[()] if out.ndim == 0 else out


def returns_from_equity(equity: np.ndarray, init_cash: float) -> np.ndarray:
    """Per-bar simple returns; the first bar is measured against ``init_cash``.

    >>> returns_from_equity(np.array([110.0, 99.0]), 100.0)
    array([ 0.1, -0.1])
    """
    equity = _arr(equity)
    prev = np.empty_like(equity)
    prev[0] = init_cash
    prev[1:] = equity[:-1]
    out: np.ndarray = equity / prev - 1.0
    return out


def equity_curve(returns: np.ndarray, start: float = 1.0) -> np.ndarray:
    """Compound returns into an equity curve starting from ``start``.

    >>> equity_curve(np.array([0.1, -0.1]), 100.0)
    array([110.,  99.])
    """
    return start * np.cumprod(1.0 + _arr(returns), axis=0)


def total_return(returns: np.ndarray) -> np.ndarray:
    """Compounded return over the whole sample, ``prod(1 + r) - 1``.

    >>> round(float(total_return(np.array([0.1, -0.1]))), 10)
    -0.01
    """
    out: np.ndarray = np.prod(1.0 + _arr(returns), axis=0) - 1.0
    return out


def cagr(returns: np.ndarray, periods_per_year: float = TRADING_DAYS) -> np.ndarray:
    """Compound annual growth rate, ``(1 + total) ** (periods_per_year / T) - 1``.

    >>> round(float(cagr(np.full(252, 0.001))), 6)
    0.286434
    """
    returns = _arr(returns)
    growth = 1.0 + total_return(returns)
    with np.errstate(invalid="ignore"):
        return np.where(growth > 0, growth ** (periods_per_year / returns.shape[0]), 0.0) - 1.0


def annualized_volatility(
    returns: np.ndarray, periods_per_year: float = TRADING_DAYS
) -> np.ndarray:
    """Sample standard deviation times ``sqrt(periods_per_year)``.

    >>> round(float(annualized_volatility(np.array([0.01, -0.01]), 4)), 6)
    0.028284
    """
    out: np.ndarray = np.std(_arr(returns), axis=0, ddof=1) * np.sqrt(periods_per_year)
    return out


def sharpe_ratio(returns: np.ndarray, periods_per_year: float = TRADING_DAYS) -> np.ndarray:
    """Annualized Sharpe ratio with zero risk-free rate, ``mean / std * sqrt(ppy)``.

    >>> r = np.array([0.01, 0.02, -0.01, 0.0])
    >>> round(float(sharpe_ratio(r)), 6)
    6.14817
    """
    returns = _arr(returns)
    std = np.std(returns, axis=0, ddof=1)
    out: np.ndarray = _safe_div(np.mean(returns, axis=0), std) * np.sqrt(periods_per_year)
    return out


def sortino_ratio(returns: np.ndarray, periods_per_year: float = TRADING_DAYS) -> np.ndarray:
    """Annualized Sortino ratio: ``mean / sqrt(mean(min(r, 0)**2)) * sqrt(ppy)``.

    >>> round(float(sortino_ratio(np.array([0.02, -0.01, 0.01, -0.02]), 1)), 6)
    0.0
    """
    returns = _arr(returns)
    downside = np.sqrt(np.mean(np.minimum(returns, 0.0) ** 2, axis=0))
    out: np.ndarray = _safe_div(np.mean(returns, axis=0), downside) * np.sqrt(periods_per_year)
    return out


def drawdown(equity: np.ndarray) -> np.ndarray:
    """Fractional distance below the running peak of an equity curve (<= 0).

    >>> drawdown(np.array([100.0, 120.0, 90.0, 130.0]))
    array([ 0.  ,  0.  , -0.25,  0.  ])
    """
    equity = _arr(equity)
    return equity / np.maximum.accumulate(equity, axis=0) - 1.0


def max_drawdown(returns: np.ndarray) -> np.ndarray:
    """Deepest peak-to-trough loss of the compounded returns (the start counts as a peak).

    >>> round(float(max_drawdown(np.array([0.2, -0.25, 0.1]))), 6)
    -0.25
    """
    returns = _arr(returns)
    wealth = np.concatenate([np.ones((1, *returns.shape[1:])), equity_curve(returns)], axis=0)
    out: np.ndarray = np.min(drawdown(wealth), axis=0)
    return out


def max_drawdown_duration(returns: np.ndarray) -> np.ndarray:
    """Longest stretch, in bars, spent below a previous equity peak.

    >>> int(max_drawdown_duration(np.array([0.1, -0.1, 0.05, 0.1, -0.01])))
    2
    """
    returns = _arr(returns)
    wealth = np.concatenate([np.ones((1, *returns.shape[1:])), equity_curve(returns)], axis=0)
    peak = np.maximum.accumulate(wealth, axis=0)
    steps = np.arange(wealth.shape[0]).reshape((-1,) + (1,) * (wealth.ndim - 1))
    at_peak = wealth >= peak
    last_peak = np.maximum.accumulate(np.where(at_peak, steps, 0), axis=0)
    out: np.ndarray = np.max(steps - last_peak, axis=0)
    return out


def calmar_ratio(returns: np.ndarray, periods_per_year: float = TRADING_DAYS) -> np.ndarray:
    """CAGR divided by the absolute maximum drawdown (NaN without a drawdown).

    >>> round(float(calmar_ratio(np.array([0.2, -0.25, 0.1]), 3)), 6)
    -0.04
    """
    return _safe_div(cagr(returns, periods_per_year), -max_drawdown(returns))


def n_trades(positions: np.ndarray) -> np.ndarray:
    """Number of position openings: moves into a non-zero position of a new sign.

    A reversal (long to short) counts as one new trade; resizing does not.

    >>> int(n_trades(np.array([0.0, 1.0, 0.5, -1.0, 0.0, 1.0])))
    3
    """
    sign = np.sign(_arr(positions))
    prev = np.concatenate([np.zeros((1, *sign.shape[1:])), sign[:-1]], axis=0)
    out: np.ndarray = np.sum((sign != 0) & (sign != prev), axis=0)
    return out


def exposure(positions: np.ndarray) -> np.ndarray:
    """Fraction of bars with a non-zero position.

    >>> float(exposure(np.array([0.0, 1.0, -1.0, 0.0])))
    0.5
    """
    out: np.ndarray = np.mean(_arr(positions) != 0, axis=0)
    return out


def turnover(positions: np.ndarray, periods_per_year: float = TRADING_DAYS) -> np.ndarray:
    """Annualized sum of ``|Δposition|`` (starting flat): ``sum|Δp| / T * ppy``.

    >>> float(turnover(np.array([0.0, 1.0, 1.0, 0.0]), periods_per_year=4))
    2.0
    """
    positions = _arr(positions)
    prev = np.concatenate([np.zeros((1, *positions.shape[1:])), positions[:-1]], axis=0)
    out: np.ndarray = (
        np.sum(np.abs(positions - prev), axis=0) / positions.shape[0] * periods_per_year
    )
    return out


def win_rate(trade_pnl: np.ndarray) -> float:
    """Share of trades with positive PnL (NaN without trades).

    >>> win_rate(np.array([10.0, -5.0, 3.0, 0.0]))
    0.5
    """
    trade_pnl = _arr(trade_pnl)
    return float(np.mean(trade_pnl > 0)) if trade_pnl.size else float("nan")


def profit_factor(trade_pnl: np.ndarray) -> float:
    """Gross profit divided by gross loss (NaN without losing trades).

    >>> profit_factor(np.array([10.0, -5.0, 3.0]))
    2.6
    """
    trade_pnl = _arr(trade_pnl)
    loss = -trade_pnl[trade_pnl < 0].sum()
    return float(trade_pnl[trade_pnl > 0].sum() / loss) if loss > 0 else float("nan")


def summary(
    returns: np.ndarray,
    positions: np.ndarray,
    periods_per_year: float = TRADING_DAYS,
) -> dict[str, np.ndarray]:
    """All return- and position-based metrics at once (1-D or 2-D inputs)."""
    return {
        "total_return": total_return(returns),
        "cagr": cagr(returns, periods_per_year),
        "volatility": annualized_volatility(returns, periods_per_year),
        "sharpe": sharpe_ratio(returns, periods_per_year),
        "sortino": sortino_ratio(returns, periods_per_year),
        "max_drawdown": max_drawdown(returns),
        "max_drawdown_duration": max_drawdown_duration(returns),
        "calmar": calmar_ratio(returns, periods_per_year),
        "n_trades": n_trades(positions),
        "exposure": exposure(positions),
        "turnover": turnover(positions, periods_per_year),
    }


def _rows(values: np.ndarray) -> np.ndarray:
    """(T,) or (T, N) -> contiguous (N, T) rows (a view when already laid out that way)."""
    values = np.asarray(values)
    return np.ascontiguousarray(values[None, :] if values.ndim == 1 else values.T)


def _unrow(values: np.ndarray, one_d: bool) -> np.ndarray:
    return values[0] if one_d else values


def equity_metrics(
    equity: np.ndarray, init_cash: float, periods_per_year: float = TRADING_DAYS
) -> dict[str, np.ndarray]:
    """Return-based metrics straight from equity curves, computed once for all columns.

    Same definitions as :func:`total_return`, :func:`sharpe_ratio`, ... applied to
    ``returns_from_equity(equity, init_cash)``, with the running peak starting at
    ``init_cash``; faster on (T, N) inputs because intermediate arrays are shared and
    scans run along contiguous rows.
    """
    one_d = np.ndim(equity) == 1
    eq = _rows(np.asarray(equity, dtype=np.float64))
    n_cols, n_bars = eq.shape
    rets = np.empty_like(eq)
    np.divide(eq[:, 1:], eq[:, :-1], out=rets[:, 1:])
    rets[:, 0] = eq[:, 0] / init_cash
    rets -= 1.0
    total = eq[:, -1] / init_cash - 1.0
    mean = rets.mean(axis=1)
    std = rets.std(axis=1, ddof=1)
    downside = np.minimum(rets, 0.0, out=rets)
    downside_dev = np.sqrt(np.einsum("ij,ij->i", downside, downside) / n_bars)
    ann = np.sqrt(periods_per_year)
    growth = 1.0 + total
    with np.errstate(invalid="ignore", divide="ignore"):
        cagr_ = np.where(growth > 0, growth ** (periods_per_year / n_bars), 0.0) - 1.0
    peak = np.maximum.accumulate(eq, axis=1)
    np.maximum(peak, init_cash, out=peak)
    at_peak = np.empty((n_cols, n_bars + 2), dtype=bool)
    at_peak[:, 0] = True
    at_peak[:, -1] = True
    np.greater_equal(eq, peak, out=at_peak[:, 1:-1])
    np.divide(eq, peak, out=peak)
    mdd = np.minimum(peak.min(axis=1) - 1.0, 0.0)
    peaks = np.flatnonzero(at_peak)
    row_first = np.searchsorted(peaks, np.arange(n_cols) * (n_bars + 2))
    duration = np.maximum.reduceat(np.diff(peaks) - 1, row_first)
    out = {
        "total_return": total,
        "cagr": cagr_,
        "volatility": std * ann,
        "sharpe": _safe_div(mean, std) * ann,
        "sortino": _safe_div(mean, downside_dev) * ann,
        "max_drawdown": mdd,
        "max_drawdown_duration": duration,
        "calmar": _safe_div(cagr_, -mdd),
    }
    return {k: _unrow(np.atleast_1d(v), one_d) for k, v in out.items()}


def position_metrics(
    positions: np.ndarray, periods_per_year: float = TRADING_DAYS
) -> dict[str, np.ndarray]:
    """:func:`n_trades`, :func:`exposure` and :func:`turnover` for (T,) or (T, N) positions."""
    one_d = np.ndim(positions) == 1
    pos = _rows(positions)
    if pos.dtype == bool:
        pos = pos.view(np.int8)
    n_bars = pos.shape[1]
    in_market = pos != 0
    if np.issubdtype(pos.dtype, np.integer):
        sign = pos.astype(np.int8)
        pos_f = sign
    else:
        sign = np.sign(pos)
        pos_f = pos
    changed = np.empty_like(in_market)
    changed[:, 0] = in_market[:, 0]
    np.not_equal(sign[:, 1:], sign[:, :-1], out=changed[:, 1:])
    changed &= in_market
    delta = np.abs(np.diff(pos_f, axis=1, prepend=0).astype(np.float64))
    out = {
        "n_trades": changed.sum(axis=1),
        "exposure": in_market.mean(axis=1),
        "turnover": delta.sum(axis=1) / n_bars * periods_per_year,
    }
    return {k: _unrow(v, one_d) for k, v in out.items()}


def as_floats(metrics: Mapping[str, Any]) -> dict[str, float]:
    """Numeric metric values as plain floats (None -> NaN); other values are dropped.

    >>> as_floats({"sharpe": np.float64(1.5), "n_trades": 3, "total_fees": None, "note": "x"})
    {'sharpe': 1.5, 'n_trades': 3.0, 'total_fees': nan}
    """
    return {
        key: float("nan") if value is None else float(np.asarray(value).item())
        for key, value in metrics.items()
        if value is None or isinstance(value, int | float | np.number)
    }
