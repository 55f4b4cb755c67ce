"""``workbench walkforward``: generated from the walk-forward operation's request model."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from app.cli import options as opt
from app.cli._app import app
from app.cli._common import _grid_axes, fail
from app.cli._generate import add_command, extra_option
from app.operations.walkforward import WALKFORWARD


def _grid(raw: Any, values: dict[str, Any], as_json: bool) -> dict[str, Any]:
    return _grid_axes(list(raw or []), values.get("strategy"), as_json)


def _features(raw: Any, values: dict[str, Any], as_json: bool) -> list[str] | None:
    parse = opt.text()
    names = []
    for item in raw or []:
        try:
            names.append(parse(item))
        except ValueError as exc:
            fail(f"--feature {str(item)[:40]!r}: {exc}", as_json=as_json)
    return names or None


def _report(outcome: Any, payload: dict[str, Any], extras: dict[str, Any], as_json: bool) -> Any:
    """Warnings to stderr; the HTML report to ``--out`` when asked."""
    from app.services.walkforward import report_html

    for warning in payload["warnings"]:
        typer.echo(f"WARNING: {warning}", err=True)
    out: Path | None = extras.get("out")
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(report_html(outcome), encoding="utf-8")
        payload["report"] = str(out)
    return payload


OUT = extra_option(
    "out", Path | None, None, "--out", help="Also write an HTML report.", parser=opt.output_file()
)

add_command(
    app,
    WALKFORWARD,
    converters={"grid": _grid, "features": _features},
    extra=[OUT],
    after=_report,
)
