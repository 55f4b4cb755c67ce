"""Importing a user's price file as dataset ``uploads/<name>``: validated, all or nothing.

The Parquet bytes go to a temporary file unique to the call; it is moved into place only
while the call holds the row's unique name (flushed, not yet committed), so concurrent
imports of one name never share or overwrite a file: one wins, the others get
``name_taken``. The row stores the file's SHA-256, which loading verifies.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from sqlalchemy.exc import IntegrityError

from core.data.catalog import Sessions
from core.data.formats import ReadFormat
from core.data.listing import BAR_INTERVAL_KEY
from core.data.loaders import interval_text
from core.data.stored import check_name, parquet_blob, write_partial
from core.data.validation import DataValidationError, Defect, ValidatedFrame, validate_upload
from core.store.models import ImportedDataset
from core.store.repositories import DatasetRepository


@dataclass(frozen=True)
class ImportResult:
    """What an import stored."""

    name: str
    rows: int
    start: date
    end: date
    columns: tuple[str, ...]
    warnings: list[str]
    file_sha256: str = ""
    interval: str = "1D"
    """Bar interval found (``1D`` daily, ``1min``...)."""


def _taken(name: str, filename: str, record: ImportedDataset | None = None) -> DataValidationError:
    when = f" (imported from {record.original_filename})" if record is not None else ""
    return DataValidationError(
        [
            Defect(
                "name_taken",
                f"name taken: a dataset named '{name}' already exists{when}; choose another name",
                "name",
            )
        ],
        filename,
    )


def _record(
    name: str, filename: str, payload: bytes, fmt: ReadFormat | None, checked: ValidatedFrame,
    *, path: Path, file_sha: str,
) -> ImportedDataset:  # fmt: skip
    frame = checked.frame
    return ImportedDataset(
        name=name,
        original_filename=Path(filename).name[:255],
        path=str(path),
        sha256=hashlib.sha256(payload).hexdigest(),
        file_sha256=file_sha,
        read_format={
            **(fmt or ReadFormat()).model_dump(),
            BAR_INTERVAL_KEY: interval_text(frame.index),
        },
        rows=len(frame),
        columns=list(frame.columns),
        start=frame.index[0].date(),
        end=frame.index[-1].date(),
    )


def import_upload(
    sessions: Sessions,
    name: str,
    filename: str,
    payload: bytes,
    fmt: ReadFormat | None = None,
    *,
    folder: Path,
    max_bytes: int,
) -> ImportResult:
    """Validate ``payload`` (at most ``max_bytes``), then store it under ``folder``.

    Raises
    ------
    DataValidationError
        A bad or taken name, or every defect of the file; nothing is stored.
    """
    check_name(name, filename)
    with sessions() as session:
        existing = DatasetRepository(session).get(name)
        if existing is not None:
            raise _taken(name, filename, existing)
    checked = validate_upload(filename, payload, max_bytes=max_bytes, fmt=fmt)
    blob, file_sha = parquet_blob(checked.frame)
    final = folder / f"{name}.parquet"
    partial = write_partial(folder, name, blob)
    moved = False
    try:
        with sessions() as session:
            record = _record(name, filename, payload, fmt, checked, path=final, file_sha=file_sha)
            DatasetRepository(session).add(record)
            os.replace(partial, final)
            moved = True
    except BaseException as exc:
        partial.unlink(missing_ok=True)
        if moved:
            final.unlink(missing_ok=True)
        if isinstance(exc, IntegrityError):
            raise _taken(name, filename) from exc
        raise
    frame = checked.frame
    return ImportResult(
        name,
        len(frame),
        frame.index[0].date(),
        frame.index[-1].date(),
        tuple(frame.columns),
        checked.warnings,
        file_sha,
        interval_text(frame.index),
    )


__all__ = ["ImportResult", "import_upload"]
