"""``workbench`` commands: walk-forward validation."""

from __future__ import annotations

from pathlib import Path

import typer

from app.cli import options as opt
from app.cli._app import app
from app.cli._common import (
    DATASET_OPT,
    JSON_OPT,
    STRATEGIES_NAMES,
    SYMBOL_OPT,
    WF_REQ,
    _call,
    _grid_axes,
    emit,
)


@app.command("walkforward")
def walkforward_cmd(
    dataset: str = DATASET_OPT,
    symbol: str = SYMBOL_OPT,
    strategy: str | None = typer.Option(
        None,
        "--strategy",
        help="Rule strategy to optimize.",
        parser=opt.choice(STRATEGIES_NAMES),
    ),
    grid: list[str] = typer.Option([], "--grid", help="name=start:stop:step (repeatable)."),
    model: str | None = typer.Option(
        None,
        "--model",
        help="Or: logistic|random_forest|xgboost.",
        parser=opt.from_model(WF_REQ, "model"),
    ),
    folds: int | None = typer.Option(
        None, "--folds", help="Keep the latest K folds.", parser=opt.from_model(WF_REQ, "folds")
    ),
    mode: str = typer.Option(
        "rolling", "--mode", help="rolling or anchored.", parser=opt.from_model(WF_REQ, "mode")
    ),
    train_bars: int = typer.Option(
        1000, "--train-bars", parser=opt.number(100, 1_000_000, integer=True)
    ),
    test_bars: int = typer.Option(
        250, "--test-bars", parser=opt.number(20, 1_000_000, integer=True)
    ),
    retune: bool = typer.Option(False, "--retune", help="Re-tune the model on every fold."),
    trials: int = typer.Option(10, "--trials", parser=opt.from_model(WF_REQ, "n_trials")),
    out: Path | None = typer.Option(
        None, "--out", help="Also write an HTML report.", parser=opt.output_file()
    ),
    allow_lookahead: bool = typer.Option(
        False,
        "--allow-lookahead",
        help="Run even if the look-ahead check flags a feature (flagged in the output).",
    ),
    as_json: bool = JSON_OPT,
) -> None:
    """Walk-forward validation with deflated Sharpe and PBO.

    Model walk-forwards first run the look-ahead check on their features and refuse a
    leaky one (exit 2) unless --allow-lookahead. Implausible out-of-sample results
    (AUC >= 0.9, Sharpe >= 4) are flagged in ``warnings``.
    """
    from app.services import walkforward as wf

    axes = _grid_axes(grid, strategy, as_json)
    request = _call(
        as_json,
        wf.WalkForwardRequest,
        dataset=dataset,
        symbol=symbol,
        strategy=strategy,
        grid=axes,
        model=model,
        folds=folds,
        mode=mode,
        train_bars=train_bars,
        test_bars=test_bars,
        retune=retune,
        n_trials=trials,
        allow_lookahead=allow_lookahead,
    )
    outcome = _call(as_json, wf.run_walkforward, request=request)
    payload = outcome.payload()
    for warning in payload["warnings"]:
        typer.echo(f"WARNING: {warning}", err=True)
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(wf.report_html(outcome), encoding="utf-8")
        payload["report"] = str(out)
    emit(payload, as_json=as_json)
