"""The market-data feed of a paper session: closed bars, in order, each exactly once.

Three feeds implement :class:`Feed` (``workbench paper run --feed alpaca|simulated|replay``):

* ``replay``: embedded or imported history, as fast as the worker runs (or at ``speed``);
* ``simulated``: any dataset played on the wall clock at a chosen speed, no keys needed;
* ``alpaca``: alpaca-py's ``StockHistoricalDataClient`` (warm-up, gap fill) and
  ``StockDataStream`` (live bars), with reconnects and gap filling.

Every feed delivers :class:`BarSet` objects: one timestamp, a closed bar for every
symbol of the session, in strictly increasing time order and never twice. Timestamps
follow the workbench's convention (:data:`LABEL_CONVENTION`).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

import pandas as pd

FeedKind = Literal["alpaca", "simulated", "replay"]
FEED_KINDS: tuple[str, ...] = ("alpaca", "simulated", "replay")
Timeframe = Literal["1Min", "5Min", "15Min", "1Hour", "1Day"]
TIMEFRAMES: dict[str, pd.Timedelta] = {
    "1Min": pd.Timedelta(minutes=1),
    "5Min": pd.Timedelta(minutes=5),
    "15Min": pd.Timedelta(minutes=15),
    "1Hour": pd.Timedelta(hours=1),
    "1Day": pd.Timedelta(days=1),
}

LABEL_CONVENTION = (
    "daily bars are labelled by their trading date (naive midnight); intraday bars by their "
    "close time in UTC (naive, right-labelled: the 14:30-14:31 UTC minute is 14:31)"
)
"""How every frame and bar in the workbench is stamped. A bar is used only once it has
closed, so an intraday bar's label is also the first moment it may be used."""


@dataclass(frozen=True)
class BarSet:
    """Closed bars of every symbol at one timestamp.

    Attributes
    ----------
    ts
        The bars' label (:data:`LABEL_CONVENTION`).
    bars
        ``symbol -> {"open", "high", "low", "close", "volume"}``.
    received_at
        Wall-clock UTC time the set became complete in this process (latency origin).
    filled
        Symbols whose bar came from a REST gap fill or was carried forward (no trade in
        the interval: open = high = low = close = the last close, volume 0).
    """

    ts: pd.Timestamp
    bars: Mapping[str, Mapping[str, float]]
    received_at: datetime
    filled: tuple[str, ...] = ()


@dataclass
class FeedStatus:
    """What the monitor shows of a feed."""

    kind: str
    timeframe: str
    connected: bool = True
    reconnects: int = 0
    last_bar_ts: pd.Timestamp | None = None
    last_message_at: datetime | None = None
    duplicates_dropped: int = 0
    out_of_order_dropped: int = 0
    gap_bars_filled: int = 0
    detail: str = ""
    extra: dict[str, float] = field(default_factory=dict)


class Feed(ABC):
    """A source of closed bars for a paper session.

    Life cycle: :meth:`history` (warm-up, any number of times), then :meth:`start`
    once, then :meth:`poll` repeatedly, then :meth:`stop`.
    """

    kind: FeedKind
    timeframe: Timeframe
    completes_after_close: bool = False
    """Whether bar sets may complete after the market closes (a live feed: the session's
    last intraday bar and a daily bar arrive after the close). The worker then still takes
    what the feed has completed while the market is closed, instead of waiting for the
    next open; a dataset feed plays on its own clock and keeps False."""

    @abstractmethod
    def history(
        self, symbols: Sequence[str], *, start: pd.Timestamp | None, end: pd.Timestamp | None
    ) -> dict[str, pd.DataFrame]:
        """Closed bars of each symbol with ``start <= label <= end`` (None: unbounded),
        canonical frames (``open, high, low, close, volume``, index named ``date``)."""

    @abstractmethod
    def start(self, symbols: Sequence[str], *, after: pd.Timestamp | None) -> None:
        """Begin delivering bar sets labelled strictly after ``after`` (None: from now);
        a feed that restarts fills the gap since ``after`` first."""

    @abstractmethod
    def poll(self, timeout_s: float) -> list[BarSet]:
        """The bar sets completed since the last call, oldest first (possibly empty after
        waiting at most ``timeout_s``). Never a set twice, never out of order."""

    @abstractmethod
    def status(self) -> FeedStatus:
        """Connection state and counters."""

    @abstractmethod
    def stop(self) -> None:
        """Close connections and threads (idempotent)."""

    @property
    def finished(self) -> bool:
        """Whether no bar will ever come again (a replay at its end)."""
        return False


__all__ = [
    "FEED_KINDS",
    "LABEL_CONVENTION",
    "TIMEFRAMES",
    "BarSet",
    "Feed",
    "FeedKind",
    "FeedStatus",
    "Timeframe",
]
