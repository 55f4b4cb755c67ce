"""Pure numpy risk kernels: VaR, CVaR and Euler risk contributions.

Conventions: returns are simple one-period returns; weights are signed position values
divided by equity (cash earns nothing); VaR and CVaR are losses, reported as positive
fractions of equity.
"""

from __future__ import annotations

from statistics import NormalDist

import numpy as np

Z_05 = NormalDist().inv_cdf(0.05)
"""The 5% quantile of the standard normal, about -1.645."""


def historical_var(portfolio_returns: np.ndarray, level: float = 0.95) -> float:
    """Historical VaR: minus the ``1 - level`` quantile (numpy's linear interpolation).

    >>> historical_var(np.array([-0.04, -0.02, 0.0, 0.01, 0.03]), level=0.75)
    0.02
    """
    if portfolio_returns.size == 0:
        return float("nan")
    return float(-np.quantile(portfolio_returns, 1.0 - level))


def historical_cvar(portfolio_returns: np.ndarray, level: float = 0.95) -> float:
    """Expected shortfall: minus the mean of returns at or below the VaR quantile.

    >>> historical_cvar(np.array([-0.04, -0.02, 0.0, 0.01, 0.03]), level=0.75)
    0.03
    """
    if portfolio_returns.size == 0:
        return float("nan")
    cutoff = np.quantile(portfolio_returns, 1.0 - level)
    return float(-portfolio_returns[portfolio_returns <= cutoff].mean())


def parametric_var(mean: float, std: float, level: float = 0.95) -> float:
    """Gaussian VaR, ``-(mean + z * std)`` with ``z`` the ``1 - level`` normal quantile.

    >>> round(parametric_var(0.0, 0.01), 6)
    0.016449
    """
    z = Z_05 if level == 0.95 else NormalDist().inv_cdf(1.0 - level)
    return float(-(mean + z * std))


def euler_contributions(weights: np.ndarray, cov: np.ndarray) -> np.ndarray:
    """Euler risk contributions ``w_i (C w)_i / sqrt(w' C w)``; they sum to the volatility.

    >>> euler_contributions(np.array([0.5, 0.5]), np.diag([0.04, 0.01])).round(4)
    array([0.0894, 0.0224])
    """
    marginal = cov @ weights
    variance = float(weights @ marginal)
    if variance <= 0.0:
        return np.zeros_like(weights)
    contributions: np.ndarray = weights * marginal / np.sqrt(variance)
    return contributions
