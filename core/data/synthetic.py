"""Seeded synthetic prices from a Markov chain over market regimes, with ground truth.

The generator is the known-answer source for regime detection: every bar carries the
regime that produced it, and :func:`regime_params` exposes the exact emission
parameters so an oracle filter can be built from them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

REGIMES: tuple[str, ...] = ("bull", "bear", "sideways", "volatile")
TRADING_DAYS = 252


@dataclass(frozen=True, kw_only=True)
class SyntheticSpec:
    """Parameters of the regime-switching generator.

    Drift and volatility are annualized; daily log returns are
    ``N(drift / 252, volatility / sqrt(252))``. Regimes switch as a Markov chain
    with mean duration ``mean_duration`` bars and an equal chance of moving to
    each other regime.
    """

    bars: int = 5000
    seed: int = 0
    mean_duration: float = 60.0
    drift: dict[str, float] = field(
        default_factory=lambda: {"bull": 0.20, "bear": -0.30, "sideways": 0.0, "volatile": 0.0}
    )
    volatility: dict[str, float] = field(
        default_factory=lambda: {"bull": 0.15, "bear": 0.35, "sideways": 0.10, "volatile": 0.45}
    )
    start_price: float = 100.0
    start_date: str = "2000-01-03"

    def __post_init__(self) -> None:
        if self.bars < 2:
            raise ValueError(f"bars must be >= 2, got {self.bars}")
        if self.mean_duration <= 1:
            raise ValueError(f"mean_duration must be > 1 bar, got {self.mean_duration}")
        for name in ("drift", "volatility"):
            missing = set(REGIMES) - set(getattr(self, name))
            if missing:
                raise ValueError(f"{name} lacks regimes {sorted(missing)}")
        if any(v <= 0 for v in self.volatility.values()):
            raise ValueError("every regime volatility must be > 0")


def transition_matrix(spec: SyntheticSpec) -> np.ndarray:
    """Return the K x K regime transition matrix implied by ``spec``.

    >>> m = transition_matrix(SyntheticSpec(mean_duration=60))
    >>> bool(np.allclose(m.sum(axis=1), 1.0)), round(float(m[0, 0]), 6)
    (True, 0.983333)
    """
    k = len(REGIMES)
    leave = 1.0 / spec.mean_duration
    mat = np.full((k, k), leave / (k - 1))
    np.fill_diagonal(mat, 1.0 - leave)
    return mat


def regime_params(spec: SyntheticSpec) -> tuple[np.ndarray, np.ndarray]:
    """Daily log-return mean and standard deviation per regime, in ``REGIMES`` order."""
    mu = np.array([spec.drift[r] / TRADING_DAYS for r in REGIMES])
    sd = np.array([spec.volatility[r] / np.sqrt(TRADING_DAYS) for r in REGIMES])
    return mu, sd


def generate(spec: SyntheticSpec | None = None) -> tuple[pd.DataFrame, pd.Series]:
    """Generate an OHLCV frame and the true regime label of every bar.

    Returns
    -------
    prices : DataFrame
        Canonical frame (business-day DatetimeIndex, float64 open/high/low/close/volume).
    regimes : Series
        The true regime name of each bar, same index.
    """
    spec = spec or SyntheticSpec()
    rng = np.random.default_rng(spec.seed)
    mat = transition_matrix(spec)
    k = len(REGIMES)
    states = np.empty(spec.bars, dtype=np.int64)
    states[0] = rng.integers(k)
    draws = rng.random(spec.bars)
    cum = np.cumsum(mat, axis=1)
    for t in range(1, spec.bars):
        states[t] = min(int(np.searchsorted(cum[states[t - 1]], draws[t])), k - 1)
    mu, sd = regime_params(spec)
    log_ret = rng.normal(mu[states], sd[states])
    close = spec.start_price * np.exp(np.cumsum(log_ret))
    prev_close = np.concatenate([[spec.start_price], close[:-1]])
    intraday = sd[states] * 0.5
    open_ = prev_close * np.exp(rng.normal(0.0, intraday * 0.3))
    high = np.maximum(open_, close) * np.exp(np.abs(rng.normal(0.0, intraday)))
    low = np.minimum(open_, close) * np.exp(-np.abs(rng.normal(0.0, intraday)))
    volume = np.round(1e6 * np.exp(rng.normal(0.0, 0.3, spec.bars)) * (1 + 5 * sd[states]))
    index = pd.bdate_range(spec.start_date, periods=spec.bars, name="date")
    prices = pd.DataFrame(
        {"open": open_, "high": high, "low": low, "close": close, "volume": volume},
        index=index,
        dtype="float64",
    )
    regimes = pd.Series(np.asarray(REGIMES)[states], index=index, name="regime")
    return prices, regimes
