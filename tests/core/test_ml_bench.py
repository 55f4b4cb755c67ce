"""Smoke test of the ``ml`` bench figures on a tiny workload (shape and invariants, no
time thresholds)."""

from __future__ import annotations

from typing import Any

from core.ml.bench import bench_inference_latency, bench_tuning, summary_lines
from tests.fakes import dask_local

dask_client = dask_local.dask_client  # the session's 2-worker LocalCluster (fixture)


def test_tuning_and_inference_bench_shape(dask_client: Any) -> None:
    tune = bench_tuning(trials=3, bars=700, kind="logistic", repeats=1, jobs=2)
    assert tune["same_result"] is True
    assert tune["completed_trials"] + tune["pruned_trials"] == 3
    assert tune["serial"]["runs"] == tune["parallel"]["runs"] == 1
    assert tune["executor"] == "dask" and tune["jobs"] == 2
    assert tune["target_seconds"] == 8.0 and tune["ratio_to_target"] > 0
    xgb = bench_inference_latency(bars=700, calls=30, kind="xgboost")
    assert xgb["fast_path"] == "xgboost" and xgb["max_abs_diff"] < 1e-7
    assert xgb["fast_ms"]["n"] == xgb["dataframe_ms"]["n"] == 30
    assert xgb["target_p99_ms"] == 0.2
    report = {"tune_xgboost_20_trials": tune, "inference_latency_xgboost": xgb}
    lines = summary_lines(report)
    assert len(lines) == 2 and "pruned" in lines[0] and "p99" in lines[1]
