"""``workbench sweep``, generated from the sweep operation's request model."""

from __future__ import annotations

from typing import Any

from app.cli import options as opt
from app.cli._app import app
from app.cli._common import _grid_axes, _strategy_fixed, fail
from app.cli._generate import add_command, extra_option
from app.operations.sweep import SWEEP, TOP, SweepOutcome, top_rows


def _grid(raw: Any, values: dict[str, Any], as_json: bool) -> dict[str, Any]:
    return _grid_axes(list(raw or []), values.get("strategy"), as_json)


def _fixed(raw: Any, values: dict[str, Any], as_json: bool) -> dict[str, Any]:
    return _strategy_fixed(str(values.get("strategy")), list(raw or []), as_json)


def _symbol(raw: Any, values: dict[str, Any], as_json: bool) -> Any:
    """``--symbol``, refused beside ``--all-symbols`` (dropped: a universe names none)."""
    if not values.get("all_symbols"):
        return raw
    from typer._click.core import ParameterSource  # typer 0.29 runs its own click
    from typer._click.globals import get_current_context

    context = get_current_context(silent=True)
    source = context.get_parameter_source("symbol") if context is not None else None
    if source is ParameterSource.COMMANDLINE:
        fail(
            f"give either --symbol {raw} or --all-symbols, not both: "
            "--all-symbols sweeps every symbol of the dataset",
            as_json=as_json,
        )
    return None


def _top(
    outcome: SweepOutcome, payload: dict[str, Any], extras: dict[str, Any], as_json: bool
) -> dict[str, Any]:
    """The ranked table cut to ``--top`` rows."""
    return {**payload, "top": top_rows(outcome, extras["top"])}


TOP_OPT = extra_option(
    "top",
    int,
    TOP,
    "--top",
    help="Rows of the top-N table (1-1000).",
    parser=opt.number(1, 1000, integer=True),
)

add_command(
    app,
    SWEEP,
    converters={"grid": _grid, "fixed": _fixed, "symbol": _symbol},
    extra=[TOP_OPT],
    after=_top,
)
