"""The process-wide database engine, migrated on first use."""

from __future__ import annotations

from functools import lru_cache

from sqlalchemy import Engine

from core.config import get_settings
from core.store.db import make_engine, upgrade


@lru_cache(maxsize=4)
def _engine_for(url: str) -> Engine:
    engine = make_engine(url)
    upgrade(engine)
    return engine


def get_engine() -> Engine:
    """Engine for the configured ``WORKBENCH_DB_URL``; Alembic upgrades it to head once."""
    return _engine_for(get_settings().database_url)
