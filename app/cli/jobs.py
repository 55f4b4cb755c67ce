"""``workbench jobs``: background jobs (list, show, cancel, wait, retry) and their worker.

Every long command takes ``--async``: it submits the validated request as a job and
prints the job's id (:func:`app.cli._generate.add_command`). ``workbench jobs worker``
runs the queued jobs; the app and ``--async`` start one when none is alive.
"""

from __future__ import annotations

import json
import logging
import signal
from typing import Any

import typer

from app.cli import options as opt
from app.cli._app import app
from app.cli._common import (
    EXIT_BUSY,
    JSON_OPT,
    _actor,
    _call,
    emit,
    fail,
    metrics_host_option,
    metrics_port_option,
)

EXIT_JOB_FAILED = 1
EXIT_TIMEOUT = 124

jobs_app = typer.Typer(
    help="Background jobs: list, show, cancel, wait, retry; the worker.", no_args_is_help=True
)
app.add_typer(jobs_app, name="jobs")


def _long_kinds() -> list[str]:
    from app.operations import all_operations

    return sorted(op.name for op in all_operations() if op.long_running)


def parse_kinds(value: Any) -> list[str]:
    """Job kinds from ``sweep`` or ``sweep,train``: each a long operation's name."""
    check = opt.text()
    names = [part.strip() for part in str(check(value)).split(",")]
    known = _long_kinds()
    for name in names:
        if name not in known:
            raise opt._refuse(f"{name[:40]!r} is not a job kind; choose from {', '.join(known)}")
    return names


def _kind(value: Any) -> str:
    names = parse_kinds(value)
    if len(names) != 1:
        raise opt._refuse(f"give one kind, not {len(names)}")
    return names[0]


_LIMIT = opt.number(1, 10_000, integer=True)
JOB_ID = typer.Argument(
    ..., metavar="JOB_ID", help="The job's id.", parser=opt.number(1, 2**31 - 1, integer=True)
)


def _when(value: str | None) -> str:
    return "-" if value is None else value[:19].replace("T", " ")


def _line(job: dict[str, Any]) -> str:
    return (
        f"{job['id']:>5}  {job['kind']:<14} {job['owner']:<14} {job['status']:<9} "
        f"{job['progress']:>4.0%}  {job['attempt']:>2}  {_when(job['created_at'])}  "
        f"{(job['error'] or job['message'] or '')[:60]}"
    )


def _record_text(job: dict[str, Any]) -> str:
    lines = [
        f"job {job['id']}: {job['kind']} by {job['owner']}, {job['status']} "
        f"({job['progress']:.0%}), attempt {job['attempt']}"
        + (f", retry of job {job['retry_of']}" if job["retry_of"] else ""),
        f"created {_when(job['created_at'])}, started {_when(job['started_at'])}, "
        f"finished {_when(job['finished_at'])}, worker {job['worker'] or '-'}",
    ]
    lines += [f"message: {job['message']}"] if job["message"] else []
    lines += [f"error: {job['error']}"] if job["error"] else []
    if job["result"] is not None:
        lines.append("result: " + json.dumps(job["result"], default=str)[:2000])
    return "\n".join(lines)


@jobs_app.command("list")
def jobs_list(
    kind: str | None = typer.Option(None, "--kind", help="Only this kind.", parser=_kind),
    owner: str | None = typer.Option(None, "--owner", help="Only this owner.", parser=opt.text()),
    status: str | None = typer.Option(
        None, "--status", help="Only this status.", parser=opt.choice("core.store.jobs:STATUSES")
    ),
    limit: int = typer.Option(50, "--limit", help="At most this many (1-10000).", parser=_LIMIT),
    as_json: bool = JSON_OPT,
) -> None:
    """List jobs, newest first."""
    from app.services.jobs import list_jobs

    views = _call(as_json, list_jobs, kind=kind, owner=owner, status=status, limit=limit)
    rows = [v.as_dict() for v in views]
    header = f"{'id':>5}  {'kind':<14} {'owner':<14} {'status':<9} prog  at  created"
    text = "\n".join([header, *map(_line, rows)]) if rows else "no jobs"
    emit(rows, as_json=as_json, text=text)


@jobs_app.command("show")
def jobs_show(job_id: int = JOB_ID, as_json: bool = JSON_OPT) -> None:
    """Show one job: status, progress, times, error and result."""
    from app.services.jobs import get_job

    record = _call(as_json, get_job, job_id=job_id).as_dict()
    emit(record, as_json=as_json, text=_record_text(record))


@jobs_app.command("cancel")
def jobs_cancel(job_id: int = JOB_ID, as_json: bool = JSON_OPT) -> None:
    """Cancel a queued job, or stop a running one (its owner, or the pm role)."""
    from app.services.jobs import cancel_job

    message = _call(as_json, cancel_job, job_id=job_id, actor=_actor(as_json))
    emit({"job_id": job_id, "message": message}, as_json=as_json, text=message)


