"""Size within the risk limits in force, and count real limit breaches in the book.

The decision pipeline sizes by volatility and regime confidence; the paper worker then
bounds each target by what the limits allow *given the rest of the book*, so that the
pre-trade check rarely has anything to block:

* long target <= min(max_weight_per_asset, gross room, net room above),
  short target <= min(max_weight_per_asset, gross room, net room below),
  each times ``headroom`` (< 1 leaves room for the price to move between the decision
  and the fill);
* one order's value <= ``headroom * max_order_notional``;
* at or beyond ``max_daily_loss`` or ``max_drawdown``: no new risk (targets may only
  move towards zero).

* when other positions are held: the weight at which this asset's Euler share of the
  book's volatility equals ``max_concentration`` (a closed form, below).

VaR and the order rate stay with the pre-trade check (the worker then cuts an order it
refuses for its size to the largest whole quantity that passes).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from core.risk import RiskLimits
from core.risk.state import PortfolioState

DEFAULT_HEADROOM = 0.95
_TOL = 1e-9


@dataclass(frozen=True, slots=True)
class SizingCaps:
    """Bounds for one symbol's target, as fractions of equity, and one order's value."""

    max_long: float
    max_short: float
    max_order_value: float
    long_limit: str
    short_limit: str


def sizing_caps(
    state: PortfolioState,
    symbol: str,
    limits: RiskLimits,
    *,
    headroom: float = DEFAULT_HEADROOM,
) -> SizingCaps:
    """What ``symbol``'s target may be, given the rest of the book and ``limits``.

    >>> from core.risk.state import PortfolioState
    >>> s = PortfolioState(equity=100.0, cash=40.0, positions={"A": 0.6, "B": 0.0},
    ...     prices={"A": 100.0, "B": 10.0}, start_of_day_equity=100.0, peak_equity=100.0)
    >>> caps = sizing_caps(s, "B", RiskLimits(max_weight_per_asset=0.5), headroom=1.0)
    >>> round(caps.max_long, 6), caps.long_limit, round(caps.max_short, 6)
    (0.4, 'max_gross_exposure', 0.4)
    """
    if not 0.0 < headroom <= 1.0:
        raise ValueError(f"headroom must be in (0, 1], e.g. 0.95; got {headroom!r}")
    equity = state.equity
    if not equity > 0:
        return SizingCaps(0.0, 0.0, 0.0, "equity", "equity")
    value0 = state.position_values.get(symbol, 0.0)
    gross_other = (state.gross_value - abs(value0)) / equity
    net_other = (state.net_value - value0) / equity
    weight = limits.max_weight_per_asset
    gross_room = limits.max_gross_exposure - gross_other
    longs = {
        "max_weight_per_asset": weight,
        "max_gross_exposure": gross_room,
        "max_net_exposure": limits.max_net_exposure - net_other,
    }
    shorts = {
        "max_weight_per_asset": weight,
        "max_gross_exposure": gross_room,
        "max_net_exposure": limits.max_net_exposure + net_other,
    }
    concentration = _concentration_bounds(state, symbol, limits.max_concentration)
    if concentration is not None:
        longs["max_concentration"], shorts["max_concentration"] = concentration
    long_limit = min(longs, key=lambda k: longs[k])
    short_limit = min(shorts, key=lambda k: shorts[k])
    max_long = max(0.0, longs[long_limit] * headroom)
    max_short = max(0.0, shorts[short_limit] * headroom)
    if state.drawdown >= limits.max_drawdown or state.daily_loss >= limits.max_daily_loss:
        w0 = value0 / equity
        label = "max_drawdown" if state.drawdown >= limits.max_drawdown else "max_daily_loss"
        if max(w0, 0.0) < max_long:
            max_long, long_limit = max(w0, 0.0), label
        if max(-w0, 0.0) < max_short:
            max_short, short_limit = max(-w0, 0.0), label
    return SizingCaps(
        max_long, max_short, limits.max_order_notional * headroom, long_limit, short_limit
    )


def _concentration_bounds(
    state: PortfolioState, symbol: str, limit: float
) -> tuple[float, float] | None:
    """Largest long and short weight of ``symbol`` whose Euler share of the book's
    volatility stays within ``limit``, the other weights fixed (None: not computable,
    or no other position, where the check does not apply).

    With ``x`` the weight, ``s = Σ_ii``, ``c = Σ_i,others · w_others`` and
    ``d = w_othersᵀ Σ w_others``, the share is ``x (s x + c) / (s x² + 2 c x + d)``;
    ``share <= L`` is the quadratic ``(1 - L) s x² + (1 - 2L) c x - L d <= 0``, whose
    roots bracket 0 when ``d > 0``.
    """
    index, _, _, cov = state._history
    if symbol not in index or state.unmodelled(symbol) or not state.equity > 0:
        return None
    i = index[symbol]
    w = state.weights_vector.copy()
    w[i] = 0.0
    if not np.any(w):
        return None
    s_ii = float(cov[i, i])
    c = float(cov[i] @ w)
    d = float(w @ cov @ w)
    a, b, k = (1.0 - limit) * s_ii, (1.0 - 2.0 * limit) * c, -limit * d
    if not (s_ii > 0 and d > 0 and a > 0):
        return None
    root = math.sqrt(b * b - 4 * a * k)
    return (-b + root) / (2 * a), (b + root) / (2 * a)


def book_breaches(
    *,
    positions: Mapping[str, float],
    prices: Mapping[str, float],
    equity: float,
    limits: RiskLimits,
) -> list[str]:
    """Exposure limits the book breaks at these prices (weight, gross, net), as messages.

    Computed from quantities, prices and equity only (no risk-engine code), so it can
    audit the sizer and the pre-trade check.

    >>> book_breaches(positions={"A": 3.0}, prices={"A": 10.0}, equity=100.0,
    ...     limits=RiskLimits(max_weight_per_asset=0.25))
    ['A weight 30.0% > 25.0%']
    """
    if not equity > 0 or not math.isfinite(equity):
        held = any(abs(q) > _TOL for q in positions.values())
        return [f"equity {equity:,.2f} with open positions"] if held else []
    values = {s: q * prices[s] for s, q in positions.items() if abs(q) > _TOL}
    out = [
        f"{s} weight {abs(v) / equity:.1%} > {limits.max_weight_per_asset:.1%}"
        for s, v in sorted(values.items())
        if abs(v) / equity > limits.max_weight_per_asset + _TOL
    ]
    gross = sum(abs(v) for v in values.values()) / equity
    if gross > limits.max_gross_exposure + _TOL:
        out.append(f"gross exposure {gross:.1%} > {limits.max_gross_exposure:.1%}")
    net = sum(values.values()) / equity
    if abs(net) > limits.max_net_exposure + _TOL:
        out.append(f"net exposure {net:.1%} beyond ±{limits.max_net_exposure:.1%}")
    return out
