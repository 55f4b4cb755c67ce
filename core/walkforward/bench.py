"""Benchmark of the model walk-forward for ``workbench bench`` (median and 95th percentile):
serial against its folds on Dask workers."""

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


def _stats(times: list[float]) -> dict[str, float]:
    arr = np.asarray(times, dtype=np.float64)
    return {
        "seconds_median": float(np.median(arr)),
        "seconds_p95": float(np.percentile(arr, 95)),
        "runs": len(times),
    }


def bench_walkforward_xgb(
    *, bars: int = 5000, folds: int = 5, repeats: int = 3, seed: int = 0, dask: bool = True
) -> dict[str, Any]:
    """Wall time of a ``folds``-fold rolling XGBoost walk-forward on synthetic OHLCV,
    serial and with its folds on the Dask workers of :func:`core.cluster.get_client`
    (started and warmed before timing), alternating runs.

    Uses every registered feature computable from OHLCV (44 today), 5-bar sign labels,
    ``n_estimators=200, max_depth=3, n_jobs=1``. ``same_result`` compares the stitched
    out-of-sample returns and the fold table of both modes exactly.
    """
    prices, _ = generate(SyntheticSpec(bars=bars, seed=seed))
    features = available_features(prices.columns)
    test_bars = (bars - 2000) // folds
    spec = WalkForwardSpec(mode="rolling", train_bars=2000, test_bars=test_bars, folds=folds)
    model = ModelSpec(kind="xgboost", params=BENCH_XGB_PARAMS, seed=seed)
    modes = ["serial", "dask"] if dask else ["serial"]
    workers = 0
    if dask:
        from core.cluster import get_client

        client: Any = get_client()
        workers = len(client.scheduler_info(n_workers=-1)["workers"])
        warm = WalkForwardSpec(mode="rolling", train_bars=2000, test_bars=test_bars, folds=2)
        walk_forward_model(prices, features, model, warm, horizon=5, executor="dask")
    times: dict[str, list[float]] = {m: [] for m in modes}
    results: dict[str, Any] = {}
    for _ in range(repeats):
        for mode in modes:
            start = time.perf_counter()
            results[mode] = walk_forward_model(
                prices, features, model, spec, horizon=5, executor=mode
            )
            times[mode].append(time.perf_counter() - start)
    out: dict[str, Any] = {
        "name": "walkforward_xgb",
        "bars": bars,
        "features": len(features),
        "folds": folds,
        "repeats": repeats,
        **_stats(times["serial"]),
    }
    if dask:
        a, b = results["serial"], results["dask"]
        out["dask"] = {**_stats(times["dask"]), "workers": workers}
        out["speedup"] = out["seconds_median"] / out["dask"]["seconds_median"]
        out["same_result"] = bool(
            a.oos_returns.equals(b.oos_returns)
            and a.folds.drop(columns="params").equals(b.folds.drop(columns="params"))
            and a.summary() | {"seconds": 0} == b.summary() | {"seconds": 0}
        )
    return out


__all__ = ["bench_walkforward_xgb"]
