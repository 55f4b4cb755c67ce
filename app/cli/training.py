"""``workbench`` commands: model training and the look-ahead check."""

from __future__ import annotations

from typing import Any

import typer

from app.cli import options as opt
from app.cli._app import app
from app.cli._common import (
    DATASET_OPT,
    JSON_OPT,
    PARAM_OPT,
    SEED_OPT,
    STRATEGIES_NAMES,
    SYMBOL_OPT,
    TRAIN_REQ,
    _actor,
    _call,
    _strategy_params,
    emit,
)
from core.serialize import json_safe


@app.command("train")
def train_cmd(
    dataset: str = DATASET_OPT,
    symbol: str = SYMBOL_OPT,
    model: str = typer.Option(
        "xgboost",
        "--model",
        help="logistic, random_forest, xgboost.",
        parser=opt.from_model(TRAIN_REQ, "kind"),
    ),
    horizon: int = typer.Option(
        5, "--horizon", help="Label horizon in bars.", parser=opt.from_model(TRAIN_REQ, "horizon")
    ),
    label: str = typer.Option(
        "sign",
        "--label",
        help="sign or triple_barrier.",
        parser=opt.from_model(TRAIN_REQ, "label"),
    ),
    feature: list[str] = typer.Option(
        [], "--feature", help="Feature name (repeatable).", parser=opt.text()
    ),
    tune: bool = typer.Option(False, "--tune", help="Tune with Optuna (TPE, seeded)."),
    trials: int = typer.Option(
        20, "--trials", help="Optuna trials.", parser=opt.from_model(TRAIN_REQ, "n_trials")
    ),
    seed: int = SEED_OPT,
    threshold: float = typer.Option(
        0.5,
        "--threshold",
        help="Probability to go long.",
        parser=opt.from_model(TRAIN_REQ, "threshold"),
    ),
    register: str | None = typer.Option(
        None, "--register", help="Register as this name.", parser=opt.text()
    ),
    allow_lookahead: bool = typer.Option(
        False,
        "--allow-lookahead",
        help="Train even if the look-ahead check flags a feature (flagged in the output).",
    ),
    as_json: bool = JSON_OPT,
) -> None:
    """Train a classifier, evaluate it out of sample and backtest its signal.

    The look-ahead check runs on the features first (a leaky one is refused, exit 2,
    unless --allow-lookahead); implausible results are flagged in ``warnings``.
    """
    from app.services import ml

    request = _call(
        as_json,
        ml.TrainRequest,
        dataset=dataset,
        symbol=symbol,
        kind=model,
        horizon=horizon,
        label=label,
        features=feature or None,
        tune=tune,
        n_trials=trials,
        seed=seed,
        threshold=threshold,
        allow_lookahead=allow_lookahead,
    )
    outcome = _call(as_json, ml.train, request=request)
    for warning in outcome.warnings:
        typer.echo(f"WARNING: {warning}", err=True)
    ev = outcome.evaluation
    payload: dict[str, Any] = {
        "run_id": outcome.run_id,
        "model": model,
        "features": len(outcome.features),
        "trials": outcome.trials,
        "train_range": [d.isoformat() for d in outcome.train_range],
        "test_range": [d.isoformat() for d in outcome.test_range],
        **json_safe({k: ev[k] for k in ("roc_auc", "pr_auc", "log_loss", "brier", "accuracy")}),
        "confusion_matrix": ev["confusion_matrix"],
        "top_features": outcome.importance.head(10).index.tolist(),
        "signal": json_safe(outcome.signal_metrics),
        "params": outcome.params,
        "lookahead": outcome.lookahead,
        "warnings": list(outcome.warnings),
    }
    if register:
        payload["registered"] = _call(
            as_json, ml.register, run_id=outcome.run_id, name=register, actor=_actor(as_json)
        ).as_dict()
    emit(payload, as_json=as_json)


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
