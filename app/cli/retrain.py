"""``workbench`` commands: performance-triggered retraining."""

from __future__ import annotations

import typer

from app.cli import options as opt
from app.cli._app import app
from app.cli._common import DATASET_OPT, JSON_OPT, REPLAY_REQ, SYMBOL_OPT, _call, emit

retrain_app = typer.Typer(help="Performance-triggered retraining.", no_args_is_help=True)
app.add_typer(retrain_app, name="retrain")


@retrain_app.command("replay")
def retrain_replay(
    dataset: str = DATASET_OPT,
    symbol: str = SYMBOL_OPT,
    metric: str = typer.Option(
        "sharpe",
        "--metric",
        help="sharpe, total_return, hit_rate.",
        parser=opt.from_model(REPLAY_REQ, "metric"),
    ),
    threshold: float = typer.Option(0.0, "--threshold", parser=opt.number(-1e6, 1e6)),
    window: int = typer.Option(
        126,
        "--window",
        help="Rolling window (bars).",
        parser=opt.from_model(REPLAY_REQ, "window_bars"),
    ),
    cooldown: int = typer.Option(
        63,
        "--cooldown",
        help="Bars between retrains.",
        parser=opt.from_model(REPLAY_REQ, "cooldown_bars"),
    ),
    model: str = typer.Option(
        "ma_crossover",
        "--model",
        help="ma_crossover, logistic, random_forest or xgboost.",
        parser=opt.from_model(REPLAY_REQ, "model"),
    ),
    as_json: bool = JSON_OPT,
) -> None:
    """What the retraining policy would have done over history (decisions recorded)."""
    from app.services import ensemble

    request = _call(
        as_json,
        ensemble.ReplayRequest,
        dataset=dataset,
        symbol=symbol,
        metric=metric,
        threshold=threshold,
        window_bars=window,
        cooldown_bars=cooldown,
        model=model,
    )
    rows = _call(as_json, ensemble.replay_retraining, request=request)
    counts = {k: sum(r["decision"] == k for r in rows) for k in ("promoted", "kept", "rolled_back")}
    emit(
        {"decisions": rows, "counts": counts},
        as_json=as_json,
        text="\n".join(f"{r['as_of']} {r['decision']:<11} {r['reason']}" for r in rows),
    )
