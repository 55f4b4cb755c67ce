"""Jobs page: every long operation's job, filtered by kind, owner and status; open one's
result on its page, retry a failed or cancelled one, cancel a queued or running one."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import streamlit as st

from app.components.jobs import (
    QUERY,
    cancel,
    duration_text,
    elapsed_s,
    readable_json,
    result_fields,
    retry,
    show_notice,
)
from app.services import jobs
from app.services.jobs import JobView
from app.session import current_actor

ALL = "(all)"
NOTICE = "jobs.page.notice"
STATUSES = ("queued", "running", "done", "failed", "cancelled")
#: The page that opens each kind of job's result (the file under pages/).
PAGE_OF = {
    "sweep": "sweep.py",
    "walkforward": "walkforward.py",
    "train": "training.py",
    "ensemble eval": "ensemble.py",
    "retrain replay": "registry.py",
    "predict": "registry.py",
    "abtest": "abtest.py",
    "report": "backtest.py",
    "universe": "backtest.py",
}
PAGES = Path(__file__).resolve().parent


def _when(value: datetime | None) -> str:
    return "" if value is None else f"{value:%Y-%m-%d %H:%M:%S}"  # JobView times are UTC


def _row(job: JobView) -> dict[str, object]:
    return {
        "id": job.id,
        "kind": job.kind,
        "owner": job.owner,
        "status": job.status,
        "progress %": round(100 * float(job.progress), 1),
        "message": job.error if job.status == "failed" and job.error else job.message,
        "created": _when(job.created_at),
        "duration": duration_text(elapsed_s(job)) if job.started_at or job.finished else "",
        "attempt": job.attempt,
    }


st.title("Jobs")
me = current_actor().name
st.caption(
    "Long operations (sweeps, walk-forwards, training, ensemble, A/B, reports, universe "
    "backtests, predictions) run as jobs in the `workbench jobs worker` process; they go on "
    "when you leave or reload a page. Times are UTC."
)
everyone = jobs.list_jobs(limit=1000)
kinds = sorted({j.kind for j in everyone} | set(PAGE_OF))
owners = sorted({j.owner for j in everyone} | {me})
f1, f2, f3, f4 = st.columns([2, 2, 2, 1])
kind = f1.selectbox("Kind", [ALL, *kinds], key="jobs.kind")
owner = f2.selectbox("Owner", [ALL, *owners], key="jobs.owner")
status = f3.selectbox("Status", [ALL, *STATUSES], key="jobs.status")
live = f4.toggle("Live", value=True, key="jobs.live", help="Re-read the jobs every 2 seconds.")


@st.fragment(run_every=2.0 if live else None)
def _jobs_view() -> None:
    shown = jobs.list_jobs(
        kind=None if kind == ALL else kind,
        owner=None if owner == ALL else owner,
        status=None if status == ALL else status,
        limit=200,
    )
    if not shown:
        st.info("No job matches these filters.")
        return
    st.dataframe(
        [_row(j) for j in shown],
        width="stretch",
        hide_index=True,
        key="jobs.table",
        column_config={
            "id": st.column_config.NumberColumn("id", width="small", format="%d"),
            "progress %": st.column_config.ProgressColumn(
                "progress %", min_value=0, max_value=100, format="%.0f%%", width="small"
            ),
            "message": st.column_config.TextColumn("message", width="medium"),
            "attempt": st.column_config.NumberColumn("attempt", width="small"),
        },
    )
    by_id = {j.id: j for j in shown}
    pick = st.selectbox(
        "Job",
        list(by_id),
        key="jobs.pick",
        format_func=lambda i: f"#{i} {by_id[i].kind} · {by_id[i].owner} · {by_id[i].status}",
    )
    _details(by_id[pick])


def _details(job: JobView) -> None:
    notice = f"{NOTICE}.{job.id}"
    page = PAGE_OF.get(job.kind)
    actions = [
        name
        for name, shown in (
            ("open", job.status == "done" and page is not None),
            ("retry", job.status in ("failed", "cancelled")),
            ("cancel", not job.finished),
        )
        if shown
    ]
    for column, action in zip(st.columns(max(4, len(actions))), actions, strict=False):
        if action == "open" and column.button("Open on its page", key="jobs.open"):
            st.switch_page(PAGES / str(page), query_params={QUERY: str(job.id)})
        elif action == "retry" and column.button("Retry", key="jobs.retry"):
            if retry(job.id, key=notice) is not None:
                st.rerun()
        elif action == "cancel":
            column.button(
                "Cancel", key="jobs.cancel", on_click=cancel, args=(job.id,), kwargs={"key": notice}
            )
    show_notice(notice)
    if job.status == "failed":
        st.error(f"Job #{job.id} failed: {job.error or 'no error text was recorded'}")
    elif job.message:
        st.caption(f"Job #{job.id}: {job.message}")
    left, right = st.columns(2)
    with left:
        st.markdown("**Spec** (the request it runs)")
        st.code(
            json.dumps(readable_json(job.spec), indent=2, default=str), language="json", height=420
        )
    with right:
        st.markdown("**Result**")
        if job.result is None:
            st.caption("None yet." if not job.finished else "No result.")
        else:
            fields = result_fields(job.result)
            if fields:
                st.dataframe(fields, width="stretch", hide_index=True, key="jobs.result")
            with st.expander("Whole result (JSON, numbers to 6 significant digits)"):
                text = json.dumps(readable_json(job.result), indent=2, default=str)[:20000]
                st.code(text, language="json", height=420)
    if job.retry_of is not None:
        st.caption(f"Retry of job #{job.retry_of}.")


_jobs_view()
