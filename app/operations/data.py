"""Data operations: validate a price file, import it as a dataset."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from app.operations import Flag, Operation, register
from core.data.formats import ReadFormat


class FileFormat(BaseModel):
    """The declared format of a price file, as typed (text; unset = the default).

    :meth:`read_format` turns it into :class:`core.data.formats.ReadFormat`, raising one
    defect per bad option, each naming its flag.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    date_format: str | None = Field(
        title="Date format",
        default=None,
        description="Date format: iso (default) or a strftime pattern, e.g. %d/%m/%Y or %m/%d/%Y",
    )
    decimal: str | None = Field(
        title="Decimal separator",
        default=None,
        description="Decimal separator: '.' (default) or ','",
    )
    thousands: str | None = Field(
        title="Thousands separator",
        default=None,
        description="Thousands separator: none (default), ',', '.', space or \"'\"",
    )
    delimiter: str | None = Field(
        title="Delimiter",
        default=None,
        description="CSV delimiter: auto (from the header, default), ',', ';', tab, '|'",
    )
    timezone: str | None = Field(
        title="Time zone",
        default=None,
        description="Exchange time zone for timestamps with UTC offsets, e.g. Asia/Tokyo",
    )

    def read_format(self) -> ReadFormat:
        """The format to read with (``DataValidationError`` names each bad option)."""
        from core.data.validation import read_format

        return read_format(**self.model_dump(include=set(FileFormat.model_fields)))


class DataValidateRequest(FileFormat):
    """A price file to check (CSV or Parquet), and its declared format."""

    file: Path = Field(title="File", description="CSV or Parquet file")


class DataImportRequest(DataValidateRequest):
    """A price file to store as dataset ``uploads/<name>``."""

    name: str = Field(title="Dataset name", description="Name of the new dataset symbol")


def validate_payload(outcome: Any) -> dict[str, Any]:
    """Rows, dates, columns and warnings of a valid file."""
    frame = outcome.checked.frame
    return {
        "valid": True,
        "file": str(outcome.file),
        "rows": len(frame),
        "start": frame.index[0].date().isoformat(),
        "end": frame.index[-1].date().isoformat(),
        "columns": list(frame.columns),
        "warnings": outcome.checked.warnings,
    }


def _validate_text(outcome: Any, payload: dict[str, Any]) -> str:
    return f"valid: {payload['rows']} rows {payload['start']}..{payload['end']} " + (
        f"columns {payload['columns']}" + "".join(f"\nwarning: {w}" for w in payload["warnings"])
    )


def _uploads() -> str:
    from core.data.catalog import UPLOADS

    return UPLOADS


def import_payload(result: Any) -> dict[str, Any]:
    """What an import stored."""
    return {
        "imported": result.name,
        "dataset": _uploads(),
        "rows": result.rows,
        "start": result.start.isoformat(),
        "end": result.end.isoformat(),
        "columns": list(result.columns),
        "interval": result.interval,
        "warnings": result.warnings,
    }


def _import_text(result: Any, payload: dict[str, Any]) -> str:
    return f"imported {result.rows} rows as uploads/{result.name}"


_FILE = {"file": Flag(argument=True)}

DATA_VALIDATE = register(
    Operation(
        name="data validate",
        feature="data",
        summary="Validate a price file; exit 2 and list every defect if it is invalid.",
        request=DataValidateRequest,
        service="app.services.data:validate",
        payload=validate_payload,
        text=_validate_text,
        flags=_FILE,
    )
)
DATA_IMPORT = register(
    Operation(
        name="data import",
        feature="data",
        summary="Validate and store a file as uploads/NAME; nothing is stored if it is invalid.",
        request=DataImportRequest,
        service="app.services.data:import_file",
        payload=import_payload,
        actor=True,
        text=_import_text,
        flags=_FILE,
    )
)

__all__ = [
    "DATA_IMPORT",
    "DATA_VALIDATE",
    "DataImportRequest",
    "DataValidateRequest",
    "FileFormat",
    "import_payload",
    "validate_payload",
]
