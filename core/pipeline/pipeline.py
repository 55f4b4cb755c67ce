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

:func:`core.pipeline.replay.replay` runs it over history.
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
class SymbolBook:
    """One symbol's share of the book before the decision, and the bounds the limits in
    force allow (not the whole portfolio: that is :class:`core.risk.PortfolioState`).

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
class OrderIntent:
    """The order that would move the book to the target, before the risk hook sees it
    (``qty`` > 0; ``side`` gives the sign)."""

    symbol: str
    ts: Any
    side: str
    qty: float
    price: float
    target_position: float
    current_position: float


@dataclass(frozen=True, slots=True)
class GateDecision:
    """The risk hook's verdict on an :class:`OrderIntent`: approved quantity (possibly
    reduced) and why (the hook may wrap :class:`core.risk.RiskDecision`)."""

    approved: bool
    qty: float
    reason: str = ""


class RiskHook(Protocol):
    """Pre-trade risk check (the risk engine plugs in here)."""

    def __call__(self, order: OrderIntent, state: SymbolBook) -> GateDecision:
        """Approve, reduce or reject ``order`` given ``state``."""
        ...


def approve_all(order: OrderIntent, state: SymbolBook) -> GateDecision:
    """Default risk hook: approve every order in full."""
    return GateDecision(approved=True, qty=order.qty, reason="approved (no risk hook)")


@dataclass(frozen=True, slots=True)
class Decision:
    """Everything the pipeline decided at one close.

    ``order_qty`` is signed (buy > 0); ``approved_qty`` is what the risk hook let through
    (signed). ``latency_us`` is the wall time of :meth:`DecisionPipeline.step` (amortized
    per bar in the vectorized replay). ``sized_by`` names the state's bound that cut the
    target or the order (``max_long``, ``max_short``, ``max_order_value``), else "".
    ``probability`` is a model agent's probability of an up move at this bar (None for
    the rule-agent ensemble, NaN while the model's features are still warming up).
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
    probability: float | None = None

    def as_dict(self) -> dict[str, Any]:
        """Plain dict (JSON-ready apart from ``ts``)."""
        return asdict(self)


_NO_TRADE = 1e-9
"""Orders worth at most this fraction of equity are rounding noise: no order."""


def _ewm_alpha(halflife: float) -> float:
    return float(1.0 - 0.5 ** (1.0 / halflife))


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


@dataclass(frozen=True, slots=True)
class PlacedOrder:
    """The target after the state's bounds, the order towards it and the hook's verdict."""

    target: float
    qty: float
    approved: bool
    approved_qty: float
    reason: str
    sized_by: str


def place_order(
    target: float,
    state: SymbolBook,
    close: float,
    symbol: str,
    ts: Any,
    risk_hook: RiskHook | None,
) -> PlacedOrder:
    """Clip ``target`` to the state's bounds, size the order that moves the book to it
    (within ``max_order_value``; rounding noise is no order) and ask the risk hook."""
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
    if qty != 0.0:
        order = OrderIntent(
            symbol=symbol,
            ts=ts,
            side="buy" if qty > 0 else "sell",
            qty=abs(qty),
            price=close,
            target_position=target,
            current_position=state.shares * close / equity if equity > 0 else 0.0,
        )
        verdict = (risk_hook or approve_all)(order, state)
        approved_qty = math.copysign(verdict.qty, qty) if verdict.approved else 0.0
        approved, reason = verdict.approved, verdict.reason
    else:
        approved, approved_qty, reason = True, 0.0, "no order (already at target)"
    return PlacedOrder(target, qty, approved, approved_qty, reason, sized_by)


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

    def step(self, bar: Mapping[str, Any], state: SymbolBook) -> Decision:
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
            self.selector.update(np.asarray(rewards, dtype=np.float64), probs)
        sel = self.selector.step(probs)
        self._p2, self._p1 = self._p1, positions
        # 4. sizing
        signal = float(sel.weights @ positions)
        confidence = float(probs.max())
        target = _target(
            signal, _vol_scale(self._vol.var, self._vol.n, self.sizing), confidence, self.sizing
        )
        # 5. bounds of the limits in force, order, risk
        symbol = str(bar.get("symbol", self.symbol))
        order = place_order(target, state, close, symbol, bar.get("ts"), self.risk_hook)
        regime = LABELS[int(np.argmax(probs))]
        return Decision(
            ts=bar.get("ts"),
            symbol=symbol,
            regime=regime,
            regime_probs=dict(zip(LABELS, probs.tolist(), strict=True)),
            weights=dict(zip(self.names, sel.weights.tolist(), strict=True)),
            agent_positions=dict(zip(self.names, positions.tolist(), strict=True)),
            signal=signal,
            target_position=order.target,
            order_qty=order.qty,
            approved=order.approved,
            approved_qty=order.approved_qty,
            risk_reason=order.reason,
            explanation=sel.explanation,
            latency_us=(time.perf_counter_ns() - t0) / 1e3,
            sized_by=order.sized_by,
        )

    def warm_up(self, prices: pd.DataFrame) -> None:
        """Reset, then run ``prices`` through every stage (no orders kept)."""
        self.reset()
        for bar in _bars(prices, self.symbol):
            self.step(bar, SymbolBook(equity=1.0))


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
