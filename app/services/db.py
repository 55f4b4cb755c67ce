"""The process-wide database engine, migrated on first use."""

from __future__ import annotations

import threading
from functools import lru_cache

from sqlalchemy import Engine

from core.config import get_settings
from core.store.db import make_engine, upgrade

_FIRST_USE = threading.Lock()
"""lru_cache does not serialise a first call: without this lock, concurrent first requests
(API threads) would each build and migrate an engine, and race inside Alembic."""


@lru_cache(maxsize=4)
def _engine_for(url: str) -> Engine:
    engine = make_engine(url)
    upgrade(engine)
    return engine


def get_engine() -> Engine:
    """Engine for the configured ``WORKBENCH_DB_URL``; Alembic upgrades it to head once."""
    url = get_settings().database_url
    with _FIRST_USE:
        return _engine_for(url)
