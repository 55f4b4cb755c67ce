"""``workbench`` commands: the model registry: list, promote, roll back."""

from __future__ import annotations

import typer

from app.cli import options as opt
from app.cli._app import app
from app.cli._common import JSON_OPT, _actor, _call, emit

models_app = typer.Typer(help="Model registry: list, promote, roll back.", no_args_is_help=True)
app.add_typer(models_app, name="models")


@models_app.command("list")
def models_list(
    name: str | None = typer.Option(None, "--name", parser=opt.text()), as_json: bool = JSON_OPT
) -> None:
    """Registered model versions, with stage and metrics."""
    from app.services import ml

    rows = [v.as_dict() for v in ml.list_versions(name)]
    text = "\n".join(
        f"#{r['id']:<4} {r['name']} v{r['version']:<3} {r['kind']:<13} {r['stage']:<9} "
        f"auc={r['metrics'].get('roc_auc')}"
        for r in rows
    )
    emit({"versions": rows}, as_json=as_json, text=text or "no registered models")


@models_app.command("promote")
def models_promote(
    version_id: int = typer.Argument(
        ..., help="Version id (see models list).", parser=opt.number(1, None, integer=True)
    ),
    reason: str = typer.Option("", "--reason", parser=opt.text(allow_empty=True)),
    as_json: bool = JSON_OPT,
) -> None:
    """Make a version the champion (the previous champion is archived)."""
    from app.services import ml

    row = _call(as_json, ml.promote, version_id=version_id, reason=reason, actor=_actor(as_json))
    emit(row.as_dict(), as_json=as_json, text=f"{row.name} v{row.version} is now champion")


@models_app.command("rollback")
def models_rollback(
    name: str = typer.Argument(..., help="Model name.", parser=opt.text()),
    reason: str = typer.Option("", "--reason", parser=opt.text(allow_empty=True)),
    as_json: bool = JSON_OPT,
) -> None:
    """Restore the previous champion."""
    from app.services import ml

    row = _call(as_json, ml.rollback, name=name, reason=reason, actor=_actor(as_json))
    emit(row.as_dict(), as_json=as_json, text=f"{row.name} v{row.version} is champion again")
