"""The Sweep page runs its sweep as a job: submit, reload, progress, cancel, reopen.

The queue is driven by the test: ``run_pending()`` runs queued jobs in this process (as
the worker would), and a worker's mid-run writes (claim, progress, cancellation) are
made through the jobs repository under a worker name, so the page is seen at each step.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from app.operations import CancelToken
from app.operations.sweep import SweepRequest
from app.services import jobs
from app.services.db import get_engine
from app.services.jobs_worker import JobWorker
from app.services.sweep import run_sweep
from core.store.db import session_scope
from core.store.jobs import JobRepository
from core.sweep import GridAxis
from tests.pages.helpers import MAIN, chart_spec, metrics, open_app, plotly_array, submit_sweep
from tests.polling import wait_until

GRID = {"fast": (10, 30, 10), "slow": (20, 60, 20)}
WORKER = "test-worker"


def _submit_from_page() -> tuple[AppTest, int]:
    at = open_app("sweep")
    submit_sweep(at, GRID)
    (job,) = jobs.list_jobs(kind="sweep")
    return at, job.id


def _reload(job_id: int) -> AppTest:
    """A fresh browser session on the Sweep page's URL with ``?job=<id>``."""
    at = AppTest.from_file(MAIN, default_timeout=120)
    at.query_params["job"] = str(job_id)
    at.run()
    at.switch_page(str(Path(MAIN).parents[1] / "pages" / "sweep.py"))
    at.run()
    assert not at.exception, at.exception
    return at


def _text(at: AppTest) -> str:
    return "\n".join(m.value for m in at.markdown)


def _progress_texts(at: AppTest) -> list[str]:
    return [p.proto.text for p in at.get("progress")]


def _claim(job_id: int) -> None:
    with session_scope(get_engine()) as session:
        job = JobRepository(session).claim_next(WORKER, 60.0, datetime.now(UTC))
        assert job is not None and job.id == job_id


def _heartbeat(job_id: int, fraction: float, message: str) -> bool:
    with session_scope(get_engine()) as session:
        return JobRepository(session).heartbeat(
            job_id, WORKER, fraction, message, datetime.now(UTC), lease_s=60.0
        )


def _grid() -> dict[str, GridAxis]:
    return {name: GridAxis.parse(f"{lo}:{hi}:{step}") for name, (lo, hi, step) in GRID.items()}


def test_submit_reload_progress_and_cancel_a_running_sweep() -> None:
    at, job_id = _submit_from_page()
    assert jobs.get_job(job_id).status == "queued"
    submitted = jobs.request_of(jobs.get_job(job_id))
    assert isinstance(submitted, SweepRequest)
    assert (submitted.symbol, submitted.strategy, submitted.grid) == (
        "SP500",
        "ma_crossover",
        _grid(),
    )
    assert f"Job #{job_id} (sweep) **queued**" in _text(at)
    assert _progress_texts(at) == ["0% · Waiting for a worker…"]
    assert metrics(at) == {}  # nothing computed in the page

    page = _reload(job_id)  # the user reloads (or the server restarted): the job reopens
    assert f"Job #{job_id} (sweep) **queued**" in _text(page)

    _claim(job_id)  # a worker picks it up and reports progress
    assert _heartbeat(job_id, 0.4, "Simulated 40% of the combinations") is False
    page.run()
    assert f"Job #{job_id} (sweep) **running**" in _text(page)
    assert _progress_texts(page) == ["40% · Simulated 40% of the combinations"]

    page.button(key="jobs.sweep.cancel").click().run()
    assert not page.exception, page.exception
    assert jobs.get_job(job_id).cancel_requested
    assert any("Cancellation requested" in c.value for c in page.caption)
    assert _heartbeat(job_id, 0.5, "Simulated 50% of the combinations") is True  # worker sees it
    with session_scope(get_engine()) as session:
        JobRepository(session).mark_cancelled(job_id, WORKER, datetime.now(UTC))
    page.run()
    assert f"Job #{job_id} (sweep) **cancelled**" in _text(page)
    assert any(f"Job #{job_id} was cancelled" in w.value for w in page.warning)
    assert page.button(key="jobs.sweep.retry")  # a cancelled job can be run again
    assert metrics(page) == {}


def test_cancel_a_queued_sweep_from_the_page() -> None:
    at, job_id = _submit_from_page()
    at.button(key="jobs.sweep.cancel").click().run()
    assert not at.exception, at.exception
    assert jobs.get_job(job_id).status == "cancelled"
    at.run()
    assert f"Job #{job_id} (sweep) **cancelled**" in _text(at)
    assert jobs.run_pending() == 0  # nothing left to run


