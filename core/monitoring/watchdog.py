"""What a watchdog outside the worker sees: per running paper session, the age of the
worker's last heartbeat and the bars missed since the last one arrived, read from the
database only (a dead or hung worker cannot report either itself).

* heartbeat: the session lease's ``heartbeat_at`` (renewed with every beat of the
  worker), else the session row's ``updated_at`` (its last write).
* last bar: ``cursor_ts`` is the bar's label; the wall time it was processed is the
  session row's ``updated_at`` (moved with the cursor). Bars missed since then are counted
  on the market's hours: the exchange calendar for ``alpaca`` sessions (intraday: open
  minutes, and only while the market is open; daily: session closes), around the clock
  at ``speed`` bars per second for ``simulated`` ones; ``replay`` sessions are never
  stale (they run as fast as they can).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.alerts import Snapshot
from core.monitoring.market import MarketHours
from core.store.paper import PaperLease, PaperSession

WATCH_KINDS = ("heartbeat", "stale_data")
"""The rule kinds the watchdog evaluates (the others come from the worker's cycles)."""
INTERVALS_S = {"1Min": 60.0, "5Min": 300.0, "15Min": 900.0, "1Hour": 3600.0, "1Day": 86_400.0}


def _aware(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def bar_interval_s(config: Mapping[str, Any]) -> float:
    """A session's bar length in seconds (``bar_interval_s``, else its ``timeframe``)."""
    if config.get("bar_interval_s"):
        return float(config["bar_interval_s"])
    return INTERVALS_S.get(str(config.get("timeframe", "1Day")), 86_400.0)


def default_market(config: Mapping[str, Any]) -> MarketHours | None:
    """The market hours stale data is counted in (None: the feed is never stale)."""
    feed = str(config.get("feed", "replay"))
    if feed == "alpaca":
        return MarketHours()
    if feed == "simulated":
        return MarketHours(always_open=True)
    return None


def _missed(
    row: PaperSession, market: MarketHours | None, now: datetime
) -> tuple[float | None, bool | None, float | None]:
    """Bars missed, whether the market is open (None: not asked) and the bar interval
    (None for a feed that is never stale)."""
    config = dict(row.config or {})
    interval = bar_interval_s(config)
    if market is None:
        return None, None, None
    since = _aware(row.updated_at) or now
    if market.always_open:
        wall_interval = 1.0 / float(config.get("speed") or 1.0)
        return market.missed_bars(since, now, wall_interval), True, interval
    missed = market.missed_bars(since, now, interval)
    # A daily bar comes after the close: its count of session closes is the whole test.
    return missed, None if interval >= 86_400 else market.is_open(now), interval


def watch_snapshots(
    s: Session,
    now: datetime,
    *,
    market_for: Callable[[Mapping[str, Any]], MarketHours | None] = default_market,
) -> list[Snapshot]:
    """One snapshot per session whose status is ``running``: its heartbeat, last bar
    time, bars missed and whether its market is open."""
    rows = s.scalars(select(PaperSession).where(PaperSession.status == "running")).all()
    out = []
    for row in rows:
        lease = s.get(PaperLease, row.name)
        beat = _aware(lease.heartbeat_at) if lease is not None else _aware(row.updated_at)
        missed, is_open, interval = _missed(row, market_for(dict(row.config or {})), now)
        out.append(
            Snapshot(
                ts=now,
                session=row.name,
                heartbeat_ts=beat,
                last_bar_ts=_aware(row.cursor_ts),
                bar_interval_s=interval,
                missed_bars=missed,
                market_open=is_open,
            )
        )
    return out


__all__ = ["WATCH_KINDS", "bar_interval_s", "default_market", "watch_snapshots"]
