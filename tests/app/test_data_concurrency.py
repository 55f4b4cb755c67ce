"""Concurrent imports: 16 processes released together at a barrier.

Same name: exactly one wins, the 15 others get a clear ``name_taken``; the stored file
is the winner's, matches the checksum in its row and loads. Different names: all 16
are stored, each with its own values. No raw error in any process. On SQLite always;
on PostgreSQL too when WORKBENCH_TEST_PG_URL is set.
"""

from __future__ import annotations

import hashlib
import multiprocessing as mp
import multiprocessing.queues
import multiprocessing.synchronize
import os
import traceback
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.pg import fresh_pg_database

PROCESSES = 16
PG_ADMIN_URL = os.environ.get("WORKBENCH_TEST_PG_URL", "")


def payload(i: int) -> bytes:
    """A file whose closes identify the process that wrote it: 100+i, 101+i, 102+i."""
    return (
        f"date,close\n2021-01-04,{100 + i}\n2021-01-05,{101 + i}\n2021-01-06,{102 + i}\n".encode()
    )


def _import(
    i: int,
    name: str,
    barrier: mp.synchronize.Barrier,
    results: mp.queues.Queue[tuple[int, str, str]],
) -> None:
    """One forked process: its own engine, wait for the others, import, report."""
    try:
        from app.services import data
        from app.services.db import _engine_for

        _engine_for.cache_clear()  # never reuse the parent's pooled connections
        data.get_engine()
        barrier.wait(timeout=600)
        data.import_upload(name, f"f{i}.csv", payload(i))
        results.put((i, "ok", ""))
    except Exception as exc:  # report every outcome to the parent
        codes = [d.code for d in getattr(exc, "defects", [])]
        kind = "name_taken" if codes == ["name_taken"] else "error"
        text = str(exc) if kind == "name_taken" else "".join(traceback.format_exception(exc))
        results.put((i, kind, text))


def run_together(names: list[str]) -> list[tuple[int, str, str]]:
    """Fork one process per name (the parent's environment: var dir and DB URL)."""
    from app.services import data  # imported once, before forking

    data.get_engine().dispose()
    ctx = mp.get_context("fork")
    barrier = ctx.Barrier(PROCESSES)
    results: mp.queues.Queue[tuple[int, str, str]] = ctx.Queue()
    procs = [
        ctx.Process(target=_import, args=(i, names[i], barrier, results)) for i in range(PROCESSES)
    ]
    for proc in procs:
        proc.start()
    outcomes = [results.get(timeout=900) for _ in procs]
    for proc in procs:
        proc.join(timeout=60)
    assert [proc.exitcode for proc in procs] == [0] * PROCESSES
    return sorted(outcomes)


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """'' for the per-test SQLite database, or a fresh PostgreSQL database."""
    from core.config import get_settings

    if request.param == "sqlite":
        yield ""
        return
    with fresh_pg_database() as url:
        monkeypatch.setenv("WORKBENCH_DB_URL", url)
        get_settings.cache_clear()
        yield url


def _stored(name: str) -> tuple[str, str | None]:
    from app.services.db import get_engine
    from core.store.db import session_scope
    from core.store.repositories import DatasetRepository

    with session_scope(get_engine()) as session:
        record = DatasetRepository(session).get(name)
        assert record is not None
        return record.path, record.file_sha256


def test_sixteen_imports_of_one_name_one_wins_the_rest_get_name_taken(
    isolated_workbench: Path, db_url: str
) -> None:
    from app.services import data

    data.get_engine()  # migrate once, as the app does at start
    outcomes = run_together(["shared"] * PROCESSES)
    errors = [text for _, kind, text in outcomes if kind == "error"]
    assert errors == [], errors[0] if errors else ""
    winners = [i for i, kind, _ in outcomes if kind == "ok"]
    assert len(winners) == 1
    losers = [text for _, kind, text in outcomes if kind == "name_taken"]
    assert len(losers) == PROCESSES - 1
    assert all("name taken" in text and "'shared'" in text for text in losers)
    (winner,) = winners
    path, checksum = _stored("shared")
    assert hashlib.sha256(Path(path).read_bytes()).hexdigest() == checksum
    closes = data.load_prices("uploads", "shared")["close"].tolist()
    assert closes == [100.0 + winner, 101.0 + winner, 102.0 + winner]
    leftovers = sorted(p.name for p in (isolated_workbench / "datasets").iterdir())
    assert leftovers == ["shared.parquet"]


def test_sixteen_imports_of_different_names_are_all_stored(
    isolated_workbench: Path, db_url: str
) -> None:
    from app.services import data

    data.get_engine()
    names = [f"fund_{i:02d}" for i in range(PROCESSES)]
    outcomes = run_together(names)
    assert [kind for _, kind, _ in outcomes] == ["ok"] * PROCESSES, [
        text for _, kind, text in outcomes if kind != "ok"
    ]
    assert data.symbols_of("uploads") == names
    for i, name in enumerate(names):
        path, checksum = _stored(name)
        assert hashlib.sha256(Path(path).read_bytes()).hexdigest() == checksum
        assert data.load_prices("uploads", name)["close"].tolist() == [
            100.0 + i,
            101.0 + i,
            102.0 + i,
        ]
