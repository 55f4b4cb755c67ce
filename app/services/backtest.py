"""Backtests for the pages, the CLI and jobs: one strategy, a portfolio, the tear sheet
(its operation is in :mod:`app.services.report`).

Each loads the data, calls core (:mod:`core.backtest`, regime gating from
:mod:`core.regime`) and saves the run; ``reopen_backtest`` rebuilds one from its frames.
"""

from __future__ import annotations

from dataclasses import replace

import pandas as pd

from app.operations.backtest import BacktestOutcome, BacktestRequest
from app.services import runs as run_store
from app.services.backtest_portfolio import reopen_portfolio, run_portfolio
from app.services.data import load_prices
from core.backtest.metrics import as_floats
from core.serialize import json_safe
from core.strategies.catalog import check_windows

CURVES = ("equity", "benchmark", "drawdown", "returns", "benchmark_returns", "positions")
"""The per-bar series a saved backtest keeps in its ``curves`` frame, in order."""
__all__ = [
    "CURVES",
    "compute_backtest",
    "reopen_backtest",
    "reopen_portfolio",
    "run_backtest",
    "run_portfolio",
    "save_backtest",
    "tearsheet",
]


def run_backtest(request: BacktestRequest, *, save: bool = True) -> BacktestOutcome:
    """Load data, compute positions (regime-gated if asked), backtest with vectorbt and
    compare with buy-and-hold on the same data and costs; save the run unless asked not to."""
    outcome = compute_backtest(request)
    return replace(outcome, run_id=save_backtest(outcome)) if save else outcome


def compute_backtest(request: BacktestRequest) -> BacktestOutcome:
    """The backtest of ``request`` and its buy-and-hold benchmark, not saved."""
    from core.backtest import run_backtest as engine_backtest
    from core.regime import gate_positions
    from core.strategies import run_strategy

    prices = load_prices(request.dataset, request.symbol, start=request.start, end=request.end)
    if len(prices) < 30:
        raise ValueError(f"{len(prices)} bars is too few for a backtest; pick at least 30")
    check_windows(request.strategy, request.params, len(prices))
    positions, note = run_strategy(request.strategy, prices, request.params), ""
    if request.regime_mode != "off":
        history = load_prices(request.dataset, request.symbol, end=request.end)
        positions, note = gate_positions(
            positions,
            history,
            mode=request.regime_mode,
            regimes=request.regimes,
            min_prob=request.regime_min_prob,
            train_bars=request.regime_train_bars,
        )
    result = engine_backtest(prices, positions, request.spec())
    bench = engine_backtest(prices, run_strategy("buy_and_hold", prices, {}), request.spec())
    curves = {
        "equity": result.equity,
        "benchmark": bench.equity,
        "drawdown": result.drawdown,
        "returns": result.returns,
        "benchmark_returns": bench.returns,
        "positions": result.positions,
    }
    metrics, bench_metrics = as_floats(result.metrics), as_floats(bench.metrics)
    return BacktestOutcome.from_curves(
        None, request, curves, result.trades, metrics, bench_metrics, note
    )


def save_backtest(outcome: BacktestOutcome) -> int:
    """Save a computed backtest as a run (kind ``backtest``); returns its id."""
    request, bench_metrics = outcome.request, outcome.benchmark_metrics
    params = " ".join(f"{k}={v}" for k, v in request.params.items())
    curves = {k: getattr(outcome, k) for k in CURVES}
    return run_store.save_run(
        kind="backtest",
        title=f"{request.strategy} {request.symbol} {params}".strip(),
        spec=request.model_dump(mode="json"),
        metrics={
            **json_safe(outcome.metrics),
            "benchmark_sharpe": bench_metrics.get("sharpe"),
            "benchmark": json_safe(bench_metrics),
            "regime_note": outcome.regime_note,
        },
        frames={"curves": pd.DataFrame(curves), "trades": outcome.trades},
    )


def reopen_backtest(run_id: int) -> BacktestOutcome:
    """Rebuild a saved backtest from its stored frames (no recomputation)."""
    run = run_store.get_run_of_kind(run_id, "backtest")
    return BacktestOutcome.from_curves(
        run_id,
        BacktestRequest.model_validate(run.spec),
        run_store.load_frame(run, "curves"),
        run_store.load_frame(run, "trades"),
        as_floats(run.metrics),
        as_floats(run.metrics.get("benchmark") or {}),
        str(run.metrics.get("regime_note") or ""),
    )


def tearsheet(outcome: BacktestOutcome) -> str:
    """quantstats HTML tear sheet of a backtest against its buy-and-hold benchmark."""
    from core.reports.tearsheet import tearsheet_html

    req = outcome.request
    title = f"{req.strategy} on {req.dataset}/{req.symbol} vs buy-and-hold"
    return tearsheet_html(outcome.returns, benchmark=outcome.benchmark_returns, title=title)
