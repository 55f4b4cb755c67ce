"""Shared fixtures: every test gets its own runtime folder and SQLite database."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("MPLBACKEND", "Agg")


@pytest.fixture(autouse=True)
def isolated_workbench(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Point WORKBENCH_VAR_DIR at a fresh folder and reset cached settings."""
    from core.config import get_settings

    var = tmp_path / "var"
    monkeypatch.setenv("WORKBENCH_VAR_DIR", str(var))
    monkeypatch.delenv("WORKBENCH_DB_URL", raising=False)
    monkeypatch.setenv("WORKBENCH_JOBS_AUTOSTART", "0")  # a test starts job workers itself
    get_settings.cache_clear()
    yield var
    get_settings.cache_clear()
