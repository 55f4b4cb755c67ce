"""Benchmarks of the ML engine for ``workbench bench`` (section ``ml``): the Optuna search
of ``workbench train --tune`` (serial against every core, with pruned trials) and the
latency of scoring one bar through a one-row DataFrame against :class:`OneBarPredictor`.

The walk-forward benchmark is :func:`core.walkforward.bench.bench_walkforward_xgb`.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from core.benchkit import percentiles, reference_prices
from core.data.synthetic import SyntheticSpec, generate
from core.features import available_features
from core.ml.dataset import MLDataset, make_dataset, time_split
from core.ml.inference import OneBarPredictor
from core.ml.models import ModelSpec, fit_model

BENCH_XGB_PARAMS: dict[str, Any] = {"n_estimators": 200, "max_depth": 3, "n_jobs": 1}
TARGET_TUNE_SECONDS = 8.0
"""Issue 11: 20 XGBoost trials on 2 cores (the search only, without process start-up)."""
TARGET_INFERENCE_P99_MS = 0.2
"""Issue 11: p99 of one XGBoost bar through the fast path."""


def _train_rows(bars: int | None, seed: int) -> MLDataset:
    """The training rows of ``workbench train``'s defaults: every OHLCV feature, 5-bar
    sign labels, the last 25% held out; the S&P 500 series, or ``bars`` synthetic bars."""
    if bars is None:
        prices = reference_prices()
    else:
        prices = generate(SyntheticSpec(bars=bars, seed=seed))[0]
    dataset = make_dataset(prices, available_features(prices.columns), horizon=5)
    return time_split(dataset, test_fraction=0.25, embargo=5)[0]


def bench_tuning(
    *,
    trials: int = 20,
    repeats: int = 1,
    kind: str = "xgboost",
    bars: int | None = None,
    seed: int = 0,
    jobs: int | None = None,
) -> dict[str, Any]:
    """Wall and CPU time of :func:`core.ml.tuning.tune` for ``trials`` trials, serial and
    with its trial batches on the Dask workers of :func:`core.cluster.get_client`
    (``WORKBENCH_DASK_WORKERS``, default every core; started and warmed before timing),
    alternating runs; medians over ``repeats``. The study is in memory.

    ``same_result`` checks that both modes found the same trials, values and best
    parameters (the same batches of :data:`core.ml.tuning.TRIAL_BATCH` trials).
    """
    from core.cluster import get_client
    from core.ml.tuning import TRIAL_BATCH, tune

    train = _train_rows(bars, seed)
    client: Any = get_client()
    parallel_jobs = jobs or len(client.scheduler_info(n_workers=-1)["workers"])
    tune(train, kind, n_trials=2, seed=seed + 1, executor="dask", batch_size=2)  # warm-up
    runs: dict[str, list[tuple[float, float]]] = {"serial": [], "parallel": []}
    results: dict[str, Any] = {}
    for _ in range(max(1, repeats)):
        for mode, executor in (("serial", "serial"), ("parallel", "dask")):
            wall, cpu = time.perf_counter(), time.process_time()
            results[mode] = tune(
                train, kind, n_trials=trials, seed=seed, executor=executor, n_jobs=1
            )
            runs[mode].append((time.perf_counter() - wall, time.process_time() - cpu))
    serial, parallel = results["serial"], results["parallel"]

    def summary(mode: str) -> dict[str, float]:
        walls = [w for w, _ in runs[mode]]
        return {
            "seconds_median": float(np.median(walls)),
            "seconds_max": float(np.max(walls)),
            "cpu_seconds_median": float(np.median([c for _, c in runs[mode]])),
            "runs": len(walls),
        }

    best = summary("parallel")["seconds_median"]
    return {
        "name": f"tune_{kind}",
        "rows": len(train),
        "features": len(train.feature_names),
        "trials": trials,
        "folds": 5,
        "jobs": parallel_jobs,
        "executor": "dask",
        "batch_size": TRIAL_BATCH,
        "serial": summary("serial"),
        "parallel": summary("parallel"),
        "speedup": summary("serial")["seconds_median"] / best,
        "pruned_trials": parallel.n_pruned,
        "completed_trials": parallel.n_trials - parallel.n_pruned,
        "best_cv_auc": parallel.best_value,
        "same_result": serial.best_params == parallel.best_params
        and serial.trial_values == parallel.trial_values
        and serial.n_pruned == parallel.n_pruned,
        "target_seconds": TARGET_TUNE_SECONDS,
        "ratio_to_target": best / TARGET_TUNE_SECONDS,
    }


def bench_inference_latency(
    *, bars: int = 3000, calls: int = 2000, block: int = 200, seed: int = 0, kind: str = "xgboost"
) -> dict[str, Any]:
    """Latency of scoring one bar: ``predict_proba`` on a one-row DataFrame against
    :class:`OneBarPredictor` on the same row as a numpy array.

    The model is trained on every OHLCV feature; each call scores one row as a live
    signal would. The paths alternate in blocks of ``block`` calls over the same rows (one
    call each way would let the DataFrame path's garbage and cache misses land in the
    fast path's tail). ``max_abs_diff`` is the largest gap between their probabilities.
    """
    prices, _ = generate(SyntheticSpec(bars=bars, seed=seed))
    features = available_features(prices.columns)
    dataset = make_dataset(prices, features, horizon=5)
    params = BENCH_XGB_PARAMS if kind == "xgboost" else {}
    model = fit_model(ModelSpec(kind=kind, params=params, seed=seed), dataset.X, dataset.y)
    fast = OneBarPredictor(model)
    values = dataset.X.to_numpy()
    frames = [dataset.X.iloc[[i % len(dataset)]] for i in range(calls)]
    rows = [values[i % len(dataset)] for i in range(calls)]
    for frame, row in zip(frames[:20], rows[:20], strict=True):
        model.predict_proba(frame)
        fast(row)
    slow_s, fast_s, p_slow, p_fast = [], [], [], []
    for lo in range(0, calls, block):
        for frame in frames[lo : lo + block]:
            start = time.perf_counter()
            p = model.predict_proba(frame)[0, 1]
            slow_s.append(time.perf_counter() - start)
            p_slow.append(float(p))
        for row in rows[lo : lo + block]:
            start = time.perf_counter()
            q = fast(row)
            fast_s.append(time.perf_counter() - start)
            p_fast.append(q)
    diff = float(np.max(np.abs(np.asarray(p_slow) - np.asarray(p_fast))))
    slow, quick = percentiles(slow_s, scale=1e3), percentiles(fast_s, scale=1e3)
    out: dict[str, Any] = {
        "name": f"inference_latency_{kind}",
        "features": len(features),
        "calls": calls,
        "fast_path": fast.path,
        "dataframe_ms": slow,
        "fast_ms": quick,
        "speedup_median": slow["median"] / quick["median"],
        "max_abs_diff": diff,
        "ms_median": quick["median"],
        "ms_p99": quick["p99"],
    }
    if kind == "xgboost":
        out["target_p99_ms"] = TARGET_INFERENCE_P99_MS
        out["ratio_to_target"] = quick["p99"] / TARGET_INFERENCE_P99_MS
    return out


def bench_ml_engine(*, repeats: int = 3) -> dict[str, Any]:
    """Tuning (20 XGBoost trials on the S&P 500, serial and parallel) and one-bar
    inference for XGBoost and logistic regression."""
    return {
        "tune_xgboost_20_trials": bench_tuning(repeats=max(1, min(repeats, 3))),
        "inference_latency_xgboost": bench_inference_latency(kind="xgboost"),
        "inference_latency_logistic": bench_inference_latency(kind="logistic"),
    }


def summary_lines(report: dict[str, Any]) -> list[str]:
    """Digest lines of :func:`bench_ml_engine`'s figures in a bench report."""
    lines = []
    t = report.get("tune_xgboost_20_trials")
    if t:
        lines.append(
            f"tune {t['trials']} XGBoost trials: {t['parallel']['seconds_median']:.2f} s on "
            f"{t['jobs']} Dask workers, {t['serial']['seconds_median']:.2f} s serial "
            f"({t['pruned_trials']} pruned, same result {t['same_result']}; target <= "
            f"{t['target_seconds']:g} s)"
        )
    for kind in ("xgboost", "logistic"):
        m = report.get(f"inference_latency_{kind}")
        if m and "fast_ms" in m:
            target = f"; target p99 < {m['target_p99_ms']:g} ms" if "target_p99_ms" in m else ""
            lines.append(
                f"one-bar {kind}: fast path {m['fast_ms']['median']:.3f} ms median, "
                f"{m['fast_ms']['p99']:.3f} p99 (DataFrame {m['dataframe_ms']['median']:.2f} ms"
                f" median, {m['dataframe_ms']['p99']:.2f} p99{target})"
            )
    return lines


__all__ = [
    "BENCH_XGB_PARAMS",
    "TARGET_INFERENCE_P99_MS",
    "TARGET_TUNE_SECONDS",
    "bench_inference_latency",
    "bench_ml_engine",
    "bench_tuning",
    "summary_lines",
]
