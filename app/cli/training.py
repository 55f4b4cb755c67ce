"""``workbench`` commands: model training and the look-ahead check (both generated)."""

from __future__ import annotations

from typing import Any

import typer

from app.cli import options as opt
from app.cli._app import app
from app.cli._common import _actor, _call, _params, _strategy_params
from app.cli._generate import add_command, extra_option
from app.operations.registry import REGISTER, RegisterRequest
from app.operations.training import TRAIN
from app.operations.walkforward import LOOKAHEAD


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


REGISTER_OPT = extra_option(
    "register",
    str | None,
    None,
    "--register",
    help="Register the trained model as this name.",
    parser=opt.text(),
)

add_command(
    app,
    TRAIN,
    converters={"features": _features, "params": _model_params},
    extra=[REGISTER_OPT],
    after=_register_after,
)


def _strategy_param(raw: Any, values: dict[str, Any], as_json: bool) -> dict[str, Any]:
    """``--param`` values checked against the ``--strategy``'s declared types and ranges."""
    return _strategy_params(values.get("strategy"), list(raw or []), as_json)


def _leaky(report: Any) -> int:
    """Exit 1 when a column changes once later bars are added."""
    return 1 if report.leaky else 0


add_command(
    app,
    LOOKAHEAD,
    converters={"params": _strategy_param, "features": _features},
    exit_code=_leaky,
)
