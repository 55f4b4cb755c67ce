"""``workbench sweep``, generated from the sweep operation's request model."""

from __future__ import annotations

from typing import Any

from app.cli import options as opt
from app.cli._app import app
from app.cli._common import _grid_axes, _strategy_fixed
from app.cli._generate import add_command, extra_option
from app.operations.sweep import SWEEP, TOP, SweepOutcome, top_rows


def _grid(raw: Any, values: dict[str, Any], as_json: bool) -> dict[str, Any]:
    return _grid_axes(list(raw or []), values.get("strategy"), as_json)


def _fixed(raw: Any, values: dict[str, Any], as_json: bool) -> dict[str, Any]:
    return _strategy_fixed(str(values.get("strategy")), list(raw or []), as_json)


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

add_command(app, SWEEP, converters={"grid": _grid, "fixed": _fixed}, extra=[TOP_OPT], after=_top)
