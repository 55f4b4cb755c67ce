"""Walk-forward optimization of a rule strategy: pick each fold's parameters on its
training window, trade them on the next test window.

The position held on the first test bar is decided at the close of the last training bar,
and indicator warm-up comes from the training bars before the test window, so no future
bar is ever used.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from core.backtest._prices import as_price_frame
from core.backtest.spec import BacktestSpec
from core.cluster import ChunkCache
from core.strategies import run_strategy
from core.sweep import Constraint, equity_curves, sweep
from core.walkforward.chunks import run_folds, single_threaded
from core.walkforward.folds import CheckCancel, FoldWindow, Progress, WalkForwardSpec, fold_windows
from core.walkforward.overfit import pbo_cscv
from core.walkforward.result import (
    RULE_TRIALS,
    WalkForwardResult,
    effective_trials,
    finish,
    oos_scores,
    window_dates,
    window_returns,
)


def _py(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value


def _typed_params(params: dict[str, Any], table: pd.DataFrame) -> dict[str, Any]:
    """Restore integer params that a mixed-dtype row turned into floats."""
    out = dict(params)
    for name, value in params.items():
        if name in table.columns and pd.api.types.is_integer_dtype(table[name]):
            out[name] = int(value)
    return out


def grid_returns(
    prices: pd.DataFrame,
    strategy: str,
    combos: pd.DataFrame,
    fixed: Mapping[str, Any],
    spec: BacktestSpec,
) -> pd.DataFrame:
    """Per-bar returns (T x N) of every parameter combination over the whole sample."""
    cols = {}
    for i, row in enumerate(combos.itertuples(index=False)):
        params = {**fixed, **{n: _py(v) for n, v in zip(combos.columns, row, strict=True)}}
        cols[i] = run_strategy(strategy, prices, params).to_numpy(dtype=np.float64)
    equity = equity_curves(prices, pd.DataFrame(cols, index=prices.index), spec).to_numpy()
    rets = np.empty_like(equity)
    rets[0] = equity[0] / spec.init_cash - 1.0
    rets[1:] = equity[1:] / equity[:-1] - 1.0
    return pd.DataFrame(rets, index=prices.index)


def rule_fold(
    w: FoldWindow,
    *,
    prices: pd.DataFrame,
    strategy: str,
    grid: Mapping[str, Sequence[Any] | np.ndarray],
    constraints: Constraint | Sequence[Constraint] | None,
    bt: BacktestSpec,
    metric: str,
    fixed: Mapping[str, Any],
) -> dict[str, Any]:
    """One fold of :func:`walk_forward_rule` (a chunk of :func:`core.cluster.map_chunks`).

    Sweeps the grid on the training window, trades the best point on the test window;
    returns the fold ``row``, the test ``returns`` and ``positions`` and the grid's
    ``combos`` (parameter columns of the sweep table).
    """

    def run() -> dict[str, Any]:
        index = prices.index
        train = prices.iloc[w.train_start : w.train_end]
        result = sweep(strategy, train, grid, constraints, bt, metric, fixed=dict(fixed))
        if result.combinations == 0:
            raise ValueError("the grid has no valid parameter combination")
        best = result.best(metric)
        params = _typed_params(result.best_params(metric), result.table)
        history = prices.iloc[w.train_start : w.test_end]
        pos = run_strategy(strategy, history, params).to_numpy(dtype=np.float64)
        pos = pos[w.test_start - 1 - w.train_start :]
        rets = window_returns(prices, pos, w.test_start, w.test_end, bt)
        row = {
            **window_dates(w, index),
            "params": params,
            "is_metric": float(best[metric]),
            "is_sharpe": float(best["sharpe"]),
            **oos_scores(rets, bt),
        }
        return {
            "row": row,
            "returns": rets,
            "positions": pd.Series(pos[1:], index=rets.index),
            "combos": result.table[list(result.param_names)],
        }

    out: dict[str, Any] = single_threaded(run)
    return out


def walk_forward_rule(
    prices: pd.DataFrame,
    strategy: str,
    grid: Mapping[str, Sequence[Any] | np.ndarray],
    spec: WalkForwardSpec,
    backtest_spec: BacktestSpec | None = None,
    metric: str = "sharpe",
    *,
    constraints: Constraint | Sequence[Constraint] | None = None,
    fixed: Mapping[str, Any] | None = None,
    pbo_splits: int = 16,
    progress: Progress | None = None,
    cancel: CheckCancel | None = None,
    executor: str = "serial",
    cache: ChunkCache | None = None,
) -> WalkForwardResult:
    """Walk-forward optimization of a registered rule strategy.

    On each fold the parameters maximizing ``metric`` on the training window are chosen
    by :func:`core.sweep.sweep` and traded on the test window.

    Parameters
    ----------
    prices : DataFrame
        Canonical price frame.
    strategy : str
        Name in :data:`core.strategies.STRATEGIES`.
    grid : mapping
        Parameter axes, as for :func:`core.sweep.sweep`.
    spec : WalkForwardSpec
        Fold layout.
    backtest_spec : BacktestSpec, optional
        Costs and capital.
    metric : str
        In-sample selection metric (a :data:`core.backtest.METRICS` name).
    constraints, fixed
        Passed to :func:`core.sweep.sweep`.
    pbo_splits : int
        CSCV blocks for the PBO over the grid (reduced automatically on short samples).
    progress : callable, optional
        ``progress(fraction, "fold k of n done")`` after each fold, and at the end.
    cancel : callable, optional
        Called before each fold (between completions on Dask) and before the
        statistics; it raises to stop.
    executor : {"serial", "dask"}
        Where the folds run (:func:`core.cluster.map_chunks`); the result is the same.
    cache : ChunkCache, optional
        Folds already stored there are not recomputed (a resumed job); see
        :func:`core.walkforward.chunks.fold_cache`.

    Notes
    -----
    ``trials`` is the raw number of grid combinations. The DSR uses the dispersion of the
    per-period Sharpe ratios of all combinations over the out-of-sample span; the PBO is
    CSCV over those combinations' returns on the same span.
    """
    start = time.perf_counter()
    prices = as_price_frame(prices)
    bt = (backtest_spec or BacktestSpec()).for_index(prices.index)
    fixed = dict(fixed or {})
    windows = fold_windows(len(prices), spec)
    shared = {
        "prices": prices,
        "strategy": strategy,
        "grid": dict(grid),
        "constraints": constraints,
        "bt": bt,
        "metric": metric,
        "fixed": fixed,
    }
    done = run_folds(
        rule_fold,
        windows,
        shared,
        progress=progress,
        cancel=cancel,
        executor=executor,
        cache=cache,
    )
    combos: pd.DataFrame = done[0]["combos"]
    if cancel is not None:
        cancel()
    span = slice(windows[0].test_start, windows[-1].test_end)
    matrix = grid_returns(prices, strategy, combos, fixed, bt).iloc[span].to_numpy()
    sr_estimates = None
    pbo = None
    if matrix.shape[1] >= 2:
        std = matrix.std(axis=0, ddof=1)
        sr_estimates = np.where(std > 0, matrix.mean(axis=0) / np.where(std > 0, std, 1), 0.0)
        splits = pbo_splits
        while splits > 2 and matrix.shape[0] // splits < 20:
            splits -= 2
        pbo = pbo_cscv(matrix, n_splits=splits)
    out = finish(
        "rule",
        done,
        bt,
        len(combos),
        start,
        sr_estimates=sr_estimates,
        pbo=pbo,
        trial_counting=RULE_TRIALS,
        effective_trials=effective_trials(matrix),
    )
    if progress is not None:
        progress(1.0, "done")
    return out


__all__ = ["grid_returns", "rule_fold", "walk_forward_rule"]
