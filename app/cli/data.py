"""``workbench`` commands: datasets: list, validate and import (generated from
app/operations/data)."""

from __future__ import annotations

from typing import Any

import typer

from app.cli._app import app
from app.cli._common import emit
from app.cli._generate import add_command
from app.operations.data import DATA_IMPORT, DATA_VALIDATE, FileFormat

data_app = typer.Typer(help="List, validate and import datasets.", no_args_is_help=True)
app.add_typer(data_app, name="data")


@data_app.command("list")
def data_list(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """List datasets, their symbols, date ranges and columns."""
    from app.services import data as data_service

    infos = data_service.list_datasets()
    payload: dict[str, object] = {"datasets": [info.as_dict() for info in infos]}
    payload["symbol_count"] = sum(len(info.symbols) for info in infos)
    lines = []
    for info in infos:
        lines.append(f"{info.name}: {info.description} [{info.license}]")
        for s in info.symbols:
            lines.append(
                f"  {s.symbol:<10} {s.start} .. {s.end}  {s.rows:>6} bars of {s.interval}  "
                f"{','.join(s.columns)}"
            )
    emit(payload, as_json=as_json, text="\n".join(lines))


def _as_typed(raw: Any, values: dict[str, Any], as_json: bool) -> Any:
    """The text as typed: the format options and the name are checked by the service,
    which names each bad option's flag (``--decimal: ...``) or the name's defect."""
    return raw


_TEXT = dict.fromkeys([*FileFormat.model_fields, "name"], _as_typed)

add_command(data_app, DATA_VALIDATE, converters=_TEXT)
add_command(data_app, DATA_IMPORT, converters=_TEXT)
