"""``workbench`` commands: vectorized parameter sweeps."""

from __future__ import annotations

import typer

from app.cli import options as opt
from app.cli._app import app
from app.cli._common import (
    DATASET_OPT,
    FEES_OPT,
    JSON_OPT,
    PARAM_OPT,
    SLIP_OPT,
    STRATEGY_OPT,
    SYMBOL_OPT,
    _call,
    _grid_axes,
    _strategy_fixed,
    emit,
)
from core.serialize import json_safe


@app.command("sweep")
def sweep_cmd(
    dataset: str = DATASET_OPT,
    symbol: str = SYMBOL_OPT,
    strategy: str = STRATEGY_OPT,
    grid: list[str] = typer.Option(..., "--grid", help="name=start:stop:step (repeatable)."),
    param: list[str] = PARAM_OPT,
    metric: str = typer.Option(
        "sharpe",
        "--metric",
        help="Ranking metric.",
        parser=opt.choice("core.sweep:METRICS"),
    ),
    fees: float = FEES_OPT,
    slippage: float = SLIP_OPT,
    top: int = typer.Option(
        10,
        "--top",
        help="Rows of the top-N table (1-1000).",
        parser=opt.number(1, 1000, integer=True),
    ),
    as_json: bool = JSON_OPT,
) -> None:
    """Vectorized parameter sweep; prints combinations, seconds and the best row."""
    from app.services import research

    axes = _grid_axes(grid, strategy, as_json)
    request = _call(
        as_json,
        research.SweepRequest,
        dataset=dataset,
        symbol=symbol,
        strategy=strategy,
        grid=axes,
        fixed=_strategy_fixed(strategy, param, as_json),
        metric=metric,
        fees=fees,
        slippage=slippage,
    )
    outcome = _call(as_json, research.run_sweep, request=request)
    best = json_safe(dict(outcome.best))
    payload = {
        "combinations": outcome.combinations,
        "seconds": round(outcome.seconds, 4),
        "best": best,
        "metric": metric,
        "run_id": outcome.run_id,
        "execution": outcome.execution,
        "top": outcome.top(top).replace({float("nan"): None}).to_dict(orient="records"),
    }
    text = (
        f"{outcome.combinations} combinations in {outcome.seconds:.3f} s\n"
        f"best by {metric}: {best}\n{outcome.top(top).to_string(index=False)}"
    )
    emit(payload, as_json=as_json, text=text)
