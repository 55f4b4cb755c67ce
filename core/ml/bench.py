"""Benchmarks of the ML engine for ``workbench bench`` (medians and 95th percentiles)."""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from core.data.synthetic import SyntheticSpec, generate
from core.features import available_features
from core.ml.dataset import make_dataset
from core.ml.models import ModelSpec, fit_model
from core.ml.walkforward import WalkForwardSpec, walk_forward_model

BENCH_XGB_PARAMS: dict[str, Any] = {"n_estimators": 200, "max_depth": 3, "n_jobs": 1}


def _percentiles(values: list[float]) -> dict[str, float]:
    arr = np.asarray(values, dtype=np.float64)
    return {"median": float(np.median(arr)), "p95": float(np.percentile(arr, 95))}


def bench_walkforward_xgb(
    *, bars: int = 5000, folds: int = 5, repeats: int = 3, seed: int = 0
) -> dict[str, Any]:
    """Wall time of a ``folds``-fold rolling XGBoost walk-forward on synthetic OHLCV.

    Uses every registered feature computable from OHLCV (44 today), 5-bar sign labels,
    ``n_estimators=200, max_depth=3, n_jobs=1``.
    """
    prices, _ = generate(SyntheticSpec(bars=bars, seed=seed))
    features = available_features(prices.columns)
    test_bars = (bars - 2000) // folds
    spec = WalkForwardSpec(mode="rolling", train_bars=2000, test_bars=test_bars, folds=folds)
    model = ModelSpec(kind="xgboost", params=BENCH_XGB_PARAMS, seed=seed)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        walk_forward_model(prices, features, model, spec, horizon=5)
        times.append(time.perf_counter() - start)
    stats = _percentiles(times)
    return {
        "name": "walkforward_xgb",
        "bars": bars,
        "features": len(features),
        "folds": folds,
        "repeats": repeats,
        "seconds_median": stats["median"],
        "seconds_p95": stats["p95"],
    }


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
    model = fit_model(ModelSpec(kind=kind, params=params, seed=seed), dataset.X, dataset.y)  # type: ignore[arg-type]
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


__all__ = ["bench_inference_latency", "bench_walkforward_xgb"]
