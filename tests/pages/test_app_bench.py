"""Smoke test of the ``app`` bench section: one page, one rerun, no warm-up probe."""

from __future__ import annotations

from app.bench import SECTIONS, TARGET_FIRST_RENDER_S, TARGET_RERUN_S, bench_app, summary


def test_app_section_on_the_data_page() -> None:
    report = bench_app(repeats=1, pages=["data"], probe_clicks=0)
    page = report["pages"]["data"]
    assert set(report["pages"]) == {"data"}
    assert page["title"] == ["Data"] and page["errors"] == []
    assert page["rerun_s"]["n"] == 1
    assert page["first_render_s"] > 0 and page["first_render_cpu_s"] > 0
    assert report["max_first_render_page"] == report["max_rerun_page"] == "data"
    assert report["max_first_render_s"] == page["first_render_s"]
    assert report["target_first_render_s"] == TARGET_FIRST_RENDER_S
    assert report["target_rerun_s"] == TARGET_RERUN_S
    assert report["max_first_render_ratio_to_target"] == page["first_render_s"] / 1.5
    assert "vectorbt" not in page["heavy_modules_after_first_render"]
    assert report["warmup_probe"] == {} and report["prime_errors"] == {}
    assert "app first render: max" in summary(report)
    assert SECTIONS["app"] is bench_app
