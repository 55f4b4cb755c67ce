"""``workbench backtest / portfolio / report``, generated from the backtest operations."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from app.cli import options as opt
from app.cli._app import app
from app.cli._common import _strategy_params
from app.cli._generate import add_command, extra_option
from app.cli.report_pack import install
from app.operations.backtest import BACKTEST, PORTFOLIO, REPORT, ReportOutcome


def _params(raw: Any, values: dict[str, Any], as_json: bool) -> dict[str, Any]:
    return _strategy_params(values.get("strategy"), list(raw or []), as_json)


def _write_report(
    outcome: ReportOutcome, payload: dict[str, Any], extras: dict[str, Any], as_json: bool
) -> dict[str, Any]:
    """Write the tear sheet to ``--out`` (if given); the payload names the file first."""
    out: Path | None = extras["out"]
    if out is None:  # the tear sheet is kept with its run (payload["html_path"])
        return payload
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(outcome.html, encoding="utf-8")
    return {"out": str(out), **payload}


OUT_OPT = extra_option(
    "out",
    Path | None,
    None,
    "--out",
    help="HTML file to write (the tear sheet is also kept with its run).",
    parser=opt.output_file(),
)

add_command(app, BACKTEST, converters={"params": _params})
add_command(app, PORTFOLIO)
add_command(
    app,
    REPORT,
    converters={"params": _params},
    extra=[OUT_OPT],
    after=_write_report,
)
install(app)  # `workbench report pack ...` beside the tear sheet (app/cli/report_pack.py)
