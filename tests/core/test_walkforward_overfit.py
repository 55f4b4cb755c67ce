"""Deflated Sharpe ratio and PBO: golden values from independent computations."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm

from core.walkforward.overfit import (
    EULER_GAMMA,
    deflated_sharpe_ratio,
    expected_max_sharpe,
    pbo_cscv,
    probabilistic_sharpe_ratio,
)


@pytest.fixture(scope="module")
def returns() -> np.ndarray:
    rng = np.random.default_rng(42)
    return rng.standard_t(df=5, size=750) * 0.01 + 0.0008


def test_psr_and_dsr_match_hand_computation(returns: np.ndarray) -> None:
    s = pd.Series(returns)
    sr = s.mean() / s.std()  # pandas: ddof=1
    skew = s.skew()  # adjusted Fisher-Pearson
    kurt = s.kurt() + 3.0  # pandas gives unbiased excess kurtosis
    t = len(s)
    trials, var = 25, 0.0004
    sr0 = math.sqrt(var) * (
        (1 - EULER_GAMMA) * norm.ppf(1 - 1 / trials)
        + EULER_GAMMA * norm.ppf(1 - 1 / (trials * math.e))
    )
    denom = math.sqrt(1 - skew * sr + (kurt - 1) / 4 * sr**2)
    dsr_hand = norm.cdf((sr - sr0) * math.sqrt(t - 1) / denom)
    psr_hand = norm.cdf(sr * math.sqrt(t - 1) / denom)

    out = deflated_sharpe_ratio(returns, trials, sharpe_variance=var)
    assert out["sr"] == pytest.approx(sr, rel=1e-12)
    assert out["skew"] == pytest.approx(skew, rel=1e-9)
    assert out["kurtosis"] == pytest.approx(kurt, rel=1e-9)
    assert out["sr0"] == pytest.approx(sr0, rel=1e-12)
    assert out["dsr"] == pytest.approx(dsr_hand, rel=1e-12)
    assert out["psr"] == pytest.approx(psr_hand, rel=1e-12)
    assert probabilistic_sharpe_ratio(sr, sr0, t, skew, kurt) == pytest.approx(dsr_hand)
    # a fixed golden number, so a silent change of convention is caught
    assert out["dsr"] == pytest.approx(0.4674, abs=5e-4)
    assert out["dsr"] < out["psr"]


def test_dsr_from_sr_estimates_and_null_variance(returns: np.ndarray) -> None:
    est = np.array([0.01, 0.03, -0.02, 0.05, 0.0])
    a = deflated_sharpe_ratio(returns, 5, sr_estimates=est)
    b = deflated_sharpe_ratio(returns, 5, sharpe_variance=float(np.var(est, ddof=1)))
    assert a["dsr"] == pytest.approx(b["dsr"])
    single = deflated_sharpe_ratio(returns, 1)
    assert single["sr0"] == 0.0 and single["dsr"] == pytest.approx(single["psr"])
    null = deflated_sharpe_ratio(returns, 10)
    assert null["sharpe_variance"] == pytest.approx(1 / (len(returns) - 1))


def test_expected_max_sharpe_against_monte_carlo() -> None:
    rng = np.random.default_rng(0)
    n, var = 100, 0.04
    draws = rng.normal(0.0, math.sqrt(var), size=(20_000, n)).max(axis=1)
    assert expected_max_sharpe(n, var) == pytest.approx(draws.mean(), rel=0.03)


def test_pbo_planted_edge_is_near_zero() -> None:
    rng = np.random.default_rng(3)
    mat = rng.normal(0.0, 0.01, size=(2000, 20))
    mat[:, 7] += 0.003  # one strategy with a real edge (daily SR 0.3)
    out = pbo_cscv(mat, n_splits=16)
    assert out["n_combinations"] == 12_870 and len(out["logits"]) == 12_870
    assert out["pbo"] < 0.02
    assert out["prob_oos_loss"] < 0.02


def test_pbo_pure_noise_is_near_half() -> None:
    values = []
    for seed in range(5):
        rng = np.random.default_rng(seed)
        values.append(pbo_cscv(rng.normal(0.0, 0.01, size=(1000, 50)), n_splits=16)["pbo"])
    assert all(0.3 <= v <= 0.7 for v in values), values
    assert np.mean(values) == pytest.approx(0.5, abs=0.1)


def test_pbo_callable_metric_matches_builtin() -> None:
    rng = np.random.default_rng(5)
    mat = rng.normal(0.0, 0.01, size=(400, 6))
    builtin = pbo_cscv(mat, n_splits=8, metric="mean")
    custom = pbo_cscv(mat, n_splits=8, metric=lambda block: block.mean(axis=0))
    np.testing.assert_allclose(builtin["logits"], custom["logits"])
    sharpe = pbo_cscv(mat, n_splits=8)
    slow = pbo_cscv(mat, n_splits=8, metric=lambda b: b.mean(axis=0) / b.std(axis=0, ddof=1))
    np.testing.assert_allclose(sharpe["logits"], slow["logits"])


def test_pbo_validation() -> None:
    with pytest.raises(ValueError, match="even"):
        pbo_cscv(np.zeros((100, 3)), n_splits=5)
    with pytest.raises(ValueError, match="N >= 2"):
        pbo_cscv(np.zeros((100, 1)))
    with pytest.raises(ValueError, match="NaN"):
        pbo_cscv(np.full((100, 3), np.nan), n_splits=4)
