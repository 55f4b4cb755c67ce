"""Sweep benchmarks for ``workbench bench``: the numpy lower bound, memory in a fresh
interpreter and the single-backtest latency percentiles (never timed unit tests).

The lower bound is the textbook vectorized sweep: SMAs from one cumulative sum,
positions ``SMA(fast) > SMA(slow)``, strategy returns ``held * asset return`` and only
the final equity and Sharpe ratio, with no costs, no order accounting and no drawdowns.
It is blocked like the kernel (contiguous views of the slow SMAs, 64 pairs at a time),
so the ratio kernel / bound measures the kernel's extra work, not memory traffic.
"""

from __future__ import annotations

import gc
import time
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from core.benchkit import grid_pairs, percentiles, run_python_json

if TYPE_CHECKING:
    from core.backtest.spec import BacktestSpec

TARGET_RATIO = 1.5
"""Kernel time / bound time the issue asks for."""
TARGET_MEMORY_MB = 600.0
"""Peak memory of a 500,000-bar x 2,258-pair sweep in a fresh interpreter."""
BIG_BARS = 500_000


def _sma_rows(csum: np.ndarray, windows: np.ndarray) -> np.ndarray:
    n = csum.shape[0] - 1
    out = np.full((windows.shape[0], n), np.nan)
    for j, w in enumerate(windows.tolist()):
        if w <= n:
            out[j, w - 1 :] = (csum[w:] - csum[:-w]) / w
    return out


def bound_sweep(
    close: np.ndarray, fast: np.ndarray, slow: np.ndarray, periods_per_year: float = 252.0
) -> tuple[np.ndarray, np.ndarray]:
    """Final equity multiple and Sharpe ratio of every (fast, slow) pair, the textbook
    way (the lower bound of :func:`core.sweep.sweep_ma_crossover`'s work).

    >>> close = 100 * np.exp(np.cumsum(np.random.default_rng(0).normal(0, 0.01, 300)))
    >>> final, sharpe = bound_sweep(close, *grid_pairs(np.array([5, 10]), np.array([20, 50])))
    >>> final.shape, bool(np.isfinite(sharpe).all())
    ((4,), True)
    """
    close = np.asarray(close, dtype=np.float64)
    csum = np.concatenate([[0.0], np.cumsum(close)])
    ufast, fi = np.unique(fast, return_inverse=True)
    uslow, si = np.unique(slow, return_inverse=True)
    fast_ma, slow_ma = _sma_rows(csum, ufast), _sma_rows(csum, uslow)
    ret = close[1:] / close[:-1] - 1.0
    final = np.empty(fi.shape[0])
    sharpe = np.empty(fi.shape[0])
    ann = np.sqrt(periods_per_year)
    chunk = 64
    with np.errstate(invalid="ignore"):
        for lo in range(0, fi.shape[0], chunk):
            hi = min(lo + chunk, fi.shape[0])
            pos = np.empty((hi - lo, close.shape[0]), dtype=bool)
            r0 = lo
            while r0 < hi:  # runs sharing the fast window over consecutive slow windows
                r1 = r0 + 1
                while r1 < hi and fi[r1] == fi[r0] and si[r1] == si[r1 - 1] + 1:
                    r1 += 1
                s0 = int(si[r0])
                np.greater(fast_ma[fi[r0]], slow_ma[s0 : s0 + r1 - r0], out=pos[r0 - lo : r1 - lo])
                r0 = r1
            strat = pos[:, :-1] * ret
            sharpe[lo:hi] = strat.mean(axis=1) / strat.std(axis=1, ddof=1) * ann
            strat += 1.0
            final[lo:hi] = strat.prod(axis=1)
    return final, sharpe


def synthetic_minute_prices(bars: int, seed: int = 0) -> pd.DataFrame:
    """A seeded random-walk OHLC frame of ``bars`` one-minute bars (for size benchmarks).

    >>> synthetic_minute_prices(3, seed=1).shape
    (3, 2)
    """
    rng = np.random.default_rng(seed)
    close = 100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.001, bars)))
    open_ = close * np.exp(rng.normal(0.0, 0.0003, bars))
    index = pd.date_range("2000-01-03", periods=bars, freq="min", name="date")
    return pd.DataFrame({"open": open_, "close": close}, index=index)


_MEMORY = """
import json, time
def status():
    out = {}
    for line in open("/proc/self/status"):
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            out[key] = int(value.split()[0]) / 1024
    return out
t0 = time.perf_counter()
import numpy as np
from core.sweep import sweep_ma_crossover
from core.benchkit import FAST, SLOW, grid_pairs, reference_prices
from core.sweep.bench import synthetic_minute_prices
bars = %(bars)d
prices = reference_prices() if bars == 0 else synthetic_minute_prices(bars, seed=%(seed)d)
fast, slow = grid_pairs(FAST, SLOW)
before = status()
t1 = time.perf_counter()
res = sweep_ma_crossover(prices, fast, slow)
t2 = time.perf_counter()
after = status()
print(json.dumps({"bars": len(prices), "combinations": res.combinations,
                  "import_and_load_s": t1 - t0, "sweep_s": t2 - t1, "total_s": t2 - t0,
                  "rss_before_sweep_mb": before["VmRSS"], "peak_rss_mb": after["VmHWM"],
                  "sweep_rss_delta_mb": after["VmHWM"] - before["VmRSS"]}))
"""


