"""Benchmark of the causal regime history (registered in :mod:`core.bench` as "regime").

It imports nothing from :mod:`core.bench`, which imports :mod:`core.regime`; the reference
prices and percentiles come from :mod:`core.benchkit`.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from core.benchkit import percentiles, reference_prices
from core.regime._causal import causal_regimes
from core.regime._spec import RegimeHistorySpec, RegimeSpec


def bench_causal_history(*, repeats: int = 3, bars: int = 5000) -> dict[str, Any]:
    """Seconds to build the default causal regime history of ``bars`` daily bars.

    The series is the embedded S&P 500 (its last ``bars`` bars); the default
    :class:`~core.regime.RegimeHistorySpec` (expanding, refit every 21 bars, first fit on
    252 bars, warm-started) and the default HMM. Target: median <= 3 s for 5,000 bars.
    ``cpu_seconds`` (process CPU time) is reported too: on a shared, loaded machine the
    wall time mostly measures the wait for a core.
    """
    prices = reference_prices().iloc[-bars:]
    spec = RegimeSpec(compute_smoothed=False)
    history = RegimeHistorySpec()
    causal_regimes(prices.iloc[:400], spec, history)  # imports and first-call costs
    times, cpu = [], []
    result = None
    for _ in range(max(1, repeats)):
        start, start_cpu = time.perf_counter(), time.process_time()
        result = causal_regimes(prices, spec, history)
        times.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    assert result is not None and result.refits is not None
    summary = percentiles(times)
    return {
        "bars": len(prices),
        "history": history.describe(),
        "refits": len(result.refits),
        "mean_em_iterations_per_refit": float(np.mean(result.refits["iterations"])),
        "seconds": summary,
        "cpu_seconds": percentiles(cpu),
        "target_seconds": 3.0,
        "within_target": bool(summary["median"] <= 3.0),
    }