@jobs_app.command("retry")
def jobs_retry(job_id: int = JOB_ID, as_json: bool = JSON_OPT) -> None:
    """Queue a failed or cancelled job again (its owner, or the pm role)."""
    from app.services.jobs import retry_job

    new_id = _call(as_json, retry_job, job_id=job_id, actor=_actor(as_json))
    payload = {"job_id": new_id, "retry_of": job_id, "status": "queued"}
    emit(payload, as_json=as_json, text=f"job {new_id} queued (a retry of job {job_id})")


@jobs_app.command("wait")
def jobs_wait(
    job_id: int = JOB_ID,
    timeout: float = typer.Option(
        3600.0, "--timeout", help="Seconds to wait (0-604800).", parser=opt.number(0, 604_800)
    ),
    as_json: bool = JSON_OPT,
) -> None:
    """Wait for a job to finish and print its record with the result.

    Exit 0 when done, 1 when it failed or was cancelled, 124 on timeout.
    """
    from app.services.jobs import get_job, wait_job

    try:
        view = _call(as_json, wait_job, job_id=job_id, timeout_s=timeout)
    except TimeoutError as exc:
        from app.services.jobs_supervisor import live_workers

        record = get_job(job_id).as_dict()
        emit(record, as_json=as_json, text=_record_text(record))
        idle = record["status"] == "queued" and not live_workers()
        hint = " (no job worker is running: start one with `workbench jobs worker`)" if idle else ""
        typer.echo(f"error: {exc}{hint}", err=True)
        raise typer.Exit(EXIT_TIMEOUT) from None
    record = view.as_dict()
    emit(record, as_json=as_json, text=_record_text(record))
    if view.status != "done":
        why = f"failed: {view.error}" if view.status == "failed" else "was cancelled"
        typer.echo(f"error: job {job_id} {why}", err=True)
        raise typer.Exit(EXIT_JOB_FAILED)


@jobs_app.command("worker")
def jobs_worker(
    once: bool = typer.Option(False, "--once", help="Run the queued jobs, then exit."),
    name: str | None = typer.Option(
        None,
        "--name",
        help="Worker name (default host:pid).",
        parser=opt.text(pattern=r"[A-Za-z0-9_.:@~-]+", hint="letters, digits and _.:@~-"),
    ),
    kinds: list[str] = typer.Option(
        [], "--kinds", help="Only these kinds (repeatable, or comma separated).", parser=parse_kinds
    ),
    lease: float = typer.Option(
        30.0, "--lease", help="Lease seconds (1-3600).", parser=opt.number(1, 3600)
    ),
    poll: float = typer.Option(
        0.5, "--poll", help="Seconds between looks at the queue.", parser=opt.number(0.05, 60)
    ),
    warm: bool = typer.Option(
        True,
        "--warm/--no-warm",
        help="Import the long operations and compile the engine before the first job.",
    ),
    metrics_port: int = metrics_port_option("queue depth, job durations, heartbeat age", 9102),
    metrics_host: str = metrics_host_option(),
    as_json: bool = JSON_OPT,
) -> None:
    """Run queued jobs until stopped (SIGTERM requeues the running job)."""
    import os

    from app.services.db import get_engine
    from app.services.jobs_supervisor import live_workers
    from app.services.jobs_warmup import warm_up
    from app.services.jobs_worker import JobWorker

    wanted = sorted({k for group in kinds for k in group}) if kinds else None
    worker = JobWorker(
        get_engine(), name=name, kinds=wanted, lease_s=lease, warm=warm_up if warm else None
    )
    clash = [w for w in live_workers() if w.name == worker.name and w.pid != os.getpid()]
    if clash:
        held = f"pid {clash[0].pid} on {clash[0].host}"
        fail(f"a worker named {worker.name} is already running ({held})", as_json=as_json,
             code=EXIT_BUSY)  # fmt: skip
    exporter = _metrics_server(worker.name, metrics_port, metrics_host, as_json)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    previous = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}
    for sig in previous:
        signal.signal(sig, lambda *_: worker.stop())
    try:
        ran = worker.serve(once=once, poll_s=poll)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if exporter is not None:
            exporter.shutdown()
            exporter.server_close()
    payload = {"worker": worker.name, "jobs": ran}
    emit(payload, as_json=as_json, text=f"worker {worker.name} ran {ran} job(s)")


def _metrics_server(worker: str, port: int, host: str, as_json: bool) -> Any:
    """The worker's metrics server (:func:`core.monitoring.prom.jobs_registry`), or None
    when ``port`` is 0; a taken port is refused with its address."""
    if not port:
        return None
    from app.services.db import get_engine
    from core.monitoring.prom import jobs_registry, serve

    return _call(as_json, serve, registry=jobs_registry(get_engine(), worker=worker), port=port,
                 host=host)  # fmt: skip
