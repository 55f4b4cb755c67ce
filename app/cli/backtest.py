"""``workbench`` commands: backtests: one strategy, a portfolio, and the tear sheet."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from app.cli import options as opt
from app.cli._app import app
from app.cli._common import (
    DATASET_OPT,
    FEES_OPT,
    JSON_OPT,
    PARAM_OPT,
    PORTFOLIO_REQ,
    SLIP_OPT,
    STRATEGY_OPT,
    SYMBOL_OPT,
    _call,
    _strategy_params,
    emit,
)
from app.cli._generate import add_command
from app.operations.backtest import BACKTEST
from core.serialize import json_safe


def _params(raw: Any, values: dict[str, Any], as_json: bool) -> dict[str, Any]:
    return _strategy_params(values.get("strategy"), list(raw or []), as_json)


add_command(app, BACKTEST, converters={"params": _params})


@app.command("portfolio")
def portfolio(
    dataset: str = typer.Option(
        "sp500_closes", "--dataset", help="Dataset name.", parser=opt.text()
    ),
    symbol: list[str] = typer.Option(
        ..., "--symbol", help="Symbol (repeat, 2-25).", parser=opt.text()
    ),
    weighting: str = typer.Option(
        "equal",
        "--weighting",
        help="equal or inverse_vol.",
        parser=opt.from_model(PORTFOLIO_REQ, "weighting"),
    ),
    rebalance: str = typer.Option(
        "M",
        "--rebalance",
        help="W, M or none.",
        parser=opt.from_model(PORTFOLIO_REQ, "rebalance"),
    ),
    fees: float = FEES_OPT,
    slippage: float = SLIP_OPT,
    as_json: bool = JSON_OPT,
) -> None:
    """Multi-asset backtest with shared cash, target weights and rebalancing."""
    from app.services import research

    request = _call(
        as_json,
        research.PortfolioRequest,
        dataset=dataset,
        symbols=symbol,
        weighting=weighting,
        rebalance=rebalance,
        fees=fees,
        slippage=slippage,
    )
    outcome = _call(as_json, research.run_portfolio, request=request)
    payload = {
        **json_safe(outcome.metrics),
        "execution": outcome.execution,
        "run_id": outcome.run_id,
        "final_weights": outcome.weights.iloc[-1].round(6).to_dict(),
    }
    emit(payload, as_json=as_json)


@app.command("report")
def report(
    out: Path = typer.Option(..., "--out", help="HTML file to write.", parser=opt.output_file()),
    dataset: str = DATASET_OPT,
    symbol: str = SYMBOL_OPT,
    strategy: str = STRATEGY_OPT,
    param: list[str] = PARAM_OPT,
    fees: float = FEES_OPT,
    slippage: float = SLIP_OPT,
    run_id: int | None = typer.Option(
        None,
        "--run",
        help="Saved backtest run id instead.",
        parser=opt.number(1, None, integer=True),
    ),
    as_json: bool = JSON_OPT,
) -> None:
    """Write a quantstats HTML tear sheet (benchmark: buy-and-hold of the same symbol)."""
    from app.services import research

    if run_id is not None:
        outcome = _call(as_json, research.reopen_backtest, run_id=run_id)
    else:
        request = _call(
            as_json,
            research.BacktestRequest,
            dataset=dataset,
            symbol=symbol,
            strategy=strategy,
            params=_strategy_params(strategy, param, as_json),
            fees=fees,
            slippage=slippage,
        )
        outcome = _call(as_json, research.run_backtest, request=request)
    html = _call(as_json, research.tearsheet, outcome=outcome)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(html, encoding="utf-8")
    emit(
        {"out": str(out), "bytes": len(html), "run_id": outcome.run_id},
        as_json=as_json,
        text=f"wrote {out} ({len(html):,} bytes)",
    )
