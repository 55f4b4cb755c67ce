"""Steering paper workers through the database: pause, resume, stop and the kill switch.

The dashboard and the CLI write the desired state to the ``worker_control`` row; each
worker reads it every bar. A kill is carried out at once (cancel, flatten) on every
session no worker is running, and by the running workers at their next bar.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import sessionmaker

from core.paper.lease import LeaseHeldError, SessionLease, live_leases
from core.paper.orders import carry_out_kill, kill_summary
from core.paper.session import SessionIO, session_marks
from core.store.paper import PaperSession, WorkerControlRepository

STATES = ("paused", "running", "killed", "stopped")


@dataclass(frozen=True)
class ControlOutcome:
    """What a pause, resume or kill did.

    Attributes
    ----------
    changed
        Whether the desired state was changed (False: nothing was done, see ``message``).
    desired_state
        The desired state after the call.
    message
        One sentence for the user.
    flattened
        Sessions flattened at once by the kill (no worker was running them).
    """

    changed: bool
    desired_state: str
    message: str
    flattened: list[str]

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return dict(self.__dict__)


def running_workers(engine: Engine) -> list[str]:
    """Sessions whose worker holds a live lease."""
    with sessionmaker(bind=engine).begin() as s:
        return [lease.session for lease in live_leases(s)]


def refuse_if_running(engine: Engine, name: str) -> None:
    """ValueError when a worker already runs session ``name``."""
    if name in running_workers(engine):
        raise ValueError(f"a worker is already running session {name!r}; pause or kill it first")


def start_detached(command: Sequence[str], *, cwd: Path, log: Path) -> int:
    """Start ``command`` in its own process session, output appended to ``log``; its pid."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        env = {**os.environ}
        proc = subprocess.Popen(
            list(command), cwd=cwd, stdout=out, stderr=out, start_new_session=True, env=env
        )
    return proc.pid


def set_state(
    engine: Engine,
    state: str,
    *,
    by: str,
    io: SessionIO,
    reason: str = "",
    flatten: bool | None = None,
) -> ControlOutcome:
    """Pause, resume or kill the paper trader (``by``: who asked).

    Pause and resume act only on a running worker (and resume only a paused one);
    otherwise nothing changes and the outcome says why. A kill is recorded for the
    running workers and carried out at once (cancel, flatten) on every session no
    worker is running.
    """
    if state not in STATES:
        raise ValueError(f"state must be paused, running, killed or stopped; got {state!r}")
    workers = running_workers(engine)
    factory = sessionmaker(bind=engine, expire_on_commit=False)
    with factory.begin() as s:
        current = WorkerControlRepository(s).get().desired_state
    if state in ("paused", "running"):
        verb = "pause" if state == "paused" else "resume"
        if not workers:
            return ControlOutcome(
                False,
                current,
                f"no paper worker is running: nothing to {verb} (start one with "
                "`workbench paper run` or the Start button)",
                [],
            )
        needed = "running" if state == "paused" else "paused"
        if current != needed:
            return ControlOutcome(
                False, current, f"the worker is {current}, not {needed}: nothing to {verb}", []
            )
    with factory.begin() as s:
        WorkerControlRepository(s).set(state, updated_by=by, reason=reason, flatten_on_kill=flatten)
    if state != "killed":
        return ControlOutcome(True, state, f"paper trader: {state} requested", [])
    return _kill_idle_sessions(engine, by, reason, workers, io)


def _kill_idle_sessions(
    engine: Engine,
    by: str,
    reason: str,
    workers: list[str],
    io: SessionIO,
) -> ControlOutcome:
    """Cancel and (if asked) flatten now every session no worker is running."""
    factory = sessionmaker(bind=engine, expire_on_commit=False)
    with factory.begin() as s:
        flatten = WorkerControlRepository(s).get().flatten_on_kill
        rows = [
            (r.name, r.account_id)
            for r in s.scalars(select(PaperSession).order_by(PaperSession.id))
        ]
    done, problems = [], []
    left = False
    for name, account_id in rows:
        if name in workers or account_id is None:
            continue
        lease = SessionLease(engine, name, role="kill-switch")
        try:
            lease.acquire()
        except LeaseHeldError:
            workers.append(name)  # a worker started meanwhile: it carries the kill out
            continue
        try:
            config, prices, ts = session_marks(factory, name, io.frames)
            outcome = carry_out_kill(
                engine,
                session_name=name,
                account_id=account_id,
                broker=io.broker_for(config),
                prices=prices,
                ts=ts,
                flatten=flatten,
                reason=reason or "kill switch",
                renew=lease.renew,
                stop=False,
            )
            if outcome.flatten_orders or outcome.cancelled:
                done.append(name)
            left = left or bool(outcome.positions_left)
        except Exception as exc:  # reported; the kill stays pending
            problems.append(f"{name}: {exc}")
        finally:
            lease.release()
    if not workers and not problems:
        with factory.begin() as s:
            summary = kill_summary(reason or "kill switch", flatten, left)
            WorkerControlRepository(s).set("stopped", updated_by=by, reason=summary)
    parts = [f"kill switch engaged ({'flatten' if flatten else 'keep positions'})"]
    if done:
        parts.append(f"carried out now on {', '.join(done)}")
    if workers:
        parts.append(f"the running worker(s) of {', '.join(sorted(set(workers)))} do it now")
    if problems:
        parts.append("not yet done (retried when a worker starts): " + "; ".join(problems))
    state = "killed" if workers or problems else "stopped"
    return ControlOutcome(True, state, "; ".join(parts), done)
