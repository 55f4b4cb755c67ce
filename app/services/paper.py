"""Paper-trading services: sessions, the worker, dashboard controls and the monitor view.

The worker is a separate process (``workbench paper run --session NAME``) supervised through
the database (:mod:`core.paper`, where the rules live): front ends write the desired state.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from app.operations.paper import ControlRequest, KillRequest, PaperRequest
from app.services import alerts
from app.services.auth import LOCAL, Actor, require
from app.services.db import get_engine
from app.services.paper_feed import live_parts
from app.services.paper_io import IO as _IO
from app.services.paper_io import sessions as _sessions
from app.services.paper_metrics import exporting
from app.services.paper_process import ROOT, start_worker_process
from app.services.paper_view import monitor, risk_report
from core.ensemble.agents import MIN_TRAIN_BARS  # checked before a start
from core.paper import control, session
from core.paper.control import ControlOutcome
from core.paper.group import REPLAY_GROUP_COMMIT
from core.paper.lease import DEFAULT_TTL_S, SessionLease, utc_clock
from core.paper.limits import StoredLimits
from core.paper.report import CycleReport, alert_snapshot
from core.paper.worker import PaperWorker

__all__ = [
    "MIN_TRAIN_BARS",
    "ROOT",
    "monitor",
    "risk_report",
    "run_worker",
    "set_state",
    "start_worker_process",
    "stored_settings",
]


def _alert_hook(symbols: list[str]) -> Callable[[CycleReport], None]:
    def on_cycle(report: CycleReport) -> None:
        alerts.evaluate(alert_snapshot(report, symbols, utc_clock()))

    return on_cycle


def stored_settings(name: str) -> dict[str, Any] | None:
    """The settings paper session ``name`` was created with (None: no such session)."""
    with _sessions() as s:
        return session.stored_config(s, name)


def run_worker(
    request: PaperRequest | str,
    *,
    steps: int | None,
    speed: float = 0.0,
    actor: Actor = LOCAL,
    start_running: bool = True,
    until: str | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], datetime] = utc_clock,
    lease_ttl_s: float = DEFAULT_TTL_S,
    metrics_port: int = 0,
    metrics_host: str = "127.0.0.1",
) -> dict[str, Any]:
    """Run the worker in this process until steps, ``until``, the data's end, or a stop/kill.

    ``request``: a new session's settings (checked against a stored session of that
    name), or a stored session's name (it runs with its own settings). The lease is
    taken before anything is written (:class:`~core.paper.lease.LeaseHeldError`).
    ``metrics_port``: serve Prometheus metrics there while the run lasts (0: off).
    """
    require(actor, "trader", "running the paper trader")
    session.check_run_options(steps=steps, speed=speed)
    stop = session.parse_until(until)
    settings = request.model_dump(mode="json") if isinstance(request, PaperRequest) else request
    config, prices = session.prepare_run(_sessions, settings, _IO)
    session.check_feed_options(config, speed=speed, until=stop)
    parts = live_parts(config, prices, engine=get_engine(), speed=speed, clock=clock, sleep=sleep)
    exporter = exporting(get_engine(), config["session"], parts.observers,
                         port=metrics_port, host=metrics_host)  # fmt: skip
    lease_of = SessionLease(get_engine(), config["session"], ttl_s=lease_ttl_s, clock=clock)
    with exporter as observers, lease_of as lease:
        broker = _IO.broker_for(config)
        with _sessions() as s:
            session.begin_run(s, config, by=actor.name, start=start_running)
        worker = PaperWorker(
            engine=get_engine(),
            session_name=config["session"],
            prices=prices,
            broker=broker,
            limits=StoredLimits(),  # read in each bar's transaction, again on a new version
            on_cycle=_alert_hook(config["symbols"]),
            sleep=sleep,
            clock=clock,
            lease=lease,
            group_commit=REPLAY_GROUP_COMMIT,  # replays with the simulator only
            feed=parts.feed,
            observers=observers,
            market_clock=parts.market_clock,
        )
        summary = worker.run(steps=steps, speed=speed, until=stop).as_dict()
        return {**summary, "feed": parts.feed.kind}


def set_state(request: ControlRequest, *, actor: Actor = LOCAL) -> ControlOutcome:
    """Pause, resume or kill the paper trader (role: trader); see :mod:`core.paper.control`."""
    require(actor, "trader", f"setting the paper trader to {request.state}")
    flatten = request.flatten if isinstance(request, KillRequest) else None
    return control.set_state(
        get_engine(), request.state, by=actor.name, io=_IO, reason=request.reason, flatten=flatten
    )
