"""``workbench`` commands: the ensemble and its meta-selector."""

from __future__ import annotations

import typer

from app.cli import options as opt
from app.cli._app import app
from app.cli._common import DATASET_OPT, ENSEMBLE_REQ, JSON_OPT, SEED_OPT, SYMBOL_OPT, _call, emit

ensemble_app = typer.Typer(
    help="Strategy ensemble with a bandit meta-selector.", no_args_is_help=True
)
app.add_typer(ensemble_app, name="ensemble")


@ensemble_app.command("eval")
def ensemble_eval(
    dataset: str = DATASET_OPT,
    symbol: str = SYMBOL_OPT,
    selector: str = typer.Option(
        "contextual",
        "--selector",
        help="ucb, thompson, exp3 or contextual.",
        parser=opt.from_model(ENSEMBLE_REQ, "selector"),
    ),
    train_fraction: float = typer.Option(
        0.5, "--train-fraction", parser=opt.from_model(ENSEMBLE_REQ, "train_fraction")
    ),
    seed: int = SEED_OPT,
    as_json: bool = JSON_OPT,
) -> None:
    """Walk-forward ensemble vs the best single agent and equal weights."""
    from app.services import ensemble

    request = _call(
        as_json,
        ensemble.EnsembleRequest,
        dataset=dataset,
        symbol=symbol,
        selector=selector,
        train_fraction=train_fraction,
        seed=seed,
    )
    outcome = _call(as_json, ensemble.run_ensemble, request=request)
    payload = outcome.payload()
    text = (
        f"{selector}: ensemble Sharpe {payload['ensemble_sharpe']:.3f}, best single "
        f"({payload['best_agent']}) {payload['best_single_sharpe']:.3f}, equal weight "
        f"{payload['equal_weight_sharpe']:.3f}; regret {payload['regret']:.3f}; "
        f"{payload['switches']} switches"
    )
    emit(payload, as_json=as_json, text=text)
