"""Wald's SPRT against the formulas written out in the test, on tiny hand-made inputs."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from core.abtest import SPRT


def _path_by_hand(x: list[float], delta: float, sigma: float | None, burn_in: int) -> list[float]:
    """log LR_n = (delta * S_n - n * delta^2 / 2) / s_n^2, s_n known or the ddof=1 std."""
    out = []
    for n in range(1, len(x) + 1):
        head = x[:n]
        if sigma is not None:
            var = sigma**2
        elif n < burn_in or n < 2:
            out.append(math.nan)
            continue
        else:
            mean = sum(head) / n
            var = sum((v - mean) ** 2 for v in head) / (n - 1)
        out.append((delta * sum(head) - n * delta**2 / 2) / var if var > 0 else math.nan)
    return out


@pytest.mark.parametrize(("alpha", "beta"), [(0.05, 0.2), (0.1, 0.3), (0.01, 0.05)])
def test_wald_boundaries(alpha: float, beta: float) -> None:
    sprt = SPRT(delta=0.001, sigma=0.01, alpha=alpha, beta=beta)
    assert sprt.upper == pytest.approx(math.log((1 - beta) / alpha), rel=1e-15)
    assert sprt.lower == pytest.approx(math.log(beta / (1 - alpha)), rel=1e-15)
    assert (sprt.alpha, sprt.beta, sprt.burn_in) == (alpha, beta, 20)
    assert SPRT(delta=0.001, sigma=0.01).upper == pytest.approx(math.log(16), rel=1e-15)


def test_known_sigma_path_and_decision_by_hand() -> None:
    x = [0.004, -0.002, 0.003, 0.001, 0.006, 0.005, 0.004, 0.005, -0.01]
    sprt = SPRT(delta=0.002, sigma=0.003)
    want = _path_by_hand(x, 0.002, 0.003, 20)
    stop = next(i for i, v in enumerate(want) if v >= sprt.upper or v <= sprt.lower)
    run = sprt.run(np.array(x))
    assert run.decision == "accept_h1" and run.n_used == stop + 1
    np.testing.assert_allclose(run.log_lr, want[: stop + 1], rtol=1e-12)
    # step by step: the same path, then the decision is final
    step = SPRT(delta=0.002, sigma=0.003)
    decisions = [step.update(v) for v in x]
    assert decisions == ["continue"] * stop + ["accept_h1"] * (len(x) - stop)
    assert stop == 6  # (0.002 * 0.021 - 7 * 0.002^2 / 2) / 0.003^2 = 3.11 >= ln 16
    assert step.n == stop + 1 and step.log_lr == pytest.approx(want[stop], rel=1e-12)
    assert sprt.n == 0 and sprt.decision == "continue"  # run() leaves the object alone


def test_no_crossing_uses_every_day() -> None:
    x = np.array([0.001, -0.001, 0.0005, -0.0005])
    run = SPRT(delta=0.002, sigma=0.01).run(x)
    assert run.decision == "continue" and run.n_used == 4 and run.log_lr.shape == (4,)
    np.testing.assert_allclose(run.log_lr, _path_by_hand(list(x), 0.002, 0.01, 20), rtol=1e-12)


def test_a_path_exactly_on_a_boundary_decides() -> None:
    sprt = SPRT(delta=1.0, sigma=1.0)
    x_up = sprt.upper + 0.5  # log LR_1 = x - 1/2
    assert (1.0 * x_up - 1.0 / 2.0) / 1.0 == sprt.upper  # exactly on the boundary
    assert sprt.run(np.array([x_up])).decision == "accept_h1"
    assert SPRT(delta=1.0, sigma=1.0).update(x_up) == "accept_h1"
    x_down = sprt.lower + 0.5
    assert (1.0 * x_down - 1.0 / 2.0) / 1.0 == sprt.lower
    assert sprt.run(np.array([x_down])).decision == "accept_h0"
    assert SPRT(delta=1.0, sigma=1.0).update(x_down) == "accept_h0"


def test_plug_in_sigma_after_burn_in_by_hand() -> None:
    rng = np.random.default_rng(4)
    x = list(rng.normal(0.0002, 0.01, 60))
    for burn_in in (2, 5, 20):
        sprt = SPRT(delta=0.004, burn_in=burn_in)
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # the first day's 0/0 variance is handled
            run = sprt.run(np.array(x))
        want = _path_by_hand(x, 0.004, None, burn_in)[: run.n_used]
        np.testing.assert_allclose(run.log_lr, want, rtol=1e-9)
        assert int(np.isnan(run.log_lr).sum()) == max(burn_in - 1, 1)
    assert SPRT(delta=0.004).burn_in == 20


def test_constant_differences_never_decide_with_a_plug_in_sigma() -> None:
    x = np.full(30, 0.001)  # no variation: no sigma to plug in
    run = SPRT(delta=0.001, burn_in=2).run(x)
    assert run.decision == "continue" and run.n_used == 30 and np.isnan(run.log_lr).all()
    step = SPRT(delta=0.001, burn_in=2)
    assert [step.update(v) for v in x] == ["continue"] * 30 and math.isnan(step.log_lr)


def test_reset_forgets_everything() -> None:
    x = [0.004, 0.003, 0.005]
    used = SPRT(delta=0.002, sigma=0.004)
    for v in [0.01, 0.02, 0.03, 0.04]:
        used.update(v)
    assert used.decision == "accept_h1"
    used.reset()
    assert (used.n, used.log_lr, used.decision) == (0, 0.0, "continue")
    fresh = SPRT(delta=0.002, sigma=0.004)
    for v in x:
        assert used.update(v) == fresh.update(v)
        assert used.log_lr == fresh.log_lr


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"delta": 0.0}, "delta must be finite and non-zero, got 0.0"),
        ({"delta": math.inf}, "delta must be finite and non-zero, got inf"),
        ({"sigma": 0.0}, "sigma must be finite and > 0, got 0.0"),
        ({"sigma": -0.01}, "sigma must be finite and > 0, got -0.01"),
        ({"sigma": math.inf}, "sigma must be finite and > 0, got inf"),
        ({"alpha": 0.0}, "alpha must be in (0, 0.5), got 0.0"),
        ({"alpha": 0.5}, "alpha must be in (0, 0.5), got 0.5"),
        ({"beta": 0.0}, "beta must be in (0, 0.5), got 0.0"),
        ({"beta": 0.5}, "beta must be in (0, 0.5), got 0.5"),
        ({"burn_in": 1}, "burn_in must be >= 2, got 1"),
    ],
)
def test_sprt_validation_messages(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError) as caught:
        SPRT(**{"delta": 0.001, **kwargs})
    assert str(caught.value) == message


def test_non_finite_observations_are_refused() -> None:
    with pytest.raises(ValueError) as caught:
        SPRT(delta=0.001, sigma=0.01).update(math.nan)
    assert str(caught.value) == "observations must be finite, got nan"
    with pytest.raises(ValueError) as caught:
        SPRT(delta=0.001, sigma=0.01).run(np.array([0.0, math.inf]))
    assert str(caught.value) == "observations must be finite (drop NaN days first)"
    assert SPRT(delta=0.001, burn_in=2).burn_in == 2


# --- the stationary-bootstrap interval and p-value, with scripted replicates --------------


def _scripted(estimate: float, values: np.ndarray, seen: list[int]):  # type: ignore[no-untyped-def]
    """A statistic that returns ``estimate`` on the sample and ``values`` on replicates."""
    queue = list(values)

    def stat(a: np.ndarray, b: np.ndarray) -> float | np.ndarray:
        if a.ndim == 1:
            return estimate
        k = a.shape[1]
        seen.append(k)
        out = np.array(queue[:k])
        del queue[:k]
        return out

    return stat


def _by_hand(values: np.ndarray, alpha: float) -> dict[str, float]:
    finite = np.sort(values[np.isfinite(values)])
    below = (1 + np.sum(finite <= 0)) / (1 + finite.size)
    above = (1 + np.sum(finite >= 0)) / (1 + finite.size)
    return {
        "ci_low": float(np.quantile(finite, alpha / 2)),
        "ci_high": float(np.quantile(finite, 1 - alpha / 2)),
        "p_value": min(1.0, 2 * min(below, above)),
        "std_error": float(np.std(finite, ddof=1)),
    }


@pytest.mark.parametrize("alpha", [0.05, 0.2])
def test_bootstrap_interval_and_p_value_from_known_replicates(alpha: float) -> None:
    from core.abtest import bootstrap_ci

    rng = np.random.default_rng(1)
    values = rng.normal(0.3, 1.0, 2_000)
    values[[5, 77]] = np.nan  # non-finite replicates are dropped
    seen: list[int] = []
    x = np.zeros(5_000)  # 5,000 days: replicates come in chunks of 400
    out = bootstrap_ci(_scripted(0.25, values, seen), x, x, alpha=alpha)
    assert seen == [400] * 5 and sum(seen) == out.n_boot == 2_000
    want = _by_hand(values, alpha)
    assert out.ci_low == pytest.approx(want["ci_low"], rel=1e-12)
    assert out.ci_high == pytest.approx(want["ci_high"], rel=1e-12)
    assert out.p_value == pytest.approx(want["p_value"], rel=1e-12)
    assert out.std_error == pytest.approx(want["std_error"], rel=1e-12)
    assert (out.estimate, out.n, out.mean_block) == (0.25, 5_000, 17.0)  # round(5000^(1/3))


def test_bootstrap_p_value_when_every_replicate_has_one_sign() -> None:
    from core.abtest import bootstrap_ci

    x = np.zeros(50)
    up = bootstrap_ci(_scripted(1.0, np.full(99, 0.5), []), x, x, n_boot=99, mean_block=3)
    # (1 + 0) / (1 + 99) below zero, twice: 0.02; the interval is the single value
    assert up.p_value == pytest.approx(0.02) and (up.ci_low, up.ci_high) == (0.5, 0.5)
    assert up.mean_block == 3.0 and up.std_error == 0.0
    zero = bootstrap_ci(_scripted(0.0, np.zeros(10), []), x, x, n_boot=10)
    assert zero.p_value == 1.0


def test_bootstrap_without_finite_replicates_or_estimate_is_nan() -> None:
    from core.abtest import bootstrap_ci

    x = np.zeros(30)
    none = bootstrap_ci(_scripted(0.1, np.full(20, np.nan), []), x, x, n_boot=20, mean_block=2)
    assert none.estimate == 0.1 and (none.n_boot, none.mean_block, none.n) == (20, 2.0, 30)
    assert all(math.isnan(v) for v in (none.ci_low, none.ci_high, none.p_value, none.std_error))
    bad = bootstrap_ci(_scripted(math.nan, np.ones(20), []), x, x, n_boot=20)
    assert math.isnan(bad.estimate) and math.isnan(bad.p_value) and math.isnan(bad.ci_low)
    one = bootstrap_ci(_scripted(0.1, np.array([0.2] + [np.nan] * 19), []), x, x, n_boot=20)
    assert (one.ci_low, one.ci_high, one.std_error) == (0.2, 0.2, 0.0)


def test_bootstrap_defaults_and_validation() -> None:
    from core.abtest import bootstrap_ci, sharpe_difference

    rng = np.random.default_rng(3)
    a, b = rng.normal(0.001, 0.01, 300), rng.normal(0.0, 0.01, 300)
    default = bootstrap_ci(sharpe_difference, a, b)
    assert default == bootstrap_ci(sharpe_difference, a, b, n_boot=2000, seed=0)
    assert default.n_boot == 2000
    for kwargs, message in [
        ({"alpha": 0.0}, "alpha must be in (0, 1), got 0.0"),
        ({"alpha": 1.0}, "alpha must be in (0, 1), got 1.0"),
        ({"n_boot": 9}, "n_boot must be >= 10, got 9"),
    ]:
        with pytest.raises(ValueError) as caught:
            bootstrap_ci(sharpe_difference, a, b, **kwargs)
        assert str(caught.value) == message
    assert bootstrap_ci(sharpe_difference, a, b, n_boot=10).n_boot == 10


# --- sample size of the Jobson-Korkie-Memmel test, by hand --------------------------------


@pytest.mark.parametrize(
    ("diff", "sharpe_b", "rho"), [(1.0, 0.0, 0.0), (0.5, 1.5, 0.9), (-2.0, 3.0, -0.6)]
)
def test_min_sample_size_sharpe_by_hand(diff: float, sharpe_b: float, rho: float) -> None:
    from scipy.stats import norm

    from core.abtest import min_sample_size_sharpe

    p = 252.0
    d = diff / math.sqrt(p)
    s_b = sharpe_b / math.sqrt(p)
    s_a = s_b + d
    theta = 2 - 2 * rho + (s_a**2 + s_b**2 - 2 * s_a * s_b * rho**2) / 2
    z = norm.ppf(1 - 0.05 / 2) + norm.ppf(0.8)
    want = max(2, math.ceil(z**2 * theta / d**2))
    got = min_sample_size_sharpe(diff, sharpe_b=sharpe_b, correlation=rho)
    assert got == want


def test_min_sample_size_sharpe_smallest_value_and_messages() -> None:
    from core.abtest import min_sample_size_sharpe

    # theta >= d^2 / 2, so even a huge difference needs z^2 / 2 = 3.9 -> 4 days
    assert min_sample_size_sharpe(400.0, correlation=0.99) == 4
    for kwargs, message in [
        ({"sharpe_difference": 0.0}, "sharpe_difference must be finite and non-zero"),
        ({"sharpe_difference": math.inf}, "sharpe_difference must be finite and non-zero"),
        ({"correlation": 1.0}, "correlation must be in (-1, 1), got 1.0"),
        ({"correlation": -1.0}, "correlation must be in (-1, 1), got -1.0"),
        ({"correlation": 1.5}, "correlation must be in (-1, 1), got 1.5"),
        ({"correlation": -1.5}, "correlation must be in (-1, 1), got -1.5"),
    ]:
        with pytest.raises(ValueError) as caught:
            min_sample_size_sharpe(**{"sharpe_difference": 1.0, **kwargs})
        assert str(caught.value) == message


# --- sample size of the paired t-test from the noncentral t distribution -----------------


def _paired_t_power(n: int, effect_size: float, alpha: float = 0.05) -> float:
    """Two-sided power of a paired t-test on n days, from scipy's noncentral t."""
    from scipy.stats import nct, t

    df, nc = n - 1, effect_size * math.sqrt(n)
    crit = t.ppf(1 - alpha / 2, df)
    return float(nct.sf(crit, df, nc) + nct.cdf(-crit, df, nc))


