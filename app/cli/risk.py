"""``workbench`` commands: pre-trade checks and risk limits (generated from app/operations/risk)."""

from __future__ import annotations

from typing import Any

import typer

from app.cli._app import app
from app.cli._common import JSON_OPT, emit, fail
from app.cli._generate import add_command
from app.operations.params import parse_value
from app.operations.risk import LIMITS_SET, RISK_CHECK

risk_app = typer.Typer(help="Pre-trade checks and risk limits.", no_args_is_help=True)
limits_app = typer.Typer(help="Show or change the risk limits (audited).", no_args_is_help=True)
app.add_typer(risk_app, name="risk")
risk_app.add_typer(limits_app, name="limits")


@limits_app.command("show")
def limits_show(as_json: bool = JSON_OPT) -> None:
    """The limits in force and their version."""
    from app.services import risk

    version, limits = risk.current_limits()
    emit({"version": version, "limits": limits.model_dump()}, as_json=as_json)


def _limit_values(pairs: Any, raw: dict[str, Any], as_json: bool) -> dict[str, Any]:
    """``name=value`` arguments as a mapping (the request checks each limit's unit and range)."""
    values: dict[str, Any] = {}
    for pair in pairs or []:
        name, sep, text = str(pair).partition("=")
        if not sep or not name.strip():
            fail(
                f"limit values: {pair!r} must look like name=value, e.g. max_weight_per_asset=0.2",
                as_json=as_json,
            )
        try:
            values[name.strip()] = parse_value(text.strip())
        except ValueError:  # e.g. inf or nan: the range check names the limit
            values[name.strip()] = text.strip()
    return values


add_command(risk_app, RISK_CHECK)
add_command(limits_app, LIMITS_SET, converters={"values": _limit_values})
