"""The paper monitor reads one snapshot and writes nothing.

Regression (browser suite in CI): the monitor's first read created the worker control row
inside its read snapshot; on SQLite's WAL a write in a snapshot that another connection has
moved past fails at once with "database is locked", whatever the busy timeout, and the
page showed the traceback.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, text

from core.paper.monitor import read_monitor
from core.store.db import make_engine, session_scope, upgrade
from core.store.paper import WorkerControlRepository


def _engine(folder: Path) -> Any:
    engine = make_engine(f"sqlite:///{folder / 'monitor.db'}")
    upgrade(engine)
    return engine


def test_the_first_monitor_read_writes_nothing(tmp_path: Path) -> None:
    engine = _engine(tmp_path)
    statements: list[str] = []

    @event.listens_for(engine, "before_cursor_execute")
    def _seen(_conn, _cursor, statement, *_args) -> None:  # type: ignore[no-untyped-def]
        statements.append(statement.lstrip().split(None, 1)[0].upper())

    with session_scope(engine) as s:
        view = read_monitor(s)
    assert view.session is None
    assert view.control["desired_state"] == "stopped" and view.control["flatten_on_kill"]
    assert statements and not {"INSERT", "UPDATE", "DELETE"} & set(statements), statements
    with session_scope(engine) as s:  # nothing was created behind the reader's back
        assert WorkerControlRepository(s).peek() is None


def test_a_write_inside_a_moved_snapshot_is_what_failed(tmp_path: Path) -> None:
    """The failure mode itself, which the test above rules out: a write in a read snapshot
    after another connection's commit fails at once on SQLite's WAL (0.1 s busy timeout
    here, 30 s in the app: neither helps)."""
    engine = _engine(tmp_path)
    other = sqlite3.connect(tmp_path / "monitor.db", timeout=0.1)
    with pytest.raises(Exception, match="database is locked"), session_scope(engine) as s:
        read_monitor(s)  # begins the snapshot and reads
        other.execute(
            "INSERT INTO worker_control (id, desired_state, flatten_on_kill, reason,"
            " updated_by, updated_at) VALUES (1, 'paused', 1, '', 'x', '2026-01-01')"
        )
        other.commit()
        s.execute(text("DELETE FROM worker_control"))
    other.close()
