"""The portfolio risk view: exposures, VaR/CVaR, correlation, risk contributions, utilization."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

from core.data.frequency import periods_per_year_of
from core.risk._kernels import (
    euler_contributions,
    historical_cvar,
    historical_var,
    parametric_var,
)
from core.risk.limits import RiskLimits
from core.risk.state import PortfolioState

#: Trading days a year, for annualizing daily figures (as in core.backtest.metrics).
TRADING_DAYS = 252.0


def _bars_a_year(history: pd.DataFrame | None) -> float:
    """Bars a year of the return history's timestamps; 252 when they give no interval."""
    index = None if history is None else history.index
    if not isinstance(index, pd.DatetimeIndex) or len(index) < 2:
        return TRADING_DAYS
    try:
        return periods_per_year_of(index)
    except ValueError:  # an irregular history: the daily convention, as before
        return TRADING_DAYS


@dataclass(frozen=True)
class RiskReport:
    """Risk of the current portfolio, every figure a fraction of equity unless noted.

    Attributes
    ----------
    gross_exposure, net_exposure
        Sum of absolute and of signed position values over equity.
    weights
        Signed weight per held symbol.
    var_hist, var_param, cvar_hist
        1-day 95% historical VaR, Gaussian VaR and historical expected shortfall (NaN
        without history).
    volatility
        1-day portfolio volatility: the sample standard deviation (ddof=1) of the
        history's daily returns of today's weights, ``sqrt(w' S w)``.
    volatility_annual
        ``volatility * sqrt(P)`` with ``P`` the bars a year of the history's interval
        (252 for daily returns, 98,280 for 1-minute ones; returns assumed uncorrelated).
    correlation
        Correlation matrix of the held symbols' returns (empty without history).
    risk_contributions
        Euler contributions to volatility per symbol; they sum to ``volatility``.
    risk_shares
        ``risk_contributions / volatility``; they sum to 1.
    utilization
        Limit name to the fraction of it in use (1.0 = at the limit).
    unmodelled
        Held symbols missing from the return history (left out of VaR).
    """

    equity: float
    gross_exposure: float
    net_exposure: float
    weights: dict[str, float]
    var_hist: float
    var_param: float
    cvar_hist: float
    volatility: float
    volatility_annual: float
    correlation: pd.DataFrame
    risk_contributions: dict[str, float]
    risk_shares: dict[str, float]
    utilization: dict[str, float]
    daily_loss: float
    drawdown: float
    unmodelled: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (correlation as nested dicts)."""
        out = {k: getattr(self, k) for k in self.__dataclass_fields__ if k != "correlation"}
        out["correlation"] = self.correlation.to_dict()
        return out


def _ratio(used: float, limit: float) -> float:
    return float(used / limit) if math.isfinite(used) else float("nan")


@dataclass(frozen=True)
class _Book:
    """The exposures every limit figure starts from (weights and exposures per unit of
    equity, the held symbols with a returns history, and the evaluation time)."""

    now: datetime
    equity: float
    weights: dict[str, float]
    gross: float
    net: float
    held: list[str]

    @classmethod
    def of(cls, state: PortfolioState, now: datetime | None) -> _Book:
        now = now or datetime.now(UTC)
        if now.tzinfo is None:
            now = now.replace(tzinfo=UTC)
        equity = state.equity
        positive = equity > 0
        weights = {s: v / equity for s, v in state.position_values.items()} if positive else {}
        index = state._history[0]
        return cls(
            now=now,
            equity=equity,
            weights=weights,
            gross=state.gross_value / equity if positive else float("inf"),
            net=state.net_value / equity if positive else float("inf"),
            held=[s for s in weights if s in index],
        )

    def utilization(
        self, state: PortfolioState, limits: RiskLimits, var_used: float, max_share: float
    ) -> dict[str, float]:
        """Used / limit for every limit (NaN where the figure is not finite)."""
        now = self.now
        recent = sum(1 for t in state.recent_order_times if now - timedelta(seconds=60) < t <= now)
        max_weight = max((abs(v) for v in self.weights.values()), default=0.0)
        return {
            "max_weight_per_asset": _ratio(max_weight, limits.max_weight_per_asset),
            "max_gross_exposure": _ratio(self.gross, limits.max_gross_exposure),
            "max_net_exposure": _ratio(abs(self.net), limits.max_net_exposure),
            "max_orders_per_minute": recent / limits.max_orders_per_minute,
            "max_daily_loss": _ratio(max(state.daily_loss, 0.0), limits.max_daily_loss),
            "max_drawdown": _ratio(state.drawdown, limits.max_drawdown),
            "var_limit_95": _ratio(max(var_used, 0.0), limits.var_limit_95),
            "max_concentration": _ratio(max_share, limits.max_concentration),
        }


def limit_utilization(
    state: PortfolioState, limits: RiskLimits, now: datetime | None = None
) -> dict[str, float]:
    """``portfolio_risk(state, limits, now).utilization``, computing only what the
    utilization reads (the same kernels, in the same order, so the same floats): no
    correlation frame, no CVaR, and only the VaR of ``limits.var_method``. The paper
    worker calls it on every bar."""
    book = _Book.of(state, now)
    index, matrix, mean, cov = state._history
    nan = float("nan")
    var_used = nan
    shares: dict[str, float] = {}
    if matrix.shape[0] >= 2:
        w = state.weights_vector
        if limits.var_method == "historical":
            var_used = historical_var(matrix @ w)
        else:
            vol = math.sqrt(max(float(w @ cov @ w), 0.0))
            var_used = parametric_var(float(mean @ w), vol)
        if len(book.held) >= 2:  # the concentration limit applies to two or more assets
            cols = [index[s] for s in book.held]
            contrib = euler_contributions(w[cols], cov[np.ix_(cols, cols)])
            total = float(contrib.sum())
            pairs = zip(book.held, contrib, strict=True)
            shares = {s: (float(c) / total if total > 0 else nan) for s, c in pairs}
    return book.utilization(state, limits, var_used, max(shares.values(), default=0.0))


def portfolio_risk(
    state: PortfolioState, limits: RiskLimits, now: datetime | None = None
) -> RiskReport:
    """Measure the portfolio in ``state`` against ``limits``.

    Parameters
    ----------
    state
        The portfolio snapshot (with ``returns_history`` for VaR and correlation).
    limits
        Limits for the utilization figures.
    now
        Time for the order-rate utilization; default now (UTC).

    Returns
    -------
    RiskReport
    """
    book = _Book.of(state, now)
    equity, weights, gross, net, held = book.equity, book.weights, book.gross, book.net, book.held
    index, matrix, mean, cov = state._history
    nan = float("nan")
    var_h = var_p = cvar = vol = nan
    contributions: dict[str, float] = {}
    shares: dict[str, float] = {}
    corr = pd.DataFrame()
    if matrix.shape[0] >= 2:
        w = state.weights_vector
        port = matrix @ w
        var_h = historical_var(port)
        cvar = historical_cvar(port)
        vol = math.sqrt(max(float(w @ cov @ w), 0.0))
        var_p = parametric_var(float(mean @ w), vol)
        if held:
            cols = [index[s] for s in held]
            sub = cov[np.ix_(cols, cols)]
            sd = np.sqrt(np.diag(sub))
            with np.errstate(divide="ignore", invalid="ignore"):
                corr = pd.DataFrame(sub / np.outer(sd, sd), index=held, columns=held)
            contrib = euler_contributions(w[cols], sub)
            contributions = {s: float(c) for s, c in zip(held, contrib, strict=True)}
            total = float(contrib.sum())
            shares = {s: (c / total if total > 0 else nan) for s, c in contributions.items()}
    var_used = var_h if limits.var_method == "historical" else var_p
    # The concentration limit applies to portfolios of two or more assets (as pre-trade).
    max_share = max(shares.values(), default=0.0) if len(held) >= 2 else 0.0
    utilization = book.utilization(state, limits, var_used, max_share)
    return RiskReport(
        equity=equity,
        gross_exposure=gross,
        net_exposure=net,
        weights=weights,
        var_hist=var_h,
        var_param=var_p,
        cvar_hist=cvar,
        volatility=vol,
        volatility_annual=vol * math.sqrt(_bars_a_year(state.returns_history)),
        correlation=corr,
        risk_contributions=contributions,
        risk_shares=shares,
        utilization=utilization,
        daily_loss=state.daily_loss,
        drawdown=state.drawdown,
        unmodelled=state.unmodelled(),
    )
