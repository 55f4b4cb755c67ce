"""Smoke test of the model-agent bench: keys and the agreement invariant (no timings)."""

from __future__ import annotations

from core.bench import SECTIONS, summary_text
from core.pipeline.bench_model import bench_model_agent
from tests.core.model_loop_fixtures import ar_prices


def test_model_agent_bench_reports_percentiles_and_agrees_with_the_naive_path() -> None:
    prices = ar_prices(380, phi=0.2, seed=2)
    report = bench_model_agent(
        repeats=1, train_bars=320, live_bars=40, naive_samples=3, kind="logistic", prices=prices
    )
    assert report["bars"] == 40 and report["features"] == 44
    assert set(report["decision_per_bar"]) == {"p50_us", "p95_us", "p99_us"}
    assert report["naive_recompute_per_bar"]["samples"] == 3
    assert report["max_abs_probability_difference_vs_naive"] < 1e-9
    assert "model_agent" in SECTIONS
    assert "model agent (logistic, 44 features)" in summary_text({"model_agent": report})
