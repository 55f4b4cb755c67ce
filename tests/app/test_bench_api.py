"""The ``api`` bench section with tiny counts: a real ``workbench api`` on 127.0.0.1 answers
every timed request with 200, and the report has the structure and sane numbers that
``workbench bench --only api`` prints (no timing is asserted: the machine may be busy)."""

from __future__ import annotations

import math

from app.bench import SECTIONS, summary_text
from app.bench_api import TARGET_P99_MS, TARGET_RISK_PER_S, bench_api

ENDPOINTS = ("risk_check", "predict_one", "predict_batch")


def test_the_api_bench_reports_latency_and_throughput_per_endpoint() -> None:
    assert SECTIONS["api"] is bench_api
    report = bench_api(
        repeats=2, requests=40, predictions=20, batches=4, batch_size=3, concurrency=4,
        alone_requests=6, workers=(1,), httpx_requests=8,
    )  # fmt: skip
    measured = report["workers"]["1"]
    assert set(measured) == set(ENDPOINTS)
    for name, m in measured.items():
        assert m["errors"] == {}, (name, m["errors"])  # every timed request answered 200
        lat = m["latency_ms"]
        assert 0 < lat["p50"] <= lat["p95"] <= lat["p99"] <= m["latency_max_ms"], (name, lat)
        assert m["rounds"] == 2 and len(m["per_s_rounds"]) == 2
        assert all(r > 0 and math.isfinite(r) for r in m["per_s_rounds"])
        # the median round's rate cannot beat all requests answered in the fastest one
        assert min(m["per_s_rounds"]) <= m["per_s"] <= max(m["per_s_rounds"])
        cpu = m["server_cpu_ms_per_request"]
        assert cpu is None or cpu >= 0
    assert measured["risk_check"]["requests"] == 40 and measured["predict_one"]["requests"] == 20
    for name in ("risk_check", "predict_one"):  # also sent one at a time
        alone = measured[name]["alone"]
        assert alone["requests"] == 6 and 0 < alone["latency_ms"]["p50"] <= alone["latency_max_ms"]
    assert "alone" not in measured["predict_batch"]
    batch = measured["predict_batch"]
    assert batch["symbols"] == 3 and batch["concurrency"] == 1
    assert batch["predictions_per_s"] == batch["per_s"] * 3
    assert report["httpx_risk_check"]["requests"] == 8

    assert report["targets"] == {
        "risk_check_p99_ms": TARGET_P99_MS,
        "predict_one_p99_ms": TARGET_P99_MS,
        "risk_check_per_s": TARGET_RISK_PER_S,
    }
    results = report["results"]
    assert results["risk_check_per_s"]["value"] == measured["risk_check"]["per_s"]
    alone_p99 = measured["risk_check"]["alone"]["latency_ms"]["p99"]
    assert results["risk_check_p99_ms"] == {
        "value": alone_p99,
        "workers": 1,
        "pass": alone_p99 < TARGET_P99_MS,
    }
    assert report["environment"]["cpus"] and len(report["environment"]["loadavg_end"]) == 3

    text = summary_text({"api": report})
    assert "api risk_check (1 worker, c=4): " in text
    assert "api predict_one (1 worker, one at a time): p50 " in text
    assert "api target risk_check_per_s: " in text and ("PASS" in text or "FAIL" in text)
