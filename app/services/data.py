"""Data services: list, load, validate and import datasets (pages and CLI share these).

The rules live in core: :mod:`core.data.catalog` (which datasets exist, loading them),
:mod:`core.data.validation` (what a valid price file is) and :mod:`core.data.imports`
(storing one, all or nothing). Here the limits, folders, role and transactions apply.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app.operations.data import DataImportRequest, DataValidateRequest
from app.services.auth import LOCAL, Actor, require
from app.services.db import get_engine
from core.config import get_settings
from core.data import catalog
from core.data.formats import ReadFormat
from core.data.listing import DatasetInfo
from core.data.loaders import DataSourceError
from core.store.db import session_scope

if TYPE_CHECKING:  # validating and importing files needs pandas; listing does not
    import pandas as pd

    from core.data.imports import ImportResult
    from core.data.validation import DataValidationError, ValidatedFrame


def __getattr__(name: str) -> Any:
    # DataValidationError stays importable from here without importing pandas up front.
    if name in ("DataValidationError", "ValidatedFrame"):
        from core.data import validation

        return getattr(validation, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["DataSourceError", "DataValidationError", "FileCheck", "checked_symbols"]
__all__ += ["import_file", "import_upload", "list_datasets", "load_prices", "symbols_of"]
__all__ += ["validate", "validate_file"]


@dataclass(frozen=True)
class FileCheck:
    """A valid price file: where it is, and what validation read from it."""

    file: Path
    checked: ValidatedFrame


def _sessions() -> Any:
    return session_scope(get_engine())


def list_datasets() -> list[DatasetInfo]:
    """Every offline dataset with its symbols, date ranges and columns."""
    return catalog.list_datasets(_sessions)


def symbols_of(dataset: str) -> list[str]:
    """Symbols available in ``dataset`` (empty for online sources: type any ticker)."""
    return catalog.symbols_of(_sessions, dataset)


def checked_symbols(dataset: str, symbols: Sequence[str], *, every: bool, hint: str) -> list[str]:
    """Every symbol ``dataset`` lists when ``every`` (ValueError ending in ``hint`` when it
    lists none), else ``symbols``, each checked against that list (unchecked when empty)."""
    listed = symbols_of(dataset)
    if every:
        if not listed:
            raise ValueError(f"dataset {dataset} lists no symbols; {hint}")
        return listed
    if unknown := [s for s in symbols if listed and s not in listed]:
        its = ", ".join(listed)
        raise ValueError(f"{', '.join(unknown)} not in dataset {dataset}; its symbols are {its}")
    return list(symbols)


def load_prices(
    dataset: str, symbol: str, *, start: date | None = None, end: date | None = None
) -> pd.DataFrame:
    """The canonical frame of ``symbol`` in ``dataset``, optionally clipped to dates."""
    return catalog.load_prices(_sessions, dataset, symbol, start=start, end=end)


def validate_file(name: str, payload: bytes, fmt: ReadFormat | None = None) -> ValidatedFrame:
    """Validate an upload against the configured size limit (raises on defects)."""
    from core.data.validation import validate_upload

    return validate_upload(name, payload, max_bytes=get_settings().upload_max_bytes, fmt=fmt)


def validate(request: DataValidateRequest) -> FileCheck:
    """Validate the file of ``request`` in its declared format (raises on defects)."""
    fmt = request.read_format()
    return FileCheck(request.file, validate_file(request.file.name, _read(request.file), fmt))


def import_upload(
    name: str,
    filename: str,
    payload: bytes,
    fmt: ReadFormat | None = None,
    *,
    actor: Actor = LOCAL,
) -> ImportResult:
    """Validate, then store an upload as dataset ``uploads/<name>``, all or nothing.

    Raises
    ------
    PermissionDenied
        The actor lacks the ``analyst`` role.
    DataValidationError
        A bad or taken name (``bad_name``, ``name_taken``) or every defect of the file.
    """
    from core.data.imports import import_upload as store_upload

    require(actor, "analyst", "importing data")

    settings = get_settings()
    return store_upload(
        _sessions,
        name,
        filename,
        payload,
        fmt,
        folder=settings.var_dir / "datasets",
        max_bytes=settings.upload_max_bytes,
    )


def import_file(request: DataImportRequest, *, actor: Actor = LOCAL) -> ImportResult:
    """Import the file of ``request`` as ``uploads/<request.name>`` (role: analyst)."""
    payload = _read(request.file)
    return import_upload(
        request.name, request.file.name, payload, request.read_format(), actor=actor
    )


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise DataSourceError(
            f"file {path} cannot be read ({exc.strerror}); check the path"
        ) from exc
