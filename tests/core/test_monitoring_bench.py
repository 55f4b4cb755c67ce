"""Smoke test of the ``monitor`` bench section: keys, shapes and invariants, no timings."""

from __future__ import annotations

from core.bench import SECTIONS
from core.monitoring.bench import bench_monitor, summary


def test_monitor_bench_smoke() -> None:
    r = bench_monitor(repeats=1, bars=25)
    assert r["workload"] == {"symbols": 3, "bars": 25, "repeats": 1, "drift_every": 10}
    plain, drift = r["plain_bar_ms"], r["drift_bar_ms"]
    assert plain["n"] + drift["n"] == 25 - 5 - 1 and drift["n"] == 2
    assert 0 < plain["p50"] <= plain["p95"] <= plain["p99"]
    assert r["target_plain_p99_ms"] == 10.0
    assert "monitoring observer (3 symbols)" in summary(r)
    assert "monitor" in SECTIONS
