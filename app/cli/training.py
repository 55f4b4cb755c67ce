"""``workbench`` commands: model training and the look-ahead check."""

from __future__ import annotations

import inspect
from typing import Any

import typer

from app.cli import options as opt
from app.cli._app import app
from app.cli._common import (
    DATASET_OPT,
    JSON_OPT,
    PARAM_OPT,
    STRATEGIES_NAMES,
    SYMBOL_OPT,
    _actor,
    _call,
    _params,
    _strategy_params,
    emit,
)
from app.cli._generate import add_command
from app.operations.registry import REGISTER, RegisterRequest
from app.operations.training import TRAIN


def _features(raw: Any, _values: dict[str, Any], _as_json: bool) -> list[str] | None:
    return list(raw) or None  # none given: every feature computable from the data


def _model_params(raw: Any, _values: dict[str, Any], as_json: bool) -> dict[str, Any]:
    return _params(list(raw or []), as_json)


def _register_after(
    outcome: Any, payload: dict[str, Any], extras: dict[str, Any], as_json: bool
) -> dict[str, Any]:
    """Print the warnings; with ``--register NAME``, register the run's model."""
    for warning in outcome.warnings:
        typer.echo(f"WARNING: {warning}", err=True)
    if extras.get("register"):
        request = _call(as_json, RegisterRequest, run_id=outcome.run_id, name=extras["register"])
        row = _call(as_json, REGISTER.run, request=request, actor=_actor(as_json))
        payload["registered"] = row.as_dict()
    return payload


REGISTER_OPT = inspect.Parameter(
    "register",
    inspect.Parameter.KEYWORD_ONLY,
    default=typer.Option(
        None, "--register", help="Register the trained model as this name.", parser=opt.text()
    ),
    annotation=str | None,
)

add_command(
    app,
    TRAIN,
    converters={"features": _features, "params": _model_params},
    extra=[REGISTER_OPT],
    after=_register_after,
)


@app.command("lookahead-check")
def lookahead_cmd(
    dataset: str = DATASET_OPT,
    symbol: str = SYMBOL_OPT,
    strategy: str | None = typer.Option(
        None, "--strategy", help="Strategy to check.", parser=opt.choice(STRATEGIES_NAMES)
    ),
    param: list[str] = PARAM_OPT,
    feature: list[str] = typer.Option(
        [], "--feature", help="Feature (repeatable); default all.", parser=opt.text()
    ),
    leaky_demo: bool = typer.Option(
        False, "--include-leaky-demo", help="Add a deliberately leaky feature (must be flagged)."
    ),
    cuts: int = typer.Option(
        20, "--cuts", help="Truncation points (1-500).", parser=opt.number(1, 500, integer=True)
    ),
    as_json: bool = JSON_OPT,
) -> None:
    """Flag any bar whose value changes when later bars are added. Exit 1 if leaky."""
    from app.services import walkforward as wf

    report = _call(
        as_json,
        wf.lookahead,
        dataset=dataset,
        symbol=symbol,
        strategy=strategy,
        params=_strategy_params(strategy, param, as_json),
        features=feature or None,
        include_leaky_demo=leaky_demo,
        cuts=cuts,
    )
    payload = {
        "leaky": report.leaky,
        "offending_columns": list(report.offending_columns),
        "first_offending_bars": {k: str(v) for k, v in report.first_offending_bars.items()},
        "cuts": len(report.cuts),
        "message": report.message(),
    }
    emit(payload, as_json=as_json, text=report.message())
    if report.leaky:
        raise typer.Exit(1)
