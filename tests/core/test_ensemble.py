"""Ensemble: bandit known answers, no look-ahead, smoothing, planted-regime harness, SP500."""

from __future__ import annotations

import doctest

import numpy as np
import pandas as pd
import pytest

import core.ensemble._returns as returns_module
import core.ensemble.regimes as regimes_module
import core.ensemble.selectors as selectors_module
from core.data.loaders import embedded_sources
from core.ensemble import (
    MIN_OOS_BARS,
    EnsembleSpec,
    SelectorSpec,
    evaluate_ensemble,
    evaluate_streams,
    make_selector,
    performance_by_regime,
    planted_regime_harness,
    run_online,
    softmax,
    train_bars_for,
    tune_agents,
)
from core.ensemble.selectors import SELECTOR_CLASSES
from core.regime import LABELS


@pytest.mark.parametrize("module", [returns_module, selectors_module, regimes_module])
def test_doctests(module: object) -> None:
    result = doctest.testmod(module)  # type: ignore[arg-type]
    assert result.failed == 0 and result.attempted > 0


def _planted(n_bars: int, means: list[float], seed: int, sd: float = 0.01) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.asarray(means) + sd * rng.standard_normal((n_bars, len(means)))


def test_softmax_sums_to_one_and_sharpens_with_lower_temperature() -> None:
    scores = np.array([0.2, 1.0, -0.5, 0.3])
    hot, cold = softmax(scores, 5.0), softmax(scores, 0.1)
    assert hot.sum() == pytest.approx(1.0) and cold.sum() == pytest.approx(1.0)
    assert cold.argmax() == 1 and cold.max() > hot.max()
    assert softmax(np.array([np.nan, np.nan])).tolist() == [0.5, 0.5]


@pytest.mark.parametrize("kind", list(SELECTOR_CLASSES))
def test_weights_are_on_the_simplex(kind: str) -> None:
    rewards = _planted(300, [0.0, 0.001, -0.001], seed=1)
    contexts = np.tile([0.7, 0.1, 0.1, 0.1], (300, 1))
    run = run_online(make_selector(kind, ["a", "b", "c"], seed=3), rewards, contexts)
    np.testing.assert_allclose(run.weights.sum(axis=1), 1.0, atol=1e-12)
    assert (run.weights >= 0).all()
    names = ["a", "b", "c"]
    for explanation, scores in zip(run.explanations, run.scores, strict=True):
        best = names[int(np.argmax(scores))]
        # The agent called "highest" must be the one with the highest score.
        assert explanation.startswith(f"chose {best}: highest") or (
            explanation.startswith("kept ") and f"to {best}, highest" in explanation
        ), explanation
        assert "observations" in explanation


def test_ucb1_bandit_pulls_the_planted_best_arm_most_and_regret_is_sublinear() -> None:
    means = [0.0, 0.0015, 0.003]
    n_bars = 4000
    rewards = _planted(n_bars, means, seed=7)
    spec = SelectorSpec(feedback="bandit", ucb_c=0.2, discount=1.0)
    run = run_online(make_selector("ucb", ["low", "mid", "high"], spec), rewards)
    pulls = np.bincount(run.pulled[:-1], minlength=3)
    assert pulls.argmax() == 2 and pulls[2] > 0.6 * n_bars
    gap = max(means) - np.asarray(means)[run.pulled[:-1]]
    regret = np.cumsum(gap)
    uniform = np.cumsum(np.full(n_bars - 1, max(means) - np.mean(means)))
    half = n_bars // 2
    # sublinear-ish: the second half adds less regret than the first, far below uniform
    assert regret[-1] - regret[half] < regret[half]
    assert regret[-1] < 0.3 * uniform[-1]
    # full feedback: the held weights end on the best arm
    full = run_online(make_selector("ucb", ["low", "mid", "high"]), rewards)
    assert full.chosen[-1] == 2 and full.weights[-1, 2] > 0.5


@pytest.mark.parametrize("kind", ["thompson", "exp3"])
def test_seeded_selectors_are_reproducible(kind: str) -> None:
    rewards = _planted(400, [0.0, 0.001, 0.002], seed=2)
    spec = SelectorSpec(feedback="bandit")
    runs = [
        run_online(make_selector(kind, ["a", "b", "c"], spec, seed=s), rewards) for s in (5, 5, 6)
    ]
    np.testing.assert_array_equal(runs[0].weights, runs[1].weights)
    np.testing.assert_array_equal(runs[0].pulled, runs[1].pulled)
    assert not np.array_equal(runs[0].pulled, runs[2].pulled)


def test_smoothing_reduces_turnover() -> None:
    rewards = _planted(1500, [0.0005, 0.0004, 0.0003, 0.0], seed=4)

    def turnover(smoothing: float) -> float:
        spec = SelectorSpec(smoothing=smoothing, discount=0.98)
        run = run_online(make_selector("thompson", list("abcd"), spec, seed=1), rewards)
        return float(np.abs(np.diff(run.weights, axis=0)).sum(axis=1).mean())

    assert turnover(0.1) < 0.5 * turnover(1.0)


