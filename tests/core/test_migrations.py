"""Alembic migrations produce exactly the tables the ORM models declare."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from core.store.db import make_engine, upgrade
from core.store.models import Base


def test_migrated_schema_matches_models(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'm.db'}")
    upgrade(engine)
    assert set(Base.metadata.tables) <= set(inspect(engine).get_table_names())
    with engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"version_table": "workbench_schema_version"}
        )
        diff = compare_metadata(context, Base.metadata)
    # Only differences that matter: missing/extra tables or columns.
    structural = [
        d for d in diff if d[0] in ("add_table", "remove_table", "add_column", "remove_column")
    ]
    assert structural == []
