"""The tear sheet of a backtest run, built as a job (``report``) and kept with the run."""

from __future__ import annotations

from typing import TYPE_CHECKING

import streamlit as st

from app.components.jobs import current_job, job_panel, run_id_of, submit_job
from app.operations.backtest import BacktestOutcome, ReportRequest

if TYPE_CHECKING:
    from pathlib import Path

    from app.services.jobs import JobView

KIND = "report"


def _stored(run_id: int) -> Path | None:
    from app.services.report import saved_tearsheet

    try:
        return saved_tearsheet(run_id)
    except LookupError:
        return None


def _download(run_id: int, path: Path) -> None:
    st.download_button(
        "Download tear sheet (HTML)",
        path.read_bytes,  # read on the click, not on every run
        file_name=f"tearsheet_{run_id}.html",
        mime="text/html",
        key="bt.tearsheet.download",
    )


def _done(job: JobView) -> None:
    run_id = run_id_of(job)
    path = _stored(run_id)
    if path is None:
        raise LookupError(f"run {run_id} has no tear sheet file")
    _download(run_id, path)


def render_tearsheet(outcome: BacktestOutcome) -> None:
    """A download of run ``outcome.run_id``'s tear sheet, or a button that builds it as a
    job (quantstats takes seconds); its progress shows here until it is ready."""
    run_id = outcome.run_id
    if run_id is None:
        return
    job = current_job(KIND)
    if job is None or job.spec.get("run_id") != run_id:
        path = _stored(run_id)
        if path is not None:
            _download(run_id, path)
            return
        if not st.button("Build tear sheet (quantstats)", key="bt.tearsheet"):
            return
        request = ReportRequest.model_validate({**outcome.request.model_dump(), "run_id": run_id})
        if submit_job(KIND, request) is None:
            return
    job_panel(KIND, on_done=_done, recent=0)
