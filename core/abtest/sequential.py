"""Sequential early stopping for live shadow tests: Wald's SPRT, O'Brien-Fleming bounds."""

from __future__ import annotations

import math
from collections.abc import Mapping
from functools import lru_cache
from typing import Any, Literal, NamedTuple

import numpy as np
import pandas as pd
from scipy import optimize, stats

Decision = Literal["continue", "accept_h0", "accept_h1"]


class SPRTRun(NamedTuple):
    """Outcome of :meth:`SPRT.run`."""

    decision: Decision
    n_used: int
    log_lr: np.ndarray


def _log_lr(
    count: np.ndarray, total: np.ndarray | float, variance: np.ndarray | float, delta: float
) -> np.ndarray:
    """Gaussian log likelihood ratio of mean ``delta`` vs 0 after ``count`` observations.

    ``log LR_n = (delta * S_n - n * delta**2 / 2) / sigma**2``.

    >>> float(_log_lr(np.array(4.0), np.array(0.04), np.array(1e-4), 0.01))
    2.0
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        log_lr: np.ndarray = (delta * total - count * delta**2 / 2.0) / variance
    return log_lr


class SPRT:
    """Wald's sequential probability ratio test on daily return differences.

    Tests H0: mean daily difference = 0 against H1: mean = ``delta`` for normal
    differences with standard deviation ``sigma`` (known, or when None the running
    sample standard deviation, plugged in after ``burn_in`` days). After each day,
    ``log LR >= log((1 - beta) / alpha)`` accepts H1, ``log LR <= log(beta / (1 - alpha))``
    accepts H0, anything in between continues. The test is one-sided in the direction of
    ``delta``: to look for an edge of B over A feed ``b - a`` with ``delta > 0``.

    Parameters
    ----------
    delta : float
        Mean daily difference under H1 (non-zero), e.g. 0.0005 for 5 bp a day.
    sigma : float, optional
        Known standard deviation of the daily differences.
    alpha, beta : float
        Targeted type I and type II error rates.
    burn_in : int
        Days observed before a plug-in sigma is trusted (ignored when ``sigma`` is set).

    Examples
    --------
    >>> sprt = SPRT(delta=0.01, sigma=0.01)
    >>> sprt.update(0.01), round(sprt.log_lr, 3)
    ('continue', 0.5)
    >>> SPRT(delta=0.01, sigma=0.01).run(np.full(10, 0.01)).decision
    'accept_h1'
    """

    def __init__(
        self,
        *,
        delta: float,
        sigma: float | None = None,
        alpha: float = 0.05,
        beta: float = 0.2,
        burn_in: int = 20,
    ) -> None:
        if delta == 0 or not math.isfinite(delta):
            raise ValueError(f"delta must be finite and non-zero, got {delta}")
        if sigma is not None and not (sigma > 0 and math.isfinite(sigma)):
            raise ValueError(f"sigma must be finite and > 0, got {sigma}")
        for name, value in (("alpha", alpha), ("beta", beta)):
            if not 0.0 < value < 0.5:
                raise ValueError(f"{name} must be in (0, 0.5), got {value}")
        if burn_in < 2:
            raise ValueError(f"burn_in must be >= 2, got {burn_in}")
        self.delta = float(delta)
        self.sigma = None if sigma is None else float(sigma)
        self.alpha = float(alpha)
        self.beta = float(beta)
        self.burn_in = int(burn_in)
        self.upper = math.log((1.0 - beta) / alpha)
        self.lower = math.log(beta / (1.0 - alpha))
        self.reset()

    def reset(self) -> None:
        """Forget every observation."""
        self.n = 0
        self._mean = 0.0
        self._m2 = 0.0
        self.log_lr = 0.0
        self.decision: Decision = "continue"

    def _variance(self) -> float:
        if self.sigma is not None:
            return self.sigma**2
        if self.n < self.burn_in:
            return math.nan
        return self._m2 / (self.n - 1)

    def update(self, x: float) -> Decision:
        """Add one daily difference and return the decision.

        Once a boundary is crossed the decision is final and later values are ignored.
        """
        if self.decision != "continue":
            return self.decision
        x = float(x)
        if not math.isfinite(x):
            raise ValueError(f"observations must be finite, got {x}")
        self.n += 1
        step = x - self._mean
        self._mean += step / self.n
        self._m2 += step * (x - self._mean)
        variance = self._variance()
        if not variance > 0:  # burn-in, or no variation yet
            self.log_lr = math.nan
            return self.decision
        self.log_lr = float(_log_lr(np.array(self.n), self._mean * self.n, variance, self.delta))
        self.decision = self._decide(self.log_lr)
        return self.decision

    def state(self) -> dict[str, float | int | str]:
        """What :meth:`restore` needs to continue the test (JSON-ready)."""
        return {
            "n": self.n,
            "mean": self._mean,
            "m2": self._m2,
            "log_lr": self.log_lr,
            "decision": self.decision,
        }

    def restore(self, state: Mapping[str, Any]) -> SPRT:
        """Continue from a :meth:`state` (e.g. stored after each observation); self."""
        self.n = int(state["n"])
        self._mean = float(state["mean"])
        self._m2 = float(state["m2"])
        self.log_lr = float(state["log_lr"])
        decision = str(state["decision"])
        if decision not in ("continue", "accept_h0", "accept_h1"):
            raise ValueError(f"unknown SPRT decision {decision!r}")
        self.decision = decision  # type: ignore[assignment]
        return self

    def _decide(self, log_lr: float) -> Decision:
        if log_lr >= self.upper:
            return "accept_h1"
        if log_lr <= self.lower:
            return "accept_h0"
        return "continue"

    def run(self, series: pd.Series | np.ndarray) -> SPRTRun:
        """Evaluate a whole series from scratch (vectorized; this object is unchanged).

        Returns the decision, the number of days used (the crossing day, or all days
        when no boundary is reached) and the log likelihood-ratio path up to that day
        (NaN during a plug-in burn-in). Equivalent to :meth:`update` on a fresh test.
        """
        x = np.asarray(series, dtype=np.float64).ravel()
        if not np.all(np.isfinite(x)):
            raise ValueError("observations must be finite (drop NaN days first)")
        count = np.arange(1, x.size + 1, dtype=np.float64)
        total = np.cumsum(x)
        if self.sigma is not None:
            variance = np.full(x.size, self.sigma**2)
        else:
            mean = total / count
            sq = np.cumsum(x**2)
            with np.errstate(divide="ignore", invalid="ignore"):
                variance = np.maximum(sq - count * mean**2, 0.0) / (count - 1.0)
            variance[count < self.burn_in] = np.nan
            variance[~(variance > 0)] = np.nan
        path = _log_lr(count, total, variance, self.delta)
        crossed = np.flatnonzero((path >= self.upper) | (path <= self.lower))
        if crossed.size == 0:
            return SPRTRun("continue", int(x.size), path)
        stop = int(crossed[0])
        return SPRTRun(self._decide(float(path[stop])), stop + 1, path[: stop + 1])


def _crossing_probability(bounds: np.ndarray) -> float:
    """P(|Z_k| >= bounds_k for some k) for standardized statistics at equal information."""
    k = bounds.size
    t = np.arange(1, k + 1) / k
    corr = np.sqrt(np.minimum.outer(t, t) / np.maximum.outer(t, t))
    if k == 1:
        return float(2.0 * stats.norm.sf(bounds[0]))
    inside = stats.multivariate_normal(mean=np.zeros(k), cov=corr, seed=12345).cdf(
        bounds, lower_limit=-bounds
    )
    return float(1.0 - inside)


@lru_cache(maxsize=64)
def _obf_constant(n_looks: int, alpha: float) -> float:
    def excess(c: float) -> float:
        bounds = c * np.sqrt(n_looks / np.arange(1, n_looks + 1))
        return _crossing_probability(bounds) - alpha

    return float(optimize.brentq(excess, 1.0, 6.0, xtol=1e-5))


def obrien_fleming_boundaries(n_looks: int, alpha: float = 0.05) -> np.ndarray:
    """Two-sided O'Brien-Fleming z boundaries for ``n_looks`` equally spaced analyses.

    Look ``k`` of ``K`` rejects H0 when ``|z_k| >= c * sqrt(K / k)``, with ``c`` chosen so
    the overall type I error is ``alpha`` (multivariate normal with
    ``corr(z_i, z_j) = sqrt(i / j)``). The first looks need overwhelming evidence; the
    last is close to the fixed-sample 1.96.

    Examples
    --------
    >>> np.round(obrien_fleming_boundaries(2), 2)
    array([2.8 , 1.98])
    """
    if not 1 <= n_looks <= 20:
        raise ValueError(f"n_looks must be in [1, 20], got {n_looks}")
    if not 0.0 < alpha < 0.5:
        raise ValueError(f"alpha must be in (0, 0.5), got {alpha}")
    c = _obf_constant(int(n_looks), float(alpha))
    return c * np.sqrt(n_looks / np.arange(1, n_looks + 1))


def shadow_tests(returns: pd.DataFrame, *, delta_bps: float = 1.0) -> list[dict[str, object]]:
    """Wald SPRT of the first column against each other one, in both directions, as a
    live shadow test would run it day by day (an edge of ``delta_bps`` basis points a day).

    Returns one row per claim: the claim, the decision, the days used and available.
    """
    delta = delta_bps / 1e4
    first, *others = list(returns.columns)
    rows: list[dict[str, object]] = []
    for other in others:
        diff = (returns[other] - returns[first]).to_numpy()
        for better, sign in ((other, 1.0), (first, -1.0)):
            run = SPRT(delta=sign * delta).run(diff)
            rows.append(
                {
                    "claim": f"{better} beats the other by {delta_bps:g} bp/day",
                    "decision": run.decision,
                    "days_used": int(run.n_used),
                    "days_available": len(diff),
                }
            )
    return rows
