"""The pre-trade check against a brute-force oracle and exact boundary cases.

The oracle tries every whole quantity from the requested one down to zero and keeps the
first whose resulting book satisfies each limit, computed from first principles in the
test. Boundary cases put a measure exactly on its limit.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from core.risk import PortfolioState, ProposedOrder, RiskLimits, pre_trade_check

NOW = datetime(2025, 6, 2, 14, 30, tzinfo=UTC)
SYMBOLS = ("AAA", "BBB", "CCC")
TOL = 1e-9


def book(
    positions: dict[str, float],
    prices: dict[str, float],
    *,
    equity: float = 100_000.0,
    start: float | None = None,
    peak: float | None = None,
    orders: list[datetime] | None = None,
    history: pd.DataFrame | None = None,
) -> PortfolioState:
    value = sum(q * prices[s] for s, q in positions.items())
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


def oracle_quantity(
    positions: dict[str, float],
    prices: dict[str, float],
    equity: float,
    order: ProposedOrder,
    limits: RiskLimits,
) -> int:
    """Largest whole quantity <= the request whose book stays within every limit."""
    sym, price = order.symbol, prices[order.symbol]
    sign = 1 if order.side == "buy" else -1
    q0 = positions.get(sym, 0.0)
    reducing = sign * q0 < 0 and order.qty <= abs(q0)

    def fits(q: int) -> bool:
        if q * price > limits.max_order_notional * (1 + TOL):
            return False
        if reducing:
            return True
        book_after = dict(positions)
        book_after[sym] = q0 + sign * q
        values = [book_after[s] * prices[s] for s in book_after]
        return (
            abs(book_after[sym]) * price / equity <= limits.max_weight_per_asset + TOL
            and sum(abs(v) for v in values) / equity <= limits.max_gross_exposure + TOL
            and abs(sum(values)) / equity <= limits.max_net_exposure + TOL
        )

    for q in range(int(order.qty), -1, -1):
        if fits(q):
            return q
    return 0


def _random_case(rng: np.random.Generator) -> tuple[dict, dict, RiskLimits, ProposedOrder]:
    weight = float(rng.choice([0.1, 0.2, 0.25, 0.4]))
    gross = float(rng.choice([weight * 2, 1.0, 1.5]))
    net = float(rng.choice([gross, gross / 2]))
    limits = RiskLimits(
        max_weight_per_asset=weight,
        max_gross_exposure=gross,
        max_net_exposure=min(net, gross),
        max_order_notional=float(rng.choice([5_000, 20_000, 1e6])),
        var_limit_95=1.0,
        max_concentration=1.0,
    )
    prices = {s: float(rng.choice([7.0, 25.0, 50.0, 133.0, 400.0])) for s in SYMBOLS}
    equity = 100_000.0
    while True:  # start from a book that is within its limits
        positions = {
            s: float(rng.integers(-1, 2) * rng.integers(0, 1 + int(weight * equity / prices[s])))
            for s in SYMBOLS
        }
        values = [positions[s] * prices[s] for s in SYMBOLS]
        if (
            sum(abs(v) for v in values) <= gross * equity
            and abs(sum(values)) <= limits.max_net_exposure * equity
        ):
            break
    order = ProposedOrder(
        str(rng.choice(SYMBOLS)), str(rng.choice(["buy", "sell"])), float(rng.integers(1, 3_000))
    )
    return positions, prices, limits, order


@pytest.mark.parametrize("seed", range(8))
def test_shrink_to_fit_matches_a_brute_force_search(seed: int) -> None:
    rng = np.random.default_rng(seed)
    for _ in range(40):
        positions, prices, limits, order = _random_case(rng)
        decision = pre_trade_check(order, book(positions, prices), limits, NOW)
        want = oracle_quantity(positions, prices, 100_000.0, order, limits)
        assert decision.allowed_quantity == want, (positions, prices, limits, order)
        assert decision.approved == (want > 0)
        assert decision.requested_quantity == order.qty
        assert decision.shrunk == (0 < want < order.qty)
        if want == 0:
            assert decision.rejection_reasons and decision.rejection_reasons[-1].endswith(
                "nothing fits (allowed 0)"
            )
        elif want < order.qty:
            assert decision.adjustments[0].endswith(f"shrunk to {want:,} shares")
        else:
            assert decision.rejection_reasons == []


# --- exact boundaries -------------------------------------------------------------------


def test_drawdown_exactly_at_the_limit_engages_the_kill_switch() -> None:
    limits = RiskLimits(max_drawdown=0.25)
    at = book({}, {"AAA": 10.0}, equity=75_000, peak=100_000)  # 1 - 0.75 = 0.25 exactly
    decision = pre_trade_check(ProposedOrder("AAA", "buy", 1), at, limits, NOW)
    assert decision.kill_switch and not decision.approved
    assert decision.rejection_reasons == [
        "drawdown 25.0% >= limit 25.0%: kill switch engaged; only orders that reduce a "
        "position pass"
    ]
    above = book({}, {"AAA": 10.0}, equity=75_001, peak=100_000)
    ok = pre_trade_check(ProposedOrder("AAA", "buy", 1), above, limits, NOW)
    assert ok.approved and not ok.kill_switch and ok.allowed_quantity == 1


def test_daily_loss_exactly_at_the_limit_blocks_new_risk() -> None:
    limits = RiskLimits(max_daily_loss=0.25, max_drawdown=0.5)
    at = book({"AAA": 100}, {"AAA": 10.0}, equity=75_000, start=100_000, peak=100_000)
    decision = pre_trade_check(ProposedOrder("AAA", "buy", 1), at, limits, NOW)
    assert not decision.approved and not decision.kill_switch
    assert decision.rejection_reasons == [
        "daily loss 25.00% >= limit 25.00%: no new risk until the next trading day"
    ]
    # selling exactly the position held is a reduction and passes
    flat = pre_trade_check(ProposedOrder("AAA", "sell", 100), at, limits, NOW)
    assert flat.approved and flat.allowed_quantity == 100
    up = book({}, {"AAA": 10.0}, equity=75_001, start=100_000, peak=100_000)
    assert pre_trade_check(ProposedOrder("AAA", "buy", 1), up, limits, NOW).approved


def test_no_equity_means_no_new_risk() -> None:
    broke = book({}, {"AAA": 10.0}, equity=0.0, start=100_000, peak=100_000)
    decision = pre_trade_check(ProposedOrder("AAA", "buy", 1), broke, RiskLimits(), NOW)
    assert not decision.approved and decision.kill_switch
    assert decision.rejection_reasons[-1] == "equity is 0.00: no new risk"
    assert len(decision.rejection_reasons) == 3  # drawdown, daily loss and equity
    assert decision.to_dict() == {
        "approved": False,
        "requested_quantity": 1.0,
        "allowed_quantity": 0.0,
        "rejection_reasons": decision.rejection_reasons,
        "adjustments": [],
        "kill_switch": True,
    }


def test_order_rate_window_is_the_open_minute_before_now() -> None:
    limits = RiskLimits(max_orders_per_minute=3)
    # at now and 50 s ago count; exactly 60 s ago and in the future do not
    times = [NOW, NOW - timedelta(seconds=50), NOW - timedelta(seconds=60), NOW + timedelta(1)]
    s = book({}, {"AAA": 10.0}, orders=times)
    assert pre_trade_check(ProposedOrder("AAA", "buy", 1), s, limits, NOW).approved
    two = limits.model_copy(update={"max_orders_per_minute": 2})
    blocked = pre_trade_check(ProposedOrder("AAA", "buy", 1), s, two, NOW)
    # the oldest counted order leaves the window 10 s from now
    assert blocked.rejection_reasons == [
        "2 orders in the last minute >= limit 2/min; retry in 10 s"
    ]
    # a naive time is read as UTC
    naive = pre_trade_check(ProposedOrder("AAA", "buy", 1), s, two, NOW.replace(tzinfo=None))
    assert naive.rejection_reasons == blocked.rejection_reasons


def test_order_rate_defaults_to_the_current_time() -> None:
    recent = [datetime.now(UTC) - timedelta(seconds=1)]
    s = book({}, {"AAA": 10.0}, orders=recent)
    one = RiskLimits(max_orders_per_minute=1)
    decision = pre_trade_check(ProposedOrder("AAA", "buy", 1), s, one)
    assert not decision.approved
    assert decision.rejection_reasons[0].startswith("1 orders in the last minute >= limit 1/min")
    old = book({}, {"AAA": 10.0}, orders=[datetime.now(UTC) - timedelta(hours=1)])
    assert pre_trade_check(ProposedOrder("AAA", "buy", 1), old, one).approved


def test_weight_exactly_at_the_limit_fits() -> None:
    # 250 shares at 100 = 25,000 = 25% of 100,000: on the limit, not over it
    s = book({}, {"AAA": 100.0})
    decision = pre_trade_check(ProposedOrder("AAA", "buy", 250), s, RiskLimits(), NOW)
    assert decision.approved and not decision.shrunk and decision.allowed_quantity == 250
    assert decision.rejection_reasons == []
    over = pre_trade_check(ProposedOrder("AAA", "buy", 251), s, RiskLimits(), NOW)
    assert over.allowed_quantity == 250 and over.shrunk
    assert over.reasons == [
        "AAA weight would be 25.1% > limit 25.0%; shrunk to 250 shares",
        "VaR and concentration not checked: no return history for AAA",
    ]


def test_order_price_overrides_the_book_price() -> None:
    limits = RiskLimits(max_order_notional=1_000)
    s = book({}, {"AAA": 10.0})
    # at the book price 100 shares are 1,000 (fits); at the order's price of 20 only 50 fit
    assert pre_trade_check(ProposedOrder("AAA", "buy", 100), s, limits, NOW).allowed_quantity == 100
    pricier = pre_trade_check(ProposedOrder("AAA", "buy", 100, price=20.0), s, limits, NOW)
    assert pricier.allowed_quantity == 50
    assert pricier.adjustments[0] == ("AAA order notional 2,000 > limit 1,000; shrunk to 50 shares")
    unknown = pre_trade_check(ProposedOrder("ZZZ", "buy", 1), s, limits, NOW)
    assert unknown.rejection_reasons == ["ZZZ: no price to value the order; supply one"]
    priced = pre_trade_check(ProposedOrder("ZZZ", "buy", 1, price=5.0), s, limits, NOW)
    assert priced.approved


def test_fractional_shrink_keeps_six_decimals() -> None:
    limits = RiskLimits(max_order_notional=1_000)
    s = book({}, {"AAA": 7.0})
    frac = pre_trade_check(ProposedOrder("AAA", "buy", 500), s, limits, NOW, fractional=True)
    assert frac.allowed_quantity == 142.857142  # 1,000 / 7 = 142.857142857... floored
    assert frac.adjustments[0] == (
        "AAA order notional 3,500 > limit 1,000; shrunk to 142.857 shares"
    )
    whole = pre_trade_check(ProposedOrder("AAA", "buy", 500), s, limits, NOW)
    assert whole.allowed_quantity == 142.0
    # an exact fit is not rounded down by floating error: 1,000 / 8 = 125
    s8 = book({}, {"AAA": 8.0})
    exact = pre_trade_check(ProposedOrder("AAA", "buy", 300), s8, limits, NOW, fractional=True)
    assert exact.allowed_quantity == 125.0


def test_short_side_is_capped_by_gross_and_net() -> None:
    prices = {"AAA": 100.0, "BBB": 100.0}
    limits = RiskLimits(max_weight_per_asset=0.5, max_gross_exposure=1.0, max_net_exposure=0.3)
    s = book({"BBB": -200}, prices)  # 20% short already
    # net may go to -30%: only 100 more shares short
    net_bound = pre_trade_check(ProposedOrder("AAA", "sell", 400), s, limits, NOW)
    assert net_bound.allowed_quantity == 100
    assert net_bound.adjustments[0].startswith("net exposure would be -60.0% beyond limit ±30.0%")
    hedged = book({"BBB": 700}, prices)  # 70% long
    wide = limits.model_copy(update={"max_net_exposure": 1.0, "max_order_notional": 1e6})
    # gross allows 30% more: 300 shares short (net 40% then)
    gross_bound = pre_trade_check(ProposedOrder("AAA", "sell", 600), hedged, wide, NOW)
    order = ProposedOrder("AAA", "sell", 600)
    want = oracle_quantity({"BBB": 700}, prices, 100_000.0, order, wide)
    assert gross_bound.allowed_quantity == want == 300
    assert gross_bound.adjustments[:2] == [
        "AAA weight would be 60.0% > limit 50.0%; shrunk to 300 shares",
        "gross exposure would be 130.0% > limit 100.0%; shrunk to 300 shares",
    ]


def test_selling_more_than_held_is_new_risk() -> None:
    limits = RiskLimits(max_drawdown=0.25)
    s = book({"AAA": 100}, {"AAA": 10.0}, equity=70_000, peak=100_000)  # kill switch
    exact = pre_trade_check(ProposedOrder("AAA", "sell", 100), s, limits, NOW)
    assert exact.approved and exact.kill_switch
    assert pre_trade_check(ProposedOrder("AAA", "sell", 100.5), s, limits, NOW).approved is False
    # buying back a short is a reduction too
    short = book({"AAA": -100}, {"AAA": 10.0}, equity=70_000, peak=100_000)
    assert pre_trade_check(ProposedOrder("AAA", "buy", 60), short, limits, NOW).approved
    assert not pre_trade_check(ProposedOrder("AAA", "sell", 1), short, limits, NOW).approved


# --- VaR and concentration --------------------------------------------------------------


def _hedge_history() -> pd.DataFrame:
    rng = np.random.default_rng(3)
    a = rng.normal(0.0, 0.02, 400)
    return pd.DataFrame({"AAA": a, "HEDGE": -a + rng.normal(0.0, 0.002, 400)})


def test_an_order_that_lowers_var_passes_even_above_the_limit() -> None:
    history = _hedge_history()
    prices = {"AAA": 100.0, "HEDGE": 100.0}
    s = book({"AAA": 200}, prices, history=history)  # 20% of equity
    limits = RiskLimits(var_limit_95=0.001, max_concentration=1.0)
    var_now = -np.percentile(history.to_numpy() @ np.array([0.2, 0.0]), 5)
    # selling 300 flips the book to 10% short: new risk, but a smaller VaR
    var_after = -np.percentile(history.to_numpy() @ np.array([-0.1, 0.0]), 5)
    assert var_after < var_now and var_after > 0.001  # still above the limit, but lower
    flip = pre_trade_check(ProposedOrder("AAA", "sell", 300), s, limits, NOW)
    assert flip.approved and flip.adjustments == [] and flip.allowed_quantity == 300
    more = pre_trade_check(ProposedOrder("AAA", "buy", 10), s, limits, NOW)
    var_more = -np.percentile(history.to_numpy() @ np.array([0.21, 0.0]), 5)
    assert more.rejection_reasons == [
        f"1-day 95% VaR (historical) would be {var_more:.2%} of equity > limit 0.10% "
        f"(now {var_now:.2%})"
    ]
    # just inside the limit passes
    roomy = limits.model_copy(update={"var_limit_95": var_more + 1e-6})
    assert pre_trade_check(ProposedOrder("AAA", "buy", 10), s, roomy, NOW).approved


def test_parametric_var_uses_mean_and_sample_volatility() -> None:
    from scipy.stats import norm

    history = _hedge_history()
    s = book({"AAA": 200}, {"AAA": 100.0, "HEDGE": 100.0}, history=history)
    limits = RiskLimits(var_limit_95=0.001, var_method="parametric", max_concentration=1.0)
    port = history.to_numpy() @ np.array([0.21, 0.0])
    now_port = history.to_numpy() @ np.array([0.2, 0.0])
    want = -norm.ppf(0.05, loc=port.mean(), scale=port.std(ddof=1))
    want_now = -norm.ppf(0.05, loc=now_port.mean(), scale=now_port.std(ddof=1))
    more = pre_trade_check(ProposedOrder("AAA", "buy", 10), s, limits, NOW)
    assert more.rejection_reasons == [
        f"1-day 95% VaR (parametric) would be {want:.2%} of equity > limit 0.10% "
        f"(now {want_now:.2%})"
    ]


def test_concentration_share_against_euler_by_hand() -> None:
    rng = np.random.default_rng(9)
    history = pd.DataFrame({"AAA": rng.normal(0, 0.03, 300), "BBB": rng.normal(0, 0.01, 300)})
    prices = {"AAA": 100.0, "BBB": 100.0}
    s = book({"BBB": 200}, prices, history=history)
    cov = np.cov(history.to_numpy(), rowvar=False)
    w = np.array([0.1, 0.2])  # after buying 100 AAA
    contrib = w * (cov @ w) / np.sqrt(w @ cov @ w)
    share = contrib[0] / contrib.sum()
    assert share > 0.6
    limits = RiskLimits(max_concentration=0.6, var_limit_95=1.0)
    decision = pre_trade_check(ProposedOrder("AAA", "buy", 100), s, limits, NOW)
    # BBB alone carries 100% of the risk now; AAA's 69% after the order is less: approved
    assert decision.approved and decision.rejection_reasons == []
    # from a balanced book the same share is new concentration and is refused
    balanced = book({"AAA": 50, "BBB": 200}, prices, history=history)
    w0 = np.array([0.05, 0.2])
    c0 = w0 * (cov @ w0) / np.sqrt(w0 @ cov @ w0)
    w1 = np.array([0.15, 0.2])
    c1 = w1 * (cov @ w1) / np.sqrt(w1 @ cov @ w1)
    refused = pre_trade_check(ProposedOrder("AAA", "buy", 100), balanced, limits, NOW)
    assert refused.rejection_reasons == [
        f"AAA would carry {c1[0] / c1.sum():.1%} of portfolio volatility > concentration "
        f"limit 60.0% (now {c0.max() / c0.sum():.1%})"
    ]


def test_unmodelled_symbols_are_named_and_the_check_is_skipped() -> None:
    history = _hedge_history()
    prices = {"AAA": 100.0, "HEDGE": 100.0, "ZED": 50.0, "YAK": 20.0}
    s = book({"AAA": 100, "ZED": 10}, prices, history=history)
    tight = RiskLimits(var_limit_95=0.0001, max_concentration=0.01)
    decision = pre_trade_check(ProposedOrder("YAK", "buy", 5), s, tight, NOW)
    assert decision.approved
    assert decision.adjustments == [
        "VaR and concentration not checked: no return history for YAK, ZED"
    ]


# --- orders, messages and every field of a decision ----------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"side": "hold"}, "side must be 'buy' or 'sell'; got 'hold'"),
        ({"qty": 0.0}, "qty must be positive (use side='sell' to sell); got 0.0"),
        ({"qty": -5.0}, "qty must be positive (use side='sell' to sell); got -5.0"),
        ({"qty": float("inf")}, "qty must be positive (use side='sell' to sell); got inf"),
        ({"qty": float("nan")}, "qty must be positive (use side='sell' to sell); got nan"),
        ({"price": 0.0}, "price must be positive; got 0.0"),
        ({"price": -1.0}, "price must be positive; got -1.0"),
        ({"price": float("inf")}, "price must be positive; got inf"),
        ({"symbol": ""}, "symbol must not be empty"),
    ],
)
def test_proposed_order_validation_messages(kwargs: dict, message: str) -> None:
    fields = {"symbol": "AAA", "side": "buy", "qty": 1.0, **kwargs}
    with pytest.raises(ValueError) as caught:
        ProposedOrder(**fields)
    assert str(caught.value) == message


def test_sub_unit_prices_and_quantities_are_valid_orders() -> None:
    order = ProposedOrder("PENNY", "buy", 0.25, price=0.5)
    assert (order.qty, order.price) == (0.25, 0.5)


def test_an_unpriced_order_is_rejected_with_every_field_set() -> None:
    decision = pre_trade_check(ProposedOrder("ZZZ", "sell", 3), book({}, {}), RiskLimits(), NOW)
    assert decision.to_dict() == {
        "approved": False,
        "requested_quantity": 3.0,
        "allowed_quantity": 0.0,
        "rejection_reasons": ["ZZZ: no price to value the order; supply one"],
        "adjustments": [],
        "kill_switch": False,
    }


def test_a_limit_rejection_sets_every_field() -> None:
    full = book({"AAA": 250}, {"AAA": 100.0})  # at the 25% weight limit
    decision = pre_trade_check(ProposedOrder("AAA", "buy", 10), full, RiskLimits(), NOW)
    assert decision.to_dict() == {
        "approved": False,
        "requested_quantity": 10.0,
        "allowed_quantity": 0.0,
        "rejection_reasons": ["AAA weight would be 26.0% > limit 25.0%; nothing fits (allowed 0)"],
        "adjustments": [],
        "kill_switch": False,
    }
    # an order too small to move any measure past its limit, with no room left
    tiny = pre_trade_check(ProposedOrder("AAA", "buy", 1e-8), full, RiskLimits(), NOW)
    assert tiny.rejection_reasons == ["nothing fits"] and tiny.allowed_quantity == 0.0


def test_a_var_rejection_sets_every_field() -> None:
    history = _hedge_history()
    s = book({"AAA": 200}, {"AAA": 100.0, "HEDGE": 100.0}, history=history)
    limits = RiskLimits(var_limit_95=0.001, max_concentration=1.0)
    decision = pre_trade_check(ProposedOrder("AAA", "buy", 10), s, limits, NOW)
    assert decision.approved is False and decision.kill_switch is False
    assert (decision.requested_quantity, decision.allowed_quantity) == (10.0, 0.0)
    assert decision.adjustments == [] and len(decision.rejection_reasons) == 1
    # a VaR exactly on the limit is within it
    var_more = -np.percentile(history.to_numpy() @ np.array([0.21, 0.0]), 5)
    on_limit = limits.model_copy(update={"var_limit_95": float(var_more)})
    assert pre_trade_check(ProposedOrder("AAA", "buy", 10), s, on_limit, NOW).approved


def test_large_share_counts_are_written_in_full() -> None:
    s = book({}, {"PENNY": 0.5}, equity=1e8)
    limits = RiskLimits(max_order_notional=1_000_000)
    decision = pre_trade_check(ProposedOrder("PENNY", "buy", 3e6), s, limits, NOW)
    assert decision.allowed_quantity == 2e6
    assert decision.adjustments[0] == (
        "PENNY order notional 1,500,000 > limit 1,000,000; shrunk to 2,000,000 shares"
    )


def test_a_fractional_order_that_fits_is_sent_as_asked() -> None:
    s = book({}, {"AAA": 100.0})
    decision = pre_trade_check(ProposedOrder("AAA", "buy", 10.5), s, RiskLimits(), NOW)
    assert decision.approved and decision.allowed_quantity == 10.5 and not decision.shrunk


def test_adding_to_a_small_fractional_long_is_new_risk() -> None:
    limits = RiskLimits(max_drawdown=0.25)
    s = book({"AAA": 0.5}, {"AAA": 10.0}, equity=70_000, peak=100_000)  # kill switch
    assert not pre_trade_check(ProposedOrder("AAA", "buy", 0.3), s, limits, NOW).approved
    assert pre_trade_check(ProposedOrder("AAA", "sell", 0.3), s, limits, NOW).approved


def test_a_one_dollar_account_can_still_trade() -> None:
    s = book({}, {"AAA": 10.0}, equity=1.0)
    decision = pre_trade_check(ProposedOrder("AAA", "buy", 0.02), s, RiskLimits(), NOW)
    assert decision.approved and decision.allowed_quantity == 0.02


def test_retry_time_under_a_second_reads_zero() -> None:
    s = book({}, {"AAA": 10.0}, orders=[NOW - timedelta(seconds=59.6)])
    one = RiskLimits(max_orders_per_minute=1)
    decision = pre_trade_check(ProposedOrder("AAA", "buy", 1), s, one, NOW)
    assert decision.rejection_reasons == [
        "1 orders in the last minute >= limit 1/min; retry in 0 s"
    ]


@pytest.mark.parametrize(
    ("positions", "limits", "qty", "binding"),
    [
        # each measure exactly on its limit at the requested size: only the notional cap binds
        ({}, {"max_weight_per_asset": 0.25}, 250, "weight"),
        ({"BBB": -750}, {"max_weight_per_asset": 0.25, "max_gross_exposure": 1.0}, 250, "gross"),
        (
            {"BBB": 250},
            {"max_weight_per_asset": 0.25, "max_gross_exposure": 1.0, "max_net_exposure": 0.5},
            250,
            "net",
        ),
    ],
)
def test_a_measure_exactly_on_its_limit_is_not_reported(
    positions: dict, limits: dict, qty: int, binding: str
) -> None:
    prices = {"AAA": 100.0, "BBB": 100.0}
    capped = RiskLimits(**limits, max_order_notional=20_000)
    decision = pre_trade_check(
        ProposedOrder("AAA", "buy", qty), book(positions, prices), capped, NOW
    )
    assert decision.allowed_quantity == 200
    assert decision.adjustments == [
        "AAA order notional 25,000 > limit 20,000; shrunk to 200 shares",
        "VaR and concentration not checked: no return history for AAA"
        + (", BBB" if positions else ""),
    ], binding


def test_an_order_exactly_at_the_notional_cap_is_not_reported() -> None:
    # 250 shares at 100 = 25,000 = the cap; the weight limit (20%) shrinks it to 200
    limits = RiskLimits(max_weight_per_asset=0.2, max_order_notional=25_000)
    decision = pre_trade_check(
        ProposedOrder("AAA", "buy", 250), book({}, {"AAA": 100.0}), limits, NOW
    )
    assert decision.adjustments[:1] == [
        "AAA weight would be 25.0% > limit 20.0%; shrunk to 200 shares"
    ]
    assert len(decision.adjustments) == 2  # and the VaR note


def test_default_time_is_utc_whatever_the_local_zone(monkeypatch: pytest.MonkeyPatch) -> None:
    import time

    recent = [datetime.now(UTC) - timedelta(seconds=1)]
    s = book({}, {"AAA": 10.0}, orders=recent)
    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    try:
        decision = pre_trade_check(
            ProposedOrder("AAA", "buy", 1), s, RiskLimits(max_orders_per_minute=1)
        )
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()
    assert not decision.approved  # the order 1 s ago is inside the last minute


def test_the_kill_switch_is_reported_on_a_reduction_that_cannot_fit() -> None:
    # under the kill switch a sale still passes rule 1, but one share is over the cap
    limits = RiskLimits(max_drawdown=0.25, max_order_notional=50)
    s = book({"AAA": 10}, {"AAA": 80.0}, equity=70_000, peak=100_000)
    decision = pre_trade_check(ProposedOrder("AAA", "sell", 5), s, limits, NOW)
    assert decision.approved is False and decision.kill_switch is True
    assert decision.rejection_reasons == [
        "AAA order notional 400 > limit 50; nothing fits (allowed 0)"
    ]
