"""The pre-trade check's caches (app/services/risk_cache.py) never serve a stale answer: a
limit change, a change of the book and a new import apply to the very next check, and a
check answered from the cache equals the uncached check of core.risk.book on the same book."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import update

from app.operations.risk import LimitsChangeRequest, RiskCheckRequest
from app.services import data, risk
from app.services.auth import Actor
from app.services.db import get_engine
from core.data.catalog import load_prices
from core.data.loaders import DataSourceError, embedded_sources
from core.risk.book import check_order as uncached_check
from core.risk.book import paper_book
from core.risk.versions import limits_in_force
from core.store.db import session_scope
from core.store.paper import PaperSession
from core.store.trading import TradingAccount, TradingPosition

RITA = Actor("rita", frozenset({"risk"}))
CURSOR = datetime(2015, 6, 30, tzinfo=UTC)


def _close(symbol: str) -> float:
    closes = embedded_sources()["ohlcv_daily"].load(symbol)["close"]
    return float(closes.loc[: CURSOR.replace(tzinfo=None)].iloc[-1])


def _seed_book() -> int:
    """A paper session at CURSOR holding 4 SP500 and 2 NASDAQ; returns its account id."""
    equity = 80_000.0 + 4 * _close("SP500") + 2 * _close("NASDAQ")
    with session_scope(get_engine()) as s:
        account = TradingAccount(
            broker="sim", name="seeded", initial_cash=1e5, cash=80_000.0, equity=equity
        )
        s.add(account)
        s.flush()
        s.add_all(
            [
                TradingPosition(account_id=account.id, symbol="SP500", qty=4, avg_price=1.0),
                TradingPosition(account_id=account.id, symbol="NASDAQ", qty=2, avg_price=1.0),
            ]
        )
        s.add(
            PaperSession(
                name="seeded", broker="sim", dataset="ohlcv_daily", symbols=["SP500", "NASDAQ"],
                config={}, account_id=account.id, cursor_ts=CURSOR, peak_equity=100_000.0,
            )
        )  # fmt: skip
        return account.id


def _uncached(request: RiskCheckRequest) -> dict:
    """The check as core.risk.book runs it, reading everything afresh."""
    sessions = lambda: session_scope(get_engine())  # noqa: E731
    with sessions() as s:
        book = paper_book(s, request.session)
        version, limits = limits_in_force(s)
    outcome = uncached_check(
        book, symbol=request.symbol, side=request.side, qty=request.qty, limits=limits,
        closes=lambda sym: load_prices(sessions, request.dataset, sym)["close"],
        limits_version=version, price=request.price,
    )  # fmt: skip
    return {**outcome.decision.to_dict(), "v": outcome.limits_version, "p": outcome.price}


def _cached(request: RiskCheckRequest) -> dict:
    outcome = risk.check_order(request)
    return {**outcome.decision.to_dict(), "v": outcome.limits_version, "p": outcome.price}


ORDERS = [
    RiskCheckRequest(symbol="SP500", qty=10, session="seeded"),
    RiskCheckRequest(symbol="SP500", qty=3, side="sell", session="seeded"),
    RiskCheckRequest(symbol="NASDAQ", qty=40, session="seeded", price=1000.0),
    RiskCheckRequest(symbol="AAPL", qty=500, session="seeded"),  # not held
    RiskCheckRequest(symbol="SP500", qty=5),  # the newest session
]


def test_a_cached_check_equals_the_uncached_one() -> None:
    _seed_book()
    risk.set_limits(
        LimitsChangeRequest(values={"var_limit_95": 0.01}, reason="tight VaR"), actor=RITA
    )
    for request in ORDERS:
        first, again = _cached(request), _cached(request)  # a miss, then a hit
        assert first == again == _uncached(request), request


def test_a_limit_change_applies_to_the_very_next_check() -> None:
    _seed_book()
    request = ORDERS[0]
    before = _cached(request)
    assert before["v"] == 0 and _cached(request) == before
    loose = {"var_limit_95": 1.0, "max_concentration": 1.0, "max_order_notional": 1e6}
    for version, values in (
        (1, {**loose, "max_weight_per_asset": 0.3}),
        (2, {"max_weight_per_asset": 0.2}),
    ):
        risk.set_limits(LimitsChangeRequest(values=values, reason="test"), actor=RITA)
        after = _cached(request)
        assert after["v"] == version and after == _uncached(request)
        assert after["approved"], after
        assert after["allowed_quantity"] != before["allowed_quantity"]
        before = after


def test_a_change_of_the_book_applies_to_the_very_next_check() -> None:
    account = _seed_book()
    loose = {"var_limit_95": 1.0, "max_concentration": 1.0, "max_weight_per_asset": 0.2}
    risk.set_limits(LimitsChangeRequest(values=loose, reason="test"), actor=RITA)
    request = RiskCheckRequest(symbol="SP500", qty=10, session="seeded")
    held_four = risk.check_order(request)
    assert held_four.decision.allowed_quantity < 10
    with session_scope(get_engine()) as s:
        s.execute(
            update(TradingPosition)
            .where(TradingPosition.account_id == account, TradingPosition.symbol == "SP500")
            .values(qty=1)
        )
        s.execute(update(TradingAccount).where(TradingAccount.id == account).values(equity=9e4))
    held_one = risk.check_order(request)
    assert held_one.equity == 9e4 != held_four.equity
    assert _cached(request) == _uncached(request)
    assert held_one.decision.allowed_quantity > held_four.decision.allowed_quantity


def test_a_new_import_prices_the_next_check() -> None:
    request = RiskCheckRequest(symbol="acme", qty=10, dataset="uploads")
    with pytest.raises(DataSourceError, match="no imported dataset named 'acme'"):
        risk.check_order(request)
    rows = "\n".join(f"2021-01-{d:02d},{40 + d}" for d in range(4, 9))
    data.import_upload("acme", "acme.csv", f"date,close\n{rows}\n".encode())
    assert risk.check_order(request).price == 48.0
    assert _cached(request) == _uncached(request)
