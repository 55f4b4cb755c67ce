"""Portfolio backtests for the pages, the CLI and jobs: the book with shared cash, and a
saved one reopened (re-exported by :mod:`app.services.backtest`)."""

from __future__ import annotations

import pandas as pd

from app.operations.backtest import PortfolioOutcome, PortfolioRequest
from app.services import runs as run_store
from app.services.data import load_prices
from core.backtest.metrics import as_floats
from core.backtest.spec import EXECUTION
from core.serialize import json_safe


def run_portfolio(request: PortfolioRequest, *, save: bool = True) -> PortfolioOutcome:
    """Backtest the book with shared cash (vectorbt, cash sharing, target percent).

    The book runs on the bars every symbol has within the request's range (their common
    period). Its metrics count ``rebalances`` (bars on which orders were sent) and
    ``orders`` (fills, one per symbol traded at a rebalance); the engine's per-symbol
    count of position entries is dropped: it is not a count of the book's trades.
    """
    from core.backtest import run_portfolio_backtest
    from core.backtest.weights import target_weights

    frames = {
        s: load_prices(request.dataset, s, start=request.start, end=request.end)
        for s in request.symbols
    }
    closes = pd.DataFrame({s: f["close"] for s, f in frames.items()}).dropna()
    if len(closes) < 60:
        raise ValueError(
            f"the chosen symbols share only {len(closes)} bars in the chosen range; a "
            "portfolio needs at least 60: pick symbols whose data overlap"
        )
    weights = target_weights(
        closes, weighting=request.weighting, vol_window=request.vol_window, gross=request.gross
    )
    rebalance = None if request.rebalance == "none" else request.rebalance
    result = run_portfolio_backtest(frames, weights, request.spec(), rebalance=rebalance)
    metrics = {k: v for k, v in as_floats(result.metrics).items() if k != "n_trades"}
    metrics["rebalances"] = float(len(result.rebalance_dates))
    metrics["orders"] = float(len(result.orders))
    run_id = None
    if save:
        run_id = run_store.save_run(
            kind="portfolio",
            title=f"portfolio {request.weighting} {len(request.symbols)} symbols",
            spec=request.model_dump(mode="json"),
            metrics={**json_safe(metrics), "execution": result.execution},
            frames={
                "curves": pd.DataFrame({"equity": result.equity, "drawdown": result.drawdown}),
                "weights": result.weights,
            },
        )
    return PortfolioOutcome(
        run_id, request, result.equity, result.drawdown, result.weights, metrics, result.execution
    )


def reopen_portfolio(run_id: int) -> PortfolioOutcome:
    """Rebuild a saved portfolio backtest from its stored frames (no recomputation)."""
    run = run_store.get_run_of_kind(run_id, "portfolio")
    curves = run_store.load_frame(run, "curves")
    return PortfolioOutcome(
        run_id,
        PortfolioRequest.model_validate(run.spec),
        curves["equity"],
        curves["drawdown"],
        run_store.load_frame(run, "weights"),
        as_floats(run.metrics),
        str(run.metrics.get("execution") or EXECUTION),
    )
