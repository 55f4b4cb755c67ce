"""Concurrent risk-limit changes: 16 processes released together at a barrier.

Half apply a change on top of whatever is in force (retried when another writer wins),
half apply a change made against version 0 (optimistic lock). Every process must get
either success or the clear conflict ("limits changed by X at T ...; reload"), never a
raw database error; the version history must be gapless and each version's ``previous``
must equal the version before it. On SQLite always, on PostgreSQL when
WORKBENCH_TEST_PG_URL is set (``bash scripts/start_test_postgres.sh``).
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import queue
import re
from collections.abc import Iterator
from typing import Any

import pytest

from app.operations.risk import LimitsChangeRequest
from app.services import risk
from app.services.auth import Actor
from core.risk import RiskLimits
from core.risk.versions import LimitsConflict
from tests.pg import fresh_pg_database

PROCESSES = 16
PG_ADMIN_URL = os.environ.get("WORKBENCH_TEST_PG_URL", "")
CONFLICT = re.compile(
    r"limits changed by (?P<who>\S+) at (?P<at>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) UTC "
    r"\(now version (?P<now>\d+); you loaded version 0\); reload and apply your change again"
)


def notional(i: int) -> float:
    """The distinct value process ``i`` sets, so every stored version says who wrote it."""
    return 10_000.0 + i


def _service_worker(i: int, barrier: Any, results: Any) -> None:
    expected = 0 if i % 2 else None
    actor = Actor(f"p{i}", frozenset({"risk"}))
    barrier.wait(timeout=300)
    try:
        request = LimitsChangeRequest(
            values={"max_order_notional": notional(i)},
            reason=f"process {i}",
            expected_version=expected,
        )
        change = risk.set_limits(request, actor=actor)
        results.put((i, "ok", change.version))
    except LimitsConflict as exc:
        results.put((i, "conflict", str(exc)))
    except BaseException as exc:  # any other outcome fails the test
        results.put((i, "error", repr(exc)))


def _cli_worker(i: int, barrier: Any, results: Any) -> None:
    from typer.testing import CliRunner

    from app.cli import app

    args = ["risk", "limits", "set", f"max_order_notional={notional(i)}", "--reason", f"cli {i}"]
    args += ["--json"] + (["--expected-version", "0"] if i % 2 else [])
    barrier.wait(timeout=300)
    try:
        result = CliRunner().invoke(app, args)
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            results.put((i, "error", repr(result.exception)))
            return
        payload = json.loads(result.stdout)
        if result.exit_code == 0:
            results.put((i, "ok", payload["version"]))
        elif result.exit_code == 2 and CONFLICT.fullmatch(payload.get("error", "")):
            results.put((i, "conflict", payload["error"]))
        else:
            results.put((i, "error", f"exit {result.exit_code}: {result.output}"))
    except BaseException as exc:
        results.put((i, "error", repr(exc)))


def run_together(worker: Any) -> dict[int, tuple[str, Any]]:
    """Fork PROCESSES workers, release them together, collect one outcome each."""
    from app.services.db import get_engine

    get_engine().dispose()  # children open their own connections (migrated already)
    ctx = mp.get_context("fork")
    barrier = ctx.Barrier(PROCESSES)
    results = ctx.Queue()
    procs = [ctx.Process(target=worker, args=(i, barrier, results)) for i in range(PROCESSES)]
    for p in procs:
        p.start()
    outcomes: dict[int, tuple[str, Any]] = {}
    for _ in procs:
        try:
            i, kind, value = results.get(timeout=600)
        except queue.Empty:
            break  # a process died without reporting: the assertion below says which
        outcomes[i] = (kind, value)
    for p in procs:
        p.join(timeout=300)
    codes = [p.exitcode for p in procs]
    assert len(outcomes) == PROCESSES and codes == [0] * PROCESSES, (outcomes, codes)
    return outcomes


def check_outcomes(outcomes: dict[int, tuple[str, Any]], writer: str) -> None:
    errors = {i: v for i, (k, v) in outcomes.items() if k == "error"}
    assert errors == {}, errors
    assert len(outcomes) == PROCESSES
    ok = {i: v for i, (k, v) in outcomes.items() if k == "ok"}
    conflicts = {i: v for i, (k, v) in outcomes.items() if k == "conflict"}
    assert len(ok) + len(conflicts) == PROCESSES
    # unconditional changes are retried until they land; only version-0 changes conflict
    assert all(ok[i] == 1 for i in ok if i % 2) and all(i % 2 for i in conflicts)
    assert {i for i in range(0, PROCESSES, 2)} <= set(ok)
    history = sorted(risk.history(), key=lambda c: c.version)
    # gapless: versions 1..n, one per success, each the version that process was told
    assert [c.version for c in history] == list(range(1, len(ok) + 1))
    assert sorted(ok.values()) == [c.version for c in history]
    by_version = {c.version: c for c in history}
    previous = RiskLimits().model_dump(mode="json")
    for change in history:
        i = int(change.changed_by.removeprefix("p")) if writer == "service" else None
        if i is not None:
            assert ok[i] == change.version
            assert change.limits["max_order_notional"] == notional(i)
        # consistent: each version's "previous" is exactly the version before it
        assert {k: change.changes.get(k, (v, v))[0] for k, v in previous.items()} == previous
        assert change.limits == {
            **previous,
            "max_order_notional": change.limits["max_order_notional"],
        }
        previous = change.limits
    if writer == "cli":
        got = sorted(c.limits["max_order_notional"] for c in history)
        assert got == sorted(notional(i) for i in ok)
    version, limits = risk.current_limits()
    assert version == len(ok) and limits.model_dump(mode="json") == history[-1].limits
    for message in conflicts.values():
        match = CONFLICT.fullmatch(message)
        assert match, message
        named = by_version[int(match["now"])]  # the conflict names a real writer and time
        assert named.changed_by == match["who"]
        assert named.created_at.strftime("%Y-%m-%d %H:%M:%S") == match["at"]


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A fresh database: the per-test SQLite file, or a new database on the test server."""
    from core.config import get_settings

    if request.param == "sqlite":
        yield "sqlite"
        return
    with fresh_pg_database() as url:
        monkeypatch.setenv("WORKBENCH_DB_URL", url)
        get_settings.cache_clear()
        yield "postgresql"


