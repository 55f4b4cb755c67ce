"""Benchmark of model inference for ``workbench bench`` (median and 95th percentile); the
walk-forward benchmark is :func:`core.walkforward.bench.bench_walkforward_xgb`."""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from core.data.synthetic import SyntheticSpec, generate
from core.features import available_features
from core.ml.dataset import make_dataset
from core.ml.models import ModelSpec, fit_model

BENCH_XGB_PARAMS: dict[str, Any] = {"n_estimators": 200, "max_depth": 3, "n_jobs": 1}


def _percentiles(values: list[float]) -> dict[str, float]:
    arr = np.asarray(values, dtype=np.float64)
    return {"median": float(np.median(arr)), "p95": float(np.percentile(arr, 95))}


def bench_inference_latency(
    *, bars: int = 3000, calls: int = 300, seed: int = 0, kind: str = "xgboost"
) -> dict[str, Any]:
    """Latency of one ``predict_proba`` call on a single feature row (one bar).

    The model is trained on every OHLCV feature; each call scores one row as a live
    signal would.
    """
    prices, _ = generate(SyntheticSpec(bars=bars, seed=seed))
    features = available_features(prices.columns)
    dataset = make_dataset(prices, features, horizon=5)
    params = BENCH_XGB_PARAMS if kind == "xgboost" else {}
    model = fit_model(ModelSpec(kind=kind, params=params, seed=seed), dataset.X, dataset.y)
    rows = [dataset.X.iloc[[i % len(dataset)]] for i in range(calls)]
    for row in rows[:10]:
        model.predict_proba(row)
    times = []
    for row in rows:
        start = time.perf_counter()
        model.predict_proba(row)
        times.append((time.perf_counter() - start) * 1e3)
    stats = _percentiles(times)
    return {
        "name": f"inference_latency_{kind}",
        "features": len(features),
        "calls": calls,
        "ms_median": stats["median"],
        "ms_p95": stats["p95"],
    }


__all__ = ["BENCH_XGB_PARAMS", "bench_inference_latency"]
