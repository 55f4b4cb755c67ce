"""Data services: list, load, validate and import datasets (pages and CLI share these)."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy.exc import IntegrityError

from app.services.db import get_engine
from core.config import get_settings
from core.data.formats import DATE_FORMAT_PRESETS, ReadFormat
from core.data.loaders import (
    AlpacaSource,
    DatasetInfo,
    DataSourceError,
    SymbolInfo,
    YFinanceSource,
    describe,
    embedded_sources,
)
from core.data.stored import NAME_PATTERN, check_name, parquet_blob, read_verified, write_partial
from core.data.validation import (
    DataValidationError,
    Defect,
    ValidatedFrame,
    validate_upload,
)
from core.data.validation import read_format as core_read_format
from core.store.db import session_scope
from core.store.models import ImportedDataset
from core.store.repositories import DatasetRepository

UPLOADS = "uploads"
ONLINE = ("yfinance", "alpaca")

__all__ = [
    "DATE_FORMAT_PRESETS",
    "NAME_PATTERN",
    "UPLOADS",
    "DataSourceError",
    "DataValidationError",
    "DatasetInfo",
    "Defect",
    "ImportResult",
    "ReadFormat",
    "check_name",
    "dataset_names",
    "import_upload",
    "list_datasets",
    "load_prices",
    "read_format",
    "summary_stats",
    "symbols_of",
    "validate_file",
]


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


def dataset_names(*, include_online: bool = False) -> list[str]:
    """Offline datasets first, then uploads, then (optionally) online sources."""
    names = [*embedded_sources(), UPLOADS]
    return names + list(ONLINE) if include_online else names


def _uploads() -> list[ImportedDataset]:
    with session_scope(get_engine()) as session:
        return DatasetRepository(session).list()


def list_datasets() -> list[DatasetInfo]:
    """Every offline dataset with its symbols, date ranges and columns."""
    infos = [
        describe(src, description=src.description, origin=src.source, license=src.license)
        for src in embedded_sources().values()
    ]
    uploads = tuple(
        SymbolInfo(r.name, r.start, r.end, r.rows, tuple(r.columns)) for r in _uploads()
    )
    infos.append(
        DatasetInfo(UPLOADS, "Files imported by users", "user uploads", "as supplied", uploads)
    )
    return infos


def symbols_of(dataset: str) -> list[str]:
    """Symbols available in ``dataset`` (empty for online sources: type any ticker)."""
    sources = embedded_sources()
    if dataset in sources:
        return sources[dataset].symbols()
    if dataset == UPLOADS:
        return [r.name for r in _uploads()]
    if dataset in ONLINE:
        return []
    raise DataSourceError(f"unknown dataset '{dataset}'; choose one of {dataset_names()}")


def load_prices(
    dataset: str, symbol: str, *, start: date | None = None, end: date | None = None
) -> pd.DataFrame:
    """The canonical frame of ``symbol`` in ``dataset``, optionally clipped to dates."""
    sources = embedded_sources()
    settings = get_settings()
    if dataset in sources:
        frame = sources[dataset].load(symbol)
    elif dataset == UPLOADS:
        frame = _load_upload(symbol)
    elif dataset == "yfinance":
        frame = YFinanceSource(timeout_s=settings.online_timeout_s).load(symbol)
    elif dataset == "alpaca":
        frame = AlpacaSource(
            timeout_s=settings.online_timeout_s, url_override=settings.alpaca_data_url
        ).load(symbol)
    else:
        raise DataSourceError(f"unknown dataset '{dataset}'; choose one of {dataset_names()}")
    if start or end:
        frame = frame.loc[
            pd.Timestamp(start) if start else None : pd.Timestamp(end) if end else None
        ]
        if frame.empty:
            raise DataSourceError(
                f"{dataset}/{symbol} has no bars between {start} and {end}; widen the range"
            )
    return frame


def read_format(**options: object) -> ReadFormat:
    """The declared file format (CLI flags, form fields); bad options raise, naming them."""
    return core_read_format(**options)


def validate_file(name: str, payload: bytes, fmt: ReadFormat | None = None) -> ValidatedFrame:
    """Validate an upload against the configured size limit (raises on defects)."""
    return validate_upload(name, payload, max_bytes=get_settings().upload_max_bytes, fmt=fmt)


def _taken(name: str, filename: str, record: ImportedDataset | None = None) -> DataValidationError:
    when = f" (imported from {record.original_filename})" if record is not None else ""
    return DataValidationError(
        [
            Defect(
                "name_taken",
                f"name taken: a dataset named '{name}' already exists{when}; choose another --name",
                "name",
            )
        ],
        filename,
    )


def import_upload(
    name: str, filename: str, payload: bytes, fmt: ReadFormat | None = None
) -> ImportResult:
    """Validate, then store an upload as dataset ``uploads/<name>``, all or nothing.

    The Parquet bytes go to a temporary file unique to this call; it is moved into place
    only while this call holds the row's unique name (flushed, not yet committed), so
    concurrent imports of one name never share or overwrite a file: one wins, the others
    get ``name_taken``. The row stores the file's SHA-256, which loading verifies.
    """
    check_name(name, filename)
    engine = get_engine()
    with session_scope(engine) as session:
        existing = DatasetRepository(session).get(name)
    if existing is not None:
        raise _taken(name, filename, existing)
    validated = validate_file(filename, payload, fmt)
    frame = validated.frame
    blob, file_sha = parquet_blob(frame)
    folder = get_settings().var_dir / "datasets"
    final = folder / f"{name}.parquet"
    partial = write_partial(folder, name, blob)
    moved = False
    try:
        with session_scope(engine) as session:
            repo = DatasetRepository(session)
            repo.add(
                ImportedDataset(
                    name=name,
                    original_filename=Path(filename).name[:255],
                    path=str(final),
                    sha256=hashlib.sha256(payload).hexdigest(),
                    file_sha256=file_sha,
                    read_format=(fmt or ReadFormat()).model_dump(),
                    rows=len(frame),
                    columns=list(frame.columns),
                    start=frame.index[0].date(),
                    end=frame.index[-1].date(),
                )
            )
            os.replace(partial, final)
            moved = True
    except IntegrityError as exc:
        partial.unlink(missing_ok=True)
        if moved:
            final.unlink(missing_ok=True)
        raise _taken(name, filename) from exc
    except BaseException:
        partial.unlink(missing_ok=True)
        if moved:
            final.unlink(missing_ok=True)
        raise
    return ImportResult(
        name,
        len(frame),
        frame.index[0].date(),
        frame.index[-1].date(),
        tuple(frame.columns),
        validated.warnings,
        file_sha,
    )


def _load_upload(name: str) -> pd.DataFrame:
    """Read an imported dataset, verifying its file against the checksum in its row."""
    with session_scope(get_engine()) as session:
        record = DatasetRepository(session).get(name)
    if record is None:
        raise DataSourceError(
            f"no imported dataset named '{name}'; import it first with "
            "`workbench data import FILE --name NAME`"
        )
    return read_verified(f"uploads/{name}", record.path, record.file_sha256)


def summary_stats(frame: pd.DataFrame) -> dict[str, float | int | str]:
    """Headline statistics of a price series (daily bars, 252 per year)."""
    close = frame["close"].to_numpy()
    log_ret = np.diff(np.log(close))
    years = max(len(close) - 1, 1) / 252
    running_max = np.maximum.accumulate(close)
    stats: dict[str, float | int | str] = {
        "bars": len(frame),
        "start": frame.index[0].date().isoformat(),
        "end": frame.index[-1].date().isoformat(),
        "last_close": float(close[-1]),
        "total_return": float(close[-1] / close[0] - 1),
        "cagr": float((close[-1] / close[0]) ** (1 / years) - 1),
        "annual_volatility": float(np.std(log_ret, ddof=1) * np.sqrt(252))
        if len(log_ret) > 1
        else float("nan"),
        "max_drawdown": float(np.min(close / running_max - 1)),
        "best_day": float(np.expm1(log_ret.max())) if len(log_ret) else float("nan"),
        "worst_day": float(np.expm1(log_ret.min())) if len(log_ret) else float("nan"),
    }
    if "volume" in frame:
        stats["avg_volume"] = float(frame["volume"].mean())
    return stats