def fresh_process_sweep(bars: int = 0, seed: int = 0) -> dict[str, Any]:
    """Run one sweep in a new interpreter (``python -c``) and read its own peak RSS.

    ``bars=0`` is the reference S&P 500 workload; otherwise a seeded synthetic minute
    series of that length. The peak is ``VmHWM`` of the child's own address space, so
    unlike ``ru_maxrss`` it does not inherit the parent's peak across fork and exec.
    """
    code = _MEMORY % {"bars": bars, "seed": seed}
    return run_python_json(code, timeout=1800)


def bench_kernel_vs_bound(
    prices: pd.DataFrame, fast: np.ndarray, slow: np.ndarray, repeats: int
) -> dict[str, Any]:
    """Kernel and lower-bound sweeps timed alternately (same machine load) and their ratio."""
    from core.sweep import sweep_ma_crossover

    close = prices["close"].to_numpy(dtype=np.float64)
    sweep_ma_crossover(prices, fast[:10], slow[:10])
    bound_sweep(close, fast[:10], slow[:10])
    kernel, bound = [], []
    for _ in range(repeats):
        start = time.perf_counter()
        sweep_ma_crossover(prices, fast, slow)
        kernel.append(time.perf_counter() - start)
        start = time.perf_counter()
        bound_sweep(close, fast, slow)
        bound.append(time.perf_counter() - start)
    k, b = percentiles(kernel), percentiles(bound)
    return {
        "kernel_seconds": k,
        "bound_seconds": b,
        "kernel_combinations_per_s": fast.shape[0] / k["median"],
        "bound_combinations_per_s": fast.shape[0] / b["median"],
        "ratio_kernel_to_bound": k["median"] / b["median"],
        "target_ratio": TARGET_RATIO,
    }


def bench_single_backtest(prices: pd.DataFrame, repeats: int) -> dict[str, Any]:
    """One vectorbt backtest after warm-up (:func:`core.backtest.warm_numba`, then three
    calls): p50/p95/p99, and the full (generation 2) garbage collections that fall
    inside the timed calls."""
    from core.backtest import run_backtest, warm_numba
    from core.strategies import run_strategy

    positions = run_strategy("ma_crossover", prices, {"fast": 20, "slow": 100})
    warm_numba()  # as the app and workbench setup do; it freezes what the warm-up left
    for _ in range(3):
        run_backtest(prices, positions)
    full: list[float] = []
    started: list[float] = []

    def watch(phase: str, info: dict[str, Any]) -> None:
        if info.get("generation") != 2:
            return
        if phase == "start":
            started.append(time.perf_counter())
        elif started:
            full.append(time.perf_counter() - started.pop())

    gc.callbacks.append(watch)
    try:
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            run_backtest(prices, positions)
            times.append(time.perf_counter() - start)
    finally:
        gc.callbacks.remove(watch)
    stats = percentiles(times)
    return {
        **stats,
        "p95_over_median": stats["p95"] / stats["median"],
        "full_gc_runs": len(full),
        "full_gc_seconds_max": max(full) if full else 0.0,
        "gc_frozen_objects": gc.get_freeze_count(),
    }


def from_signals_equity(
    prices: pd.DataFrame, fast: int, slow: int, entry: str, spec: BacktestSpec
) -> np.ndarray:
    """Equity of one (fast, slow) pair in vectorbt's ``Portfolio.from_signals``, seen at a
    bar's close and filled at the next open: the independent reference of the kernel.

    ``entry="cross"`` uses vectorbt's own ``crossed_above``/``crossed_below`` of the two
    SMAs; ``"state"`` enters and exits where the workbench's held position changes sign.
    """
    import vectorbt as vbt

    from core.strategies import run_strategy
    from core.strategies._indicators import rolling_mean

    close = prices["close"]
    if entry == "cross":  # vectorbt's own crossover signals, seen at t, filled at t + 1
        fast_ma = pd.Series(rolling_mean(close.to_numpy(), fast), index=prices.index)
        slow_ma = pd.Series(rolling_mean(close.to_numpy(), slow), index=prices.index)
        entries = fast_ma.vbt.crossed_above(slow_ma).shift(1, fill_value=False)
        exits = fast_ma.vbt.crossed_below(slow_ma).shift(1, fill_value=False)
    else:
        pos = run_strategy("ma_crossover", prices, {"fast": fast, "slow": slow, "entry": entry})
        held = pos.shift(1).fillna(0.0)
        entries = (held > 0) & (held.shift(1).fillna(0.0) <= 0)
        exits = (held <= 0) & (held.shift(1).fillna(0.0) > 0)
    pf = vbt.Portfolio.from_signals(
        close,
        entries,
        exits,
        price=prices["open"],
        fees=spec.fees,
        slippage=spec.slippage,
        init_cash=spec.init_cash,
        freq="1D",
    )
    out: np.ndarray = pf.value().to_numpy()
    return out


__all__ = [
    "BIG_BARS",
    "TARGET_MEMORY_MB",
    "TARGET_RATIO",
    "bench_kernel_vs_bound",
    "bench_single_backtest",
    "bound_sweep",
    "fresh_process_sweep",
    "from_signals_equity",
    "grid_pairs",
    "synthetic_minute_prices",
]
