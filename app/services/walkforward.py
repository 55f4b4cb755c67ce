"""Walk-forward validation and look-ahead checks (pages and CLI share these)."""

from __future__ import annotations

import pandas as pd

from app.operations import CancelToken, Progress
from app.operations.walkforward import LookaheadRequest, WalkForwardRequest, walkforward_payload
from app.services import runs as run_store
from app.services.data import load_prices
from app.services.walkforward_outcome import WalkForwardOutcome as WalkForwardOutcome
from app.services.walkforward_report import report_html as report_html  # the CLI, the page
from core.backtest.spec import BacktestSpec
from core.features import available_features, compute_features
from core.ml import LookaheadReport, ModelSpec, lookahead_check
from core.ml.training import data_hash
from core.strategies import run_strategy
from core.strategies.catalog import grid_constraints
from core.walkforward import (
    WalkForwardResult,
    WalkForwardSpec,
    walk_forward_model,
    walk_forward_rule,
)
from core.walkforward.chunks import fold_cache


def _run(
    request: WalkForwardRequest,
    prices: pd.DataFrame,
    progress: Progress | None,
    cancel: CancelToken | None,
) -> tuple[WalkForwardResult, str]:
    spec = WalkForwardSpec(
        mode=request.mode,
        train_bars=request.train_bars,
        test_bars=request.test_bars,
        step_bars=request.step_bars,
        folds=request.folds,
    )
    costs = BacktestSpec(fees=request.fees, slippage=request.slippage)
    check = None if cancel is None else cancel.check
    # folds run on Dask; a restarted job finds the folds it already did in this cache
    cache = fold_cache(prices, request.model_dump(mode="json"))
    if request.strategy is not None:
        grid = {name: axis.values() for name, axis in request.grid.items()}
        result = walk_forward_rule(
            prices,
            request.strategy,
            grid,
            spec,
            costs,
            request.metric,
            constraints=grid_constraints(request.strategy, grid) or None,
            progress=progress,
            cancel=check,
            executor="dask",
            cache=cache,
        )
        cache.clear()
        return result, f"walk-forward {request.strategy} {request.symbol}"
    assert request.model is not None  # the request holds a strategy or a model
    features = request.features
    result = walk_forward_model(
        prices,
        available_features(prices.columns) if features is None else features,
        ModelSpec(kind=request.model, seed=0),
        spec,
        horizon=request.horizon,
        threshold=request.threshold,
        backtest_spec=costs,
        retune=request.retune,
        n_trials=request.n_trials,
        allow_lookahead=request.allow_lookahead,
        progress=progress,
        cancel=check,
        executor="dask",
        cache=cache,
    )
    cache.clear()
    return result, f"walk-forward {request.model} {request.symbol}"


def run_walkforward(
    request: WalkForwardRequest,
    *,
    progress: Progress | None = None,
    cancel: CancelToken | None = None,
    save: bool = True,
) -> WalkForwardOutcome:
    """Run a rule or model walk-forward and save its folds and stitched equity.

    The folds run as chunks on Dask (``progress``: "fold k of n done"); ``cancel`` is
    checked between folds; a cancelled run raises :class:`app.operations.Cancelled` and
    saves nothing, and the folds done stay cached for a retry of the same request.
    """
    prices = load_prices(request.dataset, request.symbol)
    result, title = _run(request, prices, progress, cancel)
    outcome = WalkForwardOutcome(None, request, result, data_hash(prices))
    if not save:
        return outcome
    folds = result.folds.copy()
    folds["params"] = folds["params"].astype(str) if "params" in folds else ""
    run_id = run_store.save_run(
        kind="walkforward",
        title=title,
        spec=request.model_dump(mode="json"),
        metrics={k: v for k, v in walkforward_payload(outcome).items() if k != "folds"}
        | {"data_hash": outcome.data_hash},
        frames={
            "folds": folds,
            "oos": pd.DataFrame({"equity": result.oos_equity, "returns": result.oos_returns}),
        },
    )
    return WalkForwardOutcome(run_id, request, result, outcome.data_hash)


LEAKY_DEMO = "leaky_next_close"


def lookahead(request: LookaheadRequest) -> LookaheadReport:
    """Run a strategy or a feature set on truncated data and flag changing bars."""
    prices = load_prices(request.dataset, request.symbol)
    strategy, params = request.strategy, request.params
    if strategy is not None:

        def fn(frame: pd.DataFrame) -> pd.DataFrame:
            return run_strategy(strategy, frame, params).rename(strategy).to_frame()
    else:
        names = request.features or available_features(prices.columns)

        def fn(frame: pd.DataFrame) -> pd.DataFrame:
            out = compute_features(frame, names)
            if request.include_leaky_demo:
                out[LEAKY_DEMO] = frame["close"].shift(-1) / frame["close"] - 1
            return out

    return lookahead_check(fn, prices, cuts=request.cuts, seed=request.seed)
