"""``workbench`` commands: datasets: list, validate and import."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from app.cli._app import app
from app.cli._common import _read, emit, fail
from app.services import data as data_service

data_app = typer.Typer(help="List, validate and import datasets.", no_args_is_help=True)
app.add_typer(data_app, name="data")


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


DATE_FORMAT_OPT = typer.Option(
    None,
    "--date-format",
    help="Date format: iso (default) or a strftime pattern, e.g. %d/%m/%Y or %m/%d/%Y.",
)
DECIMAL_OPT = typer.Option(None, "--decimal", help="Decimal separator: '.' (default) or ','.")
THOUSANDS_OPT = typer.Option(
    None, "--thousands", help="Thousands separator: none (default), ',', '.', space or \"'\"."
)
DELIMITER_OPT = typer.Option(
    None, "--delimiter", help="CSV delimiter: auto (from the header, default), ',', ';', tab, '|'."
)
TIMEZONE_OPT = typer.Option(
    None, "--timezone", help="Exchange time zone for timestamps with UTC offsets, e.g. Asia/Tokyo."
)


def _format(as_json: bool, **options: str | None) -> Any:
    """The declared read format; bad flags exit 2 naming the flag."""
    try:
        return data_service.read_format(**options)
    except data_service.DataValidationError as exc:
        fail(
            "; ".join(d.message for d in exc.defects),
            as_json=as_json,
            defects=[d.as_dict() for d in exc.defects],
        )


@data_app.command("validate")
def data_validate(
    file: Path = typer.Argument(..., help="CSV or Parquet file."),
    date_format: str | None = DATE_FORMAT_OPT,
    decimal: str | None = DECIMAL_OPT,
    thousands: str | None = THOUSANDS_OPT,
    delimiter: str | None = DELIMITER_OPT,
    timezone: str | None = TIMEZONE_OPT,
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Validate a price file; exit 2 and list every defect if it is invalid."""
    fmt = _format(
        as_json,
        date_format=date_format,
        decimal=decimal,
        thousands=thousands,
        delimiter=delimiter,
        timezone=timezone,
    )
    payload = _read(file, as_json)
    try:
        validated = data_service.validate_file(file.name, payload, fmt)
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
    date_format: str | None = DATE_FORMAT_OPT,
    decimal: str | None = DECIMAL_OPT,
    thousands: str | None = THOUSANDS_OPT,
    delimiter: str | None = DELIMITER_OPT,
    timezone: str | None = TIMEZONE_OPT,
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Validate and store a file as ``uploads/NAME``; nothing is stored if it is invalid."""
    fmt = _format(
        as_json,
        date_format=date_format,
        decimal=decimal,
        thousands=thousands,
        delimiter=delimiter,
        timezone=timezone,
    )
    try:
        data_service.check_name(name, file.name)
    except data_service.DataValidationError as exc:
        fail(str(exc), as_json=as_json, defects=[d.as_dict() for d in exc.defects])
    payload = _read(file, as_json)
    try:
        result = data_service.import_upload(name, file.name, payload, fmt)
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
