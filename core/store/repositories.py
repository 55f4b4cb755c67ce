"""Imported datasets' metadata: typed queries over a caller-owned Session (services own
transactions)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.store.models import ImportedDataset


class DatasetRepository:
    """Imported dataset metadata."""

    def __init__(self, session: Session) -> None:
        self._s = session

    def add(self, record: ImportedDataset) -> ImportedDataset:
        """Stage a new record (flushed so constraint errors surface now)."""
        self._s.add(record)
        self._s.flush()
        return record

    def get(self, name: str) -> ImportedDataset | None:
        """Look one up by name."""
        return self._s.scalar(select(ImportedDataset).where(ImportedDataset.name == name))

    def list(self) -> list[ImportedDataset]:
        """All records, by name."""
        return list(self._s.scalars(select(ImportedDataset).order_by(ImportedDataset.name)))
