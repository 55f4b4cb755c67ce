"""What every part of a running paper session shares: its database, names, broker and prices."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property

import pandas as pd
from sqlalchemy.orm import Session, sessionmaker

from core.broker import Broker
from core.store.paper import PaperSession, PaperSessionRepository


@dataclass(frozen=True)
class SessionContext:
    """A paper session as its worker runs it.

    Attributes
    ----------
    sessions
        Session factory of the migrated database.
    name, session_id, account_id
        The paper session, its row id and the ledger account of its broker.
    broker
        Any :class:`~core.broker.Broker`.
    index, prices, symbols
        The shared calendar, each symbol's frame on it (as the worker started: a live
        session's calendar grows with :meth:`extend`, its new bars are in the cycle's
        arrays), and the traded symbols.
    renew
        Renews the worker's lease inside a transaction (a no-op without a lease), so
        the writes it guards commit only while the lease is held.
    """

    sessions: sessionmaker[Session]
    name: str
    session_id: int
    account_id: int
    broker: Broker
    index: pd.DatetimeIndex
    prices: dict[str, pd.DataFrame]
    symbols: list[str]
    renew: Callable[[Session], None]

    def session_row(self, s: Session) -> PaperSession:
        """The session's row (LookupError when it was deleted)."""
        return session_row(s, self.name)

    def bar_time(self, t: int) -> datetime:
        """Bar t's timestamp in UTC."""
        return self._times[2][t]

    def stamp(self, t: int) -> pd.Timestamp:
        """Bar t's timestamp (the calendar's)."""
        return self._times[0][t]

    def naive_time(self, t: int) -> datetime:
        """Bar t's timestamp as a naive datetime (the prices' clock)."""
        return self._times[1][t]

    @cached_property
    def _times(self) -> tuple[list[pd.Timestamp], list[datetime], list[datetime]]:
        """The calendar as Timestamps, naive and UTC datetimes, built once (a bar reads
        them several times; indexing the DatetimeIndex costs microseconds each)."""
        stamps = list(self.index)
        naive = [ts.to_pydatetime() for ts in stamps]
        return stamps, naive, [ts.replace(tzinfo=UTC) for ts in naive]

    def extend(self, ts: pd.Timestamp) -> int:
        """Append bar ``ts`` (after the last) to the calendar; returns its position.

        A live session's calendar grows as bar sets arrive: the index and the cached
        times are extended, nothing is rebuilt (the prices live in the cycle's arrays).
        """
        stamp = pd.Timestamp(ts)
        if len(self.index) and stamp <= self.index[-1]:
            raise ValueError(f"bar {stamp} is not after the calendar's last {self.index[-1]}")
        stamps, naive, utc = self._times
        object.__setattr__(
            self, "index", self.index.append(pd.DatetimeIndex([stamp], name=self.index.name))
        )
        stamps.append(stamp)
        naive.append(stamp.to_pydatetime())
        utc.append(naive[-1].replace(tzinfo=UTC))
        return len(stamps) - 1

    def closes(self, t: int) -> dict[str, float]:
        """Every symbol's close at bar t."""
        return {s: float(self.prices[s]["close"].iloc[t]) for s in self.symbols}


def session_row(s: Session, name: str) -> PaperSession:
    """The row of paper session ``name`` (LookupError when there is none)."""
    row = PaperSessionRepository(s).get(name)
    if row is None:
        raise LookupError(f"no paper session named {name!r}")
    return row