@pytest.mark.parametrize("kind", list(SELECTOR_CLASSES))
def test_weights_ignore_future_rewards_and_contexts(kind: str) -> None:
    rng = np.random.default_rng(9)
    rewards = _planted(600, [0.0, 0.001, 0.0005], seed=3)
    contexts = rng.dirichlet(np.ones(len(LABELS)), size=600)
    cut = 400
    altered = rewards.copy()
    altered[cut + 1 :] = -altered[cut + 1 :] * 5 + 0.01
    other_ctx = contexts.copy()
    other_ctx[cut + 1 :] = other_ctx[cut + 1 :, ::-1]
    start = 50
    a = run_online(make_selector(kind, list("xyz"), seed=2), rewards, contexts, start=start)
    b = run_online(make_selector(kind, list("xyz"), seed=2), altered, other_ctx, start=start)
    rows = cut - start + 1  # decisions at closes start..cut used data up to cut only
    np.testing.assert_array_equal(a.weights[:rows], b.weights[:rows])
    assert a.explanations[:rows] == b.explanations[:rows]
    assert not np.array_equal(a.weights[rows:], b.weights[rows:])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_contextual_beats_equal_weight_out_of_sample_on_planted_regimes(seed: int) -> None:
    harness = planted_regime_harness(seed=seed)
    result = evaluate_streams(
        harness.agent_returns,
        selector="contextual",
        train_bars=harness.train_bars,
        seed=seed,
        regime_probs=harness.regime_probs,
    )
    plain = evaluate_streams(
        harness.agent_returns, selector="ucb", train_bars=harness.train_bars, seed=seed
    )
    print(seed, result.summary(), "plain ucb sharpe", plain.ensemble_sharpe)
    assert result.ensemble_sharpe > result.equal_weight_sharpe + 0.3
    assert len(result.returns) == len(harness.prices) - harness.train_bars
    # the selector follows the regime: each specialist weighs more inside its true regime
    true = harness.true_regimes.reindex(result.weights.index)
    for regime in ("bull", "bear", "sideways", "volatile"):
        weight = result.weights[f"{regime}_specialist"]
        assert weight[true == regime].mean() > weight[true != regime].mean() + 0.05


def test_performance_by_regime_matches_numpy() -> None:
    rng = np.random.default_rng(0)
    idx = pd.bdate_range("2020-01-01", periods=200)
    rets = pd.DataFrame(rng.normal(0.001, 0.01, (200, 2)), index=idx, columns=["a", "b"])
    labels = pd.Series(np.where(np.arange(200) < 120, "bull", "bear"), index=idx)
    table = performance_by_regime(rets, labels)
    row = table[(table.agent == "b") & (table.regime == "bear")].iloc[0]
    r = rets["b"].to_numpy()[120:]
    assert row.bars == 80
    assert row.ann_return == pytest.approx(r.mean() * 252)
    assert row.sharpe == pytest.approx(r.mean() / r.std(ddof=1) * np.sqrt(252))


@pytest.fixture(scope="module")
def sp500() -> pd.DataFrame:
    return embedded_sources()["ohlcv_daily"].load("SP500")


def test_evaluate_ensemble_on_sp500_is_walk_forward(sp500: pd.DataFrame) -> None:
    spec = EnsembleSpec()
    result = evaluate_ensemble(sp500, selector="contextual", train_bars=2500, spec=spec, seed=0)
    print(result.summary())
    assert [a.profile for a in result.agents] == list(spec.profiles)
    assert len({(a.strategy, repr(a.params)) for a in result.agents}) == len(result.agents)
    assert result.returns.index[0] == sp500.index[2500]
    assert {"ensemble", "equal_weight", "best_single"} <= set(result.returns.columns)
    np.testing.assert_allclose(result.weights.sum(axis=1), 1.0)
    assert result.switches == len(result.switch_log)
    assert all({"date", "from", "to", "explanation"} == set(s) for s in result.switch_log)
    assert result.regret == pytest.approx(result.regret_curve.iloc[-1])
    best = result.returns[result.best_agent]
    assert result.best_single_sharpe == pytest.approx(best.mean() / best.std() * np.sqrt(252))
    # agents are tuned on the training bars only: altering later bars changes nothing
    altered = sp500.copy()
    altered.iloc[2600:, :4] *= 1.5
    again = evaluate_ensemble(altered, selector="ucb", train_bars=2500, spec=spec, seed=0)
    assert [a.params for a in again.agents] == [a.params for a in result.agents]


class _Stop(Exception):
    pass


def test_tuning_reports_each_agent_and_stops_when_cancelled(sp500: pd.DataFrame) -> None:
    steps: list[tuple[float, str]] = []

    def cancel() -> None:  # called before each profile: stop after the first one
        if steps:
            raise _Stop

    with pytest.raises(_Stop):
        tune_agents(sp500.iloc[:1000], progress=lambda f, m: steps.append((f, m)), cancel=cancel)
    assert steps == [(0.25, "agent conservative tuned")]


def test_split_by_fraction_keeps_enough_out_of_sample_bars() -> None:
    assert train_bars_for(5031, 0.5) == 2515
    assert train_bars_for(5031, 0.8) == 4024  # 1,007 OOS bars
    assert train_bars_for(MIN_OOS_BARS * 5, 0.8) == 4 * MIN_OOS_BARS  # exactly the minimum
    with pytest.raises(ValueError, match="495 bars leave too few out-of-sample bars"):
        train_bars_for(495, 0.8)  # 396 training bars leave 99
