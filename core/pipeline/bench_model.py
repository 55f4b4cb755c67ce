"""Per-bar latency of the model agent (no timed asserts anywhere: report only).

An XGBoost model on the 44 catalogue features drives a :class:`ModelPipeline` over the
embedded AAPL daily bars. Reported: the per-bar latency of the whole decision
(:meth:`ModelPipeline.step`: online features, one-row scoring, sizing, regime filter,
order) and of the online features alone, against the naive path a live loop would take
without them (``compute_features`` on the history up to the bar, then
``predict_proba`` on its last row), with the largest probability difference between
the two on the sampled bars.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

TARGET_P99_US = 5_000.0
"""Per symbol and bar: five symbols' decisions fit well inside the live p99 budget of
50 ms per bar (bar arrival to order)."""


def _pct(values_us: np.ndarray) -> dict[str, float]:
    p50, p95, p99 = np.percentile(values_us, [50, 95, 99])
    return {"p50_us": float(p50), "p95_us": float(p95), "p99_us": float(p99)}


def bench_model_agent(
    *,
    repeats: int = 3,
    train_bars: int = 1500,
    live_bars: int = 1000,
    naive_samples: int = 30,
    kind: str = "xgboost",
    prices: pd.DataFrame | None = None,
    clock: Callable[[], int] = time.perf_counter_ns,
) -> dict[str, Any]:
    """Latency percentiles of the model agent's decision per bar (see the module)."""
    from core.features import available_features, compute_features
    from core.ml import ModelSpec, fit_model, make_dataset
    from core.pipeline import ModelPipeline, OnlineFeatures, SymbolBook

    if prices is None:
        from core.data.loaders import embedded_sources

        prices = embedded_sources()["ohlcv_daily"].load("AAPL")
    names = available_features(prices.columns)
    data = make_dataset(prices.iloc[:train_bars], names, horizon=5)
    model = fit_model(ModelSpec(kind=kind, seed=0), data.X, data.y)
    end = min(len(prices), train_bars + live_bars)
    bars = [dict(zip(prices.columns, row, strict=True)) for row in prices.to_numpy()]
    step_us: list[float] = []
    feature_us: list[float] = []
    probabilities = np.full(end, np.nan)
    for _ in range(max(1, repeats)):
        pipe = ModelPipeline(model=model, label="bench")
        pipe.warm_up(prices.iloc[:train_bars])
        online = OnlineFeatures(names)
        for row in bars[:train_bars]:
            online.absorb(row["open"], row["high"], row["low"], row["close"], row["volume"])
        book = SymbolBook(equity=100_000.0)
        for t in range(train_bars, end):
            row = bars[t]
            t0 = clock()
            decision = pipe.step(row, book)
            step_us.append((clock() - t0) / 1e3)
            t0 = clock()
            online.update(row["open"], row["high"], row["low"], row["close"], row["volume"])
            feature_us.append((clock() - t0) / 1e3)
            probabilities[t] = decision.probability
    sample = np.linspace(train_bars, end - 1, naive_samples).astype(int)
    naive_us = []
    diffs = []
    for t in sample:
        t0 = clock()
        row = compute_features(prices.iloc[: t + 1], names).iloc[[-1]]
        p = float(model.predict_proba(row)[0, 1])
        naive_us.append((clock() - t0) / 1e3)
        diffs.append(abs(p - probabilities[t]))
    step = _pct(np.asarray(step_us))
    naive = _pct(np.asarray(naive_us))
    return {
        "model": kind,
        "features": len(names),
        "bars": end - train_bars,
        "repeats": max(1, repeats),
        "decision_per_bar": step,
        "online_features_per_bar": _pct(np.asarray(feature_us)),
        "naive_recompute_per_bar": {**naive, "samples": len(sample)},
        "speedup_p50": naive["p50_us"] / step["p50_us"],
        "max_abs_probability_difference_vs_naive": float(np.max(diffs)),
        "target_p99_us": TARGET_P99_US,
        "meets_target": step["p99_us"] < TARGET_P99_US,
    }


def summary(report: dict[str, Any]) -> str:
    """One digest line."""
    if "decision_per_bar" not in report:
        return f"model agent: {report}"
    d, n = report["decision_per_bar"], report["naive_recompute_per_bar"]
    diff = report["max_abs_probability_difference_vs_naive"]
    return (
        f"model agent ({report['model']}, {report['features']} features): decision "
        f"{d['p50_us']:.0f} us p50, {d['p99_us']:.0f} us p99 per symbol-bar (target p99 < "
        f"{report['target_p99_us']:.0f} us); naive recompute {n['p50_us'] / 1e3:.1f} ms p50 "
        f"({report['speedup_p50']:.0f}x); max |dP| {diff:.1e}"
    )


__all__ = ["TARGET_P99_US", "bench_model_agent", "summary"]