def test_finished_sweep_reopens_after_a_reload_with_the_numbers_of_a_direct_run() -> None:
    at, job_id = _submit_from_page()
    assert jobs.run_pending() == 1
    done = jobs.get_job(job_id)
    assert done.status == "done" and done.progress == 1.0, done
    at.run()
    assert f"Job #{job_id} (sweep) **done**" in _text(at)

    request = jobs.request_of(done)
    assert isinstance(request, SweepRequest) and request.grid == _grid()
    direct = run_sweep(request, save=False)  # the same request, computed here
    expected = direct.table.pivot_table(
        index="fast", columns="slow", values="sharpe", aggfunc="max"
    )
    for page in (at, _reload(job_id)):
        shown = metrics(page)
        assert shown["Combinations"] == f"{direct.combinations:,}" == "7"
        assert shown["Best sharpe"] == f"{direct.table['sharpe'].max():.2f}"
        run_id = done.result["run_id"]
        assert any(f"Sweep #{run_id}: ma_crossover on SP500" in h.value for h in page.subheader)
        (trace,) = chart_spec(page)["data"]
        assert trace["type"] == "heatmap"
        z = plotly_array(trace["z"]).astype(float)
        np.testing.assert_array_equal(z, expected.to_numpy())  # bit for bit, NaN cells too
        top = page.dataframe[0].value
        assert list(top["sharpe"]) == list(direct.top(15)["sharpe"])


def test_a_failed_sweep_shows_its_error_open_and_retries() -> None:
    at, job_id = _submit_from_page()
    _claim(job_id)
    with session_scope(get_engine()) as session:
        JobRepository(session).fail(
            job_id, WORKER, "the worker lost its data folder", datetime.now(UTC)
        )
    at.run()
    assert [e.value for e in at.error] == [f"Job #{job_id} failed: the worker lost its data folder"]
    at.button(key="jobs.sweep.retry").click().run()
    assert not at.exception, at.exception
    retried = [j for j in jobs.list_jobs(kind="sweep") if j.retry_of == job_id]
    assert len(retried) == 1 and retried[0].status == "queued"
    assert f"Job #{retried[0].id} (sweep) **queued**" in _text(at)
    assert jobs.run_pending() == 1
    at.run()
    assert metrics(at)["Combinations"] == "7"


def test_a_user_who_comes_back_reopens_a_recent_job() -> None:
    _, first = _submit_from_page()
    assert jobs.run_pending() == 1
    at = open_app("sweep")  # a new session, no job in the URL
    assert metrics(at) == {}
    assert at.selectbox(key="jobs.sweep.recent").value == first
    at.button(key="jobs.sweep.open_recent").click().run()
    assert not at.exception, at.exception
    assert metrics(at)["Combinations"] == "7"


def test_a_universe_sweep_shows_the_symbol_heatmaps_of_a_direct_run(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("WORKBENCH_EXECUTOR", "serial")  # Dask's equality is the cluster's test
    at = open_app("sweep")
    submit_sweep(at, GRID, all_symbols=True)
    (job,) = jobs.list_jobs(kind="sweep")
    request = jobs.request_of(job)
    assert isinstance(request, SweepRequest) and request.all_symbols
    assert jobs.run_pending() == 1
    at.run()
    assert not at.exception, at.exception

    direct = run_sweep(request, save=False)
    assert direct.universe is not None and direct.heatmap is not None
    symbols = list(direct.universe.symbols)
    assert len(symbols) == 6 and direct.combinations == 6 * 7
    assert metrics(at)["Combinations"] == "42"
    run_id = jobs.get_job(job.id).result["run_id"]
    assert any(f"Sweep #{run_id}: ma_crossover on all 6 symbols" in h.value for h in at.subheader)
    (by_param,) = chart_spec(at, 0)["data"]  # symbol x fast, max sharpe over slow
    assert list(by_param["y"]) == [str(s) for s in direct.heatmap.index]
    np.testing.assert_array_equal(
        plotly_array(by_param["z"]).astype(float), direct.heatmap.to_numpy()
    )
    (by_metric,) = chart_spec(at, 1)["data"]  # best row per symbol x metric
    best = direct.universe.best_by_symbol
    assert list(by_metric["y"]) == list(best["symbol"]) and by_metric["x"][0] == "sharpe"
    assert [row[0] for row in by_metric["text"]] == [f"{v:.2f}" for v in best["sharpe"]]
    dsr = direct.universe.dsr
    assert any(
        f"{dsr['dsr']:.3f} over {int(dsr['trials']):,} trials" in m.value for m in at.markdown
    )


def test_a_sweep_job_reports_progress_as_its_combinations_are_done() -> None:
    """Run as a job, a one-chunk sweep moves through intermediate fractions (not just
    start and end), and the page's bar shows one of them while the job runs."""
    at = open_app("sweep")
    submit_sweep(at, {"fast": (5, 50, 5), "slow": (60, 200, 10)})  # 150 raw, one chunk
    (job,) = jobs.list_jobs(kind="sweep")
    seen: list[float] = []
    shown: list[list[str]] = []

    def observe(job_id: int, fraction: float, message: str, token: CancelToken) -> None:
        seen.append(fraction)
        if 0.3 < fraction < 0.9 and not shown:  # mid-run: what a reload shows now
            wait_until(lambda: jobs.get_job(job_id).progress >= fraction, "the progress row")
            shown.append(_progress_texts(_reload(job_id)))

    JobWorker(get_engine(), observe=observe).run_pending()
    assert jobs.get_job(job.id).status == "done"
    inside = [f for f in seen if 0.02 < f < 0.92]
    assert len(set(inside)) >= 3, seen  # moves with the work inside the single chunk
    assert seen == sorted(seen) and seen[-1] == 1.0
    ((text,),) = shown
    percent, message = text.split(" · ", 1)
    assert 30 <= int(percent.rstrip("%")) < 90
    assert message.startswith("chunk 1 of 1: about ") and message.endswith(" of 150 raw combos")
