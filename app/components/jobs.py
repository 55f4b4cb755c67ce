"""The job panel every page with long work uses: submit, live progress, cancel, reopen.

A page builds its typed request, calls :func:`submit_job`, and calls :func:`job_panel`
on every run with the renderer of a finished result. The job id is kept in session
state (per kind) and in the URL's ``job`` query parameter, so a reload, another tab
or a restart of the server reopens the same job: it lives in the database and runs in
the ``workbench jobs worker`` process, not in the page.

While the job is queued or running, a fragment re-reads it every second (status, a
progress bar with the worker's message, elapsed time, Cancel); when it ends, the whole
page reruns once and the renderer draws the result, reopened from the database.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import pandas as pd
import streamlit as st

from app.components import numbers
from app.components.tables import column_kind
from app.services import jobs
from app.session import current_actor
from core.store.jobs import JobError  # the base of the store's refusals

if TYPE_CHECKING:
    from pydantic import BaseModel

    from app.services.jobs import JobView

QUERY = "job"
"""The URL query parameter that holds the open job's id."""
REFRESH_S = 1.0
"""Seconds between two reads of a live job."""
ICONS = {
    "queued": ":material/schedule:",
    "running": ":material/autorenew:",
    "done": ":material/check_circle:",
    "failed": ":material/error:",
    "cancelled": ":material/cancel:",
}
#: The jobs service's refusals, each with a plain sentence for the user (no role, a job
#: that is already finished, no such job, a request of the wrong type).
REFUSALS: tuple[type[Exception], ...] = (PermissionError, LookupError, ValueError, JobError)


def _key(kind: str) -> str:
    return f"jobs.{kind}.open"


def _notice_key(kind: str) -> str:
    return f"jobs.{kind}.notice"


def open_job(kind: str, job_id: int) -> None:
    """Make ``job_id`` the open job of ``kind`` (session state and the URL)."""
    st.session_state[_key(kind)] = job_id
    st.query_params[QUERY] = str(job_id)


def forget_job(kind: str) -> None:
    """Close the open job of ``kind`` (e.g. when the user reopens a saved run instead)."""
    job_id = st.session_state.pop(_key(kind), None)
    if job_id is not None and st.query_params.get(QUERY) == str(job_id):
        del st.query_params[QUERY]


def submit_job(operation: str, request: BaseModel) -> int | None:
    """Queue ``operation`` on ``request`` for the signed-in user and open it.

    Returns the job id, or None after showing the service's refusal.
    """
    try:
        job_id = jobs.submit(operation, request, actor=current_actor())
    except REFUSALS as exc:
        st.error(str(exc))
        return None
    st.session_state.pop(_notice_key(operation), None)
    open_job(operation, job_id)
    return job_id


def _job_of(kind: str, job_id: int) -> JobView | None:
    try:
        job = jobs.get_job(job_id)
    except LookupError:
        return None
    return job if job.kind == kind else None


def current_job(kind: str) -> JobView | None:
    """The open job of ``kind``: from the URL first (a reload), else from session state."""
    raw = st.query_params.get(QUERY)
    if raw is not None and str(raw).isdigit():
        job = _job_of(kind, int(raw))
        if job is not None:
            st.session_state[_key(kind)] = job.id
            return job
    job_id = st.session_state.get(_key(kind))
    if job_id is None:
        return None
    job = _job_of(kind, int(job_id))
    if job is None:
        st.session_state.pop(_key(kind), None)
    elif QUERY not in st.query_params:  # page switches drop query parameters
        st.query_params[QUERY] = str(job.id)
    return job


def run_id_of(job: JobView) -> int:
    """The saved run a finished job's result refers to (LookupError if none)."""
    run_id = (job.result or {}).get("run_id")
    if run_id is None:
        raise LookupError(f"job {job.id} saved no run")
    return int(run_id)


def elapsed_s(job: JobView, now: datetime | None = None) -> float:
    """Seconds from the job's start (or submission, while queued) to its end or ``now``
    (a :class:`JobView`'s times are already in UTC)."""
    start = job.started_at or job.created_at
    end = job.finished_at or now or datetime.now(UTC)
    return max(0.0, (end - start).total_seconds())


def duration_text(seconds: float) -> str:
    """``"4.2 s"``, ``"3 min 05 s"`` or ``"1 h 02 min"``.

    >>> duration_text(4.23), duration_text(185), duration_text(3720)
    ('4.2 s', '3 min 05 s', '1 h 02 min')
    """
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


FRACTION_FIELDS = frozenset({"regret", "turnover"})
"""Result fields that are fractions though their names do not say so (the ensemble's)."""


def _field_value(name: str, value: object) -> str:
    """One scalar of a job's result as the user reads it: a fraction in %, a ratio to two
    decimals, a count with separators, an id as it is."""
    if value is None:
        return numbers.MISSING
    if isinstance(value, bool) or isinstance(value, str):
        return str(value)
    if isinstance(value, int) and not isinstance(value, bool):
        words = name.lower().replace("_", " ").split()
        return str(value) if {"id", "version", "seed"} & set(words) else numbers.integer(value)
    kind = "percent" if name in FRACTION_FIELDS else column_kind(name, pd.Series([value]))
    return {
        "percent": numbers.pct(value, 2),
        "ratio": numbers.ratio(value),
        "money": numbers.money(value),
        "integer": numbers.integer(value),
    }.get(str(kind), numbers.number(value, 4))


