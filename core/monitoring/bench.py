"""``workbench bench`` section ``monitor``: the monitoring observer's cost per bar.

A seeded three-symbol daily session (300 warm-up bars, then ``bars`` live bars, a
probability per symbol and bar) runs through :class:`~core.monitoring.live.MonitorObserver`
in a temporary SQLite database, each bar in its own transaction as in the worker. Per
bar: the time of ``on_bar`` plus its flush (quality, model metrics and rows every bar,
drift every 10th bar). Reported: p50/p95/p99 of plain bars and of drift bars, the
amortized cost per bar and the target (plain-bar p99 under a fifth of the live bar's
50 ms p99 budget).
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pandas as pd

TARGET_PLAIN_P99_MS = 10.0
SYMBOLS = ("AAPL", "MSFT", "IBM")


def _frames(n: int, seed: int = 0) -> dict[str, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    idx = pd.bdate_range("2020-01-02", periods=n)
    out = {}
    for sym in SYMBOLS:
        r = rng.normal(0, 0.01, n)
        close = 100 * np.exp(np.cumsum(r))
        spread = np.abs(rng.normal(0, 0.01, n)) + 0.002
        frame = pd.DataFrame(
            {
                "open": close * np.exp(-r / 2),
                "high": close * np.exp(spread),
                "low": close * np.exp(-spread),
                "close": close,
                "volume": rng.uniform(0.8e6, 1.2e6, n),
            },
            index=idx,
        )
        frame["high"] = frame[["open", "high", "close"]].max(axis=1)
        frame["low"] = frame[["open", "low", "close"]].min(axis=1)
        out[sym] = frame
    return out


def _stats(ms: list[float]) -> dict[str, float]:
    a = np.asarray(ms)
    return {
        "p50": float(np.median(a)),
        "p95": float(np.percentile(a, 95)),
        "p99": float(np.percentile(a, 99)),
        "n": float(len(a)),
    }


def _run_once(bars: int, seed: int) -> tuple[list[float], list[float]]:
    from core.monitoring.live import MonitorObserver
    from core.paper.observers import BarEvent
    from core.paper.report import CycleReport
    from core.store.db import make_engine, session_scope, upgrade

    warmup = 300
    frames = _frames(warmup + bars, seed)
    rng = np.random.default_rng(seed + 1)
    probs = rng.uniform(0.3, 0.7, (warmup + bars, len(SYMBOLS)))
    plain: list[float] = []
    drift: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{Path(tmp) / 'bench.db'}")
        upgrade(engine)
        config = {"session": "bench", "symbols": list(SYMBOLS), "train_bars": warmup}
        obs = MonitorObserver(config, engine=engine)
        obs.rebuild(warmup, {s: f.iloc[:warmup] for s, f in frames.items()})
        idx = frames[SYMBOLS[0]].index
        for t in range(warmup, warmup + bars):
            report = CycleReport(
                bar=t,
                ts=idx[t],
                equity=1.0,
                start_of_day_equity=1.0,
                peak_equity=1.0,
                regime={s: "bull" for s in SYMBOLS},
            )
            event = BarEvent(
                session_id=1,
                session_name="bench",
                t=t,
                ts=idx[t],
                frames={s: f.iloc[: t + 1] for s, f in frames.items()},
                decisions={
                    s: SimpleNamespace(probability=float(probs[t, i]))
                    for i, s in enumerate(SYMBOLS)
                },
                closes={s: float(f["close"].iloc[t]) for s, f in frames.items()},
                equity=1.0,
                report=report,
                config=config,
            )
            with session_scope(engine) as s:
                start = time.perf_counter()
                obs.on_bar(event, s)
                s.flush()
                ms = (time.perf_counter() - start) * 1000
            (drift if t % obs.settings.every == 0 else plain).append(ms)
        engine.dispose()
    return plain, drift


def bench_monitor(repeats: int = 3, bars: int = 200) -> dict[str, Any]:
    """The observer's per-bar cost (see the module docstring); ``repeats`` sessions."""
    plain: list[float] = []
    drift: list[float] = []
    for i in range(max(1, repeats)):
        p, d = _run_once(bars, seed=i)
        plain += p[5:]  # the first bars import and warm caches
        drift += d[1:] if len(d) > 1 else d
    plain_stats, drift_stats = _stats(plain), _stats(drift)
    every = 10
    amortized = (plain_stats["p50"] * (every - 1) + drift_stats["p50"]) / every
    return {
        "workload": {
            "symbols": len(SYMBOLS),
            "bars": bars,
            "repeats": repeats,
            "drift_every": every,
        },
        "plain_bar_ms": plain_stats,
        "drift_bar_ms": drift_stats,
        "amortized_ms_per_bar": amortized,
        "target_plain_p99_ms": TARGET_PLAIN_P99_MS,
        "plain_p99_to_target": plain_stats["p99"] / TARGET_PLAIN_P99_MS,
    }


def summary(r: dict[str, Any]) -> str:
    """One digest line of the ``monitor`` section."""
    p, d = r["plain_bar_ms"], r["drift_bar_ms"]
    return (
        f"monitoring observer ({r['workload']['symbols']} symbols): plain bar "
        f"{p['p50']:.1f} ms p50 / {p['p99']:.1f} ms p99 (target p99 < "
        f"{r['target_plain_p99_ms']:g} ms), drift bar {d['p50']:.1f} ms p50 / "
        f"{d['p99']:.1f} ms p99, {r['amortized_ms_per_bar']:.1f} ms per bar amortized"
    )


__all__ = ["bench_monitor", "summary"]
