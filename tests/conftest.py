"""Shared fixtures: every test gets its own runtime folder and SQLite database.

The database is a copy of one migrated once per pytest worker (Alembic takes about 0.5 s
per fresh database, a file copy about 1 ms); a test marked ``fresh_db`` starts without
one, to exercise the migrations themselves.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("MPLBACKEND", "Agg")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "fresh_db: start with no database file (the migrations run in the test)"
    )


@pytest.fixture(scope="session")
def migrated_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite database at the migration heads, built once per worker."""
    from core.store.db import make_engine, upgrade

    path = tmp_path_factory.mktemp("template") / "workbench.db"
    engine = make_engine(f"sqlite:///{path}")
    try:
        upgrade(engine)
    finally:
        engine.dispose()
    return path


@pytest.fixture(autouse=True)
def isolated_workbench(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Path]:
    """Point WORKBENCH_VAR_DIR at a fresh folder holding a migrated database; reset settings."""
    from core.config import get_settings

    var = tmp_path / "var"
    if request.node.get_closest_marker("fresh_db") is None:
        template: Path = request.getfixturevalue("migrated_template")
        var.mkdir(parents=True)
        shutil.copyfile(template, var / "workbench.db")
    monkeypatch.setenv("WORKBENCH_VAR_DIR", str(var))
    monkeypatch.delenv("WORKBENCH_DB_URL", raising=False)
    monkeypatch.setenv("WORKBENCH_JOBS_AUTOSTART", "0")  # a test starts job workers itself
    get_settings.cache_clear()
    yield var
    get_settings.cache_clear()
