"""Smoke test of the ``live`` bench section on a tiny workload: a live paper session on
the fake Alpaca data stream and trading API, its keys and invariants (no timings)."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.bench import SECTIONS, summary_text
from core.paper.bench_live import STAGES, TARGET_P99_MS, measure_live_latency, stage_rows
from tests.fakes.alpaca_server import FakeAlpaca
from tests.fakes.alpaca_stream import start_market_data


def test_stage_rows_split_the_workers_stages() -> None:
    rows = stage_rows(
        [
            {"arrival": 2.0, "decision": 10.0, "order": 12.0},
            {"arrival": 0.5, "decision": 3.0, "order": 3.0},
        ],
        [4.0, 1.0],
    )
    assert rows == {
        "arrival": [2.0, 0.5],
        "decision": [6.0, 2.0],  # without the risk checks
        "risk": [4.0, 1.0],
        "order": [2.0, 0.0],
        "total": [14.0, 3.5],  # the bar's close to its last order
    }


@pytest.fixture
def fakes() -> object:
    market = start_market_data(("AAPL", "MSFT", "IBM"), start="2026-11-30", days=2, seed=7)
    trading = FakeAlpaca(key="bench-key", secret="bench-secret", fill_mode="fill").start()
    try:
        yield market, trading
    finally:
        market.close()
        trading.close()


def test_a_tiny_live_run_times_every_bar(fakes: tuple, tmp_path: Path) -> None:
    market, trading = fakes
    report = measure_live_latency(market, trading, folder=tmp_path, bars=6, train_bars=260)
    assert report["bars"] == 6 and report["warmup_bars"] == 390 and market.pushed == 396
    assert report["orders"] == len(trading.orders)  # every order reached the trading API
    assert 0 <= report["bars_with_orders"] <= 6
    assert set(report["stages_ms"]) == set(STAGES)
    for stage in STAGES:
        figures = report["stages_ms"][stage]
        assert figures["n"] == 6 and 0.0 <= figures["median"] <= figures["p99"]
    assert report["feed_counts"]["sets"] == 6 and report["feed_counts"]["gap_filled"] == 0
    assert report["broker_http_calls_per_bar"]["median"] >= 1  # the worker's own requests
    assert report["target_p99_ms"] == TARGET_P99_MS == 50.0
    assert report["ratio_to_target"] == report["stages_ms"]["total"]["p99"] / TARGET_P99_MS
    assert "live" in SECTIONS
    assert summary_text({"live": report}).startswith("live bar -> order (6 1Min bars")
