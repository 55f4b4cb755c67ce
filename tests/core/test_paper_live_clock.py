"""The market clock of a session's settings: Alpaca's own clock and calendar for live
Alpaca bars on the Alpaca broker (the fake trading API's /v2/clock), the offline NYSE
calendar for live bars on the simulator (or for a status line), 24/7 for datasets."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from core.broker import BrokerConfigError
from core.config import get_settings
from core.feeds.clock import AlpacaClock, AlwaysOpenClock, CalendarClock
from core.feeds.factory import market_clock
from tests.fakes.alpaca_server import FakeAlpaca

MARKET = datetime(2026, 11, 30, 15, 7, tzinfo=UTC)  # a Monday, NYSE open
WALL = datetime(2026, 12, 1, 23, 30, tzinfo=UTC)  # a Tuesday night, closed


def test_alpaca_broker_sessions_live_on_alpacas_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeAlpaca(clock_now=MARKET).start()
    try:
        monkeypatch.setenv("ALPACA_API_KEY", fake.key)
        monkeypatch.setenv("ALPACA_SECRET_KEY", fake.secret)
        monkeypatch.setenv("WORKBENCH_ALPACA_TRADING_URL", fake.url)
        get_settings.cache_clear()
        config = {"feed": "alpaca", "broker": "alpaca"}
        clock = market_clock(config, clock=lambda: WALL)
        assert isinstance(clock, AlpacaClock)
        now = clock.now()
        assert MARKET <= now < MARKET + timedelta(minutes=1)  # the fake's, not the wall's
        assert clock.is_open(now)
        assert clock.next_close(now) == datetime(2026, 11, 30, 21, 0, tzinfo=UTC)
        assert fake.count("GET", "/v2/clock") == 1
        offline = market_clock(config, clock=lambda: WALL, offline=True)
        assert isinstance(offline, CalendarClock) and not offline.is_open(offline.now())
        simulator = market_clock({"feed": "alpaca", "broker": "sim"}, clock=lambda: WALL)
        assert isinstance(simulator, CalendarClock) and simulator.now() == WALL
        replayed = market_clock({"feed": "replay", "broker": "alpaca"}, clock=lambda: WALL)
        assert isinstance(replayed, AlwaysOpenClock)
        assert fake.count("GET", "/v2/clock") == 1  # only the Alpaca clock asked
    finally:
        fake.close()
        get_settings.cache_clear()


def test_missing_keys_are_named(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("ALPACA_API_KEY", "APCA_API_KEY_ID", "ALPACA_SECRET_KEY", "APCA_API_SECRET_KEY"):
        monkeypatch.setenv(name, "")
    get_settings.cache_clear()
    try:
        with pytest.raises(BrokerConfigError, match="ALPACA_API_KEY"):
            market_clock({"feed": "alpaca", "broker": "alpaca"}, clock=lambda: WALL)
    finally:
        get_settings.cache_clear()
