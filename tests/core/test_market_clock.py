"""Market clocks: golden answers from known NYSE sessions (hand-written from the NYSE's
published hours, not computed by the library under test), for the offline calendar clock
and for alpaca-py's TradingClient against the fake Alpaca server."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from alpaca.trading.client import TradingClient

from core.feeds.clock import (
    AlpacaClock,
    AlwaysOpenClock,
    CalendarClock,
    MarketClock,
    market_status_text,
)
from tests.fakes.alpaca_server import FakeAlpaca

pytestmark = pytest.mark.timeout(60)


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


# (at, is_open, next_open, next_close, status text)
GOLDEN = [
    # a regular Tuesday, open (EST: 09:30-16:00 New York = 14:30-21:00 UTC)
    (
        utc(2026, 12, 1, 15),
        True,
        utc(2026, 12, 2, 14, 30),
        utc(2026, 12, 1, 21),
        "market open until 21:00 UTC",
    ),
    # the same evening: closed until Wednesday's open
    (
        utc(2026, 12, 1, 22),
        False,
        utc(2026, 12, 2, 14, 30),
        utc(2026, 12, 2, 21),
        "market closed until Wed 2 Dec 14:30 UTC",
    ),
    # the closing minute itself is closed; the opening minute is open
    (
        utc(2026, 12, 1, 21),
        False,
        utc(2026, 12, 2, 14, 30),
        utc(2026, 12, 2, 21),
        "market closed until Wed 2 Dec 14:30 UTC",
    ),
    (
        utc(2026, 12, 1, 14, 30),
        True,
        utc(2026, 12, 2, 14, 30),
        utc(2026, 12, 1, 21),
        "market open until 21:00 UTC",
    ),
    # Thanksgiving (Thu 26 Nov 2026): a holiday
    (
        utc(2026, 11, 26, 16),
        False,
        utc(2026, 11, 27, 14, 30),
        utc(2026, 11, 27, 18),
        "market closed until Fri 27 Nov 14:30 UTC",
    ),
    # the day after Thanksgiving: early close at 13:00 New York (18:00 UTC)
    (
        utc(2026, 11, 27, 17, 59),
        True,
        utc(2026, 11, 30, 14, 30),
        utc(2026, 11, 27, 18),
        "market open until 18:00 UTC",
    ),
    (
        utc(2026, 11, 27, 18, 30),
        False,
        utc(2026, 11, 30, 14, 30),
        utc(2026, 11, 30, 21),
        "market closed until Mon 30 Nov 14:30 UTC",
    ),
    # a weekend
    (
        utc(2026, 11, 28, 12),
        False,
        utc(2026, 11, 30, 14, 30),
        utc(2026, 11, 30, 21),
        "market closed until Mon 30 Nov 14:30 UTC",
    ),
    # Christmas Eve early close (Thu 24 Dec 2026), then Christmas
    (
        utc(2026, 12, 24, 15),
        True,
        utc(2026, 12, 28, 14, 30),
        utc(2026, 12, 24, 18),
        "market open until 18:00 UTC",
    ),
    # Good Friday (3 Apr 2026) is a holiday; EDT: 09:30 New York is 13:30 UTC
    (
        utc(2026, 4, 3, 14),
        False,
        utc(2026, 4, 6, 13, 30),
        utc(2026, 4, 6, 20),
        "market closed until Mon 6 Apr 13:30 UTC",
    ),
    # the Friday before the switch to daylight saving time (8 Mar 2026) opens at 14:30 UTC,
    # the Monday after at 13:30 UTC
    (
        utc(2026, 3, 6, 14),
        False,
        utc(2026, 3, 6, 14, 30),
        utc(2026, 3, 6, 21),
        "market closed until 14:30 UTC",
    ),
    (
        utc(2026, 3, 7, 0),
        False,
        utc(2026, 3, 9, 13, 30),
        utc(2026, 3, 9, 20),
        "market closed until Mon 9 Mar 13:30 UTC",
    ),
]


@pytest.fixture
def fake() -> Iterator[FakeAlpaca]:
    server = FakeAlpaca().start()
    try:
        yield server
    finally:
        server.close()


def alpaca_clock(fake: FakeAlpaca, **options: object) -> AlpacaClock:
    client = TradingClient(fake.key, fake.secret, paper=True, url_override=fake.url)
    return AlpacaClock(client, **options)  # type: ignore[arg-type]


@pytest.mark.parametrize("at, is_open, next_open, next_close, text", GOLDEN)
def test_calendar_clock_golden(
    at: datetime, is_open: bool, next_open: datetime, next_close: datetime, text: str
) -> None:
    clock = CalendarClock("XNYS", clock=lambda: at)
    assert isinstance(clock, MarketClock)
    assert clock.is_open(at) is is_open
    assert clock.next_open(at) == next_open
    assert clock.next_close(at) == next_close
    assert market_status_text(clock) == text
    assert market_status_text(clock, at.replace(tzinfo=None)) == text  # naive means UTC


def test_alpaca_clock_golden(fake: FakeAlpaca) -> None:
    clock = alpaca_clock(fake)
    for at, is_open, next_open, next_close, text in GOLDEN:
        assert clock.is_open(at) is is_open, at
        assert clock.next_open(at) == next_open, at
        assert clock.next_close(at) == next_close, at
        assert market_status_text(clock, at) == text
    calendar_calls = fake.count("GET", "/v2/calendar")
    assert 1 <= calendar_calls <= 2 * 4  # windows are cached, not fetched per question
    clock.is_open(utc(2026, 12, 1, 15))
    assert fake.count("GET", "/v2/calendar") == calendar_calls


def test_alpaca_clock_now_is_alpacas_time_advanced_locally(fake: FakeAlpaca) -> None:
    fake.clock_now = utc(2026, 12, 1, 22)
    mono = [1000.0]
    clock = alpaca_clock(fake, sync_every_s=60.0, monotonic=lambda: mono[0])
    assert clock.now() == utc(2026, 12, 1, 22)
    mono[0] += 30.0
    fake.clock_now = utc(2030, 1, 1)  # not asked again inside sync_every_s
    assert clock.now() == utc(2026, 12, 1, 22, 0, 30)
    assert fake.count("GET", "/v2/clock") == 1
    mono[0] += 30.0
    assert clock.now() == utc(2030, 1, 1)
    assert fake.count("GET", "/v2/clock") == 2
    fake.clock_now = utc(2026, 12, 1, 22)
    clock = alpaca_clock(fake)
    assert market_status_text(clock) == "market closed until Wed 2 Dec 14:30 UTC"


def test_always_open_clock() -> None:
    at = utc(2026, 11, 28, 3)  # a Saturday night
    clock = AlwaysOpenClock(clock=lambda: at)
    assert isinstance(clock, MarketClock)
    assert clock.now() == at
    assert clock.is_open(at)
    assert clock.next_open(at) == at
    assert clock.next_close(at).year == 9999
    assert market_status_text(clock) == "market always open (24/7 clock)"


def test_calendar_out_of_range_is_a_sentence() -> None:
    clock = CalendarClock(start="2020-01-01", end="2020-12-31")
    with pytest.raises(ValueError, match=r"has no open after 2021-01-01 .* extend the calendar"):
        clock.next_open(utc(2021, 1, 1))
