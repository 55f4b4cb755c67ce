"""The A/B verdict's family-wise false-positive rate, exposure without skill, and power.

Seeded null pairs from four generators written here (independent of core/abtest/bench.py):
i.i.d. normal, AR(1), Student t(3) and GARCH(1,1) with t(5) innovations. Under every null
the verdict must say "no significant difference" at least ``1 - alpha - 3 binomial
standard errors`` of the time; a planted edge must be found.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from core.abtest import compare

ALPHA = 0.05
N_DAYS = 500
PER_GENERATOR = 120  # 4 x 120 = 480 null pairs


def _margin(trials: int, alpha: float = ALPHA) -> float:
    """Three binomial standard errors of a rate ``alpha`` over ``trials``."""
    return 3.0 * math.sqrt(alpha * (1.0 - alpha) / trials)


def _ar1(e: np.ndarray, phi: float) -> np.ndarray:
    x = np.empty_like(e)
    x[0] = e[0] / math.sqrt(1 - phi**2)
    for t in range(1, e.shape[0]):
        x[t] = phi * x[t - 1] + e[t]
    return x


def _garch(z: np.ndarray, omega: float = 2e-6, a: float = 0.1, b: float = 0.88) -> np.ndarray:
    h = np.full(z.shape[1:], omega / (1 - a - b))
    x = np.empty_like(z)
    for t in range(z.shape[0]):
        x[t] = np.sqrt(h) * z[t]
        h = omega + a * x[t] ** 2 + b * h
    return x


def null_arms(kind: str, arms: int, k: int, n: int, rng: np.random.Generator) -> np.ndarray:
    """``k`` experiments of ``arms`` equal-mean arms: array of shape ``(arms, n, k)``.

    Every arm shares a market factor (so arms are correlated, as strategies on one
    asset are) and adds its own noise; no arm has an edge.
    """
    market = rng.normal(0.0003, 0.01, (n, k))
    if kind == "iid":
        own = rng.normal(0.0, 0.006, (arms, n, k))
    elif kind == "ar1":
        own = np.stack([_ar1(rng.normal(0, 0.006, (n, k)), 0.3) for _ in range(arms)])
    elif kind == "student_t":
        own = rng.standard_t(3, (arms, n, k)) * 0.006 / math.sqrt(3.0)
    elif kind == "garch":
        z = rng.standard_t(5, (arms, n, k)) / math.sqrt(5 / 3)
        own = np.stack([_garch(z[i]) for i in range(arms)])
    else:  # pragma: no cover
        raise ValueError(kind)
    return market[None] + own


def _verdicts(sample: np.ndarray, names: str) -> list[str]:
    index = pd.bdate_range("2010-01-01", periods=sample.shape[1])
    out = []
    for j in range(sample.shape[2]):
        arms = {name: pd.Series(sample[i, :, j], index) for i, name in enumerate(names)}
        out.append(compare(arms, alpha=ALPHA, secondary=False).verdict)
    return out


def _false_positive(verdict: str) -> bool:
    return not verdict.startswith("no significant difference")


@pytest.mark.slow
def test_family_wise_false_positive_rate_under_four_null_generators() -> None:
    rates: dict[str, float] = {}
    total = 0
    for g, kind in enumerate(("iid", "ar1", "student_t", "garch")):
        rng = np.random.default_rng(9000 + g)
        verdicts = _verdicts(null_arms(kind, 2, PER_GENERATOR, N_DAYS, rng), "AB")
        assert all("decided by HAC paired t-test" in v for v in verdicts)
        hits = sum(map(_false_positive, verdicts))
        rates[kind] = hits / PER_GENERATOR
        total += hits
        assert rates[kind] <= ALPHA + _margin(PER_GENERATOR), rates
    pooled = total / (4 * PER_GENERATOR)
    print(f"false-positive rates {rates}, pooled {pooled:.4f}")
    assert pooled <= ALPHA + _margin(4 * PER_GENERATOR), rates


@pytest.mark.slow
def test_three_null_arms_keep_the_family_wise_rate_across_pairs() -> None:
    """Three arms, three pairs, Holm across them: the family still errs at most ~alpha."""
    hits, trials = 0, 0
    for g, kind in enumerate(("iid", "ar1", "student_t", "garch")):
        rng = np.random.default_rng(9100 + g)
        verdicts = _verdicts(null_arms(kind, 3, 40, N_DAYS, rng), "ABC")
        hits += sum(map(_false_positive, verdicts))
        trials += len(verdicts)
    assert hits / trials <= ALPHA + _margin(trials)


def gated_pair(seed: int, n: int = 2520, *, garch: bool = False) -> tuple[pd.Series, pd.Series]:
    """A = r, B = r * gate: zero-mean returns (normal, 1% a day, or GARCH with t(5)
    innovations), B in the market in 60% of 50-day blocks. Neither arm has skill."""
    rng = np.random.default_rng(seed)
    if garch:
        r = _garch(rng.standard_t(5, (n, 1)) / math.sqrt(5 / 3))[:, 0]
    else:
        r = rng.normal(0.0, 0.01, n)
    blocks = math.ceil(n / 50)
    on = np.zeros(blocks, dtype=bool)
    on[rng.choice(blocks, round(0.6 * blocks), replace=False)] = True
    gate = np.repeat(on, 50)[:n]
    index = pd.bdate_range("2010-01-01", periods=n)
    return pd.Series(r, index), pd.Series(r * gate, index)


def _gated_verdicts(seeds: range, *, garch: bool) -> list[str]:
    out = []
    for seed in seeds:
        a, b = gated_pair(seed, garch=garch)
        assert abs(np.mean(b.to_numpy() != 0) - 0.6) < 0.02
        out.append(compare({"A": a, "B": b}, alpha=ALPHA, secondary=False).verdict)
    return out


@pytest.mark.slow
def test_gated_exposure_without_skill_is_no_significant_difference() -> None:
    """The issue's case: the old win-rate verdict said "A better" for 20 of 20 seeds.

    Seeds 2026..2045 were declared before this check was first run. (Seeds 0..19 give 18
    of 20: an exact 5% test meets "19 of 20" only with probability ~0.74, so the rate
    test below is the real criterion.)
    """
    verdicts = _gated_verdicts(range(2026, 2046), garch=False)
    no_difference = sum(v.startswith("no significant difference") for v in verdicts)
    assert no_difference >= 19, verdicts


@pytest.mark.slow
@pytest.mark.parametrize("garch", [False, True])
def test_gated_exposure_false_positive_rate(garch: bool) -> None:
    """200 seeds of the gated case (normal and GARCH returns): rate <= alpha + 3 SE."""
    verdicts = _gated_verdicts(range(200), garch=garch)
    rate = sum(map(_false_positive, verdicts)) / len(verdicts)
    assert rate <= ALPHA + _margin(len(verdicts)), rate


@pytest.mark.slow
def test_a_planted_edge_is_detected_in_its_direction() -> None:
    """B = A + 6 bp a day plus 0.5% tracking noise (t ~ 3.8 over 1,000 days): power ~0.97."""
    rng = np.random.default_rng(77)
    k, n = 40, 1000
    a = null_arms("garch", 1, k, n, rng)[0]
    b = a + 0.0006 + rng.normal(0.0, 0.005, (n, k))
    verdicts = _verdicts(np.stack([a, b]), "AB")
    found = sum(v.startswith("B better than A (decided by HAC paired t-test") for v in verdicts)
    assert found / k >= 0.9, verdicts
    assert not any(v.startswith("A better") for v in verdicts)
