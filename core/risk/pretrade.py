"""The pre-trade check: approve, shrink or reject one proposed order.

Rules, in order:

1. **Kill switch and loss limits.** A drawdown from peak equity at or beyond
   ``max_drawdown`` sets ``kill_switch``; it and a daily loss at or beyond
   ``max_daily_loss`` reject any order that adds risk.
2. **Order rate.** ``max_orders_per_minute`` orders in the last 60 s reject every order.
3. **Shrink to fit.** The order is cut to the largest whole quantity (fractional when
   asked) that keeps the asset weight, gross and net exposure and the order's notional
   within limits; it is rejected when nothing fits.
4. **VaR and concentration.** If the (shrunk) order would push the 1-day 95% VaR past
   ``var_limit_95``, or make one asset carry more than ``max_concentration`` of the
   portfolio's volatility (Euler contributions; portfolios of two or more assets), it
   is rejected — unless it lowers that measure.

Orders that only reduce an existing position (towards zero, without flipping) pass
rules 1, 3 (except the notional cap) and 4, so the system can always de-risk.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import numpy as np

from core.risk._kernels import euler_contributions, historical_var, parametric_var
from core.risk.limits import RiskLimits
from core.risk.state import PortfolioState

Side = Literal["buy", "sell"]
_MINUTE = timedelta(seconds=60)
_EPS = 1e-9


@dataclass(frozen=True, slots=True)
class ProposedOrder:
    """An order the strategy wants to send.

    Parameters
    ----------
    symbol
        Ticker.
    side
        ``"buy"`` or ``"sell"``.
    qty
        Positive quantity.
    price
        Expected fill price; ``None`` uses ``state.prices[symbol]``.
    """

    symbol: str
    side: Side
    qty: float
    price: float | None = None

    def __post_init__(self) -> None:
        if self.side not in ("buy", "sell"):
            raise ValueError(f"side must be 'buy' or 'sell'; got {self.side!r}")
        if not (self.qty > 0 and math.isfinite(self.qty)):
            raise ValueError(f"qty must be positive (use side='sell' to sell); got {self.qty!r}")
        if self.price is not None and not (self.price > 0 and math.isfinite(self.price)):
            raise ValueError(f"price must be positive; got {self.price!r}")
        if not self.symbol:
            raise ValueError("symbol must not be empty")


@dataclass(frozen=True, slots=True)
class RiskDecision:
    """The verdict on one order.

    Attributes
    ----------
    approved
        Send ``allowed_quantity`` (> 0) when true.
    requested_quantity, allowed_quantity
        What was asked and what may be sent (0 when rejected).
    rejection_reasons
        Why the order was rejected (empty when approved).
    adjustments
        How an approved order was shrunk, and checks that could not run.
    kill_switch
        The drawdown limit is breached: stop trading and flatten (caller's policy).
    """

    approved: bool
    requested_quantity: float
    allowed_quantity: float
    rejection_reasons: list[str] = field(default_factory=list)
    adjustments: list[str] = field(default_factory=list)
    kill_switch: bool = False

    @property
    def shrunk(self) -> bool:
        """Approved for less than requested."""
        return self.approved and self.allowed_quantity < self.requested_quantity

    @property
    def reasons(self) -> list[str]:
        """Every message, rejections first."""
        return [*self.rejection_reasons, *self.adjustments]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (for decision logs)."""
        return {
            "approved": self.approved,
            "requested_quantity": self.requested_quantity,
            "allowed_quantity": self.allowed_quantity,
            "rejection_reasons": list(self.rejection_reasons),
            "adjustments": list(self.adjustments),
            "kill_switch": self.kill_switch,
        }


def _floor(qty: float, fractional: bool) -> float:
    if fractional:
        return math.floor(qty * 1e6 + 1e-6) / 1e6
    return float(math.floor(qty + 1e-9))


def _fmt_qty(qty: float) -> str:
    return f"{qty:,.0f} shares" if qty == int(qty) else f"{qty:,.6g} shares"


def pre_trade_check(
    order: ProposedOrder,
    state: PortfolioState,
    limits: RiskLimits,
    now: datetime | None = None,
    *,
    fractional: bool = False,
) -> RiskDecision:
    """Approve, shrink or reject ``order`` against ``limits`` (see the module docstring).

    Parameters
    ----------
    order
        The proposed order.
    state
        The portfolio snapshot.
    limits
        Limits in force.
    now
        The check's time, for the order-rate limit; default now; naive means UTC.
    fractional
        Allow fractional quantities; otherwise shrinking rounds down to whole shares.

    Returns
    -------
    RiskDecision
    """
    now = now or datetime.now(UTC)
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    sym = order.symbol
    price = order.price if order.price is not None else state.prices.get(sym)
    requested = float(order.qty)
    if price is None:
        return RiskDecision(
            False, requested, 0.0, [f"{sym}: no price to value the order; supply one"]
        )
    sign = 1.0 if order.side == "buy" else -1.0
    q0 = float(state.positions.get(sym, 0.0))
    reduces = sign * q0 < 0 and requested <= abs(q0) + _EPS
    equity = state.equity
    rejections: list[str] = []
    adjustments: list[str] = []

    # 1. kill switch, daily loss
    drawdown = state.drawdown
    kill = drawdown >= limits.max_drawdown
    if kill and not reduces:
        rejections.append(
            f"drawdown {drawdown:.1%} >= limit {limits.max_drawdown:.1%}: kill switch engaged; "
            "only orders that reduce a position pass"
        )
    daily_loss = state.daily_loss
    if daily_loss >= limits.max_daily_loss and not reduces:
        rejections.append(
            f"daily loss {daily_loss:.2%} >= limit {limits.max_daily_loss:.2%}: no new risk "
            "until the next trading day"
        )
    if equity <= 0 and not reduces:
        rejections.append(f"equity is {equity:,.2f}: no new risk")

    # 2. order rate
    window_start = now - _MINUTE
    recent = [t for t in state.recent_order_times if window_start < t <= now]
    if len(recent) >= limits.max_orders_per_minute:
        wait = (min(recent) + _MINUTE - now).total_seconds()
        rejections.append(
            f"{len(recent)} orders in the last minute >= limit {limits.max_orders_per_minute}"
            f"/min; retry in {max(wait, 0.0):.0f} s"
        )
    if rejections:
        return RiskDecision(False, requested, 0.0, rejections, [], kill)

    # 3. shrink to fit
    allowed = requested
    violations: list[str] = []
    notional_cap = limits.max_order_notional / price
    if requested > notional_cap + _EPS:
        allowed = notional_cap
        violations.append(
            f"{sym} order notional {requested * price:,.0f} > limit "
            f"{limits.max_order_notional:,.0f}"
        )
    if not reduces:
        value0 = q0 * price
        gross_other = state.gross_value - abs(state.position_values.get(sym, value0))
        net_other = state.net_value - state.position_values.get(sym, value0)
        target = q0 + sign * requested
        w_cap = limits.max_weight_per_asset * equity
        g_room = limits.max_gross_exposure * equity - gross_other
        n_hi = limits.max_net_exposure * equity - net_other
        n_lo = -limits.max_net_exposure * equity - net_other
        weight = abs(target) * price / equity
        if weight > limits.max_weight_per_asset + _EPS:
            violations.append(
                f"{sym} weight would be {weight:.1%} > limit {limits.max_weight_per_asset:.1%}"
            )
        gross = (gross_other + abs(target) * price) / equity
        if gross > limits.max_gross_exposure + _EPS:
            violations.append(
                f"gross exposure would be {gross:.1%} > limit {limits.max_gross_exposure:.1%}"
            )
        net = (net_other + target * price) / equity
        if abs(net) > limits.max_net_exposure + _EPS:
            violations.append(
                f"net exposure would be {net:.1%} beyond limit ±{limits.max_net_exposure:.1%}"
            )
        if sign > 0:
            hi = min(w_cap, g_room, n_hi) / price
            allowed = min(allowed, hi - q0)
        else:
            lo = max(-w_cap, -g_room, n_lo) / price
            allowed = min(allowed, q0 - lo)
    if allowed < requested - _EPS:
        allowed = _floor(max(allowed, 0.0), fractional)
    if allowed <= 0:
        return RiskDecision(
            False,
            requested,
            0.0,
            [f"{v}; nothing fits (allowed 0)" for v in violations] or ["nothing fits"],
            [],
            kill,
        )
    if allowed < requested:
        adjustments.extend(f"{v}; shrunk to {_fmt_qty(allowed)}" for v in violations)

    # 4. VaR and concentration
    if not reduces:
        missing = state.unmodelled(sym)
        if missing:
            adjustments.append(
                f"VaR and concentration not checked: no return history for {', '.join(missing)}"
            )
        else:
            rejections.extend(_var_and_concentration(sym, sign * allowed * price, state, limits))
            if rejections:
                return RiskDecision(False, requested, 0.0, rejections, adjustments, kill)
    return RiskDecision(True, requested, allowed, [], adjustments, kill)


def _historical_var_95(returns: np.ndarray) -> float:
    """:func:`~core.risk._kernels.historical_var` at 95%, float for float: numpy's
    linear quantile (its virtual index, partition and interpolation) without the
    general function's set-up, which costs more than the partition on 250 returns."""
    n = returns.size
    if n < 2:
        return historical_var(returns)
    q = 1.0 - 0.95
    virtual = (n - 1) * q  # numpy's virtual index of the linear method
    below = math.floor(virtual)
    if below < 0 or virtual >= n - 1:
        return historical_var(returns)
    gamma = virtual - below
    part = np.partition(returns, (below, below + 1))
    if np.isnan(part).any():
        return float("nan")
    a, b = float(part[below]), float(part[below + 1])
    diff = b - a
    value = b - diff * (1 - gamma) if gamma >= 0.5 else a + diff * gamma
    return float(-value)


def _var(w: np.ndarray, state: PortfolioState, method: str) -> float:
    _, matrix, mean, cov = state._history
    if method == "historical":
        return _historical_var_95(matrix @ w)
    return parametric_var(float(mean @ w), math.sqrt(max(float(w @ cov @ w), 0.0)))


def _max_share(w: np.ndarray, cov: np.ndarray) -> tuple[int, float]:
    """Largest Euler share of volatility; a lone position carries all of it."""
    held = np.flatnonzero(w)
    if held.size == 0:
        return -1, 0.0
    if held.size == 1:
        return int(held[0]), 1.0
    contrib = euler_contributions(w, cov)
    total = contrib.sum()
    if total <= 0:
        return -1, 0.0
    j = int(np.argmax(contrib))
    return j, float(contrib[j] / total)


def _var_and_concentration(
    sym: str, delta_value: float, state: PortfolioState, limits: RiskLimits
) -> list[str]:
    index, _, _, cov = state._history
    w0 = state.weights_vector
    w1 = w0.copy()
    w1[index[sym]] += delta_value / state.equity
    out: list[str] = []
    var1 = _var(w1, state, limits.var_method)
    if var1 > limits.var_limit_95 + _EPS:
        var0 = _var(w0, state, limits.var_method)
        if var1 > var0 + _EPS:
            out.append(
                f"1-day 95% VaR ({limits.var_method}) would be {var1:.2%} of equity > limit "
                f"{limits.var_limit_95:.2%} (now {var0:.2%})"
            )
    j1, share1 = _max_share(w1, cov)
    if np.count_nonzero(w1) >= 2 and share1 > limits.max_concentration + _EPS:
        _, share0 = _max_share(w0, cov)
        if share1 > share0 + _EPS:
            name = next(k for k, v in index.items() if v == j1)
            out.append(
                f"{name} would carry {share1:.1%} of portfolio volatility > concentration limit "
                f"{limits.max_concentration:.1%} (now {share0:.1%})"
            )
    return out
