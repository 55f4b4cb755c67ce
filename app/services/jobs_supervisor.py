"""Job workers supervised through the database: which are alive, and starting one.

Every ``workbench jobs worker`` keeps a row in ``job_workers`` (host, pid, expiry) alive
while it runs and deletes it when it stops. A worker is *live* while its row has not
expired and, on this host, its process exists (a ``kill -9``-ed worker is seen dead at
once). :func:`ensure_worker` starts one, detached, when none is live; two processes
calling it at once start at most one, since only the holder of the start lock (a row of
the same table, taken atomically) may start a worker.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from app.services.db import get_engine
from core.config import ROOT, get_settings
from core.store.base import utcnow
from core.store.db import session_scope
from core.store.jobs import WorkerRepository, pid_alive

HOST = socket.gethostname()
AUTOSTART_ENV = "WORKBENCH_JOBS_AUTOSTART"
START_LOCK_TTL_S = 30.0
STARTUP_GRACE_S = 60.0
"""How long a just-started worker counts as live before its own first heartbeat."""


@dataclass(frozen=True)
class WorkerInfo:
    """One live worker: its name, host, pid, the job it runs and its expiry."""

    name: str
    host: str
    pid: int
    job_id: int | None
    kinds: list[str] | None
    started_at: datetime
    expires_at: datetime


def live_workers(now: datetime | None = None) -> list[WorkerInfo]:
    """The workers alive now, oldest first."""
    at = now or utcnow()
    with session_scope(get_engine()) as session:
        rows = WorkerRepository(session).unexpired(at)
        infos = [
            WorkerInfo(r.name, r.host, r.pid, r.job_id, r.kinds, r.started_at, r.expires_at)
            for r in rows
        ]
    return [w for w in infos if w.host != HOST or pid_alive(w.pid)]


def autostart_enabled() -> bool:
    """False when ``WORKBENCH_JOBS_AUTOSTART`` is 0, false, no or off (tests)."""
    return os.environ.get(AUTOSTART_ENV, "1").strip().lower() not in ("0", "false", "no", "off")


def worker_log() -> Path:
    """The log of detached workers (appended), under the runtime folder."""
    return get_settings().var_dir / "jobs_worker.log"


def start_detached(command: Sequence[str], *, log: Path) -> int:
    """Start ``command`` in its own process session, output appended to ``log``; its pid."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        proc = subprocess.Popen(
            list(command),
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=out,
            start_new_session=True,
            env={**os.environ},
        )
    return proc.pid


def ensure_worker() -> bool:
    """Start ``workbench jobs worker`` detached if no worker is live; True if started."""
    if not autostart_enabled() or live_workers():
        return False
    me = os.getpid()
    with session_scope(get_engine()) as session:
        held = WorkerRepository(session).take_start_lock(
            host=HOST, pid=me, now=utcnow(), ttl_s=START_LOCK_TTL_S
        )
    if not held:
        return False  # another process is starting one right now
    try:
        if live_workers():  # one started between our first look and the lock
            return False
        name = f"{HOST}:auto-{uuid.uuid4().hex[:8]}"
        command = [sys.executable, "-m", "app.cli", "jobs", "worker", "--name", name]
        pid = start_detached(command, log=worker_log())
        with session_scope(get_engine()) as session:
            WorkerRepository(session).beat(
                name, host=HOST, pid=pid, now=utcnow(), ttl_s=STARTUP_GRACE_S
            )
        return True
    finally:
        with session_scope(get_engine()) as session:
            WorkerRepository(session).release_start_lock(host=HOST, pid=me)


__all__ = [
    "AUTOSTART_ENV",
    "HOST",
    "WorkerInfo",
    "autostart_enabled",
    "ensure_worker",
    "live_workers",
    "pid_alive",
    "start_detached",
    "worker_log",
]
