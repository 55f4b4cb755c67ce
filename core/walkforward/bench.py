"""Benchmark of the model walk-forward for ``workbench bench`` (median and 95th percentile)."""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from core.data.synthetic import SyntheticSpec, generate
from core.features import available_features
from core.ml.bench import BENCH_XGB_PARAMS
from core.ml.models import ModelSpec
from core.walkforward.folds import WalkForwardSpec
from core.walkforward.model import walk_forward_model


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
    arr = np.asarray(times, dtype=np.float64)
    return {
        "name": "walkforward_xgb",
        "bars": bars,
        "features": len(features),
        "folds": folds,
        "repeats": repeats,
        "seconds_median": float(np.median(arr)),
        "seconds_p95": float(np.percentile(arr, 95)),
    }


__all__ = ["bench_walkforward_xgb"]
