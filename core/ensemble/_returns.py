"""Per-bar returns of target positions under the workbench execution convention.

A target decided at the close of bar t is filled at the open of bar t+1 (at its close when
the data has no ``open``). Over bar t the book therefore holds ``p[t-2]`` from the previous
close to the open and ``p[t-1]`` from the open to the close, and pays
``cost * |p[t-1] - p[t-2]|`` on the fill. Positions are fractions of equity, rebalanced to
constant fractions (a linear return model; :func:`core.backtest.run_backtest` keeps share
counts instead, so the two differ slightly while a target is held).
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def bar_legs(prices: pd.DataFrame | pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Gap (previous close -> open) and session (open -> close) returns per bar.

    Without an ``open`` column the whole close-to-close return is the gap leg and the
    session leg is 0 (fills happen at the close). Bar 0 has no previous close: both 0.

    >>> f = pd.DataFrame({"open": [10.0, 11.0], "close": [10.0, 12.1]})
    >>> [a.round(3).tolist() for a in bar_legs(f)]
    [[0.0, 0.1], [0.0, 0.1]]
    """
    if isinstance(prices, pd.Series):
        close = prices.to_numpy(dtype=np.float64)
        open_ = None
    else:
        close = prices["close"].to_numpy(dtype=np.float64)
        open_ = prices["open"].to_numpy(dtype=np.float64) if "open" in prices.columns else None
    gap = np.zeros_like(close)
    session = np.zeros_like(close)
    with np.errstate(invalid="ignore", divide="ignore"):
        if open_ is None:
            gap[1:] = close[1:] / close[:-1] - 1.0
        else:
            gap[1:] = open_[1:] / close[:-1] - 1.0
            session[1:] = close[1:] / open_[1:] - 1.0
    gap[~np.isfinite(gap)] = 0.0
    session[~np.isfinite(session)] = 0.0
    return gap, session


def position_returns(
    positions: np.ndarray, gap: np.ndarray, session: np.ndarray, cost: float
) -> np.ndarray:
    """Net per-bar returns of target positions ``(T,)`` or ``(T, N)`` (see module notes).

    >>> gap = np.array([0.0, 0.01, 0.02]); session = np.zeros(3)
    >>> position_returns(np.array([1.0, 1.0, 1.0]), gap, session, 0.0).round(6).tolist()
    [0.0, 0.0, 0.02]
    """
    pos = np.asarray(positions, dtype=np.float64)
    shape = (1, *pos.shape[1:])
    p1 = np.concatenate([np.zeros(shape), pos[:-1]], axis=0)  # decided at t-1, held in session t
    p2 = np.concatenate([np.zeros(shape), p1[:-1]], axis=0)  # decided at t-2, held over gap t
    g = gap.reshape((-1,) + (1,) * (pos.ndim - 1))
    s = session.reshape((-1,) + (1,) * (pos.ndim - 1))
    returns: np.ndarray = (1.0 + p2 * g) * (1.0 + p1 * s) - 1.0 - cost * np.abs(p1 - p2)
    return returns


def step_return(
    p2: np.ndarray | float, p1: np.ndarray | float, gap: float, session: float, cost: float
) -> np.ndarray | float:
    """One bar of :func:`position_returns` (the online form, same formula)."""
    return (1.0 + p2 * gap) * (1.0 + p1 * session) - 1.0 - cost * np.abs(p1 - p2)
