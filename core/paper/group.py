"""Group commit of replayed bars with the simulator: several bars per transaction.

The rule: a worker given a :class:`GroupCommit` that replays (speed 0) with a broker
whose book is the ledger (the simulator, :class:`~core.broker.LedgerBroker`) runs its
bars in groups, one transaction each. A group holds at most ``max_bars`` bars and ends
after the first bar that finishes ``max_ms`` milliseconds or more after the group
began, after a bar that wrote the control row (the risk engine's kill switch), after a
bar at which another connection committed to the database (SQLite's ``PRAGMA
data_version``: the dashboard or a hook changed the control row or the limits), and at
the run's last bar. The control row (pause, stop, kill) and the limits version are read
when a group begins, so a request made during a group applies from the bar after the one
at which it was committed. As a group writes nothing before its commit (no write lock
held), the ``on_cycle`` hooks (alerts) are called as soon as each bar is done; the last
bar's hook, and any while the transaction holds the lock, after the commit. A hook may
thus see a bar that a crash then loses: the restart runs it, and calls its hook, again.
(Without the simulator's own SQLite connection in WAL mode, the hooks run after the
commit and a request made during a group applies from the next group.)

Why it is crash-safe: every effect of a simulated bar (decisions, orders, fills,
positions, cash, the equity snapshot, the cursor, the heartbeat) is a row of this
database written in the group's transaction, and nothing leaves the process before it
commits (the hooks run after). A crash (``kill -9``) loses the uncommitted bars whole
and leaves the cursor before them; the restarted worker rebuilds its pipelines
deterministically up to the cursor and runs those bars again, deciding, filling and
marking exactly as the lost run did, under the same order keys. So nothing is lost and
nothing is duplicated, as with one transaction per bar. Other brokers never group:
their orders leave the process, so each bar's decisions and orders commit before they
are sent.

Inside a group nothing is read back: the decisions, equity snapshots and heartbeats
are appended here (:class:`BarWrites`) and written by one executemany INSERT each when
the group commits, with the simulator's rows (orders, fills, positions, account), which
the ORM flushes once, in the same transaction.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, func, insert, inspect, select
from sqlalchemy.orm import Session

from core.broker.ledger import check_new_keys
from core.store.models import utcnow
from core.store.paper import (
    DecisionRepository,
    HeartbeatRepository,
    PaperSessionRepository,
    TradingDecision,
)
from core.store.trading import TradingFill, TradingOrder


@dataclass(frozen=True)
class GroupCommit:
    """How many replayed bars one transaction may hold (see the module's rule).

    Parameters
    ----------
    max_bars
        Bars per transaction at most.
    max_ms
        A group ends after the first bar finished this long (wall clock) after the group
        began: it bounds how long a control request waits, how stale the monitor is and
        how long other writers of the SQLite database wait for its lock.
    """

    max_bars: int = 64
    max_ms: float = 50.0

    def __post_init__(self) -> None:
        if self.max_bars < 1:
            raise ValueError(f"max_bars must be at least 1; got {self.max_bars!r}")
        if not (self.max_ms > 0 and not math.isnan(self.max_ms)):
            raise ValueError(f"max_ms must be positive milliseconds; got {self.max_ms!r}")


REPLAY_GROUP_COMMIT = GroupCommit()
"""What the paper service's replays use: up to 64 bars or about 50 ms per transaction."""


class BarWrites:
    """The rows the bars of one transaction append, written when it commits.

    Decisions get their ids when they are inserted: the orders staged with them are
    linked here and receive them before the ORM flushes the orders.
    """

    def __init__(self) -> None:
        self.decisions: list[dict[str, Any]] = []
        self._links: list[tuple[int, TradingOrder]] = []
        self._staged: list[TradingOrder] = []
        self._snapshots: list[dict[str, Any]] = []
        self._heartbeats: list[dict[str, Any]] = []
        self._cursor: tuple[int, datetime, float] | None = None

    def clear(self) -> None:
        """Forget everything appended (after a flush, or a rollback)."""
        self.decisions, self._links, self._staged = [], [], []
        self._snapshots, self._heartbeats, self._cursor = [], [], None

    def add_decisions(self, rows: list[dict[str, Any]]) -> list[int]:
        """Append decision rows (the fields of
        :meth:`~core.store.paper.DecisionRepository.add`); their places in this group."""
        first = len(self.decisions)
        self.decisions.extend(rows)
        return list(range(first, len(self.decisions)))

    def link(self, decision: int, order: TradingOrder, *, staged: bool) -> None:
        """``order`` came from decision number ``decision`` of this group; ``staged``: it
        was recorded without reading its key (checked when the group commits)."""
        self._links.append((decision, order))
        if staged:
            self._staged.append(order)

    def close_bar(
        self, *, bar: int, ts: datetime, peak_equity: float, snapshot: dict[str, Any]
    ) -> None:
        """Bar ``bar``'s equity snapshot; the cursor and peak move to the last bar's."""
        self._snapshots.append({"bar": bar, "ts": ts, **snapshot})
        self._cursor = (bar, ts, peak_equity)

    def beat(self, *, cycle: int, status: str, latency_ms: float) -> None:
        """The heartbeat of one cycle (stamped now)."""
        self._heartbeats.append(
            {
                "ts": utcnow(),
                "cycle": cycle,
                "status": status,
                "latency_ms": latency_ms,
                "last_error": None,
            }
        )

    def flush(self, s: Session, session_id: int) -> None:
        """Write everything in ``s`` (the caller renews the lease and commits): the staged
        keys checked, the snapshots and the cursor, the decisions, the simulator's rows
        and the heartbeats.

        On SQLite the new decisions, orders and fills get their ids here, from the
        table's largest id: the cursor's UPDATE before it holds the database's write
        lock until the commit, so no other writer can take them, and without RETURNING
        each table's rows go in one executemany (SQLite cannot return the ids of a
        multi-row INSERT in order, so SQLAlchemy would send one INSERT per row).
        """
        check_new_keys(s, self._staged)
        if self._cursor is not None:  # on SQLite, the transaction writes from here
            bar, ts, peak = self._cursor
            with s.no_autoflush:
                PaperSessionRepository(s).close_bars(
                    session_id, self._snapshots, bar=bar, ts=ts, peak_equity=peak
                )
        own_ids = s.get_bind().dialect.name == "sqlite"
        next_ids: dict[type[Any], int] = {}  # read once, when first needed
        if self.decisions:
            with s.no_autoflush:  # the orders are flushed below, with their decision ids
                if own_ids and len(self.decisions) > 1:
                    next_ids = _next_ids(s)
                    first = next_ids[TradingDecision]
                    ids = list(range(first, first + len(self.decisions)))
                    DecisionRepository(s).add_many(self.decisions, ids=ids)
                else:
                    ids = DecisionRepository(s).add_many(self.decisions)
            for index, order in self._links:
                order.decision_id = ids[index]
        if own_ids:
            new = {
                model: sorted(
                    (o for o in s.new if isinstance(o, model) and o.id is None),
                    key=lambda o: inspect(o).insert_order,
                )
                for model in (TradingOrder, TradingFill)
            }
            if any(len(rows) > 1 for rows in new.values()):  # else one INSERT ... RETURNING
                for model, rows in new.items():  # the orders first: the fills name them
                    if rows:
                        next_ids = next_ids or _next_ids(s)
                        first = next_ids[model]
                        for k, row in enumerate(rows):
                            row.id = first + k
                        _insert_rows(s, model, rows)
        s.flush()
        HeartbeatRepository(s).append_many(self._heartbeats)
        self.clear()


def _insert_rows(s: Session, model: type[TradingOrder | TradingFill], rows: list[Any]) -> None:
    """Insert the new ``rows`` of ``model`` (their ids set) by one Core executemany and
    take them out of ``s``: the ORM's unit of work costs far more per row than the
    driver. The rows are not read again in this transaction (the group's session
    closes after its commit), and hold their values as inserted."""
    table = cast(Table, model.__table__)
    columns = [
        (a.key, a.columns[0].name, a.columns[0].default) for a in model.__mapper__.column_attrs
    ]
    params = []
    for row in rows:
        if isinstance(row, TradingFill) and row.order_id is None:
            row.order_id = row.order.id
        values = vars(row)
        one: dict[str, Any] = {}
        for key, name, default in columns:
            if key in values:
                one[name] = values[key]
            elif default is not None and default.is_callable:
                one[name] = default.arg(None)
            elif default is not None and default.is_scalar:
                one[name] = default.arg
            else:
                one[name] = None
        params.append(one)
    for row in rows:
        s.expunge(row)
    s.connection().execute(insert(table), params)


def _next_ids(s: Session) -> dict[type[Any], int]:
    """The id after the largest of the decisions', orders' and fills' tables (as SQLite
    would choose it), read by one statement; the caller holds the write lock."""
    models = (TradingDecision, TradingOrder, TradingFill)
    query = select(
        *(
            select(func.coalesce(func.max(model.id), 0)).scalar_subquery().label(model.__name__)
            for model in models
        )
    )
    with s.no_autoflush:
        row = s.execute(query).one()
    return {model: int(row[k] or 0) + 1 for k, model in enumerate(models)}


__all__ = ["REPLAY_GROUP_COMMIT", "BarWrites", "GroupCommit"]
