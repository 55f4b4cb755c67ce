"""Helpers of :mod:`app.services.sweep`: the symbols' prices, the chunk cache, the
deflated Sharpe ratio of a universe sweep, saving a run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from app.operations.sweep import SweepRequest
from app.services import runs as run_store
from app.services import sweep_heat
from app.services.data import load_prices, symbols_of
from core.backtest.metrics import returns_from_equity
from core.cluster import ChunkCache, code_version
from core.config import get_settings
from core.serialize import json_safe
from core.strategies import run_strategy
from core.strategies.catalog import ParamRangeError
from core.sweep import check_bars, equity_curves
from core.sweep.chunked import CHUNK_COMBOS, SYMBOL, prices_hash
from core.walkforward.overfit import deflated_sharpe_ratio

CODE = ("core.sweep", "core.strategies", "core.backtest")
"""Packages whose source versions the chunk cache (a change invalidates it)."""
TABLE = "table.parquet"
"""The table's file in a sweep's staging folder and in its run's folder."""
CACHE_DAYS = 7
"""Chunk caches of sweeps never finished are deleted after this many days."""


def frames_of(request: SweepRequest) -> tuple[dict[str, pd.DataFrame], dict[str, str]]:
    """Prices per symbol (every symbol of the dataset for a universe sweep) and the
    symbols skipped with the reason (a window longer than their data)."""
    symbols = symbols_of(request.dataset) if request.all_symbols else [request.symbol]
    if not symbols:
        raise ValueError(f"dataset {request.dataset} lists no symbols to sweep")
    frames: dict[str, pd.DataFrame] = {}
    skipped: dict[str, str] = {}
    for symbol in symbols:
        prices = load_prices(request.dataset, symbol, start=request.start, end=request.end)
        try:
            check_bars(request.strategy, request.grid, request.fixed, len(prices))
        except ParamRangeError as exc:
            if not request.all_symbols:
                raise
            skipped[symbol] = exc.message
            continue
        frames[symbol] = prices
    if not frames:
        raise ValueError(
            f"no symbol of {request.dataset} has enough bars for this grid: "
            + "; ".join(f"{s}: {m}" for s, m in skipped.items())
        )
    return frames, skipped


def chunk_cache(request: SweepRequest, frames: dict[str, pd.DataFrame]) -> ChunkCache:
    """The cache of this request's chunks: keyed by (data, request, chunking, code)."""
    spec = {"request": request.model_dump(mode="json"), "chunk_combos": CHUNK_COMBOS}
    key = ChunkCache.make_key(prices_hash(frames), spec, code_version(*CODE))
    ChunkCache.prune(ChunkCache.default_root(), max_age_s=CACHE_DAYS * 86_400)
    return ChunkCache(ChunkCache.default_root(), key)


def deflated_sharpe(
    request: SweepRequest,
    frames: dict[str, pd.DataFrame],
    best: dict[str, Any],
    trials: int,
    annual_variance: float,
) -> dict[str, float]:
    """DSR of the overall best combination against ``trials`` tries (combinations x
    symbols), with the variance of the per-period Sharpe ratios of all trials."""
    prices = frames[str(best[SYMBOL])]
    spec = request.spec().for_index(prices.index)  # the data's bar interval, as the sweep
    params = {**request.fixed, **{name: best[name] for name in request.grid}}
    positions = run_strategy(request.strategy, prices, params).rename("best").to_frame()
    equity = equity_curves(prices, positions, spec)["best"].to_numpy(dtype=np.float64)
    returns = returns_from_equity(equity, spec.init_cash)
    variance = annual_variance / spec.periods_per_year if np.isfinite(annual_variance) else None
    return deflated_sharpe_ratio(returns, max(int(trials), 1), sharpe_variance=variance)


def scratch() -> Path:
    """The folder of running sweeps' staging tables (git-ignored runtime folder)."""
    folder = get_settings().var_dir / "sweeps"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def plain(row: dict[str, Any], grid: dict[str, np.ndarray]) -> dict[str, Any]:
    """A table row as Python values, integer params as int."""
    best = {k: (v.item() if hasattr(v, "item") else v) for k, v in row.items()}
    for name, values in grid.items():
        if np.issubdtype(values.dtype, np.integer):
            best[name] = int(best[name])
    return best


def save(
    request: SweepRequest, result: Any, best: dict[str, Any], universe: Any, staging: Path
) -> int:
    """Save a finished chunked sweep as a run of kind ``sweep`` (its table file moved in)."""
    where = "all symbols" if request.all_symbols else request.symbol
    frames = {"top": result.top}
    heat = sweep_heat.heat_long(result.heatmap)
    if heat is not None:
        frames["heatmap"] = heat
    metrics: dict[str, Any] = {
        "combinations": result.combinations,
        "seconds": result.seconds,
        "chunks": result.chunks,
        "best": json_safe(dict(best)),
    }
    if universe is not None:
        frames["best_by_symbol"] = universe.best_by_symbol
        metrics.update(dsr=json_safe(universe.dsr), symbols=list(universe.symbols))
        metrics["skipped"] = dict(universe.skipped)
    return run_store.save_run(
        kind="sweep",
        title=f"sweep {request.strategy} {where} ({result.combinations} combos)",
        spec=request.model_dump(mode="json"),
        metrics=metrics,
        frames=frames,
        files={"table": staging / TABLE},
    )