def result_fields(result: dict[str, Any]) -> list[dict[str, str]]:
    """The scalar fields of a job's result as rows of (field, value), formatted for reading
    (the lists and tables stay in the whole result below them).

    >>> result_fields({"ensemble_sharpe": 0.52296885, "regret": 0.2093, "switches": 1057,
    ...                "run_id": 1234, "tests": [1, 2]})  # doctest: +NORMALIZE_WHITESPACE
    [{'Field': 'ensemble sharpe', 'Value': '0.52'}, {'Field': 'regret', 'Value': '20.93%'},
     {'Field': 'switches', 'Value': '1,057'}, {'Field': 'run id', 'Value': '1234'}]
    """
    return [
        {"Field": key.replace("_", " "), "Value": _field_value(key, value)}
        for key, value in result.items()
        if value is None or isinstance(value, str | int | float)
    ]


def readable_json(value: Any) -> Any:
    """``value`` with every float rounded to 6 significant digits (for display only)."""
    if isinstance(value, float):
        return float(f"{value:.6g}")
    if isinstance(value, dict):
        return {k: readable_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [readable_json(v) for v in value]
    return value


def status_line(job: JobView) -> str:
    """One line: ``Job #12 (sweep) running, attempt 1, 4.2 s``."""
    attempt = f", attempt {job.attempt}" if job.attempt > 1 else ""
    since = "waiting" if job.status == "queued" else "elapsed"
    return (
        f"{ICONS.get(job.status, '')} Job #{job.id} ({job.kind}) **{job.status}**{attempt}, "
        f"{since} {duration_text(elapsed_s(job))}"
    )


def cancel(job_id: int, *, key: str) -> None:
    """Ask the service to cancel ``job_id`` and keep its sentence under ``key``."""
    try:
        st.session_state[key] = ("info", jobs.cancel_job(job_id, actor=current_actor()))
    except REFUSALS as exc:
        st.session_state[key] = ("error", str(exc))


def retry(job_id: int, *, key: str) -> int | None:
    """Ask the service to retry ``job_id``; returns the new job id or None."""
    try:
        new_id = jobs.retry_job(job_id, actor=current_actor())
    except REFUSALS as exc:
        st.session_state[key] = ("error", str(exc))
        return None
    st.session_state[key] = ("info", f"Job #{job_id} queued again as job #{new_id}.")
    return new_id


def show_notice(key: str) -> None:
    """Show the sentence kept under ``key`` by :func:`cancel` or :func:`retry`."""
    notice = st.session_state.get(key)
    if notice is not None:
        (st.error if notice[0] == "error" else st.info)(notice[1])


def _live_view(kind: str, job_id: int) -> None:
    """Body of the refreshing fragment: re-read the job, draw its progress, offer Cancel."""
    job = _job_of(kind, job_id)
    if job is None:
        st.warning(f"Job #{job_id} is gone.")
        return
    if job.finished:  # draw the result (and stop refreshing) with one full rerun
        st.rerun(scope="app")
    st.markdown(status_line(job))
    text = job.message or ("Waiting for a worker…" if job.status == "queued" else "Starting…")
    st.progress(min(max(float(job.progress), 0.0), 1.0), text=f"{job.progress:.0%} · {text}")
    if job.cancel_requested:
        st.caption("Cancellation requested; the worker stops at its next check.")
    else:
        st.button(
            "Cancel",
            key=f"jobs.{kind}.cancel",
            icon=":material/stop_circle:",
            on_click=cancel,
            args=(job.id,),
            kwargs={"key": _notice_key(kind)},
        )
    show_notice(_notice_key(kind))


def _finished_view(kind: str, job: JobView, on_done: Callable[[JobView], Any]) -> None:
    st.markdown(status_line(job))
    if job.status == "failed":
        st.error(f"Job #{job.id} failed: {job.error or 'no error text was recorded'}")
    elif job.status == "cancelled":
        where = f" at {job.progress:.0%} ({job.message})" if job.message else ""
        st.warning(f"Job #{job.id} was cancelled{where}; no result was saved.")
    if job.status in ("failed", "cancelled"):
        if st.button("Retry", key=f"jobs.{kind}.retry", icon=":material/replay:"):
            new_id = retry(job.id, key=_notice_key(kind))
            if new_id is not None:
                open_job(kind, new_id)
                st.rerun()  # a full rerun: the new job's live view
        show_notice(_notice_key(kind))
        return
    try:
        on_done(job)
    except LookupError as exc:  # the saved run was deleted since
        st.error(f"Job #{job.id} finished, but its result cannot be reopened: {exc}")


def job_panel(kind: str, on_done: Callable[[JobView], Any], *, recent: int = 10) -> JobView | None:
    """The open job of ``kind`` (live progress, or its result through ``on_done``) and a
    picker of this user's recent jobs of that kind. Returns the open job, or None."""
    job = current_job(kind)
    if job is not None:
        if job.finished:
            _finished_view(kind, job, on_done)
        else:
            live = st.fragment(_live_view, run_every=REFRESH_S, key=f"jobs.{kind}.live")
            live(kind, job.id)
    recent_jobs(kind, limit=recent, current=None if job is None else job.id)
    return job


def recent_jobs(kind: str, *, limit: int = 10, current: int | None = None) -> None:
    """This user's recent jobs of ``kind``, with a button to open one."""
    if limit <= 0:
        return
    owner = current_actor().name
    rows = [j for j in jobs.list_jobs(kind=kind, owner=owner, limit=limit) if j.id != current]
    if not rows:
        return
    with st.expander(f"Your recent {kind} jobs ({len(rows)})"):
        labels = {
            j.id: f"#{j.id} {j.status} · {j.created_at:%Y-%m-%d %H:%M:%S} · {j.message}"
            for j in rows
        }
        pick = st.selectbox(
            "Job", list(labels), key=f"jobs.{kind}.recent", format_func=labels.__getitem__
        )
        if st.button("Open job", key=f"jobs.{kind}.open_recent"):
            st.session_state.pop(_notice_key(kind), None)
            open_job(kind, int(pick))
            st.rerun()
