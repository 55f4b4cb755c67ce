"""The portfolio risk view: exposures, VaR/CVaR, correlation, risk contributions, utilization."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

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
        ``volatility * sqrt(252)`` (252 trading days a year, daily returns assumed
        uncorrelated across days).
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
    now = now or datetime.now(UTC)
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    equity = state.equity
    weights = {s: v / equity for s, v in state.position_values.items()} if equity > 0 else {}
    gross = state.gross_value / equity if equity > 0 else float("inf")
    net = state.net_value / equity if equity > 0 else float("inf")
    index, matrix, mean, cov = state._history
    held = [s for s in weights if s in index]
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
    recent = sum(1 for t in state.recent_order_times if now - timedelta(seconds=60) < t <= now)
    max_weight = max((abs(v) for v in weights.values()), default=0.0)
    # The concentration limit applies to portfolios of two or more assets (as pre-trade).
    max_share = max(shares.values(), default=0.0) if len(held) >= 2 else 0.0
    utilization = {
        "max_weight_per_asset": _ratio(max_weight, limits.max_weight_per_asset),
        "max_gross_exposure": _ratio(gross, limits.max_gross_exposure),
        "max_net_exposure": _ratio(abs(net), limits.max_net_exposure),
        "max_orders_per_minute": recent / limits.max_orders_per_minute,
        "max_daily_loss": _ratio(max(state.daily_loss, 0.0), limits.max_daily_loss),
        "max_drawdown": _ratio(state.drawdown, limits.max_drawdown),
        "var_limit_95": _ratio(max(var_used, 0.0), limits.var_limit_95),
        "max_concentration": _ratio(max_share, limits.max_concentration),
    }
    return RiskReport(
        equity=equity,
        gross_exposure=gross,
        net_exposure=net,
        weights=weights,
        var_hist=var_h,
        var_param=var_p,
        cvar_hist=cvar,
        volatility=vol,
        volatility_annual=vol * math.sqrt(TRADING_DAYS),
        correlation=corr,
        risk_contributions=contributions,
        risk_shares=shares,
        utilization=utilization,
        daily_loss=state.daily_loss,
        drawdown=state.drawdown,
        unmodelled=state.unmodelled(),
    )
