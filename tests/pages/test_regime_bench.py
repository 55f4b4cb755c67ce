"""Smoke test of the ``app`` bench's two Regimes figures: store empty, then default stored."""

from __future__ import annotations

from app.bench import TARGET_FIRST_RENDER_S, bench_app, summary


def test_regimes_page_is_measured_with_an_empty_and_a_stored_fit() -> None:
    report = bench_app(repeats=1, pages=["regime"], probe_clicks=0)
    regime = report["regime_first_render"]
    page = report["pages"]["regime"]
    assert page["errors"] == [] and regime["errors"] == []
    assert page["title"] == ["Regimes"]
    assert regime["stored_s"] == page["first_render_s"]  # the page figure is the stored case
    assert regime["empty_store_s"] > 0 and regime["stored_cpu_s"] > 0
    assert regime["target_s"] == TARGET_FIRST_RENDER_S
    assert regime["empty_store_ratio_to_target"] == regime["empty_store_s"] / 1.5
    assert "app Regimes first render:" in summary(report)
