"""A/B comparison through the services and CLI, on real backtests (the page: tests/pages)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from app.operations.abtest import CompareRequest, parse_arm
from app.operations.backtest import BacktestRequest
from app.services import abtest as ab
from app.services.backtest import run_backtest


def test_parse_arm_forms() -> None:
    assert parse_arm("ts_momentum:lookback=63,allow_short=false") == (
        "ts_momentum",
        {"lookback": 63, "allow_short": False},
    )
    assert parse_arm("run:12") == ("run", 12)
    with pytest.raises(ValueError, match="name=value"):
        parse_arm("ma_crossover:fast")
    with pytest.raises(ValueError, match="numeric id"):
        parse_arm("run:abc")


def test_identical_arms_are_refused_and_same_strategy_twice_is_no_difference() -> None:
    with pytest.raises(ValidationError, match="different"):
        CompareRequest(arms=["buy_and_hold", "buy_and_hold"])
    # Same positions, spelled differently: every difference is exactly zero.
    outcome = ab.run_compare(
        CompareRequest(
            arms=["ma_crossover:fast=20,slow=100", "ma_crossover:slow=100,fast=20"], n_boot=300
        ),
        save=False,
    )
    assert outcome.result.verdict == (
        "no significant difference (decided by HAC paired t-test: Holm-adjusted p=1 >= alpha=0.05)"
    )
    assert all(not row.significant for row in outcome.result.tests)


def test_two_real_strategies_get_one_primary_and_six_secondary_tests() -> None:
    # Planted-edge detection and the null false-positive rate are tested in core/abtest.
    req = CompareRequest(arms=["buy_and_hold", "ma_crossover:fast=5,slow=6"], n_boot=300)
    outcome = ab.run_compare(req, save=False)
    assert outcome.result.n_obs == 5030
    assert len(outcome.result.tests) == 7
    assert [r.role for r in outcome.result.tests].count("primary") == 1
    adjusted = outcome.result.adjusted_p_values
    raw = [row.p_value for row in outcome.result.tests]
    assert all(a >= r - 1e-12 for a, r in zip(adjusted, raw, strict=True) if a == a and r == r)


def test_saved_run_arm_uses_stored_returns() -> None:
    saved = run_backtest(
        BacktestRequest(dataset="ohlcv_daily", symbol="SP500", strategy="buy_and_hold")
    )
    returns = ab.arm_returns(
        CompareRequest(arms=["buy_and_hold", "ts_momentum"]), f"run:{saved.run_id}"
    )
    assert returns.to_numpy() == pytest.approx(saved.returns.to_numpy(), rel=1e-12)


def test_arms_are_labelled_as_the_user_knows_them() -> None:
    saved = run_backtest(
        BacktestRequest(
            dataset="ohlcv_daily", symbol="SP500", strategy="ma_crossover", params={"fast": 5}
        )
    )
    assert ab.arm_labels(
        ["buy_and_hold", "ma_crossover:fast=20,slow=100", f"run:{saved.run_id}"]
    ) == [
        "buy_and_hold",
        "ma_crossover (fast=20, slow=100)",
        f"run #{saved.run_id} ma_crossover SP500 fast=5",
    ]
    # Two spellings of one strategy read alike: the arm's letter tells them apart.
    assert ab.arm_labels(["ma_crossover:fast=20", "ma_crossover: fast=20"]) == [
        "ma_crossover (fast=20) [A]",
        "ma_crossover (fast=20) [B]",
    ]
    # An id that names nothing keeps its text (building the arm then says what is wrong).
    assert ab.arm_labels(["model:999", "run:999"]) == ["model:999", "run:999"]


def test_sample_size_calculator_matches_core_and_shrinks_with_effect() -> None:
    small = ab.days_needed(0.3, sharpe_b=0.5, correlation=0.5, alpha=0.05, power=0.8)
    large = ab.days_needed(1.0, sharpe_b=0.5, correlation=0.5, alpha=0.05, power=0.8)
    assert large < small
    with pytest.raises(ValueError, match="non-zero"):
        ab.days_needed(0.0, sharpe_b=0.5, correlation=0.5, alpha=0.05, power=0.8)


def test_registered_model_arm_uses_only_out_of_sample_dates() -> None:
    import pandas as pd

    from app.operations.registry import RegisterRequest
    from app.operations.training import TrainRequest
    from app.services import registry, training

    trained = training.train(TrainRequest(kind="logistic"))
    version = registry.register(RegisterRequest(run_id=trained.run_id, name="ab-model"))
    outcome = ab.run_compare(
        CompareRequest(arms=["buy_and_hold", f"model:{version.id}"], n_boot=300), save=False
    )
    assert outcome.returns.index[0] > pd.Timestamp(version.train_end)
    assert outcome.result.names == ("buy_and_hold", "ab-model v1")
    assert outcome.result.n_obs == len(outcome.returns)
    with pytest.raises(LookupError, match="no model version"):
        ab.arm_returns(CompareRequest(arms=["buy_and_hold", "model:999"]), "model:999")


def test_sequential_test_detects_a_planted_daily_edge() -> None:
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(4)
    index = pd.bdate_range("2020-01-01", periods=750)
    a = pd.Series(rng.normal(0, 0.01, 750), index=index, name="A")
    b = (a + 0.002 + rng.normal(0, 0.002, 750)).rename("B")
    outcome = ab.CompareOutcome(
        None,
        CompareRequest(arms=["x", "y"]),
        None,  # type: ignore[arg-type]
        pd.DataFrame({"A": a, "B": b}),
    )
    rows = {r["claim"].split(" beats")[0]: r for r in ab.sequential(outcome, delta_bps=5)}
    assert rows["B"]["decision"] == "accept_h1" and rows["B"]["days_used"] < 100
    assert rows["A"]["decision"] == "accept_h0"
