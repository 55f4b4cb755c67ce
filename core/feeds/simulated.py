"""The simulated-live feed: any dataset played on the wall clock at a chosen speed.

No keys, no network: a ``make run`` user sees live mode working. The first
``warmup_bars`` bars of the dataset are the past (:meth:`SimulatedFeed.history`); after
:meth:`SimulatedFeed.start` the following bars "close" one every ``1 / speed`` seconds
of the (injectable) clock, and :meth:`SimulatedFeed.poll` waits for them with the
(injectable) sleep. The bars keep the dataset's labels; their close on the wall clock is
:meth:`SimulatedFeed.closed_at` (the origin of the arrival latency). A restarted feed
(``start(after=ts)``) goes on with the bar after ``ts``. Finished after the last bar.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta

import pandas as pd

from core.feeds.base import BarSet, Feed, FeedStatus, Timeframe
from core.feeds.replay import bar_dict, common_frames, utc_now

MAX_SETS_PER_POLL = 1000
"""A slow consumer gets the bars that are due in batches of at most this many."""


class SimulatedFeed(Feed):
    """A dataset replayed on the wall clock (see the module docstring).

    Parameters
    ----------
    frames
        Canonical frames per symbol (played on their common calendar).
    timeframe
        The dataset's timeframe.
    speed
        Bars per second of the wall clock (> 0).
    warmup_bars
        Bars that are already history when the feed starts.
    clock, sleep
        The wall clock (UTC) and the wait (inject both in tests).
    """

    kind = "simulated"

    def __init__(
        self,
        frames: Mapping[str, pd.DataFrame],
        *,
        timeframe: Timeframe = "1Day",
        speed: float = 1.0,
        warmup_bars: int,
        clock: Callable[[], datetime] = utc_now,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        if not speed > 0:
            raise ValueError(
                f"--speed must be above 0 bars per second for --feed simulated; got {speed}"
            )
        self.frames = common_frames(frames)
        self.index = next(iter(self.frames.values())).index
        if not 0 < warmup_bars < len(self.index):
            raise ValueError(
                f"the simulated feed needs between 1 and {len(self.index) - 1} warm-up bars of "
                f"{len(self.index)}; got {warmup_bars}"
            )
        self.timeframe = timeframe
        self.speed = float(speed)
        self.warmup_bars = int(warmup_bars)
        self._clock = clock
        if sleep is None:
            import time

            sleep = time.sleep
        self._sleep = sleep
        self._symbols: list[str] = list(self.frames)
        self._next = self.warmup_bars
        self._first = self.warmup_bars
        self._origin: datetime | None = None
        self._last: pd.Timestamp | None = None
        self._last_message: datetime | None = None

    # ------------------------------------------------------------------ history
    def history(
        self, symbols: Sequence[str], *, start: pd.Timestamp | None, end: pd.Timestamp | None
    ) -> dict[str, pd.DataFrame]:
        """Bars of the past: the warm-up and every bar delivered so far."""
        present = max(self._next, self.warmup_bars)
        lo = 0 if start is None else int(self.index.searchsorted(start, "left"))
        hi = present if end is None else min(present, int(self.index.searchsorted(end, "right")))
        return {s: self.frames[s].iloc[lo:hi] for s in symbols}

    # ------------------------------------------------------------------ live
    def start(self, symbols: Sequence[str], *, after: pd.Timestamp | None) -> None:
        self._symbols = list(symbols)
        first = self.warmup_bars
        if after is not None:
            first = int(self.index.searchsorted(after, "right"))
        self._next = self._first = first
        self._origin = self._clock()

    def closed_at(self, i: int) -> datetime:
        """The wall-clock time bar ``i`` closes (after :meth:`start`)."""
        if self._origin is None:
            raise RuntimeError("the simulated feed has not started")
        return self._origin + timedelta(seconds=(i - self._first + 1) / self.speed)

    def close_time(self, ts: pd.Timestamp) -> datetime:
        """The wall-clock close of the bar labelled ``ts``."""
        return self.closed_at(int(self.index.get_loc(ts)))

    def poll(self, timeout_s: float) -> list[BarSet]:
        """The bars closed by now (waiting at most ``timeout_s`` for the next)."""
        if self._origin is None or self.finished:
            return []
        now = self._clock()
        due = self.closed_at(self._next)
        if due > now:
            wait = min(float(timeout_s), (due - now).total_seconds())
            if wait > 0:
                self._sleep(wait)
            now = self._clock()
        out: list[BarSet] = []
        while (
            not self.finished and self.closed_at(self._next) <= now and len(out) < MAX_SETS_PER_POLL
        ):
            i = self._next
            bars = {s: bar_dict(self.frames[s], i) for s in self._symbols}
            out.append(BarSet(ts=self.index[i], bars=bars, received_at=now))
            self._last = self.index[i]
            self._next += 1
        if out:
            self._last_message = now
        return out

    def status(self) -> FeedStatus:
        return FeedStatus(
            kind=self.kind,
            timeframe=self.timeframe,
            last_bar_ts=self._last,
            last_message_at=self._last_message,
            detail=f"simulated at {self.speed:g} bars/s",
            extra={"speed": self.speed, "bars_left": float(len(self.index) - self._next)},
        )

    def stop(self) -> None:
        self._origin = None

    @property
    def finished(self) -> bool:
        return self._next >= len(self.index)


__all__ = ["SimulatedFeed"]
