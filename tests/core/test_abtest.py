"""Known-answer tests for core.abtest on seeded synthetic returns."""

from __future__ import annotations

import doctest
import math

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError
from scipy import stats

from core.abtest import (
    MIN_OBS,
    SPRT,
    _data,
    bootstrap,
    bootstrap_ci,
    bootstrap_sharpe_difference,
    compare,
    comparison,
    jkm_statistic,
    min_sample_size,
    min_sample_size_sharpe,
    obrien_fleming_boundaries,
    paired,
    paired_tests,
    power,
    primary,
    results,
    sequential,
    sharpe_difference,
    sharpe_difference_jkm,
    stationary_bootstrap_indices,
)
from core.abtest.comparison import ComparisonRow, _adjust, primary_verdict
from tests.core.test_abtest_golden import smallest_n_by_hand


def _dates(n: int) -> pd.DatetimeIndex:
    return pd.bdate_range("2015-01-01", periods=n, name="date")


def _edge_pair(seed: int = 7, n: int = 1000) -> tuple[pd.Series, pd.Series]:
    """B = A + 10 bp a day + noise: B is clearly better."""
    rng = np.random.default_rng(seed)
    a = pd.Series(rng.normal(0.0003, 0.01, n), _dates(n))
    b = a + 0.001 + pd.Series(rng.normal(0.0, 0.005, n), _dates(n))
    return a, b


def _nw_bse(x: np.ndarray, lags: int) -> float:
    """statsmodels' HAC (Bartlett, small-sample corrected) standard error of a mean."""
    import statsmodels.api as sm

    fit = sm.OLS(x, np.ones(x.size)).fit(
        cov_type="HAC", cov_kwds={"maxlags": lags, "use_correction": True}
    )
    return float(fit.bse[0])


def _hac_se_by_hand(diff: np.ndarray, lags: int) -> float:
    """Primary test's standard error from statsmodels pieces: the larger of the plain
    Newey-West error and the AR(1)-prewhitened one (recoloured by ``1 / (1 - rho)``)."""
    n = diff.size
    c = diff - diff.mean()
    rho = float(np.clip(np.dot(c[1:], c[:-1]) / np.dot(c[:-1], c[:-1]), -0.97, 0.97))
    e = c[1:] - rho * c[:-1]
    # bse(e)**2 * (n - 1) is the residuals' long-run variance (with the n/(n-1) factor).
    se_white = math.sqrt(_nw_bse(e, lags) ** 2 * (n - 1) / (1 - rho) ** 2 / n)
    return max(_nw_bse(diff, lags), se_white)


# --- identical strategies ------------------------------------------------------------


def test_identical_strategies_give_p_one_and_no_difference() -> None:
    a, _ = _edge_pair()
    result = compare({"A": a, "B": a.copy()}, n_boot=200)
    assert result.verdict == (
        "no significant difference (decided by HAC paired t-test: Holm-adjusted p=1 >= alpha=0.05)"
    )
    assert result.min_sample_size is None
    assert result.n_obs == len(a)
    assert len(result.tests) == 7
    assert [r.role for r in result.tests] == ["primary"] + ["secondary"] * 6
    for row in result.tests:
        if row.test.startswith("win rate"):  # no shared day differs: estimate 0, p 1
            assert row.p_value == 1.0
            continue
        assert row.p_value == 1.0 and row.p_adjusted == 1.0
        assert not row.significant and row.favours is None
        assert row.estimate == 0.0


def test_all_zero_differences_do_not_crash_wilcoxon() -> None:
    a = pd.Series(np.zeros(30), _dates(30))
    t_test, wilcoxon = paired_tests(a, a)
    assert (t_test.statistic, t_test.p_value) == (0.0, 1.0)
    assert (wilcoxon.statistic, wilcoxon.p_value) == (0.0, 1.0)
    assert wilcoxon.favours is None


def test_constant_nonzero_difference_is_certain() -> None:
    a = pd.Series(np.random.default_rng(0).normal(0, 0.01, 50), _dates(50))
    t_test, wilcoxon = paired_tests(a + 0.001, a)
    assert t_test.p_value == 0.0 and t_test.statistic == math.inf
    assert t_test.favours == "A"
    assert wilcoxon.p_value < 1e-6 and wilcoxon.favours == "A"


