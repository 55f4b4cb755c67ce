"""Smoke test of the ``predict`` bench section on a tiny workload: the keys, the target,
and that the fast scorer and the whole path give predict_proba's numbers (no timings)."""

from __future__ import annotations

from core.bench import SECTIONS, summary_text
from core.ml.bench_predict import (
    TARGET_ROWS_PER_S,
    bench_model_scoring,
    bench_predict_path,
    rates,
)


def test_rates_are_rows_over_the_median_and_the_slow_tail() -> None:
    figures = rates(1000, [0.01, 0.01, 0.01, 0.04])
    assert figures["median"] == 100_000.0 and figures["n"] == 4
    assert figures["p95"] < figures["median"]  # the p95 repeat is a slow one


def test_scoring_and_whole_path_figures_on_a_tiny_workload() -> None:
    model = bench_model_scoring(repeats=1, tile=1)
    assert model["features"] == 44 and model["threads"] == 1
    assert model["max_abs_diff"] == 0.0  # float32 inplace_predict == predict_proba
    assert model["target_rows_per_s"] == TARGET_ROWS_PER_S == 100_000
    assert model["rows_per_s"]["n"] == model["predict_proba_rows_per_s"]["n"] == 1
    assert model["two_threads_rows_per_s"]["n"] == 1
    assert model["ratio_to_target"] == model["rows_per_s"]["median"] / TARGET_ROWS_PER_S

    path = bench_predict_path(repeats=1, universe_symbols=2, universe_bars=400, cli=False)
    assert "skipped" not in path, path.get("skipped")
    assert path["features"] == 44 and "cli" not in path
    daily, universe = path["workloads"]["ohlcv_daily"], path["workloads"]["universe_2"]
    assert daily["symbols"] == 6 and universe["symbols"] == 2 and universe["dataset"] == "uploads"
    assert universe["rows"] == 2 * (400 - 252)  # 252 warm-up bars (mom_252_21) per symbol
    for work in (daily, universe):
        assert work["max_abs_diff_vs_predict_proba"] == 0.0 and work["file_equals_run"]
        assert set(work["phases_s"]) == {"model", "symbols", "store_and_write"}
        assert sum(work["phases_s"].values()) <= work["seconds"]["median"] * 1.001
        assert work["rows_per_s"]["median"] == work["rows"] / work["seconds"]["median"]
        assert work["target_rows_per_s"] == TARGET_ROWS_PER_S

    assert "predict" in SECTIONS
    line = summary_text({"predict": {"model": model, "path": path}})
    assert line.startswith("batch predict (XGBoost, 44 features)") and "universe_2" in line
