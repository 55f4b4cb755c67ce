"""``--feed alpaca`` through the paper service, on the real alpaca-py clients against the
fake market-data service: keys and both URLs from the environment, the service's clock
injected (the fake's time), minute bars pushed by the test."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from app.operations.paper import PaperRequest, StatusRequest, feed_status
from app.services import paper
from core.config import get_settings
from tests.fakes.alpaca_stream import environ, start_market_data

pytestmark = pytest.mark.timeout(240)
SYMBOLS = ["AAPL", "MSFT", "IBM"]
TRAIN, LIVE = 260, 40


def test_an_alpaca_session_runs_through_the_service(
    isolated_workbench: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = start_market_data(tuple(SYMBOLS), start="2026-11-30", days=1, seed=5)
    try:
        for key, value in environ(fake).items():
            monkeypatch.setenv(key, value)
        get_settings.cache_clear()
        fake.push(TRAIN)  # the warm-up history
        request = PaperRequest(
            session="alp", feed="alpaca", timeframe="1Min", symbols=SYMBOLS, train_bars=TRAIN
        )
        result: dict[str, Any] = {}

        def run() -> None:
            result["summary"] = paper.run_worker(
                request, steps=LIVE, clock=fake.now, sleep=lambda _s: None
            )

        thread = threading.Thread(target=run)
        thread.start()
        assert fake.wait_subscribed(1, timeout_s=120)
        fake.push(LIVE + 2)
        thread.join(180)
        assert not thread.is_alive()
        summary = result["summary"]
        assert (summary["cycles"], summary["feed"], summary["state"]) == (
            LIVE,
            "alpaca",
            "done-steps",
        )
        view = paper.monitor(StatusRequest(session="alp"))
        assert view.session is not None and view.session["cursor"] == TRAIN + LIVE - 1
        shown = feed_status(view, now=fake.now())
        assert shown["feed"] == "alpaca" and shown["timeframe"] == "1Min"
        assert shown["market"].startswith("market open until 21:00 UTC")
    finally:
        fake.close()
        get_settings.cache_clear()