# --- planted edge -----------------------------------------------------------------------


def test_planted_edge_is_detected_and_named() -> None:
    a, b = _edge_pair()
    result = compare({"A": a, "B": b}, n_boot=500)
    assert result.verdict.startswith(
        "B better than A (decided by HAC paired t-test: Holm-adjusted p="
    )
    assert result.verdict.endswith(" < alpha=0.05)")
    assert result.primary_test == "HAC paired t-test"
    by_test = {row.test: row for row in result.tests}
    assert (
        by_test["HAC paired t-test"].favours == "B"
        and by_test["HAC paired t-test"].role == "primary"
    )
    assert by_test["paired t-test"].favours == "B"
    assert by_test["paired t-test"].estimate == pytest.approx(-0.001, abs=3e-4)
    assert by_test["Sharpe difference (JKM)"].favours == "B"
    assert by_test["Sharpe difference (bootstrap)"].favours == "B"
    # Order of the names does not change who wins.
    flipped = compare({"Better": b, "Worse": a}, n_boot=200)
    assert flipped.verdict.startswith("Better better than Worse")


def test_paired_tests_match_scipy() -> None:
    a, b = _edge_pair(seed=3, n=300)
    t_test, wilcoxon = paired_tests(a, b, alpha=0.1)
    ref = stats.ttest_rel(a.to_numpy(), b.to_numpy())
    assert t_test.statistic == pytest.approx(ref.statistic)
    assert t_test.p_value == pytest.approx(ref.pvalue)
    ci = ref.confidence_interval(0.9)
    assert (t_test.ci_low, t_test.ci_high) == pytest.approx((ci.low, ci.high))
    assert t_test.estimate_annualized == pytest.approx(252 * (a - b).mean())
    ref_w = stats.wilcoxon(a.to_numpy() - b.to_numpy())
    assert wilcoxon.p_value == pytest.approx(ref_w.pvalue)
    assert wilcoxon.estimate == pytest.approx(float(np.median(a - b)))
    assert t_test.favours == wilcoxon.favours == "B"


# --- false-positive rate -----------------------------------------------------------------


def test_false_positive_rate_near_alpha() -> None:
    reps, n = 400, 250
    rng = np.random.default_rng(2024)
    common = rng.normal(0.0004, 0.01, (reps, n))
    a = common + rng.normal(0.0, 0.004, (reps, n))
    b = common + rng.normal(0.0, 0.004, (reps, n))
    rejected = {"paired t-test": 0, "Wilcoxon signed-rank": 0, "Sharpe difference (JKM)": 0}
    for k in range(reps):
        for res in [*paired_tests(a[k], b[k]), sharpe_difference_jkm(a[k], b[k])]:
            rejected[res.name] += res.p_value < 0.05
    rates = {name: count / reps for name, count in rejected.items()}
    for name, rate in rates.items():
        assert 0.02 <= rate <= 0.09, (name, rate)
    # Vectorized cross-check of the t-test rate with scipy on all pairs at once.
    scipy_rate = float(np.mean(stats.ttest_rel(a, b, axis=1).pvalue < 0.05))
    assert scipy_rate == pytest.approx(rates["paired t-test"])


def test_compare_family_wise_error_is_controlled() -> None:
    reps, n = 40, 120
    significant = 0
    for k in range(reps):
        rng = np.random.default_rng(500 + k)
        common = rng.normal(0.0, 0.01, n)
        a = pd.Series(common + rng.normal(0, 0.005, n), _dates(n))
        b = pd.Series(common + rng.normal(0, 0.005, n), _dates(n))
        result = compare({"A": a, "B": b}, n_boot=200, seed=k)
        (primary,) = result.primary_rows()
        significant += primary.significant
        assert ("better" in result.verdict) == primary.significant
    assert significant / reps <= 0.1


# --- multiple testing ----------------------------------------------------------------------


def _holm(p: np.ndarray) -> np.ndarray:
    """Holm step-down adjusted p-values, written out (independent of statsmodels)."""
    m = p.size
    order = np.argsort(p)
    out = np.empty(m)
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p[i]))
        out[i] = running
    return out


