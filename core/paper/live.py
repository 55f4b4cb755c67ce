"""What the worker needs of a live feed: the stored calendar, the warm-up, gap fills, latency.

A session with a live (or simulated-live) feed stores every bar it uses
(:mod:`core.store.live`): the warm-up history when it first starts, and every live bar
in the transaction that processes it. A restart rebuilds the identical calendar from
these rows, resumes after the cursor (located by its timestamp) and asks the feed for
the bars since the last one (the gap: REST history for Alpaca).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, time, timedelta
from typing import Any, cast
from zoneinfo import ZoneInfo

import pandas as pd
from sqlalchemy.orm import Session, sessionmaker

from core.feeds.base import TIMEFRAMES, BarSet, Feed
from core.feeds.replay import common_frames
from core.store.live import LiveBarRepository

NEW_YORK = ZoneInfo("America/New_York")
BARS_PER_DAY = {"1Min": 390, "5Min": 78, "15Min": 26, "1Hour": 7, "1Day": 1}
"""Regular-session bars per trading day (the warm-up's look-back)."""


def warmup_start(timeframe: str, bars: int, now: datetime) -> pd.Timestamp:
    """How far back a live feed's history must reach to hold ``bars`` bars: trading
    days at 5 of 7 calendar days, 30% spare for holidays and missing bars, plus a week."""
    days = math.ceil(bars / BARS_PER_DAY.get(timeframe, 1) * 7 / 5 * 1.3) + 7
    return pd.Timestamp(now.astimezone(UTC).replace(tzinfo=None)).normalize() - pd.Timedelta(
        days=days
    )


def load_calendar(
    factory: sessionmaker[Session],
    *,
    session_id: int,
    symbols: Sequence[str],
    feed: Feed,
    train_bars: int,
    now: datetime,
    renew: Callable[[Session], None],
) -> dict[str, pd.DataFrame]:
    """The session's stored bars, or (first start) the feed's warm-up history, stored.

    ValueError when the warm-up is shorter than ``train_bars``.
    """
    with factory.begin() as s:
        stored = LiveBarRepository(s).frames(session_id, symbols)
    if all(len(f) for f in stored.values()):
        return common_frames(stored)
    start = None if feed.kind != "alpaca" else warmup_start(feed.timeframe, train_bars, now)
    history = common_frames(feed.history(symbols, start=start, end=None))
    bars = len(next(iter(history.values())))
    if bars < train_bars:
        raise ValueError(
            f"the {feed.kind} feed's history has {bars} common bars of {', '.join(symbols)}; "
            f"train_bars {train_bars} needs at least that many (lower --train-bars)"
        )
    with factory.begin() as s:
        renew(s)
        LiveBarRepository(s).add_frames(session_id, history)
    return history


def gap_sets(feed: Feed, symbols: Sequence[str], last: pd.Timestamp, at: datetime) -> list[BarSet]:
    """The bars the feed's history has after ``last`` (the gap a restart fills), as bar
    sets in time order (only timestamps every symbol has)."""
    frames = feed.history(symbols, start=last, end=None)
    if not frames or any(len(f) == 0 for f in frames.values()):
        return []
    common = common_frames(frames)
    index = next(iter(common.values())).index
    cols = ("open", "high", "low", "close", "volume")
    out = []
    for i, ts in enumerate(index):
        if ts <= last:
            continue
        bars = {
            s: {k: float(f.iloc[i][k]) if k in f.columns else 0.0 for k in cols}
            for s, f in common.items()
        }
        out.append(BarSet(ts=ts, bars=bars, received_at=at, filled=tuple(symbols)))
    return out


def bar_close(feed: Feed, ts: pd.Timestamp) -> datetime:
    """When bar ``ts`` closed on the wall clock (UTC): the feed's own answer when it has
    one (the simulated feed), else the label (intraday: right-labelled close time in
    UTC; daily: 16:00 New York on the trading date)."""
    own = getattr(feed, "close_time", None)
    if callable(own):
        return cast(datetime, own(ts))
    stamp = pd.Timestamp(ts)
    if TIMEFRAMES.get(feed.timeframe) == pd.Timedelta(days=1):
        close = datetime.combine(stamp.date(), time(16, 0), tzinfo=NEW_YORK)
        return close.astimezone(UTC)
    naive: datetime = stamp.to_pydatetime()
    return naive.replace(tzinfo=UTC)


def stage_ms(received: Mapping[str, Any], decided_at: float, sent_at: float) -> dict[str, float]:
    """The latency stages of a live bar: ``arrival`` (bar close to receipt), ``decision``
    and ``order`` (receipt to the last decision / the last order submitted)."""
    origin = float(received["perf"])
    return {
        "arrival": max(0.0, float(received["arrival_ms"])),
        "decision": max(0.0, (decided_at - origin) * 1000),
        "order": max(0.0, (sent_at - origin) * 1000),
    }


def arrival_ms(feed: Feed, bar_set: BarSet) -> float:
    """Bar close to receipt, in milliseconds."""
    delta: timedelta = bar_set.received_at - bar_close(feed, bar_set.ts)
    return delta.total_seconds() * 1000


__all__ = [
    "arrival_ms",
    "bar_close",
    "gap_sets",
    "load_calendar",
    "stage_ms",
    "warmup_start",
]
