"""The replay feed: a dataset's bars, in order, as fast as the worker takes them.

A replay knows every bar in advance, so the paper worker reads its frames directly (its
fast path: group commit, no polling); :meth:`ReplayFeed.poll` gives the same bars one
set at a time for any other consumer. The feed is finished after its last bar.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime

import pandas as pd

from core.feeds.base import BarSet, Feed, FeedStatus, Timeframe

COLUMNS = ("open", "high", "low", "close", "volume")


def utc_now() -> datetime:
    """The wall-clock time in UTC (the default clock of the feeds)."""
    return datetime.now(UTC)


def common_frames(frames: Mapping[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """Each frame on the bars every symbol has (ValueError when they share none)."""
    common: pd.Index | None = None
    for frame in frames.values():
        common = frame.index if common is None else common.intersection(frame.index)
    if common is None or len(common) == 0:
        raise ValueError("the symbols share no bars; pick symbols with overlapping history")
    index = pd.DatetimeIndex(common, name="date")
    return {s: f.loc[index] for s, f in frames.items()}


def bar_dict(frame: pd.DataFrame, i: int) -> dict[str, float]:
    """Bar ``i`` of a canonical frame as ``{"open", ..., "volume"}`` (volume 0 if absent)."""
    row = frame.iloc[i]
    return {k: float(row[k]) if k in frame.columns else 0.0 for k in COLUMNS}


class ReplayFeed(Feed):
    """A dataset's bars (on the symbols' common calendar), finished at the end.

    Parameters
    ----------
    frames
        Canonical frames per symbol.
    timeframe
        The bars' timeframe (checked by :func:`core.feeds.factory.make_feed`).
    clock
        Stamps ``received_at``.
    """

    kind = "replay"

    def __init__(
        self,
        frames: Mapping[str, pd.DataFrame],
        *,
        timeframe: Timeframe = "1Day",
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.frames = common_frames(frames)
        self.timeframe = timeframe
        self.index = next(iter(self.frames.values())).index
        self._clock = clock
        self._next = len(self.index)
        self._symbols: list[str] = list(self.frames)
        self._last: pd.Timestamp | None = None

    def history(
        self, symbols: Sequence[str], *, start: pd.Timestamp | None, end: pd.Timestamp | None
    ) -> dict[str, pd.DataFrame]:
        lo = 0 if start is None else int(self.index.searchsorted(start, "left"))
        hi = len(self.index) if end is None else int(self.index.searchsorted(end, "right"))
        return {s: self.frames[s].iloc[lo:hi] for s in symbols}

    def start(self, symbols: Sequence[str], *, after: pd.Timestamp | None) -> None:
        self._symbols = list(symbols)
        self._next = 0 if after is None else int(self.index.searchsorted(after, "right"))

    def _set(self, i: int) -> BarSet:
        bars = {s: bar_dict(self.frames[s], i) for s in self._symbols}
        self._last = self.index[i]
        return BarSet(ts=self.index[i], bars=bars, received_at=self._clock())

    def poll(self, timeout_s: float) -> list[BarSet]:
        if self._next >= len(self.index):
            return []
        self._next += 1
        return [self._set(self._next - 1)]

    def status(self) -> FeedStatus:
        return FeedStatus(kind=self.kind, timeframe=self.timeframe, last_bar_ts=self._last)

    def stop(self) -> None:
        self._next = len(self.index)

    @property
    def finished(self) -> bool:
        return self._next >= len(self.index)


__all__ = ["ReplayFeed", "bar_dict", "common_frames", "utc_now"]
