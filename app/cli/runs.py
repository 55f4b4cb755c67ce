"""``workbench`` commands: saved runs."""

from __future__ import annotations

import typer

from app.cli import options as opt
from app.cli._app import app
from app.cli._common import JSON_OPT, emit


@app.command("runs")
def runs_cmd(
    kind: str | None = typer.Option(None, "--kind", help="backtest, sweep, ...", parser=opt.text()),
    limit: int = typer.Option(
        20, "--limit", help="Rows (1-10000).", parser=opt.number(1, 10_000, integer=True)
    ),
    as_json: bool = JSON_OPT,
) -> None:
    """List saved runs, newest first."""
    from app.services import runs as run_store

    rows = [
        {
            "id": r.id,
            "kind": r.kind,
            "title": r.title,
            "status": r.status,
            "created_at": r.created_at.isoformat(),
            "metrics": r.metrics,
        }
        for r in run_store.list_runs(kind=kind, limit=limit)
    ]
    emit(
        {"runs": rows},
        as_json=as_json,
        text="\n".join(f"#{r['id']:<5} {r['kind']:<9} {r['title']}" for r in rows),
    )
