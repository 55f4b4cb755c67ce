"""Data services: list, load, validate and import datasets (pages and CLI share these)."""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy.exc import IntegrityError

from app.services.db import get_engine
from core.config import get_settings
from core.data.loaders import (
    AlpacaSource,
    DatasetInfo,
    DataSourceError,
    SymbolInfo,
    YFinanceSource,
    describe,
    embedded_sources,
)
from core.data.validation import DataValidationError, Defect, ValidatedFrame, validate_upload
from core.store.db import session_scope
from core.store.models import ImportedDataset
from core.store.repositories import DatasetRepository

UPLOADS = "uploads"
ONLINE = ("yfinance", "alpaca")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")

__all__ = [
    "UPLOADS",
    "DataSourceError",
    "DataValidationError",
    "DatasetInfo",
    "Defect",
    "ImportResult",
    "dataset_names",
    "import_upload",
    "list_datasets",
    "load_prices",
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
        with session_scope(get_engine()) as session:
            record = DatasetRepository(session).get(symbol)
        if record is None:
            raise DataSourceError(
                f"no imported dataset named '{symbol}'; import it first with "
                "`workbench data import FILE --name NAME`"
            )
        frame = pd.read_parquet(record.path)
    elif dataset == "yfinance":
        frame = YFinanceSource(timeout_s=settings.online_timeout_s).load(symbol)
    elif dataset == "alpaca":
        frame = AlpacaSource(timeout_s=settings.online_timeout_s).load(symbol)
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


def validate_file(name: str, payload: bytes) -> ValidatedFrame:
    """Validate an upload against the configured size limit (raises on defects)."""
    return validate_upload(name, payload, max_bytes=get_settings().upload_max_bytes)


def import_upload(name: str, filename: str, payload: bytes) -> ImportResult:
    """Validate, then store an upload as dataset ``uploads/<name>``, all or nothing.

    The Parquet file is written under a temporary name and moved into place only after
    the database row is flushed; any failure removes it and rolls the row back.
    """
    if not _NAME.match(name):
        raise DataValidationError(
            [
                Defect(
                    "bad_name",
                    f"name {name!r} is not allowed: use 1-64 letters, digits, '.', '_' or '-', "
                    "starting with a letter or digit",
                )
            ],
            filename,
        )
    validated = validate_file(filename, payload)
    frame = validated.frame
    folder = get_settings().var_dir / "datasets"
    folder.mkdir(parents=True, exist_ok=True)
    final = folder / f"{name}.parquet"
    partial = folder / f".{name}.parquet.partial"
    frame.to_parquet(partial)
    moved = False
    try:
        with session_scope(get_engine()) as session:
            repo = DatasetRepository(session)
            if repo.get(name) is not None:
                raise DataValidationError(
                    [
                        Defect(
                            "name_taken",
                            f"a dataset named '{name}' already exists; choose another --name",
                        )
                    ],
                    filename,
                )
            repo.add(
                ImportedDataset(
                    name=name,
                    original_filename=Path(filename).name,
                    path=str(final),
                    sha256=hashlib.sha256(payload).hexdigest(),
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
        raise DataValidationError(
            [Defect("name_taken", f"a dataset named '{name}' already exists; choose another")],
            filename,
        ) from exc
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
    )


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
