"""Risk service: versioned, audited limit changes, role checks, stale-version conflicts,
and the pre-trade check's numbers on a seeded paper book."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import pytest

from app.operations.risk import LimitsChangeRequest, RiskCheckRequest
from app.services import risk
from app.services.auth import Actor, PermissionDenied
from app.services.db import get_engine
from core.data.loaders import embedded_sources
from core.risk import RiskLimits
from core.risk.versions import LimitsConflict
from core.store.db import session_scope
from core.store.paper import PaperSession
from core.store.trading import TradingAccount, TradingPosition

RITA = Actor("rita", frozenset({"risk"}))
VIC = Actor("vic", frozenset({"analyst"}))
CURSOR = datetime(2015, 6, 30, tzinfo=UTC)


def change(values: dict[str, float], reason: str = "test", **kw: int) -> LimitsChangeRequest:
    return LimitsChangeRequest(values=values, reason=reason, **kw)


def test_limits_set_and_get_are_versioned_and_audited_with_the_actor() -> None:
    assert risk.current_limits() == (0, RiskLimits())
    first = risk.set_limits(change({"max_weight_per_asset": 0.2}, "tighter"), actor=RITA)
    second = risk.set_limits(change({"max_drawdown": 0.1, "max_daily_loss": 0.02}), actor=RITA)
    assert (first.version, second.version) == (1, 2)
    assert first.changes == {"max_weight_per_asset": (0.25, 0.2)}
    assert second.changes == {"max_daily_loss": (0.03, 0.02), "max_drawdown": (0.15, 0.1)}
    version, limits = risk.current_limits()
    assert version == 2
    assert limits == RiskLimits(max_weight_per_asset=0.2, max_drawdown=0.1, max_daily_loss=0.02)
    newest, oldest = risk.history()
    assert (newest.version, newest.changed_by, newest.role) == (2, "rita", "risk")
    assert (oldest.version, oldest.changed_by, oldest.reason) == (1, "rita", "tighter")
    assert oldest.changes == {"max_weight_per_asset": (0.25, 0.2)}
    assert newest.changes == {"max_daily_loss": (0.03, 0.02), "max_drawdown": (0.15, 0.1)}
    assert newest.limits["max_weight_per_asset"] == 0.2  # each version stores every limit


def test_a_viewer_is_refused_and_nothing_is_stored() -> None:
    with pytest.raises(PermissionDenied, match="needs the 'risk' role; vic has") as refused:
        risk.set_limits(change({"max_weight_per_asset": 0.2}), actor=VIC)
    assert isinstance(refused.value, PermissionError)
    assert risk.current_limits()[0] == 0 and risk.history() == []


def test_a_change_against_a_stale_version_is_refused_naming_who_changed_them() -> None:
    risk.set_limits(change({"max_order_notional": 20_000.0}, expected_version=0), actor=RITA)
    with pytest.raises(LimitsConflict) as conflict:
        risk.set_limits(change({"max_weight_per_asset": 0.1}, expected_version=0))
    assert (conflict.value.loaded, conflict.value.current) == (0, 1)
    assert conflict.value.changed_by == "rita"
    assert "(now version 1; you loaded version 0); reload" in str(conflict.value)
    with pytest.raises(ValueError, match="version 5 does not exist; the limits in force are"):
        risk.set_limits(change({"max_weight_per_asset": 0.1}, expected_version=5))
    with pytest.raises(ValueError, match="nothing changed"):
        risk.set_limits(change({"max_order_notional": 20_000.0}))
    assert [c.version for c in risk.history()] == [1]
    assert risk.current_limits()[1].max_weight_per_asset == 0.25


def _close(symbol: str) -> float:
    """The symbol's close on the book's bar, read from the embedded file directly."""
    closes = embedded_sources()["ohlcv_daily"].load(symbol)["close"]
    return float(closes.loc[: CURSOR.replace(tzinfo=None)].iloc[-1])


def _seed_book(*, sp500: float, nasdaq: float, cash: float, peak: float) -> float:
    """A paper session at CURSOR holding SP500 and NASDAQ; returns its equity."""
    equity = cash + sp500 * _close("SP500") + nasdaq * _close("NASDAQ")
    with session_scope(get_engine()) as s:
        account = TradingAccount(
            broker="sim", name="seeded", initial_cash=100_000.0, cash=cash, equity=equity
        )
        s.add(account)
        s.flush()
        s.add_all(
            [
                TradingPosition(account_id=account.id, symbol="SP500", qty=sp500, avg_price=1.0),
                TradingPosition(account_id=account.id, symbol="NASDAQ", qty=nasdaq, avg_price=1.0),
            ]
        )
        s.add(
            PaperSession(
                name="seeded",
                broker="sim",
                dataset="ohlcv_daily",
                symbols=["SP500", "NASDAQ"],
                config={},
                account_id=account.id,
                cursor_ts=CURSOR,
                peak_equity=peak,
            )
        )
    return equity


def test_the_pre_trade_check_shrinks_a_buy_to_the_weight_cap_of_the_seeded_book() -> None:
    loose = {"var_limit_95": 1.0, "max_concentration": 1.0, "max_order_notional": 1e6}
    risk.set_limits(change({**loose, "max_weight_per_asset": 0.2}), actor=RITA)
    equity = _seed_book(sp500=4, nasdaq=2, cash=80_000.0, peak=100_000.0)
    price = _close("SP500")
    outcome = risk.check_order(RiskCheckRequest(symbol="SP500", qty=10, session="seeded"))
    # Independent: the weight cap 0.2 x equity, less the 4 shares held, in whole shares.
    expected = math.floor(0.2 * equity / price - 4)
    assert (outcome.price, outcome.equity, outcome.limits_version) == (price, equity, 1)
    decision = outcome.decision
    assert decision.approved and decision.allowed_quantity == expected
    assert 0 < expected < 10
    weight = (4 + 10) * price / equity
    assert decision.adjustments == [
        f"SP500 weight would be {weight:.1%} > limit 20.0%; shrunk to {expected:,} shares"
    ]
    # At a given price the cap moves with it.
    at_1000 = risk.check_order(
        RiskCheckRequest(symbol="SP500", qty=30, session="seeded", price=1000.0)
    )
    assert at_1000.price == 1000.0
    assert at_1000.decision.allowed_quantity == math.floor(0.2 * equity / 1000.0 - 4)


def test_the_kill_switch_of_the_seeded_book_blocks_a_buy_but_not_a_reducing_sell() -> None:
    equity = _seed_book(sp500=4, nasdaq=2, cash=80_000.0, peak=200_000.0)
    drawdown = 1 - equity / 200_000.0
    buy = risk.check_order(RiskCheckRequest(symbol="NASDAQ", qty=1, session="seeded"))
    assert not buy.decision.approved and buy.decision.kill_switch
    assert buy.decision.rejection_reasons == [
        f"drawdown {drawdown:.1%} >= limit 15.0%: kill switch engaged; only orders that "
        "reduce a position pass"
    ]
    sell = risk.check_order(RiskCheckRequest(symbol="NASDAQ", qty=2, side="sell", session="seeded"))
    assert sell.decision.approved and sell.decision.allowed_quantity == 2.0


def test_without_a_paper_session_the_book_is_an_empty_100k_account() -> None:
    outcome = risk.check_order(RiskCheckRequest(symbol="SP500", qty=10, price=100.0))
    assert (outcome.equity, outcome.price, outcome.limits_version) == (100_000.0, 100.0, 0)
    assert outcome.decision.approved and outcome.decision.allowed_quantity == 10.0
    with pytest.raises(LookupError, match="none of the paper sessions is named 'nope'"):
        risk.check_order(RiskCheckRequest(symbol="SP500", qty=10, session="nope"))