def _bh(p: np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values, written out."""
    m = p.size
    order = np.argsort(p)
    out = np.empty(m)
    running = 1.0
    for rank in range(m - 1, -1, -1):
        i = order[rank]
        running = min(running, p[i] * m / (rank + 1))
        out[i] = running
    return out


@pytest.mark.parametrize(("method", "by_hand"), [("holm", _holm), ("fdr_bh", _bh)])
def test_adjustment_matches_hand_formulas_and_keeps_nan(method: str, by_hand) -> None:
    raw = np.array([0.001, 0.04, 0.03, 0.2, 0.012, 0.5, 0.049])
    adjusted = _adjust(raw, method)
    np.testing.assert_allclose(adjusted, by_hand(raw), rtol=1e-12)
    with_nan = _adjust(np.array([0.01, np.nan, 0.02]), method)
    assert math.isnan(with_nan[1])
    np.testing.assert_allclose(with_nan[[0, 2]], by_hand(np.array([0.01, 0.02])))


def test_holm_by_hand() -> None:
    raw = np.array([0.01, 0.04, 0.03, 0.005])
    # Sorted 0.005, 0.01, 0.03, 0.04 times 4, 3, 2, 1 -> 0.02, 0.03, 0.06, 0.06 (monotone).
    np.testing.assert_allclose(_adjust(raw, "holm"), [0.03, 0.06, 0.06, 0.02])


def test_compare_adjusts_each_test_across_pairs_and_only_the_primary_decides() -> None:
    a, b = _edge_pair(seed=11, n=400)
    c = pd.Series(np.random.default_rng(12).normal(0.0003, 0.01, 400), a.index)
    result = compare({"A": a, "B": b, "C": c}, n_boot=200, correction="fdr_bh")
    assert len(result.tests) == 3 * 7
    assert {row.pair for row in result.tests} == {("A", "B"), ("A", "C"), ("B", "C")}
    for test in {row.test for row in result.tests}:
        rows = [r for r in result.tests if r.test == test]
        raw = np.array([r.p_value for r in rows])
        finite = np.isfinite(raw)
        got = np.array([r.p_adjusted for r in rows])
        np.testing.assert_allclose(got[finite], _bh(raw[finite]), rtol=1e-12)
    assert [r.p_adjusted for r in result.tests] == result.adjusted_p_values
    primary = result.primary_rows()
    assert [r.pair for r in primary] == [("A", "B"), ("A", "C"), ("B", "C")]
    assert "B better than A (decided by HAC paired t-test: Benjamini-Hochberg-adjusted" in (
        result.verdict
    )
    frame = result.to_frame()
    assert len(frame) == 21 and frame["pair"].iloc[0] == "A vs B"
    assert list(frame["role"]).count("primary") == 3


def _row(test: str, favours: str | None, p: float, role: str = "secondary") -> ComparisonRow:
    return ComparisonRow(
        pair=("A", "B"), test=test, role=role, statistic=1.0, p_value=p, p_adjusted=p,
        significant=p < 0.05, favours=favours, estimate=1.0, ci_low=None, ci_high=None, unit="",
    )  # fmt: skip


def test_secondary_rows_never_decide_the_verdict() -> None:
    primary = _row("HAC paired t-test", None, 0.4, role="primary")
    side = _row("win rate, shared market days (bootstrap)", "A", 0.001)
    assert primary_verdict([primary, side], alpha=0.05, correction="holm") is None
    winner = _row("HAC paired t-test", "B", 0.01, role="primary")
    assert primary_verdict([winner, side], alpha=0.05, correction="holm") == (
        "B better than A (decided by HAC paired t-test: Holm-adjusted p=0.01 < alpha=0.05)"
    )


# --- Jobson-Korkie-Memmel ---------------------------------------------------------------------


def test_jkm_matches_hand_computed_memmel_formula() -> None:
    a = [0.012, -0.004, 0.007, 0.001, -0.009, 0.015, 0.003, -0.002, 0.006, -0.011] * 3
    b = [0.004, -0.002, 0.001, 0.005, -0.006, 0.002, 0.004, -0.003, 0.000, -0.004] * 3
    a = [x + 0.0001 * i for i, x in enumerate(a)]
    t = len(a)
    mean_a, mean_b = sum(a) / t, sum(b) / t
    var_a = sum((x - mean_a) ** 2 for x in a) / (t - 1)
    var_b = sum((y - mean_b) ** 2 for y in b) / (t - 1)
    cov = sum((x - mean_a) * (y - mean_b) for x, y in zip(a, b, strict=True)) / (t - 1)
    sr_a, sr_b = mean_a / math.sqrt(var_a), mean_b / math.sqrt(var_b)
    rho = cov / math.sqrt(var_a * var_b)
    theta = (2 - 2 * rho + 0.5 * (sr_a**2 + sr_b**2 - 2 * sr_a * sr_b * rho**2)) / t
    z_hand = (sr_a - sr_b) / math.sqrt(theta)
    p_hand = math.erfc(abs(z_hand) / math.sqrt(2))

    z, se = jkm_statistic(np.array(a), np.array(b))
    assert z == pytest.approx(z_hand, rel=1e-12)
    assert se == pytest.approx(math.sqrt(theta), rel=1e-12)
    res = sharpe_difference_jkm(np.array(a), np.array(b), alpha=0.05)
    assert res.statistic == pytest.approx(z_hand, rel=1e-12)
    assert res.p_value == pytest.approx(p_hand, rel=1e-9)
    assert res.estimate == pytest.approx((sr_a - sr_b) * math.sqrt(252), rel=1e-12)
    half = 1.959963984540054 * math.sqrt(theta) * math.sqrt(252)
    assert (res.ci_low, res.ci_high) == pytest.approx((res.estimate - half, res.estimate + half))


def test_jkm_with_a_flat_strategy_is_nan_not_an_error() -> None:
    a = np.random.default_rng(1).normal(0, 0.01, 40)
    res = sharpe_difference_jkm(a, np.zeros(40))
    assert math.isnan(res.p_value) and res.favours is None


# --- stationary bootstrap -------------------------------------------------------------------


def test_bootstrap_indices_have_the_right_mean_block_length() -> None:
    n, n_boot, mean_block = 400, 300, 8.0
    idx = stationary_bootstrap_indices(n, mean_block, n_boot, np.random.default_rng(3))
    assert idx.shape == (n_boot, n)
    assert idx.min() >= 0 and idx.max() < n
    breaks = idx[:, 1:] != (idx[:, :-1] + 1) % n
    n_blocks = n_boot + np.count_nonzero(breaks)
    # A fresh start continues the old block by chance with probability 1/n.
    expected = 1.0 / (1.0 / n + (1.0 - 1.0 / n) / mean_block)
    assert n * n_boot / n_blocks == pytest.approx(expected, rel=0.03)
    # Every position is equally likely.
    counts = np.bincount(idx.ravel(), minlength=n) / n_boot
    assert counts.mean() == pytest.approx(1.0) and counts.std() < 0.25
    iid = stationary_bootstrap_indices(n, 1.0, 20, np.random.default_rng(4))
    assert np.mean(iid[:, 1:] == (iid[:, :-1] + 1) % n) < 0.01


def test_bootstrap_ci_covers_the_true_sharpe_difference() -> None:
    reps, n = 40, 500
    mu_a, s_a, mu_b, s_b, rho = 0.0006, 0.01, 0.0002, 0.012, 0.5
    true = (mu_a / s_a - mu_b / s_b) * math.sqrt(252)
    covered = 0
    for k in range(reps):
        z = np.random.default_rng(1000 + k).standard_normal((n, 2))
        a = mu_a + s_a * z[:, 0]
        b = mu_b + s_b * (rho * z[:, 0] + math.sqrt(1 - rho**2) * z[:, 1])
        res = bootstrap_sharpe_difference(a, b, alpha=0.10, n_boot=400, seed=k)
        covered += res.ci_low <= true <= res.ci_high
    assert covered / reps >= 0.85


def test_bootstrap_ci_is_seeded_and_uses_default_block() -> None:
    a, b = _edge_pair(seed=5, n=343)
    first = bootstrap_ci(sharpe_difference, a, b, n_boot=300, seed=9)
    again = bootstrap_ci(sharpe_difference, a, b, n_boot=300, seed=9)
    assert first == again
    assert first.mean_block == 7.0  # 343 ** (1/3)
    assert first.ci_low < first.estimate < first.ci_high
    assert first.estimate == pytest.approx(float(sharpe_difference(a.to_numpy(), b.to_numpy())))
    identical = bootstrap_ci(sharpe_difference, a, a, n_boot=100)
    assert identical.p_value == 1.0 and identical.ci_low == identical.ci_high == 0.0


# --- sample size ------------------------------------------------------------------------------


def test_min_sample_size_matches_the_noncentral_t_and_shrinks_with_effect() -> None:
    sizes = []
    for effect in (0.0002, 0.0005, 0.001, 0.002):
        got = min_sample_size(effect, 0.01)
        # the smallest n whose noncentral-t power reaches 80% (not statsmodels, which the
        # function wraps)
        assert got == smallest_n_by_hand(effect / 0.01)
        assert min_sample_size(-effect, 0.01) == got
        sizes.append(got)
    assert sizes == sorted(sizes, reverse=True) and len(set(sizes)) == 4
    assert min_sample_size(0.001, 0.01, power=0.9) > min_sample_size(0.001, 0.01)
    with pytest.raises(ValueError, match="non-zero"):
        min_sample_size(0.0, 0.01)
    with pytest.raises(ValueError, match="daily_diff_std"):
        min_sample_size(0.001, 0.0)


def test_min_sample_size_sharpe() -> None:
    z = stats.norm.ppf(0.975) + stats.norm.ppf(0.8)
    d = 0.5 / math.sqrt(252)
    s_b = 0.3 / math.sqrt(252)
    s_a = s_b + d
    theta = 2 - 2 * 0.4 + 0.5 * (s_a**2 + s_b**2 - 2 * s_a * s_b * 0.16)
    assert min_sample_size_sharpe(0.5, sharpe_b=0.3, correlation=0.4) == math.ceil(
        z**2 * theta / d**2
    )
    sizes = [min_sample_size_sharpe(x) for x in (0.25, 0.5, 1.0, 2.0)]
    assert sizes == sorted(sizes, reverse=True)
    # Correlated strategies are easier to tell apart.
    assert min_sample_size_sharpe(1.0, correlation=0.8) < min_sample_size_sharpe(1.0)


def test_not_enough_data_verdict() -> None:
    rng = np.random.default_rng(22)
    n = 250
    a = pd.Series(rng.normal(0.0, 0.01, n), _dates(n))
    b = a + pd.Series(rng.normal(0.0006, 0.01, n), _dates(n))
    result = compare({"A": a, "B": b}, n_boot=200)
    assert not result.primary_rows()[0].significant
    diff = (a - b).to_numpy()
    se = _hac_se_by_hand(diff, 4)
    needed = min_sample_size(diff.mean(), se * math.sqrt(n))
    assert result.min_sample_size == needed > n
    assert result.verdict.startswith("no significant difference (decided by HAC paired t-test")
    assert f"; not enough data: about {needed - n:,} more days needed" in result.verdict


# --- sequential tests ---------------------------------------------------------------------------


def test_sprt_detects_a_planted_edge_before_the_fixed_horizon() -> None:
    delta, sigma = 0.001, 0.01
    horizon = min_sample_size(delta, sigma)  # 787 days for a fixed-sample t-test
    x = np.random.default_rng(8).normal(delta, sigma, 5 * horizon)
    run = SPRT(delta=delta, sigma=sigma).run(x)
    assert run.decision == "accept_h1"
    assert run.n_used < horizon
    assert run.log_lr.size == run.n_used and run.log_lr[-1] >= math.log(0.8 / 0.05)

    decisions, used = [], []
    for k in range(200):
        out = SPRT(delta=delta, sigma=sigma).run(
            np.random.default_rng(k).normal(delta, sigma, 4 * horizon)
        )
        decisions.append(out.decision)
        used.append(out.n_used)
    assert decisions.count("accept_h1") / 200 >= 0.75
    assert float(np.median(used)) < horizon


@pytest.mark.parametrize("sigma", [0.01, None])
def test_sprt_accepts_h0_on_null_most_of_the_time(sigma: float | None) -> None:
    accepted = 0
    for k in range(200):
        x = np.random.default_rng(300 + k).normal(0.0, 0.01, 4000)
        accepted += SPRT(delta=0.001, sigma=sigma).run(x).decision == "accept_h0"
    assert accepted / 200 >= 0.9


@pytest.mark.parametrize("sigma", [0.01, None])
def test_sprt_update_equals_run(sigma: float | None) -> None:
    x = np.random.default_rng(2).normal(0.0008, 0.01, 2000)
    sprt = SPRT(delta=0.001, sigma=sigma, burn_in=25)
    run = sprt.run(x)
    assert sprt.n == 0  # run leaves the object alone
    path = []
    for value in x:
        decision = sprt.update(value)
        path.append(sprt.log_lr)
        if decision != "continue":
            break
    assert decision == run.decision and sprt.n == run.n_used
    np.testing.assert_allclose(path, run.log_lr, rtol=1e-9, atol=1e-9)
    if sigma is None:
        assert np.isnan(run.log_lr[:24]).all() and not np.isnan(run.log_lr[24])
    assert sprt.update(1.0) == decision and sprt.n == run.n_used  # decision is final


def test_sprt_validates_its_arguments() -> None:
    with pytest.raises(ValueError, match="delta"):
        SPRT(delta=0.0)
    with pytest.raises(ValueError, match="alpha"):
        SPRT(delta=0.001, alpha=0.7)
    with pytest.raises(TypeError):
        SPRT(0.001)  # type: ignore[misc]


def test_obrien_fleming_boundaries_match_published_table() -> None:
    # Jennison & Turnbull (2000), Table 2.3: C_B(K, alpha=0.05) for K = 1..5.
    for k, c in [(1, 1.960), (2, 1.977), (3, 2.004), (4, 2.024), (5, 2.040)]:
        bounds = obrien_fleming_boundaries(k)
        assert bounds[-1] == pytest.approx(c, abs=2e-3)
        np.testing.assert_allclose(bounds, bounds[-1] * np.sqrt(k / np.arange(1, k + 1)))


# --- validation -------------------------------------------------------------------------------


def test_short_or_misaligned_samples_are_rejected_clearly() -> None:
    a = pd.Series(np.random.default_rng(0).normal(0, 0.01, 30), _dates(30))
    b = a.shift(15).dropna()  # only 15 common days
    with pytest.raises(ValueError, match=f"at least {MIN_OBS} aligned days"):
        compare({"A": a, "B": b})
    with pytest.raises(ValueError, match="at least 2 strategies"):
        compare({"A": a})
    with pytest.raises(TypeError, match="pandas Series"):
        compare({"A": a, "B": a.to_numpy()})  # type: ignore[dict-item]
    with pytest.raises(ValueError, match="same length"):
        paired_tests(np.zeros(30), np.zeros(31))
    with pytest.raises(ValidationError):
        compare({"A": a, "B": a}, correction="bonferroni")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="infinite"):
        paired_tests(a.replace(a.iloc[3], np.inf), a)


def test_compare_aligns_on_common_dates_and_drops_nan() -> None:
    a, b = _edge_pair(seed=4, n=120)
    b_short = b.iloc[10:].copy()
    b_short.iloc[5] = np.nan
    result = compare({"A": a, "B": b_short}, n_boot=100)
    assert result.n_obs == 109
    assert result.start == str(a.index[10].date()) and result.end == str(a.index[-1].date())
    assert result.spec.n_boot == 100


@pytest.mark.parametrize(
    "module", [_data, results, paired, bootstrap, power, sequential, comparison, primary]
)
def test_doctests(module: object) -> None:
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)  # type: ignore[arg-type]
    assert result.failed == 0


# --- the primary test (HAC paired t-test) -----------------------------------------------------


@pytest.mark.parametrize("lags", [0, 1, 4, 9])
def test_hac_kernel_without_prewhitening_matches_statsmodels(lags: int) -> None:
    rng = np.random.default_rng(lags)
    e = rng.standard_t(4, 600) * 0.01
    d = 0.0004 + e + 0.4 * np.concatenate([[0.0], e[:-1]])  # MA(1): autocorrelated
    _, se, t, p = primary.hac_t_kernel(d, lags, prewhiten=False)
    assert se == pytest.approx(_nw_bse(d, lags), rel=1e-10)
    assert t == pytest.approx(d.mean() / _nw_bse(d, lags), rel=1e-10)
    assert p == pytest.approx(2 * stats.t.sf(abs(d.mean() / _nw_bse(d, lags)), 599), rel=1e-9)
    if lags == 0:  # no lags, no prewhitening: exactly the ordinary t-test
        assert p == pytest.approx(stats.ttest_1samp(d, 0.0).pvalue, rel=1e-10)


def test_hac_t_test_matches_hand_computed_prewhitened_error() -> None:
    rng = np.random.default_rng(5)
    n = 700
    x = np.empty(n)
    x[0] = 0.0
    for t in range(1, n):
        x[t] = 0.5 * x[t - 1] + rng.normal(0, 0.01)
    a = pd.Series(x + 0.0006, _dates(n))
    b = pd.Series(np.zeros(n), _dates(n))
    res = primary.hac_t_test(a, b, alpha=0.1)
    lags = math.floor(4 * (n / 100) ** (2 / 9))
    se = _hac_se_by_hand(x + 0.0006, lags)
    assert res.name == "HAC paired t-test" and f"{lags} lags" in res.note
    assert res.estimate == pytest.approx(x.mean() + 0.0006, rel=1e-12)
    assert res.statistic == pytest.approx(res.estimate / se, rel=1e-9)
    assert res.p_value == pytest.approx(2 * stats.t.sf(abs(res.estimate / se), n - 1), rel=1e-8)
    half = stats.t.ppf(0.95, n - 1) * se
    assert (res.ci_low, res.ci_high) == pytest.approx((res.estimate - half, res.estimate + half))
    # Positive autocorrelation: the HAC error is well above the i.i.d. one.
    assert se > 1.5 * x.std(ddof=1) / math.sqrt(n)


def test_sparse_trade_day_differences_do_not_fake_significance() -> None:
    """Three consecutive cost days in 126 (seen in the SP500 retraining replay): the
    prewhitened error alone collapses there (p ~ 4e-13); the primary test keeps the plain
    Newey-West error as a floor."""
    d = np.zeros(126)
    d[60:63] = [-0.00930273, 0.00445025, -0.001]
    _, se, _, p = primary.hac_t_kernel(d)
    assert se == pytest.approx(_hac_se_by_hand(d, 4), rel=1e-10)
    assert se >= _nw_bse(d, 4) * (1 - 1e-12)
    assert p > 0.3


def test_rounding_noise_differences_count_as_zero() -> None:
    rng = np.random.default_rng(9)
    n = 400
    a = rng.normal(0.0004, 0.01, n)
    b = a.copy()
    flat = rng.random(n) < 0.4  # B is flat on 40% of days
    b[flat] = 0.0
    noise_days = ~flat & (rng.random(n) < 0.7)
    b[noise_days] += rng.choice([-1, 1], noise_days.sum()) * rng.uniform(
        1e-17, 4.4e-16, noise_days.sum()
    )
    d_zeroed = a - b
    d_zeroed[np.abs(d_zeroed) <= 1e-12] = 0.0
    assert np.count_nonzero((np.abs(a - b) > 0) & (np.abs(a - b) <= 4.4e-16)) > 100
    t_test, wilcoxon = paired_tests(a, b)
    assert wilcoxon.p_value == pytest.approx(
        stats.wilcoxon(d_zeroed, zero_method="wilcox").pvalue, rel=1e-12
    )
    assert wilcoxon.p_value != pytest.approx(stats.wilcoxon(a - b).pvalue, rel=1e-3)
    n_zero = int(np.count_nonzero(d_zeroed == 0))
    assert f"zero_method='wilcox': {n_zero} zero differences" in wilcoxon.note
    assert t_test.p_value == pytest.approx(stats.ttest_1samp(d_zeroed, 0.0).pvalue, rel=1e-12)
    # Noise alone is no difference at all, for the primary test too.
    jitter = a + rng.choice([-1, 1], n) * 2e-16
    assert primary.hac_t_test(a, jitter).p_value == 1.0
    assert paired_tests(a, jitter)[1].p_value == 1.0


def test_win_rate_counts_only_days_both_arms_hold_a_position() -> None:
    rng = np.random.default_rng(3)
    r = rng.normal(0.0, 0.01, 500)
    gate = np.repeat(rng.random(10) < 0.6, 50)
    est = float(bootstrap.win_rate_difference(r, r * gate))
    assert est == 0.0  # on shared market days the arms are identical
    a = np.array([0.01, -0.02, 0.03, 0.0, 0.02, -0.01])
    b = np.array([0.02, 0.01, -0.01, 0.01, 0.0, -0.03])
    # Shared market days: 0, 1, 2, 5. A wins 2 of 4 (days 0, 2), B wins 2 of 4 (0, 1).
    assert float(bootstrap.win_rate_difference(a, b)) == 0.0
    b[5] = 0.03  # now B wins 3 of 4
    assert float(bootstrap.win_rate_difference(a, b)) == pytest.approx(2 / 4 - 3 / 4)
    assert math.isnan(float(bootstrap.win_rate_difference(a * 0, b)))


def test_gated_exposure_is_no_difference_although_the_old_win_rate_was_significant() -> None:
    rng = np.random.default_rng(1)
    n = 2500
    r = pd.Series(rng.normal(0.0, 0.01, n), _dates(n))
    on = np.zeros(n // 50, dtype=bool)
    on[rng.choice(n // 50, int(0.6 * (n // 50)), replace=False)] = True
    gated = r * np.repeat(on, 50)
    # Share of positive days (the old win rate) differs by ~0.2: exposure, not skill.
    assert (r > 0).mean() - (gated > 0).mean() > 0.15
    full = compare({"A": r, "B": gated}, n_boot=300)
    quick = compare({"A": r, "B": gated}, secondary=False)
    assert full.verdict == quick.verdict
    assert full.verdict.startswith("no significant difference (decided by HAC paired t-test")
    assert len(quick.tests) == 1 and quick.tests[0].role == "primary"


def test_verdict_is_the_same_with_or_without_secondary_tests() -> None:
    for seed in range(6):
        a, b = _edge_pair(seed=seed, n=150 + 40 * seed)
        b = a + (b - a) * (seed % 3) / 4  # sometimes no edge at all
        full = compare({"A": a, "B": b}, n_boot=200, seed=seed)
        bare = compare({"A": a, "B": b}, secondary=False)
        assert full.verdict == bare.verdict
        assert full.primary_rows() == bare.primary_rows()


def test_primary_p_values_are_holm_adjusted_across_pairs_only() -> None:
    rng = np.random.default_rng(21)
    n = 300
    base = rng.normal(0, 0.01, n)
    arms = {
        name: pd.Series(base + rng.normal(mu, 0.004, n), _dates(n))
        for name, mu in (("A", 0.0), ("B", 0.0006), ("C", 0.0002))
    }
    result = compare(arms, secondary=False)
    rows = result.primary_rows()
    raw = np.array([r.p_value for r in rows])
    np.testing.assert_allclose([r.p_adjusted for r in rows], _holm(raw), rtol=1e-12)
    for row in rows:
        d = (arms[row.pair[0]] - arms[row.pair[1]]).to_numpy()
        t = d.mean() / _hac_se_by_hand(d, math.floor(4 * (n / 100) ** (2 / 9)))
        assert row.p_value == pytest.approx(2 * stats.t.sf(abs(t), n - 1), rel=1e-8)
    assert result.decision_rule.endswith("(Holm), alpha=0.05")


def test_newey_west_lags_rule() -> None:
    for n in (20, 100, 250, 1000, 5030):
        assert primary.newey_west_lags(n) == math.floor(4 * (n / 100) ** (2 / 9))


def test_bench_section_reports_rates_with_their_binomial_bound() -> None:
    from core.abtest import bench

    report = bench.bench_abtest(pairs_per_generator=20, n_days=120, seed=3)
    fpr = report["false_positive_rate"]
    assert set(fpr) == {"iid", "ar1", "student_t", "garch", "pooled"}
    assert fpr["pooled"]["trials"] == 80
    assert fpr["pooled"]["bound_alpha_plus_3se"] == pytest.approx(
        0.05 + 3 * math.sqrt(0.05 * 0.95 / 80)
    )
    pooled = np.mean([fpr[k]["rate"] for k in ("iid", "ar1", "student_t", "garch")])
    assert fpr["pooled"]["rate"] == pytest.approx(pooled)
    assert report["power_6bp_per_day"]["rate"] >= 0.8  # 20 planted edges of 1,000 days
    assert "pooled" in bench.summary(report) and "HAC paired t-test" in bench.summary(report)
    with pytest.raises(ValueError, match="unknown generator"):
        bench.null_sample("cauchy", 2, 30, np.random.default_rng(0))
