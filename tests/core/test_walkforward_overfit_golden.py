"""PBO and DSR against constructed cases with exact answers and a brute-force CSCV.

Every expected value here is computed in the test (by hand, with a plain loop over the
CSCV combinations, or with the Bailey-López de Prado formulas written out), never by
the code under test.
"""

from __future__ import annotations

import math
import re
import warnings
from itertools import combinations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm

from core.walkforward.overfit import (
    deflated_sharpe_ratio,
    expected_max_sharpe,
    pbo_cscv,
    probabilistic_sharpe_ratio,
)

GAMMA = 0.5772156649015329  # Euler-Mascheroni, written out independently


def _brute_force_cscv(mat: np.ndarray, n_splits: int, metric: str) -> dict[str, object]:
    """CSCV as in Bailey et al. (2015), one combination at a time, with plain numpy."""
    t, n = mat.shape
    block = t // n_splits
    mat = mat[t - block * n_splits :]
    blocks = [mat[i * block : (i + 1) * block] for i in range(n_splits)]

    def score(rows: np.ndarray) -> np.ndarray:
        if metric == "mean":
            return rows.mean(axis=0)
        return rows.mean(axis=0) / rows.std(axis=0, ddof=1)

    logits, losses = [], []
    for chosen in combinations(range(n_splits), n_splits // 2):
        is_rows = np.vstack([blocks[i] for i in chosen])
        oos_rows = np.vstack([blocks[i] for i in range(n_splits) if i not in chosen])
        is_perf, oos_perf = score(is_rows), score(oos_rows)
        best = int(np.argmax(is_perf))
        # rank 1 = worst out of sample, n = best (no ties in these inputs)
        rank = 1 + int(np.sum(oos_perf < oos_perf[best]))
        omega = rank / (n + 1)
        logits.append(math.log(omega / (1 - omega)))
        losses.append(oos_perf[best] < 0)
    return {
        "pbo": float(np.mean(np.array(logits) <= 0)),
        "logits": np.array(logits),
        "prob_oos_loss": float(np.mean(losses)),
        "n_combinations": len(logits),
    }


# --- PBO: exact answers -----------------------------------------------------------------


def test_pbo_on_a_four_row_matrix_computed_by_hand() -> None:
    # blocks of 2 rows; A earns +1 then -1 per bar, B is flat.
    mat = np.array([[1.0, 0.0], [1.0, 0.0], [-1.0, 0.0], [-1.0, 0.0]])
    out = pbo_cscv(mat, n_splits=2, metric="mean")
    # IS = block 0: A wins (1 > 0) and is last out of sample (-1 < 0): rank 1 of 2.
    # IS = block 1: B wins (0 > -1) and is last out of sample (0 < 1): rank 1 of 2.
    # omega = 1/3 twice, logit = ln(1/2) <= 0 twice -> PBO = 1.
    assert out["pbo"] == 1.0
    np.testing.assert_allclose(out["logits"], [math.log(0.5)] * 2, rtol=1e-15)
    # only the first choice (A) loses money out of sample
    assert out["prob_oos_loss"] == 0.5
    assert (out["n_combinations"], out["n_splits"], out["n_strategies"]) == (2, 2, 2)


@pytest.mark.parametrize("n_strategies", [2, 5, 12])
def test_pbo_is_one_when_the_in_sample_winner_always_loses_out_of_sample(
    n_strategies: int,
) -> None:
    # Every column sums to zero over the sample, so with equal halves its in-sample mean
    # is minus its out-of-sample mean: the in-sample best is the out-of-sample worst.
    rng = np.random.default_rng(11)
    mat = rng.normal(0.0, 0.01, size=(160, n_strategies))
    mat -= mat.mean(axis=0)
    out = pbo_cscv(mat, n_splits=8, metric="mean")
    assert out["pbo"] == 1.0
    assert out["n_combinations"] == math.comb(8, 4) == 70
    # rank 1 of N in every combination: logit = ln((1/(N+1)) / (N/(N+1))) = -ln N
    np.testing.assert_allclose(out["logits"], -math.log(n_strategies), rtol=1e-12)


@pytest.mark.parametrize("metric", ["sharpe", "mean"])
def test_pbo_is_zero_for_a_dominant_configuration(metric: str) -> None:
    # All columns share one noise series and differ by a constant drift: on any subset of
    # rows their Sharpe (and mean) is ordered like the drift, so the largest drift is best
    # in sample and out of sample in every combination.
    rng = np.random.default_rng(4)
    noise = rng.normal(0.0, 0.01, size=(240, 1))
    drift = np.array([-0.002, 0.0, 0.001, 0.004, 0.0005])
    mat = noise - noise.mean() + drift
    out = pbo_cscv(mat, n_splits=6, metric=metric)
    assert out["pbo"] == 0.0
    assert out["n_combinations"] == math.comb(6, 3) == 20
    # rank N of N: logit = ln(N) exactly
    np.testing.assert_allclose(out["logits"], math.log(5), rtol=1e-12)
    assert out["prob_oos_loss"] == 0.0


@pytest.mark.parametrize("metric", ["sharpe", "mean"])
@pytest.mark.parametrize(("rows", "n_strategies", "n_splits"), [(203, 7, 6), (96, 3, 4)])
def test_pbo_matches_a_brute_force_cscv(
    metric: str, rows: int, n_strategies: int, n_splits: int
) -> None:
    rng = np.random.default_rng(rows + n_strategies)
    mat = rng.normal(0.0, 0.01, size=(rows, n_strategies))
    mat[:, 1] += 0.0015  # a modest edge so that the answer is neither 0 nor 1
    got = pbo_cscv(mat, n_splits=n_splits, metric=metric)
    want = _brute_force_cscv(mat, n_splits, metric)
    assert got["n_combinations"] == want["n_combinations"] == math.comb(n_splits, n_splits // 2)
    np.testing.assert_allclose(got["logits"], want["logits"], rtol=1e-12)
    assert got["pbo"] == want["pbo"]
    assert got["prob_oos_loss"] == want["prob_oos_loss"]


def test_pbo_drops_the_first_rows_that_do_not_fill_a_block() -> None:
    rng = np.random.default_rng(8)
    mat = rng.normal(0.0, 0.01, size=(83, 4))  # 83 = 4 * 20 + 3
    mat[:3] = 1e6  # would dominate every metric if they were used
    full = pbo_cscv(mat, n_splits=4)
    trimmed = pbo_cscv(mat[3:], n_splits=4)
    np.testing.assert_array_equal(full["logits"], trimmed["logits"])


def test_pbo_callable_metric_is_applied_to_in_and_out_of_sample_rows() -> None:
    rng = np.random.default_rng(2)
    mat = rng.normal(0.0, 0.01, size=(120, 4))
    seen: list[int] = []

    def worst_bar(rows: np.ndarray) -> np.ndarray:
        seen.append(rows.shape[0])
        return rows.min(axis=0)

    out = pbo_cscv(mat, n_splits=4, metric=worst_bar)
    assert seen == [60] * (2 * 6)  # two halves of 60 rows for each of C(4, 2) = 6 splits
    blocks = mat.reshape(4, 30, 4)
    logits = []
    for chosen in combinations(range(4), 2):
        other = [i for i in range(4) if i not in chosen]
        is_perf = blocks[list(chosen)].reshape(-1, 4).min(axis=0)
        oos_perf = blocks[other].reshape(-1, 4).min(axis=0)
        best = int(np.argmax(is_perf))
        omega = (1 + np.sum(oos_perf < oos_perf[best])) / 5
        logits.append(math.log(omega / (1 - omega)))
    np.testing.assert_allclose(out["logits"], logits, rtol=1e-12)


def test_pbo_constant_columns_score_zero_sharpe() -> None:
    # a flat column has Sharpe 0 (not NaN), so a losing column ranks below it
    mat = np.zeros((40, 3))
    mat[:, 1] = np.tile([0.01, -0.03], 20)  # negative mean, positive variance
    mat[:, 2] = np.tile([0.03, -0.01], 20)  # positive mean
    out = pbo_cscv(mat, n_splits=4)
    # column 2 is best everywhere: rank 3 of 3, logit ln 3
    np.testing.assert_allclose(out["logits"], math.log(3), rtol=1e-12)


@pytest.mark.parametrize(
    ("mat", "kwargs", "message"),
    [
        (np.zeros(50), {}, r"returns_matrix must be \(T, N\) with N >= 2 strategies"),
        (np.zeros((50, 1)), {}, r"returns_matrix must be \(T, N\) with N >= 2 strategies"),
        (np.zeros((50, 3)), {"n_splits": 0}, "n_splits must be an even number >= 2, got 0"),
        (np.zeros((50, 3)), {"n_splits": 3}, "n_splits must be an even number >= 2, got 3"),
        (np.zeros((7, 3)), {"n_splits": 4}, "7 rows are too few for 4 blocks of >= 2 rows"),
        (np.array([[0.0, np.inf]] * 8), {"n_splits": 2}, "returns_matrix contains NaN or inf"),
        (
            np.zeros((8, 3)),
            {"n_splits": 2, "metric": "sortino"},
            "metric must be 'sharpe', 'mean' or a callable, got 'sortino'",
        ),
    ],
)
def test_pbo_validation_messages(mat: np.ndarray, kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError) as caught:
        pbo_cscv(mat, **kwargs)

    assert re.fullmatch(message + ".*", str(caught.value)), str(caught.value)


def test_pbo_sharpe_of_a_flat_column_is_zero_not_one() -> None:
    # B earns a Sharpe of about 1.9 per bar in block 0 and about 0.49 in block 1; A is
    # flat (Sharpe 0). B is best in and out of sample in both splits: logit ln 2 twice.
    a = np.zeros(20)
    b = np.concatenate([np.tile([0.03, 0.01], 5), np.tile([0.03, -0.01], 5)])
    out = pbo_cscv(np.column_stack([a, b]), n_splits=2)
    np.testing.assert_allclose(out["logits"], [math.log(2)] * 2, rtol=1e-12)
    assert out["pbo"] == 0.0


def test_pbo_sharpe_with_large_means_matches_brute_force() -> None:
    # means comparable to the volatility, so the variance's mean term matters
    rng = np.random.default_rng(17)
    mat = rng.normal(rng.uniform(-1.0, 1.0, 6), 1.0, size=(48, 6))
    got = pbo_cscv(mat, n_splits=4)
    want = _brute_force_cscv(mat, 4, "sharpe")
    np.testing.assert_allclose(got["logits"], want["logits"], rtol=1e-12)
    assert (got["pbo"], got["prob_oos_loss"]) == (want["pbo"], want["prob_oos_loss"])


def test_pbo_flat_columns_raise_no_numpy_warnings() -> None:
    mat = np.zeros((40, 4))
    mat[:, 2] = np.tile([0.02, -0.01], 20)
    mat[:, 3] = -0.25  # zero variance, non-zero mean: Sharpe 0 by the module's convention
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = pbo_cscv(mat, n_splits=4)
    np.testing.assert_allclose(out["logits"], math.log(4), rtol=1e-12)


def test_pbo_on_dollar_pnl_of_different_sizes_matches_brute_force() -> None:
    # PnL in currency: means and volatilities differ by orders of magnitude across columns
    rng = np.random.default_rng(23)
    scale = np.array([1.0, 30.0, 500.0, 2.0, 80.0])
    mat = scale * rng.normal(rng.uniform(-0.5, 1.5, 5), 1.0, size=(64, 5))
    got = pbo_cscv(mat, n_splits=4)
    want = _brute_force_cscv(mat, 4, "sharpe")
    np.testing.assert_allclose(got["logits"], want["logits"], rtol=1e-12)
    assert got["pbo"] == want["pbo"]


def test_pbo_default_uses_16_blocks() -> None:
    rng = np.random.default_rng(6)
    out = pbo_cscv(rng.normal(0.0, 0.01, size=(160, 3)))
    assert (out["n_splits"], out["n_combinations"]) == (16, math.comb(16, 8))


def test_pbo_and_dsr_accept_object_dtype_pandas_input() -> None:
    # a frame read from a file can hold floats as Python objects
    rng = np.random.default_rng(12)
    mat = rng.normal(0.0, 0.01, size=(96, 4))
    frame = pd.DataFrame(mat).astype(object)
    np.testing.assert_array_equal(
        pbo_cscv(frame, n_splits=4)["logits"], pbo_cscv(mat, n_splits=4)["logits"]
    )
    r = mat[:, 0]
    estimates = pd.Series([0.01, 0.04, -0.02], dtype=object)
    got = deflated_sharpe_ratio(pd.Series(r, dtype=object), 3, sr_estimates=estimates)
    want = deflated_sharpe_ratio(r, 3, sr_estimates=[0.01, 0.04, -0.02])
    assert got["dsr"] == want["dsr"] and got["sharpe_variance"] == want["sharpe_variance"]


def test_pbo_accepts_the_smallest_valid_blocks() -> None:
    mat = np.array([[1.0, 0.0], [2.0, 0.0], [-1.0, 0.0], [-3.0, 0.0]])  # blocks of 2 rows
    assert pbo_cscv(mat, n_splits=2, metric="mean")["pbo"] == 1.0


# --- DSR: the Bailey-López de Prado formulas written out ----------------------------------


def _dsr_by_hand(r: np.ndarray, trials: int, variance: float) -> dict[str, float]:
    t = r.size
    mean = r.sum() / t
    sd = math.sqrt(((r - mean) ** 2).sum() / (t - 1))
    sr = mean / sd
    m2 = ((r - mean) ** 2).mean()
    g1 = ((r - mean) ** 3).mean() / m2**1.5
    skew = g1 * math.sqrt(t * (t - 1)) / (t - 2)  # adjusted Fisher-Pearson
    g2 = ((r - mean) ** 4).mean() / m2**2 - 3.0
    excess = ((t + 1) * g2 + 6.0) * (t - 1) / ((t - 2) * (t - 3))  # unbiased
    kurt = excess + 3.0
    if trials == 1:
        sr0 = 0.0
    else:
        sr0 = math.sqrt(variance) * (
            (1 - GAMMA) * norm.ppf(1 - 1 / trials) + GAMMA * norm.ppf(1 - 1 / (trials * math.e))
        )
    denom = math.sqrt(1 - skew * sr + (kurt - 1) / 4 * sr**2)
    return {
        "sr": sr,
        "skew": skew,
        "kurtosis": kurt,
        "sr0": sr0,
        "dsr": norm.cdf((sr - sr0) * math.sqrt(t - 1) / denom),
        "psr": norm.cdf(sr * math.sqrt(t - 1) / denom),
    }


@pytest.mark.parametrize("trials", [1, 2, 7, 90, 1000])
def test_dsr_matches_the_formula_written_out(trials: int) -> None:
    rng = np.random.default_rng(trials)
    r = rng.standard_t(df=4, size=600) * 0.01 + 0.0006
    r = np.exp(r) - 1.0  # a little skew
    variance = 0.0009
    got = deflated_sharpe_ratio(r, trials, sharpe_variance=variance)
    want = _dsr_by_hand(r, trials, variance)
    for key in ("sr", "skew", "kurtosis", "sr0", "dsr", "psr"):
        assert got[key] == pytest.approx(want[key], rel=1e-9, abs=1e-15), key
    assert (got["trials"], got["n_obs"], got["sharpe_variance"]) == (trials, 600, variance)


def test_dsr_falls_as_trials_grow() -> None:
    r = np.random.default_rng(0).normal(0.001, 0.01, 500)
    values = [deflated_sharpe_ratio(r, n, sharpe_variance=0.002)["dsr"] for n in (1, 10, 100)]
    assert values[0] > values[1] > values[2]
    want = [_dsr_by_hand(r, n, 0.002)["dsr"] for n in (1, 10, 100)]
    np.testing.assert_allclose(values, want, rtol=1e-9)


def test_dsr_variance_from_trial_sharpes_and_from_the_null() -> None:
    r = np.random.default_rng(5).normal(0.0008, 0.01, 400)
    estimates = np.array([0.02, -0.01, 0.05, np.nan, 0.03, 0.0])
    finite = estimates[np.isfinite(estimates)]
    variance = ((finite - finite.mean()) ** 2).sum() / (finite.size - 1)  # ddof = 1
    got = deflated_sharpe_ratio(r, 6, sr_estimates=estimates)
    assert got["sharpe_variance"] == pytest.approx(variance, rel=1e-12)
    assert got["dsr"] == pytest.approx(_dsr_by_hand(r, 6, variance)["dsr"], rel=1e-9)
    # an explicit variance wins over the estimates
    explicit = deflated_sharpe_ratio(r, 6, sharpe_variance=0.01, sr_estimates=estimates)
    assert explicit["sharpe_variance"] == 0.01
    # two estimates are enough for a sample variance: (0.05 - 0.01)^2 / 2
    two = deflated_sharpe_ratio(r, 6, sr_estimates=[0.05, 0.01])
    assert two["sharpe_variance"] == pytest.approx(0.0008, rel=1e-12)
    # one estimate has no variance: the null variance of the estimator, 1 / (T - 1)
    single = deflated_sharpe_ratio(r, 6, sr_estimates=[0.05])
    assert single["sharpe_variance"] == pytest.approx(1 / 399, rel=1e-12)
    assert single["dsr"] == pytest.approx(_dsr_by_hand(r, 6, 1 / 399)["dsr"], rel=1e-9)


def test_dsr_ignores_non_finite_returns() -> None:
    r = np.random.default_rng(9).normal(0.001, 0.01, 300)
    dirty = np.concatenate([[np.nan], r[:100], [np.inf, -np.inf], r[100:]])
    got = deflated_sharpe_ratio(dirty, 20, sharpe_variance=0.001)
    assert got["n_obs"] == 300
    assert got["dsr"] == pytest.approx(_dsr_by_hand(r, 20, 0.001)["dsr"], rel=1e-9)


def test_dsr_of_a_flat_track_is_one_half_without_deflation() -> None:
    # std 0: Sharpe 0 by convention, skew 0 and normal kurtosis 3, so PSR = Phi(0) = 1/2
    out = deflated_sharpe_ratio(np.full(10, 0.25), 1)
    assert (out["sr"], out["skew"], out["kurtosis"]) == (0.0, 0.0, 3.0)
    assert out["psr"] == 0.5 and out["dsr"] == 0.5 and out["sr0"] == 0.0
    # with 5 trials the null variance 1/9 gives SR0 > 0 and DSR = Phi(-SR0 * 3)
    five = deflated_sharpe_ratio(np.full(10, 0.25), 5)
    sr0 = math.sqrt(1 / 9) * (
        (1 - GAMMA) * norm.ppf(1 - 1 / 5) + GAMMA * norm.ppf(1 - 1 / (5 * math.e))
    )
    assert five["sr0"] == pytest.approx(sr0, rel=1e-12)
    assert five["dsr"] == pytest.approx(norm.cdf(-sr0 * 3), rel=1e-12)


def test_dsr_needs_three_finite_returns() -> None:
    with pytest.raises(ValueError, match="at least 3 finite returns, got 2"):
        deflated_sharpe_ratio([0.01, np.nan, -0.02], 3)
    assert deflated_sharpe_ratio([0.01, 0.03, -0.02], 1)["n_obs"] == 3


def test_expected_max_sharpe_known_values() -> None:
    # N = 2: Phi^-1(1/2) = 0, so SR0 = sqrt(V) * gamma * Phi^-1(1 - 1/(2e))
    assert expected_max_sharpe(2, 0.04) == pytest.approx(
        0.2 * GAMMA * norm.ppf(1 - 1 / (2 * math.e)), rel=1e-12
    )
    assert expected_max_sharpe(1, 0.04) == 0.0
    assert expected_max_sharpe(50, 0.0) == 0.0
    with pytest.raises(ValueError, match="trials must be >= 1, got 0"):
        expected_max_sharpe(0, 0.01)
    with pytest.raises(ValueError, match=re.escape("sharpe_variance must be >= 0, got -0.1")):
        expected_max_sharpe(3, -0.1)


def test_psr_known_values_and_degenerate_denominator() -> None:
    # skew 0, kurtosis 3: denominator sqrt(1 + SR^2 / 2)
    want = norm.cdf((0.2 - 0.05) * math.sqrt(99) / math.sqrt(1 + 0.2**2 / 2))
    assert probabilistic_sharpe_ratio(0.2, 0.05, 100) == pytest.approx(want, rel=1e-12)
    # skew and kurtosis enter as 1 - skew * SR + (kurt - 1) / 4 * SR^2
    want = norm.cdf(0.3 * math.sqrt(49) / math.sqrt(1 + 0.5 * 0.3 + 5 / 4 * 0.09))
    assert probabilistic_sharpe_ratio(0.3, 0.0, 50, -0.5, 6.0) == pytest.approx(want, rel=1e-12)
    # the smallest sample is two observations: sqrt(T - 1) = 1
    assert probabilistic_sharpe_ratio(0.1, 0.0, 2) == pytest.approx(
        norm.cdf(0.1 / math.sqrt(1.005)), rel=1e-12
    )
    # 1 - 2 * 1 + 0 = -1 < 0 and exactly 0: no valid PSR
    assert math.isnan(probabilistic_sharpe_ratio(1.0, 0.0, 30, 2.0, 1.0))
    assert math.isnan(probabilistic_sharpe_ratio(1.0, 0.0, 30, 1.0, 1.0))
    with pytest.raises(ValueError, match="n_obs must be >= 2, got 1"):
        probabilistic_sharpe_ratio(0.1, 0.0, 1)
