"""Replay of the decision pipeline over history: bar by bar, or vectorized (the same
decisions; only the selector loop stays sequential)."""

from __future__ import annotations

import math
import time

import numpy as np
import pandas as pd

from core.ensemble import agent_positions, bar_legs, position_returns, run_online
from core.pipeline.pipeline import _NO_TRADE, DecisionPipeline, SymbolBook, _bars, _VolState
from core.regime import LABELS


def replay(
    prices: pd.DataFrame,
    pipeline: DecisionPipeline,
    *,
    init_equity: float = 100_000.0,
    vectorized: bool | None = None,
) -> pd.DataFrame:
    """Run a fresh copy of ``pipeline`` over ``prices`` and return one row per decision.

    The simulated book fills every approved order at the decision bar's close, so the
    equity passed to bar t's decision is marked to its close:
    ``equity_t = equity_{t-1} + shares_{t-1} * (close_t - close_{t-1})``.

    Parameters
    ----------
    prices : DataFrame
        Canonical frame (``close``; ``open/high/low`` used when present).
    pipeline : DecisionPipeline
        Template; it is not mutated.
    init_equity : float
    vectorized : bool, optional
        ``True``: batch path (strategies, regime filter, sizing and book as arrays; only
        the selector loop is sequential), same decisions as stepping. ``False``: call
        :meth:`DecisionPipeline.step` bar by bar. Default: vectorized unless a risk hook
        is set (a hook sees each order, so it needs the step path).

    Returns
    -------
    DataFrame
        Indexed by bar: ``symbol, regime, p_<label>..., w_<agent>..., pos_<agent>...,
        signal, target_position, order_qty, approved, approved_qty, risk_reason,
        explanation, latency_us, equity``.
    """
    if vectorized is None:
        vectorized = pipeline.risk_hook is None
    if vectorized and pipeline.risk_hook is not None:
        raise ValueError("the vectorized replay cannot call a risk hook; use vectorized=False")
    return (_replay_vectorized if vectorized else _replay_steps)(prices, pipeline, init_equity)


def _replay_steps(
    prices: pd.DataFrame, template: DecisionPipeline, init_equity: float
) -> pd.DataFrame:
    pipe = template.fresh()
    equity, shares, prev_close = init_equity, 0.0, math.nan
    rows = []
    for bar in _bars(prices, pipe.symbol):
        close = float(bar["close"])
        if math.isfinite(prev_close):
            equity += shares * (close - prev_close)
        d = pipe.step(bar, SymbolBook(equity=equity, shares=shares))
        shares += d.approved_qty
        prev_close = close
        row = {
            "symbol": d.symbol,
            "regime": d.regime,
            **{f"p_{k}": v for k, v in d.regime_probs.items()},
            **{f"w_{k}": v for k, v in d.weights.items()},
            **{f"pos_{k}": v for k, v in d.agent_positions.items()},
            "signal": d.signal,
            "target_position": d.target_position,
            "order_qty": d.order_qty,
            "approved": d.approved,
            "approved_qty": d.approved_qty,
            "risk_reason": d.risk_reason,
            "explanation": d.explanation,
            "latency_us": d.latency_us,
            "equity": equity,
        }
        rows.append(row)
    return pd.DataFrame(rows, index=prices.index)


def _vol_path(close: np.ndarray, halflife: float) -> tuple[np.ndarray, np.ndarray]:
    """The :class:`_VolState` recursion over a whole series (same float operations)."""
    state = _VolState(halflife)
    var = np.empty(close.shape[0])
    n = np.empty(close.shape[0], dtype=np.int64)
    for t, c in enumerate(close.tolist()):
        state.update(c)
        var[t], n[t] = state.var, state.n
    return var, n


def _replay_vectorized(
    prices: pd.DataFrame, template: DecisionPipeline, init_equity: float
) -> pd.DataFrame:
    t0 = time.perf_counter_ns()
    names = list(template.names)
    sizing = template.sizing
    close = prices["close"].to_numpy(dtype=np.float64)
    pos = agent_positions(template.agents, prices).to_numpy(dtype=np.float64)
    probs = template.regime_model.fresh().filter(prices).to_numpy(dtype=np.float64)
    gap, session = bar_legs(prices)
    rewards = position_returns(pos, gap, session, template.cost)
    run = run_online(template.selector.fresh(), rewards, probs, start=0)
    signal = np.einsum("tk,tk->t", run.weights, pos)
    var, n = _vol_path(close, sizing.vol_halflife)
    if sizing.vol_target is None:
        scale = np.ones_like(close)
    else:
        with np.errstate(invalid="ignore", divide="ignore"):
            scale = sizing.vol_target / np.sqrt(var * sizing.periods_per_year)
        scale = np.where((n >= sizing.min_vol_bars) & (var > 0), scale, 0.0)
    confidence = probs.max(axis=1) if sizing.confidence_scaling else 1.0
    target = np.clip(signal * scale * confidence, -sizing.max_position, sizing.max_position)
    growth = np.ones_like(close)
    growth[1:] = 1.0 + target[:-1] * (close[1:] / close[:-1] - 1.0)
    equity = init_equity * np.cumprod(growth)
    shares = np.where(equity > 0, target * equity / close, 0.0)
    qty = np.diff(shares, prepend=0.0)
    qty[np.abs(qty) * close <= _NO_TRADE * np.maximum(equity, 1.0)] = 0.0
    frame = pd.DataFrame(index=prices.index)
    frame["symbol"] = template.symbol
    frame["regime"] = np.asarray(LABELS)[np.argmax(probs, axis=1)]
    for j, label in enumerate(LABELS):
        frame[f"p_{label}"] = probs[:, j]
    for j, name in enumerate(names):
        frame[f"w_{name}"] = run.weights[:, j]
    for j, name in enumerate(names):
        frame[f"pos_{name}"] = pos[:, j]
    frame["signal"] = signal
    frame["target_position"] = target
    frame["order_qty"] = qty
    frame["approved"] = True
    frame["approved_qty"] = qty
    frame["risk_reason"] = np.where(
        qty != 0.0, "approved (no risk hook)", "no order (already at target)"
    )
    frame["explanation"] = run.explanations
    frame["latency_us"] = (time.perf_counter_ns() - t0) / 1e3 / max(len(frame), 1)
    frame["equity"] = equity
    return frame
