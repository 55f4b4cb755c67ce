"""Every dataset the workbench can read: embedded, imported (``uploads``) and online.

Imported datasets are rows of the store with a verified Parquet file; the functions that
need them take ``sessions``, a factory of transactions (``with sessions() as s: ...``).
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import date
from typing import TYPE_CHECKING

from core.config import get_settings
from core.data.listing import BAR_INTERVAL_KEY, DatasetInfo, SymbolInfo, stored_symbols
from core.data.loaders import (
    AlpacaSource,
    DataSourceError,
    YFinanceSource,
    describe,
    embedded_sources,
)

if TYPE_CHECKING:  # listing datasets needs neither pandas nor the ORM models loaded early
    import pandas as pd
    from sqlalchemy.orm import Session

    from core.store.models import ImportedDataset

Sessions = Callable[[], AbstractContextManager["Session"]]
"""A factory of transactions: each ``with sessions() as s:`` commits on success."""

UPLOADS = "uploads"
"""The dataset of files imported by users."""
ONLINE = ("yfinance", "alpaca")
"""Online sources (any ticker; need network access)."""


def dataset_names(*, include_online: bool = False) -> list[str]:
    """Offline datasets first, then uploads, then (optionally) online sources."""
    names = [*embedded_sources(), UPLOADS]
    return names + list(ONLINE) if include_online else names


def _unknown(dataset: str) -> DataSourceError:
    return DataSourceError(f"unknown dataset '{dataset}'; choose one of {dataset_names()}")


def uploads(sessions: Sessions) -> list[ImportedDataset]:
    """The imported datasets' rows, by name."""
    from core.store.repositories import DatasetRepository

    with sessions() as session:
        return DatasetRepository(session).list()


def upload_interval(record: ImportedDataset) -> str:
    """An upload's bar interval, stored beside its read format at import (``1D`` for the
    uploads of before intraday imports, which were daily)."""
    found = (record.read_format or {}).get(BAR_INTERVAL_KEY)
    return str(found) if found else "1D"


def list_datasets(sessions: Sessions) -> list[DatasetInfo]:
    """Every offline dataset with its symbols, date ranges and columns (the embedded ones
    from their stored listing while it matches their files, see :mod:`core.data.listing`)."""
    folder = get_settings().data_dir
    stored = stored_symbols(folder)
    infos = [
        DatasetInfo(name, src.description, src.source, src.license, stored[name])
        if name in stored
        else describe(src, description=src.description, origin=src.source, license=src.license)
        for name, src in embedded_sources(folder).items()
    ]
    imported = tuple(
        SymbolInfo(r.name, r.start, r.end, r.rows, tuple(r.columns), upload_interval(r))
        for r in uploads(sessions)
    )
    infos.append(
        DatasetInfo(UPLOADS, "Files imported by users", "user uploads", "as supplied", imported)
    )
    return infos


def symbols_of(sessions: Sessions, dataset: str) -> list[str]:
    """Symbols available in ``dataset`` (empty for online sources: type any ticker)."""
    sources = embedded_sources()
    if dataset in sources:
        return sources[dataset].symbols()
    if dataset == UPLOADS:
        return [r.name for r in uploads(sessions)]
    if dataset in ONLINE:
        return []
    raise _unknown(dataset)


def load_upload(sessions: Sessions, name: str) -> pd.DataFrame:
    """Read an imported dataset, verifying its file against the checksum in its row."""
    from core.data.stored import read_verified
    from core.store.repositories import DatasetRepository

    with sessions() as session:
        record = DatasetRepository(session).get(name)
        path, checksum = (record.path, record.file_sha256) if record is not None else ("", None)
    if record is None:
        raise DataSourceError(
            f"no imported dataset named '{name}'; import it first with "
            "`workbench data import FILE --name NAME`"
        )
    return read_verified(f"uploads/{name}", path, checksum)


def load_prices(
    sessions: Sessions,
    dataset: str,
    symbol: str,
    *,
    start: date | None = None,
    end: date | None = None,
) -> pd.DataFrame:
    """The canonical frame of ``symbol`` in ``dataset``, optionally clipped to dates
    (``end`` included whole: every intraday bar of that day, by its UTC date).

    Raises
    ------
    DataSourceError
        An unknown dataset or symbol, an unreadable import, or no bars in the range.
    """
    sources = embedded_sources()
    settings = get_settings()
    if dataset in sources:
        frame = sources[dataset].load(symbol)
    elif dataset == UPLOADS:
        frame = load_upload(sessions, symbol)
    elif dataset == "yfinance":
        frame = YFinanceSource(timeout_s=settings.online_timeout_s).load(symbol)
    elif dataset == "alpaca":
        frame = AlpacaSource(
            timeout_s=settings.online_timeout_s, url_override=settings.alpaca_data_url
        ).load(symbol)
    else:
        raise _unknown(dataset)
    if start or end:
        import pandas as pd

        last = pd.Timestamp(end) + pd.Timedelta(days=1) - pd.Timedelta(1, "ns") if end else None
        frame = frame.loc[pd.Timestamp(start) if start else None : last]
        if frame.empty:
            raise DataSourceError(
                f"{dataset}/{symbol} has no bars between {start} and {end}; widen the range"
            )
    return frame


__all__ = [
    "ONLINE",
    "UPLOADS",
    "Sessions",
    "dataset_names",
    "list_datasets",
    "load_prices",
    "load_upload",
    "symbols_of",
    "uploads",
    "write_listing",
]


def write_listing() -> None:
    """Regenerate the stored listing from the files (``python -m core.data.catalog``)."""
    from core.data.listing import write_catalog

    folder = get_settings().data_dir
    infos = [
        describe(src, description=src.description, origin=src.source, license=src.license)
        for src in embedded_sources(folder).values()
    ]
    print(write_catalog(folder, infos))


if __name__ == "__main__":
    write_listing()