def smallest_n_by_hand(effect_size: float, power: float = 0.8) -> int:
    n = 2
    while _paired_t_power(n, effect_size) < power:
        n += 1
    return n


@pytest.mark.parametrize("effect", [0.0005, 0.001, 0.003, 0.008])
def test_min_sample_size_is_the_smallest_n_with_the_power(effect: float) -> None:
    from core.abtest import min_sample_size

    got = min_sample_size(effect, 0.01)
    assert got == smallest_n_by_hand(effect / 0.01)
    assert _paired_t_power(got, effect / 0.01) >= 0.8 > _paired_t_power(got - 1, effect / 0.01)
    assert min_sample_size(-effect, 0.01) == got


# --- aligning two or more return series: every message in full ---------------------------


def test_alignment_messages_in_full() -> None:
    import pandas as pd

    from core.abtest._data import MIN_OBS, align_frame, align_pair

    days = pd.bdate_range("2024-01-01", periods=40)
    a = pd.Series(np.linspace(-0.01, 0.01, 40), days)
    cases = [
        (lambda: align_pair(a.iloc[:5], a.iloc[:5]), ValueError,
         f"need at least {MIN_OBS} aligned days with returns for every strategy, got 5; "
         "widen the date range or check that the strategies cover the same period"),
        (lambda: align_pair(np.zeros(30), np.zeros(31)), ValueError,
         "a and b must have the same length, got 30 and 31; "
         "pass pandas Series to align them by date"),
        (lambda: align_pair(a.replace(a.iloc[3], np.inf), a), ValueError,
         "returns contain infinite values; clean the returns first"),
        (lambda: align_frame([a, a]), TypeError,
         "returns must be a dict of name -> Series, got list"),
        (lambda: align_frame({"A": a, "B": a.to_numpy()}), TypeError,
         "returns['B'] must be a pandas Series, got <class 'numpy.ndarray'>"),
        (lambda: align_frame({1: a, "1": a}), ValueError,
         "strategy names must be unique as strings"),
        (lambda: align_frame({"A": a, "B": a.replace(a.iloc[0], -np.inf)}), ValueError,
         "returns contain infinite values; clean the returns first"),
    ]  # fmt: skip
    for call, kind, message in cases:
        with pytest.raises(kind) as caught:
            call()
        assert str(caught.value) == message


def test_a_series_and_an_array_are_paired_by_position() -> None:
    import pandas as pd

    from core.abtest._data import align_pair

    days = pd.bdate_range("2024-01-01", periods=30)
    a = pd.Series(np.arange(30.0), days)
    # one Series, one array: no dates to join on, so positions are paired
    got_a, got_b = align_pair(a, np.arange(30.0) * 2)
    np.testing.assert_array_equal(got_b, 2 * got_a)
    # two Series: joined on dates, the days only one has are dropped
    b = pd.Series(np.arange(30.0), days + pd.offsets.BDay(5))
    x, y = align_pair(a, b)
    assert x.size == 25 and np.array_equal(x, y + 5)
