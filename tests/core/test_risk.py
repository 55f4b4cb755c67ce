"""Risk limits, the pre-trade check (one test per limit) and the risk view, with golden
values checked against independent numpy/scipy computations."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError
from scipy import stats

from core.risk import (
    PortfolioState,
    ProposedOrder,
    RiskLimits,
    bench_pre_trade,
    portfolio_risk,
    pre_trade_check,
)

NOW = datetime(2025, 3, 3, 15, 0, tzinfo=UTC)
LOOSE = {"max_weight_per_asset": 1.0, "var_limit_95": 1.0, "max_concentration": 1.0}


def state(
    positions: dict[str, float] | None = None,
    prices: dict[str, float] | None = None,
    *,
    equity: float = 100_000.0,
    start: float | None = None,
    peak: float | None = None,
    orders: list[datetime] | None = None,
    history: pd.DataFrame | None = None,
) -> PortfolioState:
    positions = positions or {}
    prices = {"AAPL": 200.0, "MSFT": 100.0, "GOOG": 100.0, **(prices or {})}
    value = sum(q * prices.get(s, 0.0) for s, q in positions.items())
    return PortfolioState(
        equity=equity,
        cash=equity - value,
        positions=positions,
        prices=prices,
        start_of_day_equity=start or equity,
        peak_equity=peak or equity,
        recent_order_times=orders or [],
        returns_history=history,
    )


def two_asset_history(n: int = 500, seed: int = 7) -> pd.DataFrame:
    """A volatile asset (3%/day) and a quiet one (1%/day), mildly correlated."""
    rng = np.random.default_rng(seed)
    common = rng.normal(0, 0.004, n)
    return pd.DataFrame(
        {
            "AAPL": 0.0005 + common + rng.normal(0, 0.03, n),
            "MSFT": 0.0002 + common + rng.normal(0, 0.01, n),
        }
    )


# ------------------------------------------------------------------ limits model


def test_limits_defaults_and_validation_messages(tmp_path: Path) -> None:
    limits = RiskLimits()
    assert (limits.max_weight_per_asset, limits.max_gross_exposure) == (0.25, 1.0)
    assert (limits.max_daily_loss, limits.max_drawdown, limits.var_method) == (
        0.03,
        0.15,
        "historical",
    )
    with pytest.raises(
        ValidationError, match=r"max_net_exposure \(1.0\) must be <= max_gross_exposure \(0.8\)"
    ):
        RiskLimits(max_gross_exposure=0.8, max_net_exposure=1.0)
    with pytest.raises(
        ValidationError, match=r"max_daily_loss must be a fraction of equity in \(0, 1\]"
    ):
        RiskLimits(max_daily_loss=3.0)
    with pytest.raises(
        ValidationError,
        match=r"max_orders_per_minute must be a whole number of orders in \[1, 10000\]",
    ):
        RiskLimits(max_orders_per_minute=0)
    with pytest.raises(ValidationError, match="var_method"):
        RiskLimits(var_method="montecarlo")  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="extra"):
        RiskLimits(max_weight=0.2)  # type: ignore[call-arg]
    with pytest.raises(ValidationError):
        limits.max_drawdown = 0.5  # type: ignore[misc]
    path = tmp_path / "limits.yaml"
    path.write_text("max_weight_per_asset: 0.2\nvar_method: parametric\n")
    loaded = RiskLimits.from_yaml(path)
    assert (loaded.max_weight_per_asset, loaded.var_method) == (0.2, "parametric")
    assert RiskLimits(**loaded.model_dump()) == loaded


# ------------------------------------------------------------------ one test per limit


def test_weight_limit_shrinks_order() -> None:
    decision = pre_trade_check(ProposedOrder("AAPL", "buy", 155), state(), RiskLimits(), NOW)
    assert decision.approved and decision.shrunk and not decision.kill_switch
    assert decision.allowed_quantity == 125  # 25% of 100,000 at 200
    assert decision.adjustments[0] == (
        "AAPL weight would be 31.0% > limit 25.0%; shrunk to 125 shares"
    )
    assert decision.adjustments[1] == (
        "VaR and concentration not checked: no return history for AAPL"
    )
    # with 100 shares held, only 25 more fit; once at the limit nothing does
    held = state({"AAPL": 100})
    assert (
        pre_trade_check(ProposedOrder("AAPL", "buy", 50), held, RiskLimits(), NOW).allowed_quantity
        == 25
    )
    full = pre_trade_check(
        ProposedOrder("AAPL", "buy", 10), state({"AAPL": 125}), RiskLimits(), NOW
    )
    assert not full.approved and full.allowed_quantity == 0
    assert "AAPL weight would be 27.0% > limit 25.0%; nothing fits" in full.rejection_reasons[0]
    # shorts are capped the same way
    short = pre_trade_check(ProposedOrder("AAPL", "sell", 200), state(), RiskLimits(), NOW)
    assert short.allowed_quantity == 125


def test_gross_exposure_limit_shrinks_order() -> None:
    s = state({"MSFT": 450, "GOOG": -450})  # 45% long + 45% short = 90% gross, 0 net
    limits = RiskLimits(max_weight_per_asset=0.5)
    decision = pre_trade_check(ProposedOrder("AAPL", "buy", 100), s, limits, NOW)
    assert decision.approved and decision.allowed_quantity == 50  # 10% of equity left
    assert decision.adjustments[0] == (
        "gross exposure would be 110.0% > limit 100.0%; shrunk to 50 shares"
    )


def test_net_exposure_limit_shrinks_order() -> None:
    s = state({"MSFT": 400})  # 40% net long
    limits = RiskLimits(max_gross_exposure=2.0, max_net_exposure=0.5)
    decision = pre_trade_check(ProposedOrder("AAPL", "buy", 100), s, limits, NOW)
    assert decision.allowed_quantity == 50
    assert decision.adjustments[0].startswith("net exposure would be 60.0% beyond limit ±50.0%")
    # a sell lowers net exposure and is not capped by it
    sell = pre_trade_check(ProposedOrder("AAPL", "sell", 100), s, limits, NOW)
    assert sell.approved and sell.allowed_quantity == 100


def test_order_notional_limit_shrinks_order_and_fractional() -> None:
    limits = RiskLimits(max_order_notional=10_000)
    decision = pre_trade_check(ProposedOrder("MSFT", "buy", 150), state(), limits, NOW)
    assert decision.allowed_quantity == 100
    assert decision.adjustments[0] == (
        "MSFT order notional 15,000 > limit 10,000; shrunk to 100 shares"
    )
    odd = pre_trade_check(ProposedOrder("MSFT", "buy", 400, price=30.0), state(), limits, NOW)
    assert odd.allowed_quantity == 333  # whole shares, rounded down
    frac = pre_trade_check(
        ProposedOrder("MSFT", "buy", 400, price=30.0), state(), limits, NOW, fractional=True
    )
    assert frac.allowed_quantity == pytest.approx(333.333333)
    # the notional cap applies even to orders that only reduce a position
    reduce = pre_trade_check(ProposedOrder("MSFT", "sell", 150), state({"MSFT": 200}), limits, NOW)
    assert reduce.allowed_quantity == 100


def test_orders_per_minute_rejects() -> None:
    limits = RiskLimits(max_orders_per_minute=30)
    busy = [NOW - timedelta(seconds=s) for s in range(0, 60, 2)]  # 30 in the last minute
    decision = pre_trade_check(ProposedOrder("AAPL", "buy", 1), state(orders=busy), limits, NOW)
    assert not decision.approved
    assert decision.rejection_reasons == [
        "30 orders in the last minute >= limit 30/min; retry in 2 s"
    ]
    calm = [*busy[:29], NOW - timedelta(seconds=61)]
    assert pre_trade_check(
        ProposedOrder("AAPL", "buy", 1), state(orders=calm), limits, NOW
    ).approved


def test_daily_loss_rejects_new_risk_but_not_reductions() -> None:
    s = state({"MSFT": 100}, equity=96_500, start=100_000)
    decision = pre_trade_check(ProposedOrder("AAPL", "buy", 10), s, RiskLimits(), NOW)
    assert not decision.approved and not decision.kill_switch
    assert decision.rejection_reasons == [
        "daily loss 3.50% >= limit 3.00%: no new risk until the next trading day"
    ]
    reduce = pre_trade_check(ProposedOrder("MSFT", "sell", 100), s, RiskLimits(), NOW)
    assert reduce.approved and reduce.allowed_quantity == 100
    flip = pre_trade_check(ProposedOrder("MSFT", "sell", 101), s, RiskLimits(), NOW)
    assert not flip.approved  # selling past zero opens a short: new risk


def test_drawdown_engages_kill_switch() -> None:
    s = state({"MSFT": 100}, equity=100_000, peak=120_000)  # 16.7% below the peak
    decision = pre_trade_check(ProposedOrder("AAPL", "buy", 1), s, RiskLimits(), NOW)
    assert not decision.approved and decision.kill_switch
    assert decision.rejection_reasons[0].startswith("drawdown 16.7% >= limit 15.0%: kill switch")
    flatten = pre_trade_check(ProposedOrder("MSFT", "sell", 100), s, RiskLimits(), NOW)
    assert flatten.approved and flatten.kill_switch
    ok = pre_trade_check(ProposedOrder("AAPL", "buy", 1), state(peak=110_000), RiskLimits(), NOW)
    assert ok.approved and not ok.kill_switch


@pytest.mark.parametrize("method", ["historical", "parametric"])
def test_var_golden_values_and_limit(method: str) -> None:
    history = two_asset_history()
    s = state({"AAPL": 100, "MSFT": 100}, history=history)  # weights 0.2 and 0.1
    report = portfolio_risk(s, RiskLimits(), NOW)
    port = history.to_numpy() @ np.array([0.2, 0.1])
    assert report.var_hist == pytest.approx(-np.percentile(port, 5), rel=1e-12)
    expected_param = -stats.norm.ppf(0.05, loc=port.mean(), scale=port.std(ddof=1))
    assert report.var_param == pytest.approx(expected_param, rel=1e-12)
    tail = port[port <= np.percentile(port, 5)]
    assert report.cvar_hist == pytest.approx(-tail.mean(), rel=1e-12)
    assert report.volatility == pytest.approx(port.std(ddof=1), rel=1e-12)

    limits = RiskLimits(var_method=method, **(LOOSE | {"var_limit_95": 0.01}))
    decision = pre_trade_check(ProposedOrder("AAPL", "buy", 100), s, limits, NOW)
    after = history.to_numpy() @ np.array([0.4, 0.1])
    var_after = (
        -np.percentile(after, 5)
        if method == "historical"
        else -stats.norm.ppf(0.05, loc=after.mean(), scale=after.std(ddof=1))
    )
    assert not decision.approved
    assert decision.rejection_reasons[0].startswith(
        f"1-day 95% VaR ({method}) would be {var_after:.2%} of equity > limit 1.00%"
    )
    roomy = limits.model_copy(update={"var_limit_95": 0.05})
    assert pre_trade_check(ProposedOrder("AAPL", "buy", 100), s, roomy, NOW).approved
    # a symbol without history cannot be modelled: approved, with a note
    note = pre_trade_check(ProposedOrder("GOOG", "buy", 10), s, limits, NOW)
    assert note.approved
    assert note.adjustments == ["VaR and concentration not checked: no return history for GOOG"]


def test_concentration_limit_and_euler_contributions() -> None:
    history = two_asset_history()
    s = state({"AAPL": 100, "MSFT": 100}, history=history)  # weights 0.2, 0.1
    report = portfolio_risk(s, RiskLimits(), NOW)
    cov = np.cov(history.to_numpy(), rowvar=False)
    w = np.array([0.2, 0.1])
    vol = np.sqrt(w @ cov @ w)
    expected = w * (cov @ w) / vol
    assert [report.risk_contributions[s] for s in ("AAPL", "MSFT")] == pytest.approx(expected)
    assert sum(report.risk_contributions.values()) == pytest.approx(report.volatility)
    assert sum(report.risk_shares.values()) == pytest.approx(1.0)
    np.testing.assert_allclose(report.correlation.to_numpy(), np.corrcoef(history.T), rtol=1e-12)
    share = report.risk_shares["AAPL"]
    assert share > 0.9  # 3x the volatility at twice the weight

    limits = RiskLimits(**(LOOSE | {"max_concentration": 0.5}))
    more = pre_trade_check(ProposedOrder("AAPL", "buy", 50), s, limits, NOW)
    assert not more.approved
    assert more.rejection_reasons[0].startswith("AAPL would carry 9")
    assert f"(now {share:.1%})" in more.rejection_reasons[0]
    diversify = pre_trade_check(ProposedOrder("MSFT", "buy", 200), s, limits, NOW)
    assert diversify.approved  # still above the limit, but less concentrated than now
    # a single position is bounded by the weight limit, not by concentration
    alone = pre_trade_check(ProposedOrder("AAPL", "buy", 50), state(history=history), limits, NOW)
    assert alone.approved


def test_risk_report_exposures_and_utilization() -> None:
    history = two_asset_history()
    busy = [NOW - timedelta(seconds=i) for i in range(6)]
    s = state(
        {"AAPL": 100, "MSFT": -150},
        equity=98_000,
        start=100_000,
        peak=105_000,
        orders=busy,
        history=history,
    )
    limits = RiskLimits()
    report = portfolio_risk(s, limits, NOW)
    assert report.weights == pytest.approx({"AAPL": 20_000 / 98_000, "MSFT": -15_000 / 98_000})
    assert report.gross_exposure == pytest.approx(35_000 / 98_000)
    assert report.net_exposure == pytest.approx(5_000 / 98_000)
    u = report.utilization
    assert u["max_weight_per_asset"] == pytest.approx(20_000 / 98_000 / 0.25)
    assert u["max_orders_per_minute"] == pytest.approx(6 / 30)
    assert u["max_daily_loss"] == pytest.approx(0.02 / 0.03)
    assert u["max_drawdown"] == pytest.approx((1 - 98 / 105) / 0.15)
    assert u["var_limit_95"] == pytest.approx(report.var_hist / 0.03)
    assert set(u) == {
        "max_weight_per_asset",
        "max_gross_exposure",
        "max_net_exposure",
        "max_orders_per_minute",
        "max_daily_loss",
        "max_drawdown",
        "var_limit_95",
        "max_concentration",
    }
    assert report.to_dict()["correlation"]["AAPL"]["AAPL"] == pytest.approx(1.0)
    empty = portfolio_risk(state(), limits, NOW)
    assert empty.gross_exposure == 0 and np.isnan(empty.var_hist)


def test_invalid_inputs_are_explained() -> None:
    with pytest.raises(ValueError, match="qty must be positive"):
        ProposedOrder("AAPL", "buy", 0)
    with pytest.raises(ValueError, match="side must be"):
        ProposedOrder("AAPL", "hold", 1)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"prices missing for held positions \['TSLA'\]"):
        state({"TSLA": 5})
    unpriced = pre_trade_check(ProposedOrder("TSLA", "buy", 1), state(), RiskLimits(), NOW)
    assert unpriced.rejection_reasons == ["TSLA: no price to value the order; supply one"]


def test_pre_trade_latency_percentiles_with_an_injected_clock() -> None:
    # check k takes (37k mod 100) + 1 microseconds: 20 copies of 1..100 us in 2,000 checks
    durations_ns = [((37 * k) % 100 + 1) * 1_000 for k in range(2_000)]
    ticks = {"now": 0, "calls": 0}

    def clock() -> int:
        ticks["calls"] += 1
        if ticks["calls"] % 2 == 0:  # the reading after a check
            ticks["now"] += durations_ns[ticks["calls"] // 2 - 1]
        return ticks["now"]

    result = bench_pre_trade(n=2_000, clock=clock)
    assert ticks["calls"] == 2 * 2_000
    # sorted, value v fills positions 20(v-1) .. 20v-1; linear interpolation at q * 1999
    assert result["p50_us"] == pytest.approx(50.5)  # between positions 999 (50) and 1000 (51)
    assert result["p95_us"] == pytest.approx(95.05, abs=0.051)  # 95 + 0.05 * (96 - 95)
    assert result["p99_us"] == pytest.approx(99.0)  # 99 + 0.01, rounded to 0.1 us
    assert result["max_us"] == 100.0 and result["n"] == 2_000
    # the same orders against the same snapshot, whatever the clock
    assert result["approved_share"] == bench_pre_trade(n=2_000)["approved_share"]


def test_annual_volatility_is_daily_std_of_portfolio_returns_times_sqrt_252() -> None:
    """Convention: sample std (ddof=1) of the daily returns of today's weights applied to
    the history, times sqrt(252). The view showed the 1-day figure as "ann." before."""
    rng = np.random.default_rng(11)
    n = 750
    daily_sd = {"AAPL": 0.02, "MSFT": 0.01, "GOOG": 0.015}
    common = rng.normal(0, 0.006, n)
    history = pd.DataFrame({s: common + rng.normal(0, sd, n) for s, sd in daily_sd.items()})
    # long AAPL 0.3, long MSFT 0.2, short GOOG 0.1 (prices 200, 100, 100; equity 100k)
    s = state({"AAPL": 150, "MSFT": 200, "GOOG": -100}, history=history)
    report = portfolio_risk(s, RiskLimits(), NOW)
    weights = np.array([0.3, 0.2, -0.1])
    daily = np.asarray(history[["AAPL", "MSFT", "GOOG"]]) @ weights
    n_obs = len(daily)
    sd = np.sqrt(((daily - daily.mean()) ** 2).sum() / (n_obs - 1))
    assert report.volatility == pytest.approx(sd, rel=1e-12)
    assert report.volatility_annual == pytest.approx(sd * np.sqrt(252.0), rel=1e-12)
    assert report.volatility_annual / report.volatility == pytest.approx(15.874507866, rel=1e-9)
    assert report.to_dict()["volatility_annual"] == report.volatility_annual


def test_annual_volatility_is_nan_without_history() -> None:
    report = portfolio_risk(state({"AAPL": 10}), RiskLimits(), NOW)
    assert np.isnan(report.volatility) and np.isnan(report.volatility_annual)
