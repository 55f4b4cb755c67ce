"""The alert watchdog: a process beside the paper workers that fires ``heartbeat`` when a
worker dies or hangs and ``stale_data`` when no bar arrives while the market is open,
and delivers the scheduled report packs when their slot comes (:func:`deliver_reports`).

It reads the heartbeat and the last bar time from the database
(:func:`core.monitoring.watchdog.watch_snapshots`) every ``interval_s`` seconds, so an
alert fires at most ``interval_s`` after its rule's threshold is crossed. The app starts
one (``workbench alerts watch``, detached) as it starts a jobs worker; its pid file under
the runtime folder says whether one is alive.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from app.services import alerts
from app.services.db import get_engine
from app.services.watchdog_process import (
    AUTOSTART_ENV,
    ensure_watchdog,
    pid_file,
    watchdog_alive,
)
from core.alerts import AlertDispatcher, evaluate_rules
from core.monitoring.market import MarketHours
from core.monitoring.watchdog import WATCH_KINDS, default_market, watch_snapshots
from core.store.db import session_scope

INTERVAL_S = 5.0
"""Seconds between two checks: an alert fires at most this long after its threshold."""

MarketFor = Callable[[Mapping[str, Any]], MarketHours | None]


def _sessions() -> Any:
    return session_scope(get_engine())


def _utc_now() -> datetime:
    return datetime.now(UTC)


def status(
    now: datetime | None = None, *, market_for: MarketFor = default_market
) -> list[dict[str, Any]]:
    """Per running session: heartbeat age (s), last bar time, bars missed, market open."""
    at = now or _utc_now()
    with _sessions() as s:
        snaps = watch_snapshots(s, at, market_for=market_for)
    return [
        {
            "session": snap.session,
            "heartbeat_age_s": None
            if snap.heartbeat_ts is None
            else round((at - snap.heartbeat_ts).total_seconds(), 3),
            "last_bar_ts": None if snap.last_bar_ts is None else snap.last_bar_ts.isoformat(),
            "missed_bars": snap.missed_bars,
            "market_open": snap.market_open,
        }
        for snap in snaps
    ]


def check_once(
    now: datetime | None = None, *, market_for: MarketFor = default_market
) -> list[dict[str, Any]]:
    """Evaluate the heartbeat and stale-data rules on every running session once and
    dispatch what fires (cooldown and history as for every alert); the results."""
    at = now or _utc_now()
    rules = [r for r in alerts.list_rules() if r.kind in WATCH_KINDS]
    if not rules:
        return []
    with _sessions() as s:
        snaps = watch_snapshots(s, at, market_for=market_for)
    firings = [f for snap in snaps for f in evaluate_rules(rules, snap)]
    return AlertDispatcher(_sessions).dispatch(firings, now=at) if firings else []


def deliver_reports(now: datetime | None = None) -> list[dict[str, Any]]:
    """Send the scheduled report packs due at ``now`` (each slot once per channel;
    :func:`app.services.report_pack_delivery.deliver_due`)."""
    from app.services.report_pack_delivery import deliver_due

    return deliver_due(now or _utc_now())


def watch(
    *,
    interval_s: float = INTERVAL_S,
    iterations: int | None = None,
    clock: Callable[[], datetime] = _utc_now,
    sleep: Callable[[float], None] = time.sleep,
    market_for: MarketFor = default_market,
) -> int:
    """Check every ``interval_s`` seconds (``iterations`` times, or until stopped);
    returns the number of alerts dispatched. Keeps the pid file while it runs."""
    if not interval_s > 0:
        raise ValueError(f"--interval must be above 0 seconds; got {interval_s:g}")
    path = pid_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(str(os.getpid()))
    sent, done = 0, 0
    try:
        while iterations is None or done < iterations:
            at = clock()
            sent += len(check_once(at, market_for=market_for))
            deliver_reports(at)
            done += 1
            if iterations is None or done < iterations:
                sleep(interval_s)
    finally:
        if path.is_file() and path.read_text().strip() == str(os.getpid()):
            path.unlink()
    return sent


__all__ = [
    "AUTOSTART_ENV",
    "INTERVAL_S",
    "check_once",
    "deliver_reports",
    "ensure_watchdog",
    "pid_file",
    "status",
    "watch",
    "watchdog_alive",
]
