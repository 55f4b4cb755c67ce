"""A fresh, throwaway PostgreSQL database on the test server (WORKBENCH_TEST_PG_URL)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

PG_ADMIN_URL = os.environ.get("WORKBENCH_TEST_PG_URL", "")


@contextmanager
def fresh_pg_database() -> Iterator[str]:
    """Create a uniquely named database, yield its URL, then drop it (skips without a server)."""
    if not PG_ADMIN_URL:
        pytest.skip("no PostgreSQL: set WORKBENCH_TEST_PG_URL (scripts/start_test_postgres.sh)")
    from sqlalchemy import create_engine, text

    name = f"wb_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        from app.services.db import _engine_for

        _engine_for.cache_clear()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
