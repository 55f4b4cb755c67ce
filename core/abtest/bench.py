"""``workbench bench`` section "abtest": the verdict's false-positive rate and its power.

Seeded null experiments from four generators (i.i.d. normal, AR(1) with phi = 0.3,
Student t(3), GARCH(1,1) with t(5) innovations), each arm = a shared market factor plus
its own noise and no arm with an edge; the gated-exposure case (A = r, B = r * gate, in
the market in 60% of 50-day blocks); and a planted edge of 6 bp a day. Every verdict
comes from :func:`core.abtest.compare` (primary test only: secondary tests never decide).
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np
import pandas as pd

from core.abtest.comparison import compare

GENERATORS = ("iid", "ar1", "student_t", "garch")


def _ar1(e: np.ndarray, phi: float) -> np.ndarray:
    x = np.empty_like(e)
    x[0] = e[0] / math.sqrt(1.0 - phi**2)
    for t in range(1, e.shape[0]):
        x[t] = phi * x[t - 1] + e[t]
    return x


def _garch(z: np.ndarray, omega: float = 2e-6, a: float = 0.1, b: float = 0.88) -> np.ndarray:
    h = np.full(z.shape[1:], omega / (1.0 - a - b))
    x = np.empty_like(z)
    for t in range(z.shape[0]):
        x[t] = np.sqrt(h) * z[t]
        h = omega + a * x[t] ** 2 + b * h
    return x


def null_sample(kind: str, k: int, n: int, rng: np.random.Generator) -> np.ndarray:
    """``k`` null pairs of ``n`` days from generator ``kind``: shape ``(2, n, k)``."""
    market = rng.normal(0.0003, 0.01, (n, k))
    if kind == "iid":
        own = rng.normal(0.0, 0.006, (2, n, k))
    elif kind == "ar1":
        own = np.stack([_ar1(rng.normal(0.0, 0.006, (n, k)), 0.3) for _ in range(2)])
    elif kind == "student_t":
        own = rng.standard_t(3, (2, n, k)) * 0.006 / math.sqrt(3.0)
    elif kind == "garch":
        z = rng.standard_t(5, (2, n, k)) / math.sqrt(5.0 / 3.0)
        own = np.stack([_garch(z[0]), _garch(z[1])])
    else:
        raise ValueError(f"unknown generator {kind!r}; use one of {', '.join(GENERATORS)}")
    return market[None] + own


def gated_sample(k: int, n: int, rng: np.random.Generator) -> np.ndarray:
    """``k`` gated-exposure pairs (A = r, B = r * gate), zero-mean r: shape ``(2, n, k)``."""
    r = rng.normal(0.0, 0.01, (n, k))
    blocks = math.ceil(n / 50)
    gate = np.zeros((blocks, k), dtype=bool)
    for j in range(k):
        gate[rng.choice(blocks, round(0.6 * blocks), replace=False), j] = True
    return np.stack([r, r * np.repeat(gate, 50, axis=0)[:n]])


def verdict_rejects(sample: np.ndarray, *, alpha: float) -> np.ndarray:
    """For each pair (column) of ``sample``, whether the verdict says the arms differ."""
    index = pd.bdate_range("2000-01-03", periods=sample.shape[1])
    out = np.empty(sample.shape[2], dtype=bool)
    for j in range(sample.shape[2]):
        arms = {"A": pd.Series(sample[0, :, j], index), "B": pd.Series(sample[1, :, j], index)}
        verdict = compare(arms, alpha=alpha, secondary=False).verdict
        out[j] = not verdict.startswith("no significant difference")
    return out


def _rate(rejects: np.ndarray, alpha: float) -> dict[str, float]:
    trials = int(rejects.size)
    return {
        "rate": float(rejects.mean()),
        "trials": trials,
        "bound_alpha_plus_3se": alpha + 3.0 * math.sqrt(alpha * (1.0 - alpha) / trials),
    }


def bench_abtest(
    *, pairs_per_generator: int = 200, n_days: int = 500, alpha: float = 0.05, seed: int = 0
) -> dict[str, Any]:
    """False-positive rates of the verdict under four nulls and the gated case, and power.

    Returns
    -------
    dict
        ``false_positive_rate`` per generator and ``pooled`` (rate, trials, and the
        ``alpha + 3`` binomial standard errors bound), ``gated_exposure`` (rate over
        2,520-day pairs), ``power_6bp_per_day`` (share of planted edges found, 1,000 days),
        and the median seconds of one primary-only comparison.
    """
    rng = np.random.default_rng(seed)
    start = time.perf_counter()
    by_kind = {
        kind: verdict_rejects(null_sample(kind, pairs_per_generator, n_days, rng), alpha=alpha)
        for kind in GENERATORS
    }
    pooled = np.concatenate(list(by_kind.values()))
    seconds = (time.perf_counter() - start) / pooled.size
    gated = verdict_rejects(gated_sample(max(20, pairs_per_generator // 2), 2520, rng), alpha=alpha)
    edge = null_sample("garch", max(20, pairs_per_generator // 4), 1000, rng)
    edge[1] = edge[0] + 0.0006 + rng.normal(0.0, 0.005, edge[0].shape)
    found = verdict_rejects(edge, alpha=alpha)
    return {
        "primary_test": "HAC paired t-test",
        "alpha": alpha,
        "n_days": n_days,
        "false_positive_rate": {
            **{kind: _rate(rejects, alpha) for kind, rejects in by_kind.items()},
            "pooled": _rate(pooled, alpha),
        },
        "gated_exposure": _rate(gated, alpha),
        "power_6bp_per_day": {"rate": float(found.mean()), "trials": int(found.size)},
        "seconds_per_comparison": seconds,
    }


def summary(report: dict[str, Any]) -> str:
    """One line for ``workbench bench``'s text digest."""
    fpr = report["false_positive_rate"]
    parts = ", ".join(f"{k} {v['rate']:.3f}" for k, v in fpr.items() if k != "pooled")
    pooled = fpr["pooled"]
    return (
        f"abtest ({report['primary_test']}, alpha {report['alpha']:g}): false-positive rate "
        f"pooled {pooled['rate']:.3f} over {pooled['trials']} null pairs "
        f"(bound {pooled['bound_alpha_plus_3se']:.3f}; {parts}); gated exposure "
        f"{report['gated_exposure']['rate']:.3f}; power at 6 bp/day "
        f"{report['power_6bp_per_day']['rate']:.2f}"
    )
