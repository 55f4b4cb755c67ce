"""Latency and throughput of the decision pipeline (no timed asserts anywhere: report only)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from core.data.synthetic import SyntheticSpec, generate
from core.ensemble import EnsembleSpec, make_selector, tune_agents
from core.pipeline.pipeline import DecisionPipeline, SizingSpec, SymbolBook, _bars
from core.pipeline.replay import replay
from core.regime import RegimeSpec, fit_regimes


def _percentiles(values_us: np.ndarray) -> dict[str, float]:
    p50, p95, p99 = np.percentile(values_us, [50, 95, 99])
    return {
        "p50_us": float(p50),
        "p95_us": float(p95),
        "p99_us": float(p99),
        "max_us": float(values_us.max()),
    }


def build_pipeline(
    prices: pd.DataFrame,
    *,
    train_bars: int,
    selector: str = "contextual",
    seed: int = 0,
    symbol: str = "",
    sizing: SizingSpec | None = None,
) -> DecisionPipeline:
    """Tune agents and fit the regime model on ``prices[:train_bars]``; a fresh pipeline
    (``sizing``: default :class:`SizingSpec`)."""
    spec = EnsembleSpec()
    train = prices.iloc[:train_bars]
    agents = tune_agents(train, spec)
    model = fit_regimes(train, RegimeSpec(seed=seed, compute_smoothed=False)).model
    return DecisionPipeline(
        agents=agents,
        selector=make_selector(selector, [a.name for a in agents], spec.selector, seed=seed),
        regime_model=model,
        cost=spec.cost,
        symbol=symbol,
        sizing=sizing,
    )


def _step_latencies(
    pipes: list[DecisionPipeline],
    bars: list[list[dict[str, Any]]],
    clock: Callable[[], int] = time.perf_counter_ns,
) -> tuple[np.ndarray, np.ndarray]:
    """Step every pipeline once per bar; per-decision and per-bar (all symbols) latency."""
    n_bars = min(len(b) for b in bars)
    per_decision = np.empty((n_bars, len(pipes)))
    per_bar = np.empty(n_bars)
    state = SymbolBook(equity=100_000.0)
    for t in range(n_bars):
        start = clock()
        for j, pipe in enumerate(pipes):
            t0 = clock()
            pipe.step(bars[j][t], state)
            per_decision[t, j] = (clock() - t0) / 1e3
        per_bar[t] = (clock() - start) / 1e3
    return per_decision.ravel(), per_bar


def bench_pipeline(
    prices: pd.DataFrame | None = None,
    *,
    train_bars: int = 2500,
    n_symbols: int = 20,
    multi_bars: int = 750,
    seed: int = 0,
    clock: Callable[[], int] = time.perf_counter_ns,
) -> dict[str, Any]:
    """Per-decision latency (one symbol, ``n_symbols`` symbols) and batch throughput.

    Parameters
    ----------
    prices : DataFrame, optional
        One symbol's history (default: the embedded S&P 500, 5,031 bars). Agents and the
        regime model are fitted on its first ``train_bars`` bars; every bar is stepped.
    n_symbols : int
        Pipelines stepped per bar in the multi-symbol run (synthetic symbols of
        ``multi_bars`` bars, one seed each, sharing the fitted agents and regime model).
    seed : int
    clock : callable
        Nanosecond clock read around each step (tests inject a fake one).

    Returns
    -------
    dict
        ``one_symbol`` and ``multi_symbol`` latency percentiles (us per decision; the
        multi run also per bar for all symbols), ``batch`` decisions per second of the
        vectorized replay over ``prices``, and its agreement with stepping.
    """
    if prices is None:
        from core.data.loaders import embedded_sources

        prices = embedded_sources()["ohlcv_daily"].load("SP500")
    template = build_pipeline(prices, train_bars=train_bars, seed=seed, symbol="ONE")

    one = template.fresh()
    per_decision, _ = _step_latencies([one], [_bars(prices, "ONE")], clock)

    symbols = [f"SYN{i:02d}" for i in range(n_symbols)]
    frames = [generate(SyntheticSpec(bars=multi_bars, seed=seed + i))[0] for i in range(n_symbols)]
    pipes = [template.fresh(symbol=s) for s in symbols]
    multi_decision, multi_bar = _step_latencies(
        pipes, [_bars(f, s) for f, s in zip(frames, symbols, strict=True)], clock
    )

    replay(prices, template, vectorized=True)  # warm caches once
    t0 = time.perf_counter()
    batch = replay(prices, template, vectorized=True)
    seconds = time.perf_counter() - t0
    t0 = time.perf_counter()
    stepped = replay(prices, template, vectorized=False)
    step_seconds = time.perf_counter() - t0
    diff = float(np.max(np.abs(batch["target_position"] - stepped["target_position"])))
    return {
        "bars": len(prices),
        "agents": [a.describe() for a in template.agents],
        "one_symbol": _percentiles(per_decision),
        "multi_symbol": {
            "symbols": n_symbols,
            "bars": multi_bars,
            "per_decision": _percentiles(multi_decision),
            "per_bar_all_symbols": _percentiles(multi_bar),
        },
        "batch": {
            "decisions": len(batch),
            "seconds": seconds,
            "decisions_per_second": len(batch) / seconds,
            "step_replay_decisions_per_second": len(stepped) / step_seconds,
            "max_abs_target_difference_vs_step": diff,
        },
    }