def test_sixteen_concurrent_service_changes_succeed_or_conflict_clearly(backend: str) -> None:
    from app.services.db import get_engine

    assert get_engine().dialect.name == backend
    check_outcomes(run_together(_service_worker), "service")


def test_sixteen_concurrent_cli_changes_succeed_or_conflict_clearly(backend: str) -> None:
    from app.services.db import get_engine

    assert get_engine().dialect.name == backend
    check_outcomes(run_together(_cli_worker), "cli")


def test_lost_race_on_the_version_number_is_retried_or_named(backend: str) -> None:
    """Deterministic race: a writer commits between our read and our insert."""
    from sqlalchemy import event

    from app.services.db import get_engine

    other = Actor("alice", frozenset({"risk"}))
    engine = get_engine()
    fired: list[int] = []

    def interleave(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        # Alice stores her change between our read of the version and our insert.
        if statement.lstrip().upper().startswith("INSERT INTO RISK_LIMIT_VERSIONS") and armed:
            armed.clear()
            values = {"max_drawdown": 0.1 - 0.01 * len(fired)}
            risk.set_limits(LimitsChangeRequest(values=values, reason="alice"), actor=other)
            fired.append(1)

    armed = [True]
    event.listen(engine, "before_cursor_execute", interleave)
    try:
        change = risk.set_limits(
            LimitsChangeRequest(values={"max_weight_per_asset": 0.2}, reason="retried")
        )
        assert fired == [1] and change.version == 2
        assert change.changes == {"max_weight_per_asset": (0.25, 0.2)}
        assert risk.current_limits()[1].max_drawdown == 0.1  # alice's change kept
        armed.append(True)
        with pytest.raises(
            LimitsConflict,
            match=r"limits changed by alice at .* \(now version 3; you loaded version 2\); reload",
        ):
            risk.set_limits(
                LimitsChangeRequest(
                    values={"max_weight_per_asset": 0.3}, reason="locked", expected_version=2
                )
            )
    finally:
        event.remove(engine, "before_cursor_execute", interleave)
    assert [c.version for c in risk.history()] == [3, 2, 1]
