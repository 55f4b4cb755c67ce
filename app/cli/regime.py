"""``workbench regime``: fit and evaluate probabilistic regimes (generated from
app/operations/regime.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from app.cli import options as opt
from app.cli._app import app
from app.cli._common import fail
from app.cli._generate import add_command, extra_option
from app.operations.regime import REGIME_EVAL, REGIME_FIT

regime_app = typer.Typer(help="Fit and evaluate probabilistic regimes.", no_args_is_help=True)
app.add_typer(regime_app, name="regime")


def _synthetic_only(values: dict[str, Any], as_json: bool) -> None:
    if not values["synthetic"]:
        fail(
            "only --synthetic evaluation has ground truth; use `regime fit` on real data",
            as_json=as_json,
        )


def _write_csv(
    outcome: Any, payload: dict[str, Any], extras: dict[str, Any], as_json: bool
) -> dict[str, Any]:
    from app.services.regime import filtered_frame

    out: Path = extras["out"]
    frame = filtered_frame(outcome)
    out.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(out, index_label="date")
    return {"out": str(out), **payload}


def _fit_text(outcome: Any, payload: dict[str, Any]) -> str:
    current = payload["current"]
    return (
        f"wrote {payload['bars']} bars to {payload['out']}; current regime "
        f"{current['label']} ({current['confidence']:.0%})\nhistory: {payload['history']}"
    )


add_command(
    regime_app,
    REGIME_EVAL,
    extra=[
        extra_option("synthetic", bool, True, "--synthetic/--no-synthetic", help="Synthetic data.")
    ],
    before=_synthetic_only,
)
add_command(
    regime_app,
    REGIME_FIT,
    extra=[
        extra_option(
            "out",
            Path,
            ...,
            "--out",
            help="CSV to write: filtered probabilities, label.",
            parser=opt.output_file(),
        )
    ],
    after=_write_csv,
    text=_fit_text,
)
