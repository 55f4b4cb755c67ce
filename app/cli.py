"""``workbench``: the command line over the same services as the pages."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import typer

from app.services import data as data_service

app = typer.Typer(
    help="Trading Research Workbench command line.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
data_app = typer.Typer(help="List, validate and import datasets.", no_args_is_help=True)
app.add_typer(data_app, name="data")

EXIT_BAD_INPUT = 2


def emit(payload: Any, *, as_json: bool, text: str | None = None) -> None:
    """Print JSON (machine) or a short text (human)."""
    if as_json:
        typer.echo(json.dumps(payload, indent=2, default=str))
    else:
        typer.echo(text if text is not None else json.dumps(payload, indent=2, default=str))


def fail(message: str, *, as_json: bool, defects: list[dict[str, Any]] | None = None) -> None:
    """Report bad input and exit with code 2."""
    payload: dict[str, Any] = {"error": message}
    if defects is not None:
        payload["defects"] = defects
    if as_json:
        typer.echo(json.dumps(payload, indent=2, default=str))
    else:
        typer.echo(f"error: {message}", err=True)
        for defect in defects or []:
            typer.echo(f"  - [{defect['code']}] {defect['message']}", err=True)
    raise typer.Exit(EXIT_BAD_INPUT)


def _read(path: Path, as_json: bool) -> bytes:
    if not path.is_file():
        fail(f"file not found: {path}; check the path", as_json=as_json)
    return path.read_bytes()


@data_app.command("list")
def data_list(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """List datasets, their symbols, date ranges and columns."""
    infos = data_service.list_datasets()
    payload = {"datasets": [info.as_dict() for info in infos]}
    payload["symbol_count"] = sum(len(info.symbols) for info in infos)
    lines = []
    for info in infos:
        lines.append(f"{info.name}: {info.description} [{info.license}]")
        for s in info.symbols:
            lines.append(
                f"  {s.symbol:<10} {s.start} .. {s.end}  {s.rows:>6} bars  {','.join(s.columns)}"
            )
    emit(payload, as_json=as_json, text="\n".join(lines))


@data_app.command("validate")
def data_validate(
    file: Path = typer.Argument(..., help="CSV or Parquet file."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Validate a price file; exit 2 and list every defect if it is invalid."""
    payload = _read(file, as_json)
    try:
        validated = data_service.validate_file(file.name, payload)
    except data_service.DataValidationError as exc:
        fail(str(exc), as_json=as_json, defects=[d.as_dict() for d in exc.defects])
        return
    frame = validated.frame
    summary = {
        "valid": True,
        "file": str(file),
        "rows": len(frame),
        "start": frame.index[0].date().isoformat(),
        "end": frame.index[-1].date().isoformat(),
        "columns": list(frame.columns),
        "warnings": validated.warnings,
    }
    emit(
        summary,
        as_json=as_json,
        text=f"valid: {summary['rows']} rows {summary['start']}..{summary['end']} "
        f"columns {summary['columns']}" + "".join(f"\nwarning: {w}" for w in validated.warnings),
    )


@data_app.command("import")
def data_import(
    file: Path = typer.Argument(..., help="CSV or Parquet file."),
    name: str = typer.Option(..., "--name", help="Name of the new dataset symbol."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Validate and store a file as ``uploads/NAME``; nothing is stored if it is invalid."""
    payload = _read(file, as_json)
    try:
        result = data_service.import_upload(name, file.name, payload)
    except data_service.DataValidationError as exc:
        fail(str(exc), as_json=as_json, defects=[d.as_dict() for d in exc.defects])
        return
    out = {
        "imported": result.name,
        "dataset": data_service.UPLOADS,
        "rows": result.rows,
        "start": result.start.isoformat(),
        "end": result.end.isoformat(),
        "columns": list(result.columns),
        "warnings": result.warnings,
    }
    emit(out, as_json=as_json, text=f"imported {result.rows} rows as uploads/{result.name}")


@app.command("setup")
def setup(
    warm: bool = typer.Option(True, "--warm/--no-warm", help="Warm numba's cache."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Verify embedded data, migrate the database and warm numba (idempotent)."""
    from app.services.system import SetupError, run_setup

    try:
        report = run_setup(warm=warm)
    except SetupError as exc:
        fail(str(exc), as_json=as_json)
        return
    text = (
        f"data: {', '.join(f'{k} {v}' for k, v in report.data_files.items())}\n"
        f"database: {report.database_url} (migrated)\n"
        f"numba warm-up: {report.numba_warmup_seconds} s"
        + "".join(f"\nnote: {n}" for n in report.notes)
    )
    emit(report.__dict__, as_json=as_json, text=text)


def main() -> None:
    """Entry point of the ``workbench`` script."""
    try:
        app()
    except data_service.DataSourceError as exc:
        typer.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_BAD_INPUT)


if __name__ == "__main__":
    main()
