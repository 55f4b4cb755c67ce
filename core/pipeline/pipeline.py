"""One decision pipeline for replay, paper trading and pages.

Per bar, :meth:`DecisionPipeline.step`:

1. updates each agent's incremental strategy state (O(1) or a small window per bar) and
   scores the agents' realized returns of the bar (their positions decided at earlier
   closes, the workbench execution convention of :mod:`core.ensemble._returns`);
2. updates the filtered regime probabilities (:meth:`FilteredRegimeModel.update`);
3. feeds the realized returns to the selector and takes its weights for the next bar;
4. sizes: ``signal = weights @ agent positions``, times ``vol_target / realized vol``,
   times the regime confidence (largest filtered probability) when enabled, capped at
   ``max_position``;
5. proposes the order that moves the book to the target and asks the risk hook;
6. returns a :class:`Decision` with every number and the latency.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from core.ensemble import (
    Agent,
    Selector,
    agent_positions,
    bar_legs,
    position_returns,
    run_online,
    step_return,
)
from core.pipeline._incremental import make_kernel
from core.regime import LABELS, FilteredRegimeModel


class SizingSpec(BaseModel):
    """Position sizing of the pipeline (frozen).

    Parameters
    ----------
    vol_target : float or None
        Annualized volatility target; the signal is scaled by ``vol_target / realized``
        (an exponentially weighted estimate of the asset's volatility). None: no scaling.
    vol_halflife : float
        Half-life in bars of the volatility estimate.
    min_vol_bars : int
        Returns needed before the estimate is trusted (target 0 until then).
    max_position : float
        Cap on ``|target position|`` as a fraction of equity.
    confidence_scaling : bool
        Multiply by the largest filtered regime probability.
    periods_per_year : float
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    vol_target: float | None = Field(0.15, gt=0.0)
    vol_halflife: float = Field(20.0, gt=0.0)
    min_vol_bars: int = Field(20, ge=1)
    max_position: float = Field(1.0, gt=0.0, le=10.0)
    confidence_scaling: bool = True
    periods_per_year: float = Field(252.0, gt=0.0)


@dataclass(frozen=True, slots=True)
class PortfolioState:
    """What the book holds before the decision, and the bounds the limits in force allow.

    Parameters
    ----------
    equity
        Equity marked at this bar's close.
    shares
        Shares held.
    max_long, max_short
        Largest long and short target, as fractions of equity (the caller derives them
        from its risk limits and the rest of the book); the target is clipped to them.
    max_order_value
        Largest value of the order that moves the book towards the target.
    """

    equity: float
    shares: float = 0.0
    max_long: float = math.inf
    max_short: float = math.inf
    max_order_value: float = math.inf


@dataclass(frozen=True, slots=True)
class ProposedOrder:
    """The order that would move the book to the target (``qty`` > 0; ``side`` gives sign)."""

    symbol: str
    ts: Any
    side: str
    qty: float
    price: float
    target_position: float
    current_position: float


@dataclass(frozen=True, slots=True)
class RiskDecision:
    """Verdict of a pre-trade risk check: approved quantity (possibly reduced) and why."""

    approved: bool
    qty: float
    reason: str = ""


class RiskHook(Protocol):
    """Pre-trade risk check (the risk engine plugs in here)."""

    def __call__(self, order: ProposedOrder, state: PortfolioState) -> RiskDecision:
        """Approve, reduce or reject ``order`` given ``state``."""
        ...


def approve_all(order: ProposedOrder, state: PortfolioState) -> RiskDecision:
    """Default risk hook: approve every order in full."""
    return RiskDecision(approved=True, qty=order.qty, reason="approved (no risk hook)")


@dataclass(frozen=True, slots=True)
class Decision:
    """Everything the pipeline decided at one close.

    ``order_qty`` is signed (buy > 0); ``approved_qty`` is what the risk hook let through
    (signed). ``latency_us`` is the wall time of :meth:`DecisionPipeline.step` (amortized
    per bar in the vectorized replay). ``sized_by`` names the state's bound that cut the
    target or the order (``max_long``, ``max_short``, ``max_order_value``), else "".
    """

    ts: Any
    symbol: str
    regime: str
    regime_probs: dict[str, float]
    weights: dict[str, float]
    agent_positions: dict[str, float]
    signal: float
    target_position: float
    order_qty: float
    approved: bool
    approved_qty: float
    risk_reason: str
    explanation: str
    latency_us: float = field(default=0.0)
    sized_by: str = ""

    def as_dict(self) -> dict[str, Any]:
        """Plain dict (JSON-ready apart from ``ts``)."""
        return asdict(self)


_NO_TRADE = 1e-9
"""Orders worth at most this fraction of equity are rounding noise: no order."""


def _ewm_alpha(halflife: float) -> float:
    return 1.0 - 0.5 ** (1.0 / halflife)


class _VolState:
    """EW variance of log returns: ``v = (1 - a) v + a r^2`` (first value ``r^2``)."""

    __slots__ = ("alpha", "n", "prev", "var")

    def __init__(self, halflife: float) -> None:
        self.alpha = _ewm_alpha(halflife)
        self.prev = math.nan
        self.var = math.nan
        self.n = 0

    def update(self, close: float) -> None:
        r = math.log(close / self.prev) if self.prev > 0 else math.nan
        self.prev = close
        if not math.isfinite(r):
            return
        self.var = r * r if self.n == 0 else (1.0 - self.alpha) * self.var + self.alpha * r * r
        self.n += 1


def _vol_scale(var: float, n: int, sizing: SizingSpec) -> float:
    if sizing.vol_target is None:
        return 1.0
    if n < sizing.min_vol_bars or not var > 0:
        return 0.0
    return sizing.vol_target / math.sqrt(var * sizing.periods_per_year)


def _target(signal: float, scale: float, confidence: float, sizing: SizingSpec) -> float:
    raw = signal * scale * (confidence if sizing.confidence_scaling else 1.0)
    return max(-sizing.max_position, min(sizing.max_position, raw))


class DecisionPipeline:
    """Stateful per-symbol decision pipeline (see the module docstring for the stages).

    Parameters
    ----------
    agents : sequence of Agent
    selector : Selector
        Owned by the pipeline (it learns as bars arrive).
    regime_model : FilteredRegimeModel
        Fitted model; the pipeline keeps its own reset copy.
    sizing : SizingSpec, optional
    risk_hook : RiskHook, optional
        Default :func:`approve_all`.
    cost : float
        ``fees + slippage`` per unit traded, for the agents' realized returns.
    symbol : str
    """

    def __init__(
        self,
        *,
        agents: Sequence[Agent],
        selector: Selector,
        regime_model: FilteredRegimeModel,
        sizing: SizingSpec | None = None,
        risk_hook: RiskHook | None = None,
        cost: float = 0.001,
        symbol: str = "",
    ) -> None:
        self.agents = list(agents)
        names = tuple(a.name for a in self.agents)
        if names != selector.agents:
            raise ValueError(f"selector agents {selector.agents} differ from agents {names}")
        self.selector = selector
        self.regime_model = regime_model.fresh()
        self.sizing = sizing or SizingSpec()
        self.risk_hook = risk_hook
        self.cost = float(cost)
        self.symbol = symbol
        self.names = names
        self.reset()

    def reset(self) -> None:
        """Forget all bars (agents, regime filter, selector, volatility)."""
        self.kernels = [make_kernel(a.strategy, a.params) for a in self.agents]
        self.regime_model.reset()
        self.selector.reset()
        self._vol = _VolState(self.sizing.vol_halflife)
        k = len(self.agents)
        self._p1 = np.zeros(k)
        self._p2 = np.zeros(k)
        self._prev_close = math.nan

    def fresh(self, symbol: str | None = None) -> DecisionPipeline:
        """A new pipeline with the same configuration and no history."""
        return DecisionPipeline(
            agents=self.agents,
            selector=self.selector.fresh(),
            regime_model=self.regime_model,
            sizing=self.sizing,
            risk_hook=self.risk_hook,
            cost=self.cost,
            symbol=self.symbol if symbol is None else symbol,
        )

    def step(self, bar: Mapping[str, Any], state: PortfolioState) -> Decision:
        """Decide at the close of ``bar`` (keys ``ts, open, high, low, close``; ``symbol``
        and ``volume`` optional; a missing ``open`` means fills at the close)."""
        t0 = time.perf_counter_ns()
        close = float(bar["close"])
        raw_open = bar.get("open")
        open_ = float(raw_open) if raw_open is not None else math.nan
        high = float(bar.get("high", close))
        low = float(bar.get("low", close))
        # 1. agents: realized returns of this bar, then their new targets
        rewards = None
        prev = self._prev_close
        if prev > 0:
            if open_ > 0:
                gap, session = open_ / prev - 1.0, close / open_ - 1.0
            else:
                gap, session = close / prev - 1.0, 0.0
            rewards = step_return(self._p2, self._p1, gap, session, self.cost)
        positions = np.array([k.update(high, low, close) for k in self.kernels])
        self._prev_close = close
        self._vol.update(close)
        # 2. regime
        probs = self.regime_model.update({"close": close})
        # 3. selector
        if rewards is not None:
            self.selector.update(rewards, probs)
        sel = self.selector.step(probs)
        self._p2, self._p1 = self._p1, positions
        # 4. sizing
        signal = float(sel.weights @ positions)
        confidence = float(probs.max())
        target = _target(
            signal, _vol_scale(self._vol.var, self._vol.n, self.sizing), confidence, self.sizing
        )
        # 5. bounds of the limits in force, order, risk
        sized_by = ""
        if target > state.max_long:
            target, sized_by = state.max_long, "max_long"
        elif target < -state.max_short:
            target, sized_by = -state.max_short, "max_short"
        equity = state.equity
        target_shares = target * equity / close if equity > 0 else 0.0
        qty = target_shares - state.shares
        if abs(qty) * close > state.max_order_value:
            qty = math.copysign(state.max_order_value / close, qty)
            sized_by = "max_order_value"
        if abs(qty) * close <= _NO_TRADE * max(equity, 1.0):
            qty = 0.0
        symbol = str(bar.get("symbol", self.symbol))
        if qty != 0.0:
            order = ProposedOrder(
                symbol=symbol,
                ts=bar.get("ts"),
                side="buy" if qty > 0 else "sell",
                qty=abs(qty),
                price=close,
                target_position=target,
                current_position=state.shares * close / equity if equity > 0 else 0.0,
            )
            verdict = (self.risk_hook or approve_all)(order, state)
            approved_qty = math.copysign(verdict.qty, qty) if verdict.approved else 0.0
            approved, reason = verdict.approved, verdict.reason
        else:
            approved, approved_qty, reason = True, 0.0, "no order (already at target)"
        regime = LABELS[int(np.argmax(probs))]
        return Decision(
            ts=bar.get("ts"),
            symbol=symbol,
            regime=regime,
            regime_probs=dict(zip(LABELS, probs.tolist(), strict=True)),
            weights=dict(zip(self.names, sel.weights.tolist(), strict=True)),
            agent_positions=dict(zip(self.names, positions.tolist(), strict=True)),
            signal=signal,
            target_position=target,
            order_qty=qty,
            approved=approved,
            approved_qty=approved_qty,
            risk_reason=reason,
            explanation=sel.explanation,
            latency_us=(time.perf_counter_ns() - t0) / 1e3,
            sized_by=sized_by,
        )

    def warm_up(self, prices: pd.DataFrame) -> None:
        """Reset, then run ``prices`` through every stage (no orders kept)."""
        self.reset()
        for bar in _bars(prices, self.symbol):
            self.step(bar, PortfolioState(equity=1.0))


def _bars(prices: pd.DataFrame, symbol: str) -> list[dict[str, Any]]:
    cols = [c for c in ("open", "high", "low", "close", "volume") if c in prices.columns]
    frame = prices[cols]
    out = []
    for ts, row in zip(frame.index, frame.itertuples(index=False, name=None), strict=True):
        bar = dict(zip(cols, row, strict=True))
        bar["ts"] = ts
        bar["symbol"] = symbol
        out.append(bar)
    return out


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
        d = pipe.step(bar, PortfolioState(equity=equity, shares=shares))
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
