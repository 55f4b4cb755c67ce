"""Set-up service: data checksums and the migrated database, checked independently.

Checksums are compared with known SHA-256 constants and with coreutils' ``sha256sum``;
the database with Python's own ``sqlite3`` and Alembic's list of head revisions.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory

from app.services import system
from core.config import ROOT, get_settings
from core.store.db import MIGRATIONS

SHA256_ABC = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"  # FIPS 180-2
SHA256_EMPTY = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A data folder of one file, ``abc.txt`` holding b"abc", with its manifest."""
    folder = tmp_path / "data"
    folder.mkdir()
    (folder / "abc.txt").write_bytes(b"abc")
    (folder / "MANIFEST.json").write_text(json.dumps({"abc.txt": SHA256_ABC}))
    monkeypatch.setenv("WORKBENCH_DATA_DIR", str(folder))
    get_settings.cache_clear()
    return folder


def test_embedded_data_matches_its_manifest_and_sha256sum() -> None:
    manifest = json.loads((ROOT / "data" / "MANIFEST.json").read_text())
    assert system.verify_data() == dict.fromkeys(manifest, "ok")
    assert {"ohlcv_daily.parquet", "sp500_closes.parquet"} <= set(manifest)
    if shutil.which("sha256sum") is None:
        pytest.fail("sha256sum (coreutils) is needed for the independent checksum")
    for name, expected in manifest.items():
        out = subprocess.run(
            ["sha256sum", str(ROOT / "data" / name)], capture_output=True, text=True, check=True
        )
        assert out.stdout.split()[0] == expected, name


def test_a_known_file_passes(data_dir: Path) -> None:
    assert system.verify_data() == {"abc.txt": "ok"}


def test_a_corrupted_file_names_both_checksums_and_the_fix(data_dir: Path) -> None:
    (data_dir / "abc.txt").write_bytes(b"")
    with pytest.raises(system.SetupError) as info:
        system.verify_data()
    assert str(info.value) == (
        f"{data_dir / 'abc.txt'} is corrupted (sha256 {SHA256_EMPTY[:12]}…, expected "
        f"{SHA256_ABC[:12]}…); restore it with `git checkout -- data/`"
    )


def test_a_missing_file_is_named(data_dir: Path) -> None:
    (data_dir / "abc.txt").unlink()
    with pytest.raises(system.SetupError, match=r"abc\.txt is missing; restore it with `git"):
        system.verify_data()


@pytest.mark.fresh_db
def test_setup_creates_the_runtime_folder_and_migrates_the_database_to_head(
    isolated_workbench: Path, data_dir: Path
) -> None:
    assert not isolated_workbench.exists()
    report = system.run_setup(warm=False)
    db = isolated_workbench / "workbench.db"
    assert report.data_files == {"abc.txt": "ok"}
    assert report.database_url == f"sqlite:///{db}"
    assert report.numba_warmup_seconds is None and report.notes == []
    assert isolated_workbench.is_dir() and db.is_file()
    heads = set(ScriptDirectory(str(MIGRATIONS)).get_heads())
    with sqlite3.connect(db) as conn:
        versions = {row[0] for row in conn.execute("SELECT * FROM workbench_schema_version")}
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
    assert heads and versions == heads
    assert {"runs", "alert_rules", "audit_log", "paper_sessions"} <= tables


@pytest.mark.fresh_db
def test_setup_stops_at_corrupted_data_before_touching_the_database(
    isolated_workbench: Path, data_dir: Path
) -> None:
    (data_dir / "abc.txt").write_bytes(b"abd")
    with pytest.raises(system.SetupError, match="is corrupted"):
        system.run_setup(warm=False)
    assert not (isolated_workbench / "workbench.db").exists()


def test_setup_warms_numba_and_reports_the_time(data_dir: Path) -> None:
    report = system.run_setup(warm=True)
    assert isinstance(report.numba_warmup_seconds, float) and report.numba_warmup_seconds >= 0
    assert report.notes == []
