"""What every benchmark section shares: the reference workload, percentiles, timing loops
and runs in a fresh interpreter.

Kept apart from :mod:`core.bench` (which imports every section) so that the sections
themselves (``core.sweep.bench``, ``core.regime.bench``, ``core.ml.bench``,
``core.bench_peers``, ``core.bench_cli``) can use it without an import cycle.

Reference workload: the embedded S&P 500 series (5,031 bars) and a moving-average
crossover grid of fast 5..103 step 2 x slow 20..412 step 8 with fast < slow (2,258
combinations).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
FAST = np.arange(5, 104, 2)
"""Fast windows of the reference grid."""
SLOW = np.arange(20, 413, 8)
"""Slow windows of the reference grid."""


def grid_pairs(fast: np.ndarray, slow: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """All (fast, slow) pairs with fast < slow, fast-major (the sweep's order).

    >>> grid_pairs(np.array([5, 30]), np.array([20, 40]))[1].tolist()
    [20, 40, 40]
    >>> len(grid_pairs(FAST, SLOW)[0])
    2258
    """
    f, s = np.meshgrid(fast, slow, indexing="ij")
    keep = f < s
    return f[keep], s[keep]


def reference_prices() -> pd.DataFrame:
    """The S&P 500 frame of the reference workload."""
    from core.data.loaders import embedded_sources

    return embedded_sources()["ohlcv_daily"].load("SP500")


def percentiles(samples: Sequence[float] | np.ndarray, *, scale: float = 1.0) -> dict[str, float]:
    """Median, p95 and p99 (and count) of ``samples`` times ``scale`` (1e3: seconds to ms).

    >>> percentiles([1.0, 2.0, 3.0])["median"]
    2.0
    >>> percentiles([0.001, 0.002], scale=1e3)["p99"]
    1.99
    """
    arr = np.asarray(samples, dtype=float) * scale
    return {
        "median": float(np.median(arr)),
        "p95": float(np.percentile(arr, 95)),
        "p99": float(np.percentile(arr, 99)),
        "n": int(arr.size),
    }


def timed(fn: Callable[[], Any], repeats: int) -> tuple[list[float], Any]:
    """Call ``fn`` ``repeats`` times; (seconds per call, the last result)."""
    samples, out = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        samples.append(time.perf_counter() - start)
    return samples, out


def has_bytecode() -> bool:
    """True when imports read compiled bytecode: pandas and the project are compiled
    (``make install``, ``make setup``), or Python may write the caches itself. Without
    them (``PYTHONDONTWRITEBYTECODE`` and nothing compiled) every import compiles its
    sources, which doubles to triples every start-up figure."""
    import importlib.util
    import os

    if not (sys.flags.dont_write_bytecode or os.environ.get("PYTHONDONTWRITEBYTECODE")):
        return True
    spec = importlib.util.find_spec("pandas")
    sources = [ROOT / "app" / "main.py", Path(spec.origin if spec and spec.origin else "")]
    return all(Path(importlib.util.cache_from_source(str(s))).is_file() for s in sources)


def run_python_json(code: str, *, timeout: float = 600, what: str = "benchmark") -> dict[str, Any]:
    """Run ``code`` with ``python -c`` in a fresh interpreter (from the project root) and
    parse the JSON object on its last line of output."""
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=timeout
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{what} subprocess failed: {proc.stderr[-2000:]}")
    report: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return report


__all__ = [
    "FAST",
    "ROOT",
    "SLOW",
    "grid_pairs",
    "has_bytecode",
    "percentiles",
    "reference_prices",
    "run_python_json",
    "timed",
]
