"""Benchmarks for ``workbench bench``: percentiles and throughput, never timed unit tests.

Reference workload: the embedded S&P 500 series (5,031 bars) and a moving-average
crossover grid of fast 5..103 step 2 x slow 20..412 step 8 with fast < slow (2,258
combinations).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from core.benchkit import FAST, SLOW, percentiles, reference_prices, run_python_json, timed

_FIRST_BACKTEST = """
import json, time
t0 = time.perf_counter()
from core.benchkit import reference_prices
from core.backtest import run_backtest
from core.strategies import run_strategy
prices = reference_prices()
positions = run_strategy("ma_crossover", prices, {"fast": 20, "slow": 100})
t1 = time.perf_counter()
run_backtest(prices, positions)
t2 = time.perf_counter()
print(json.dumps({"total_s": t2 - t0, "backtest_s": t2 - t1, "setup_s": t1 - t0}))
"""


def bench_research(*, repeats: int = 7) -> dict[str, Any]:
    """Sweep, backtest, features and regime figures (issue: research engine).

    The sweep is timed against the numpy lower bound in the same run
    (:func:`core.sweep.bench.bound_sweep`, alternating calls); peak memory is read in a
    fresh interpreter, for the reference workload and for 500,000 synthetic bars.
    """
    from core.backtest.spec import BacktestSpec
    from core.features import compute_features
    from core.regime import RegimeSpec, fit_regimes
    from core.sweep import equity_curves
    from core.sweep.bench import (
        BIG_BARS,
        TARGET_MEMORY_MB,
        bench_kernel_vs_bound,
        bench_single_backtest,
        fresh_process_sweep,
        grid_pairs,
    )

    prices = reference_prices()
    fast, slow = grid_pairs(FAST, SLOW)
    combos = int(fast.shape[0])
    kernel = bench_kernel_vs_bound(prices, fast, slow, repeats)
    backtest = bench_single_backtest(prices, max(30, repeats * 6))
    feat_times, _ = timed(lambda: compute_features(prices), repeats * 3)
    fit_times, _ = timed(lambda: fit_regimes(prices, RegimeSpec()), max(3, repeats // 2))
    model = fit_regimes(prices, RegimeSpec()).model
    log_ret = np.diff(np.log(prices["close"].to_numpy()))
    model.reset()
    update_times = []
    for value in log_ret[:2000]:
        start = time.perf_counter()
        model.update(float(value))
        update_times.append(time.perf_counter() - start)
    first_sweep = fresh_process_sweep()
    big_sweep = fresh_process_sweep(BIG_BARS, seed=0)
    first_backtest = run_python_json(_FIRST_BACKTEST)
    equivalence = {
        entry: sweep_equivalence(prices, BacktestSpec(), equity_curves, entry=entry)
        for entry in ("state", "cross")
    }
    sweep_p = kernel["kernel_seconds"]
    return {
        "workload": {"bars": len(prices), "combinations": combos, "symbol": "SP500"},
        "sweep_seconds": sweep_p,
        "sweep_combinations_per_s": {
            "median": combos / sweep_p["median"],
            "p95_slowest": combos / sweep_p["p95"],
        },
        "sweep_numpy_bound": kernel,
        "first_sweep_new_process": first_sweep,
        "sweep_peak_memory_mb": first_sweep["peak_rss_mb"],
        "sweep_500k_bars_new_process": {**big_sweep, "target_peak_mb": TARGET_MEMORY_MB},
        "single_backtest_seconds": backtest,
        "first_backtest_new_process": first_backtest,
        "features_ms_per_1000_bars": {
            k: (v * 1000 / len(prices) * 1000 if k != "n" else v)
            for k, v in percentiles(feat_times).items()
        },
        "regime_fit_seconds": percentiles(fit_times),
        "regime_filtered_update_us": {
            k: (v * 1e6 if k != "n" else v) for k, v in percentiles(update_times).items()
        },
        "sweep_vs_vectorbt_from_signals_max_rel_diff": max(equivalence.values()),
        "sweep_vs_vectorbt_from_signals_by_entry": equivalence,
    }


def sweep_equivalence(
    prices: pd.DataFrame,
    spec: Any,
    equity_curves: Callable[..., Any],
    *,
    entry: str = "state",
) -> float:
    """Max relative equity difference between our kernel and ``Portfolio.from_signals``.

    With ``entry="cross"`` the signals are vectorbt's own ``crossed_above`` /
    ``crossed_below`` of the two SMAs (shifted one bar: seen at the close, filled at the
    next open), so the comparison also checks the entry rule itself.
    """
    from core.strategies import run_strategy
    from core.sweep.bench import from_signals_equity

    rng = np.random.default_rng(0)
    worst = 0.0
    for _ in range(8):
        f = int(rng.choice(FAST[FAST < 60]))
        s = int(rng.choice(SLOW[SLOW > 60]))
        pos = run_strategy("ma_crossover", prices, {"fast": f, "slow": s, "entry": entry})
        reference = from_signals_equity(prices, f, s, entry, spec)
        ours = equity_curves(prices, pd.DataFrame({"c": pos}), spec)["c"].to_numpy()
        worst = max(worst, float(np.max(np.abs(reference / ours - 1))))
    return worst


def bench_ml(*, repeats: int = 3) -> dict[str, Any]:
    """5-fold XGBoost walk-forward (5,000 bars, 44 features), 20-trial tuning and per-bar
    inference latency (:func:`core.ml.bench.bench_ml_engine`)."""
    from core.ml.bench import bench_ml_engine
    from core.walkforward.bench import bench_walkforward_xgb

    return {
        "walkforward_xgb_5fold": bench_walkforward_xgb(repeats=max(1, min(repeats, 3))),
        **bench_ml_engine(repeats=repeats),
    }


def _optional(module: str, function: str) -> Callable[..., dict[str, Any]]:
    def run(*, repeats: int = 3) -> dict[str, Any]:
        import importlib

        try:
            fn = getattr(importlib.import_module(module), function)
        except (ImportError, AttributeError) as exc:
            return {"skipped": f"{module}.{function} not available: {exc}"}
        report: dict[str, Any] = fn()
        return report

    return run


SECTIONS: dict[str, Callable[..., dict[str, Any]]] = {
    "research": bench_research,
    "ml": bench_ml,
    "pipeline": _optional("core.pipeline", "bench_pipeline"),
    "risk": _optional("core.risk", "bench_pre_trade"),
    "abtest": _optional("core.abtest.bench", "bench_abtest"),
    "regime": _optional("core.regime.bench", "bench_causal_history"),
    "paper": _optional("core.paper.bench", "bench_paper"),
    "cli": _optional("core.bench_cli", "bench_cli"),
    "jobs": _optional("core.bench_jobs", "bench_jobs"),
    "predict": _optional("core.ml.bench_predict", "bench_predict"),
    "live": _optional("core.paper.bench_live", "bench_live"),
    "model_agent": _optional("core.pipeline.bench_model", "bench_model_agent"),
    "monitor": _optional("core.monitoring.bench", "bench_monitor"),
}


def summary_text(report: dict[str, Any]) -> str:
    """A human-readable digest of a bench report."""
    lines = []
    r = report.get("research")
    if r:
        lines += [
            f"sweep: {r['sweep_combinations_per_s']['median']:,.0f} combos/s median "
            f"({r['workload']['combinations']} combos, {r['workload']['bars']} bars); "
            f"numpy bound {r['sweep_numpy_bound']['bound_combinations_per_s']:,.0f} combos/s, "
            f"kernel/bound {r['sweep_numpy_bound']['ratio_kernel_to_bound']:.2f}x "
            f"(target <= {r['sweep_numpy_bound']['target_ratio']:g}x)",
            f"first sweep in a new process: {r['first_sweep_new_process']['total_s']:.2f} s; "
            f"peak memory {r['sweep_peak_memory_mb']:.0f} MB",
            f"sweep of {r['sweep_500k_bars_new_process']['bars']:,} bars x "
            f"{r['sweep_500k_bars_new_process']['combinations']:,} combos: "
            f"{r['sweep_500k_bars_new_process']['sweep_s']:.1f} s, peak "
            f"{r['sweep_500k_bars_new_process']['peak_rss_mb']:.0f} MB (target <= "
            f"{r['sweep_500k_bars_new_process']['target_peak_mb']:.0f} MB)",
            f"single backtest: {r['single_backtest_seconds']['median'] * 1000:.1f} ms p50, "
            f"{r['single_backtest_seconds']['p95'] * 1000:.1f} ms p95, "
            f"{r['single_backtest_seconds']['p99'] * 1000:.1f} ms p99 after warm-up "
            f"({r['single_backtest_seconds']['full_gc_runs']} full GCs inside the timed calls); "
            f"first in a new process {r['first_backtest_new_process']['total_s']:.2f} s",
            f"features: {r['features_ms_per_1000_bars']['median']:.2f} ms per 1,000 bars",
            f"regime fit {r['regime_fit_seconds']['median']:.2f} s; one-bar update "
            f"{r['regime_filtered_update_us']['median']:.1f} us",
            "sweep vs vectorbt from_signals max rel diff: "
            f"{r['sweep_vs_vectorbt_from_signals_max_rel_diff']:.2e}",
        ]
    m = report.get("ml")
    if m:
        wf = m["walkforward_xgb_5fold"]
        on_dask = (
            f", {wf['dask']['seconds_median']:.2f} s on {wf['dask']['workers']} Dask workers "
            f"({wf['speedup']:.2f}x, same result {wf['same_result']})"
            if "dask" in wf
            else ""
        )
        lines.append(
            f"5-fold XGBoost walk-forward ({wf['bars']} bars, {wf['features']} features): "
            f"{wf['seconds_median']:.2f} s median serial{on_dask}"
        )
        from core.ml.bench import summary_lines as ml_summary

        lines += ml_summary(m)
    if "abtest" in report and "false_positive_rate" in report["abtest"]:
        from core.abtest.bench import summary as abtest_summary

        lines.append(abtest_summary(report["abtest"]))
    g = report.get("regime")
    if g and "seconds" in g:
        lines.append(
            f"causal regime history ({g['bars']} bars, {g['refits']} refits): "
            f"{g['seconds']['median']:.2f} s median, {g['cpu_seconds']['median']:.2f} s CPU "
            f"(target <= {g['target_seconds']:g} s)"
        )
    if "paper" in report and "replay_cycles_per_s_one_symbol" in report["paper"]:
        from core.paper.bench import summary as paper_summary

        lines.append(paper_summary(report["paper"]))
    if "cli" in report and "commands" in report["cli"]:
        from core.bench_cli import summary as cli_summary

        lines.append(cli_summary(report["cli"]))
    if "jobs" in report and "throughput" in report["jobs"]:
        from core.bench_jobs import summary as jobs_summary

        lines.append(jobs_summary(report["jobs"]))
    if "predict" in report and "model" in report["predict"]:
        from core.ml.bench_predict import summary as predict_summary

        lines.append(predict_summary(report["predict"]))
    if "live" in report:
        from core.paper.bench_live import summary as live_summary

        lines.append(live_summary(report["live"]))
    if "model_agent" in report:
        from core.pipeline.bench_model import summary as model_agent_summary

        lines.append(model_agent_summary(report["model_agent"]))
    if "monitor" in report and "plain_bar_ms" in report["monitor"]:
        from core.monitoring.bench import summary as monitor_summary

        lines.append(monitor_summary(report["monitor"]))
    for name in ("pipeline", "risk"):
        if name in report:
            lines.append(f"{name}: {report[name]}")
    if "peers" in report:  # core.bench_peers formats its own digest line and table
        lines += [report["peers"]["digest"], report["peers"]["table_markdown"]]
    return "\n".join(lines)
