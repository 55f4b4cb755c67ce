"""The A/B comparison as a long-running operation: the job runner's call reports
monotonic progress, honours cancellation and gives the same numbers as a plain run."""

from __future__ import annotations

import pytest

from app.operations import Cancelled, CancelToken, get
from app.operations.abtest import CompareRequest
from app.services import abtest as ab
from app.services import runs as run_store

REQUEST = CompareRequest(arms=["buy_and_hold", "ma_crossover:fast=20,slow=100"], n_boot=1200)


def test_the_job_call_reports_progress_and_equals_a_plain_run() -> None:
    op = get("abtest")
    assert op.long_running
    steps: list[tuple[float, str]] = []
    outcome = op.run(REQUEST, progress=lambda f, m: steps.append((f, m)), cancel=CancelToken())
    plain = ab.run_compare(REQUEST, save=False)
    assert outcome.result.model_dump() == plain.result.model_dump()
    fractions = [f for f, _ in steps]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert steps[:2] == [
        (0.1, "arm 1/2 built: buy_and_hold"),
        (0.2, "arm 2/2 built: ma_crossover (fast=20, slow=100)"),
    ]
    # 5,030 days: 397 resamples per chunk, 4 chunks per bootstrap test, 3 tests
    boot = [m for _, m in steps if "resamples" in m]
    assert len(boot) == 3 * 4 and boot[-1].endswith("1,200/1,200 resamples")
    payload = op.payload(outcome)
    assert payload["run_id"] == outcome.run_id and steps[-1][1] == f"saved as run {outcome.run_id}"
    assert run_store.get_run(outcome.run_id).kind == "abtest"


def test_a_cancel_during_the_bootstrap_stops_it_and_saves_nothing() -> None:
    token = CancelToken()
    seen: list[str] = []

    def progress(fraction: float, message: str) -> None:
        seen.append(message)
        if "resamples" in message:
            token.cancel("user asked")

    with pytest.raises(Cancelled, match="user asked"):
        get("abtest").run(REQUEST, progress=progress, cancel=token)
    assert seen[-1] == "pair 1/1 (buy_and_hold vs ma_crossover (fast=20, slow=100)): " + (
        "bootstrap test 1/3, 397/1,200 resamples"
    )
    assert run_store.list_runs(kind="abtest") == []


def test_a_cancel_before_the_start_builds_no_arm() -> None:
    token = CancelToken()
    token.cancel("early")
    seen: list[str] = []
    with pytest.raises(Cancelled, match="early"):
        get("abtest").run(REQUEST, progress=lambda f, m: seen.append(m), cancel=token)
    assert seen == []
