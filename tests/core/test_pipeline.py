"""Decision pipeline: incremental kernels = batch strategies, step = vectorized replay, hooks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.data.synthetic import SyntheticSpec, generate
from core.pipeline import (
    DecisionPipeline,
    GateDecision,
    OrderIntent,
    SizingSpec,
    SymbolBook,
    bench_pipeline,
    build_pipeline,
    make_kernel,
    replay,
)
from core.regime import LABELS
from core.strategies import run_strategy


@pytest.fixture(scope="module")
def prices() -> pd.DataFrame:
    return generate(SyntheticSpec(bars=1400, seed=21))[0]


@pytest.fixture(scope="module")
def pipeline(prices: pd.DataFrame) -> DecisionPipeline:
    return build_pipeline(prices, train_bars=700, selector="contextual", seed=0, symbol="SYN")


CASES = [
    ("buy_and_hold", {}),
    ("ma_crossover", {"fast": 10, "slow": 50, "allow_short": True}),
    ("ts_momentum", {"lookback": 63, "allow_short": True}),
    ("mean_reversion", {"window": 20, "entry": 1.5, "exit": 0.0, "allow_short": True}),
    ("mean_reversion", {"indicator": "rsi", "window": 7, "entry": 20.0, "exit": 5.0}),
    ("donchian_breakout", {"window": 20, "exit_window": 10, "allow_short": True}),
    ("vol_target_trend", {"trend_window": 100, "allow_short": True}),
]


@pytest.mark.parametrize(("strategy", "params"), CASES)
def test_incremental_kernels_match_batch_strategies(
    prices: pd.DataFrame, strategy: str, params: dict[str, object]
) -> None:
    batch = run_strategy(strategy, prices, params).to_numpy()
    kernel = make_kernel(strategy, params)
    online = np.array(
        [
            kernel.update(h, lo, c)
            for h, lo, c in zip(prices["high"], prices["low"], prices["close"], strict=True)
        ]
    )
    np.testing.assert_allclose(online, batch, rtol=1e-9, atol=1e-12)


def test_step_and_vectorized_replay_give_the_same_decisions(
    prices: pd.DataFrame, pipeline: DecisionPipeline
) -> None:
    stepped = replay(prices, pipeline, vectorized=False)
    batch = replay(prices, pipeline, vectorized=True)
    assert list(stepped.columns) == list(batch.columns)
    for col in stepped.columns:
        if col == "latency_us":
            continue
        a, b = stepped[col], batch[col]
        if a.dtype.kind == "f":
            np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-9, err_msg=col)
        else:
            assert (a == b).all(), col
    weights = stepped[[f"w_{a.name}" for a in pipeline.agents]]
    np.testing.assert_allclose(weights.sum(axis=1), 1.0)
    np.testing.assert_allclose(stepped[[f"p_{lab}" for lab in LABELS]].sum(axis=1), 1.0)
    assert stepped["target_position"].abs().max() <= pipeline.sizing.max_position + 1e-12
    assert (stepped["order_qty"] != 0).any()


def test_decision_record_and_template_untouched(
    prices: pd.DataFrame, pipeline: DecisionPipeline
) -> None:
    pipe = pipeline.fresh(symbol="ABC")
    bar = {"ts": prices.index[0], **prices.iloc[0].to_dict()}
    decision = pipe.step(bar, SymbolBook(equity=1e5))
    assert decision.symbol == "ABC" and decision.ts == prices.index[0]
    assert set(decision.regime_probs) == set(LABELS)
    assert sum(decision.regime_probs.values()) == pytest.approx(1.0)
    # the reported regime is the most probable one, not just any of the four labels
    assert decision.regime == max(decision.regime_probs, key=decision.regime_probs.__getitem__)
    assert set(decision.weights) == {a.name for a in pipeline.agents}
    assert decision.explanation.startswith("chose ")
    assert decision.as_dict()["target_position"] == decision.target_position
    assert pipeline.selector.steps == 0  # replay and fresh() never mutate the template


def test_risk_hook_can_cap_and_reject(prices: pd.DataFrame, pipeline: DecisionPipeline) -> None:
    seen: list[OrderIntent] = []

    def cap_buys_reject_sells(order: OrderIntent, state: SymbolBook) -> GateDecision:
        seen.append(order)
        if order.side == "sell":
            return GateDecision(approved=False, qty=0.0, reason="no selling today")
        return GateDecision(approved=True, qty=min(order.qty, 5.0), reason="capped at 5")

    hooked = DecisionPipeline(
        agents=pipeline.agents,
        selector=pipeline.selector.fresh(),
        regime_model=pipeline.regime_model,
        sizing=SizingSpec(vol_target=0.2, confidence_scaling=False),
        risk_hook=cap_buys_reject_sells,
        symbol="SYN",
    )
    with pytest.raises(ValueError, match="risk hook"):
        replay(prices.iloc[:300], hooked, vectorized=True)
    frame = replay(prices.iloc[:300], hooked)  # a hook forces the step path
    assert seen and len(seen) == int((frame["order_qty"] != 0).sum())
    sells = frame["order_qty"] < 0
    assert not frame.loc[sells, "approved"].any() and (frame.loc[sells, "approved_qty"] == 0).all()
    assert frame["approved_qty"].max() <= 5.0
    assert (frame["approved_qty"] >= 0).all()


def test_pipeline_latency_is_measured_around_each_step() -> None:
    # a fake clock that moves 1 us per reading: a decision spans two readings (1 us) and
    # a bar of 20 symbols spans 2 * 20 + 2 readings (41 us)
    ticks = {"ns": 0}

    def clock() -> int:
        ticks["ns"] += 1_000
        return ticks["ns"]

    small = generate(SyntheticSpec(bars=900, seed=3))[0]
    report = bench_pipeline(small, train_bars=600, n_symbols=20, multi_bars=60, clock=clock)
    one, multi = report["one_symbol"], report["multi_symbol"]
    assert one == {"p50_us": 1.0, "p95_us": 1.0, "p99_us": 1.0, "max_us": 1.0}
    assert multi["per_decision"]["max_us"] == 1.0
    assert multi["per_bar_all_symbols"] == {k: 41.0 for k in one}
    # a bar of k symbols takes 2k + 2 readings: 900 bars of 1 symbol, 60 bars of 20
    assert ticks["ns"] == (900 * (2 * 1 + 2) + 60 * (2 * 20 + 2)) * 1_000
    assert multi["symbols"] == 20 and report["batch"]["decisions"] == 900
    assert report["batch"]["max_abs_target_difference_vs_step"] < 1e-9


def test_the_state_bounds_the_target_and_the_order(
    prices: pd.DataFrame, pipeline: DecisionPipeline
) -> None:
    # Unbounded targets reach well past 20% of equity on this series; with the bounds the
    # target stays in [-10%, 20%] and every order is worth at most 3,000.
    free = replay(prices.iloc[:700], pipeline, vectorized=False)
    assert free["target_position"].max() > 0.2 or free["target_position"].min() < -0.1
    pipe = pipeline.fresh()
    equity, shares, prev = 100_000.0, 0.0, float("nan")
    for ts, row in prices.iloc[:700].iterrows():
        close = float(row["close"])
        if prev == prev:
            equity += shares * (close - prev)
        bar = {**row.to_dict(), "ts": ts, "symbol": "SYN"}
        state = SymbolBook(
            equity=equity, shares=shares, max_long=0.2, max_short=0.1, max_order_value=3_000.0
        )
        d = pipe.step(bar, state)
        assert -0.1 <= d.target_position <= 0.2
        assert abs(d.order_qty) * close <= 3_000.0 + 1e-6
        if d.sized_by == "":  # unbounded decisions equal the free replay's
            assert d.target_position == pytest.approx(free.loc[ts, "target_position"], abs=0)
        shares += d.approved_qty
        prev = close
        # the book never exceeds the bounds by more than one bar's price move
        assert -0.1 * 1.2 <= shares * close / equity <= 0.2 * 1.2


def test_sizing_caps_keep_the_euler_share_at_the_concentration_limit() -> None:
    from core.paper.sizing import sizing_caps
    from core.risk import RiskLimits
    from core.risk.state import PortfolioState as Book

    rng = np.random.default_rng(1)
    mix = np.array([[1, 0.3, 0.1], [0, 1, 0.4], [0, 0, 1.5]])
    returns = pd.DataFrame(rng.normal(size=(250, 3)) @ mix * 0.01, columns=list("ABC"))
    book = Book(
        equity=100.0,
        cash=90.0,
        positions={"A": 0.2, "B": -0.1},
        prices={"A": 100.0, "B": 100.0, "C": 100.0},
        start_of_day_equity=100.0,
        peak_equity=100.0,
        returns_history=returns,
    )
    for limit in (0.3, 0.5, 0.7):
        caps = sizing_caps(book, "C", RiskLimits(max_concentration=limit), headroom=1.0)
        assert caps.long_limit == caps.short_limit == "max_concentration"
        cov = np.cov(returns.to_numpy(), rowvar=False)  # independent: Euler share by hand
        for x in (caps.max_long, -caps.max_short):
            w = np.array([0.2, -0.1, x])
            assert w[2] * (cov @ w)[2] / (w @ cov @ w) == pytest.approx(limit, abs=1e-12)
    lone = Book(
        equity=100.0,
        cash=100.0,
        positions={},
        prices={"C": 100.0},
        start_of_day_equity=100.0,
        peak_equity=100.0,
        returns_history=returns,
    )
    caps = sizing_caps(lone, "C", RiskLimits(), headroom=0.95)  # a lone position: weight cap
    assert (caps.max_long, caps.long_limit) == (pytest.approx(0.2375), "max_weight_per_asset")
    assert caps.max_order_value == pytest.approx(47_500.0)
