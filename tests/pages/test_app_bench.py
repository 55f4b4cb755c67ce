"""Smoke test of the ``app`` bench section: one page after the server's warm-up, one
session, one rerun, no cold render, no browser, no warm-up probe."""

from __future__ import annotations

from app.bench import SECTIONS, TARGET_FIRST_RENDER_S, TARGET_RERUN_S, bench_app, summary


def test_app_section_on_the_data_page() -> None:
    report = bench_app(
        repeats=1, pages=["data"], probe_clicks=0, sessions=1, cold=False, browser=False
    )
    page = report["pages"]["data"]
    assert set(report["pages"]) == {"data"}
    assert page["title"] == ["Data"] and page["errors"] == []
    assert page["mode"] == "served" and page["server_warmup_error"] is None
    assert page["server_warmup_s"] > 0 and page["server_warmup_steps"] > 0
    assert page["rerun_s"]["n"] == 1 and page["first_render_stats_s"]["n"] == 1
    assert page["first_render_s"] > 0 and page["first_render_cpu_s"] > 0
    assert page["first_render_pass"] == (page["first_render_s"] < TARGET_FIRST_RENDER_S)
    assert page["rerun_pass"] == (page["rerun_s"]["p95"] < TARGET_RERUN_S)
    assert report["max_first_render_page"] == report["max_rerun_page"] == "data"
    assert report["max_first_render_s"] == page["first_render_s"]
    assert report["target_first_render_s"] == TARGET_FIRST_RENDER_S
    assert report["target_rerun_s"] == TARGET_RERUN_S
    assert report["max_first_render_ratio_to_target"] == page["first_render_s"] / 1.5
    # After the server's warm-up, the first render imports no heavy module itself.
    assert page["heavy_modules_imported_by_first_render"] == []
    assert report["warmup_probe"] == {} and report["prime_errors"] == {}
    assert report["cold"] is None and report["browser"] is None
    text = summary(report)
    assert "app first render after the server's warm-up" in text
    assert any(line.startswith("data ") for line in text.splitlines())  # the table's row
    assert SECTIONS["app"] is bench_app
