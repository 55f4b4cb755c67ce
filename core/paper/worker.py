"""The supervised paper-trading worker: its loop and its controls.

One cycle per bar (:class:`core.paper.cycle.BarCycle`: fills, decision pipeline, risk
check, orders, records). The worker is steered through the ``worker_control`` row
(running, paused, stopped, killed) and leaves a heartbeat every cycle.

Crash safety (kill -9 at any point, then restart):

* One worker per session: the worker holds the session's lease
  (:mod:`core.paper.lease`) and renews it in the transaction of every bar's writes; a
  second worker is refused before it writes anything, a crashed one's lease is taken over.
* Every order has a deterministic ``client_order_id`` built from the session, the symbol
  and the bar (:mod:`core.paper.ids`: unambiguous for any names), so re-deciding a bar
  can never create a second order; a decision is unique per (session, bar, symbol).
* A decision and its order row are committed in one transaction *before* the order is
  sent; on restart every order still ``pending_new`` is (re)submitted, and the broker's
  idempotency on ``client_order_id`` turns a repeat into a no-op (:mod:`core.paper.orders`).
* Fills are applied by the broker in the same transaction as the position and cash, so a
  price fed twice fills nothing twice.
* The cursor (last completed bar) moves with the bar's equity snapshot and heartbeat
  (:func:`core.paper.book.close_bar`); a half-finished bar is simply run again, skipping
  decisions already recorded.
* A bar is one database session: the control poll, the fills, the decisions and orders,
  the close and the heartbeat. With the simulator (whose book is the ledger) it is one
  transaction, committed once with the lease renewed in it, so a kill leaves a bar
  whole or untouched; with another broker the decisions and orders commit before they
  are sent, and each answer after it arrives (:class:`core.paper.cycle.BarCycle`).
* In a replay (speed 0) with the simulator and a :class:`~core.paper.group.GroupCommit`
  (the paper service's replays), several bars share one transaction
  (:mod:`core.paper.group`: the rule, and why a kill loses such a group whole and the
  restart runs it again identically).
* The decision pipeline is rebuilt deterministically (agents tuned on the same training
  bars, seeded selector) and warmed up on every bar up to the cursor.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import pandas as pd
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from core.broker import Broker, BrokerError, BrokerUnavailableError
from core.feeds.base import TIMEFRAMES, BarSet, Feed
from core.feeds.clock import AlwaysOpenClock, MarketClock
from core.feeds.replay import ReplayFeed
from core.paper import live
from core.paper.context import SessionContext, session_row
from core.paper.cycle import BarCycle
from core.paper.group import BarWrites, GroupCommit
from core.paper.lease import Clock, SessionLease, utc_clock
from core.paper.limits import LimitsProvider, StoredLimits
from core.paper.observers import BarEvent, BarObserver
from core.paper.orders import carry_out_kill, reconcile_ledger, submit_pending
from core.paper.report import CycleReport, Summary
from core.paper.session import check_training, common_calendar
from core.paper.sizing import DEFAULT_HEADROOM
from core.risk import RiskLimits
from core.store.live import LiveBarRepository, bar_rows
from core.store.models import utcnow
from core.store.paper import HeartbeatRepository, WorkerControlRepository

CycleHook = Callable[[CycleReport], None]

__all__ = ["PaperWorker"]


class PaperWorker:
    """Runs one paper session bar by bar on a replayed (or live) price calendar.

    Parameters
    ----------
    engine
        Migrated database engine (sessions, orders, decisions, control, heartbeat).
    session_name
        The :class:`~core.store.paper.PaperSession` to run (created by the service).
    prices
        Canonical frames per symbol on one shared calendar.
    broker
        Any :class:`~core.broker.Broker`: every bar's open and close go to
        :meth:`~core.broker.Broker.on_bar`, and the ledger is synchronised with it.
    limits
        Returns the risk limits in force; called every cycle, so a change applies from
        the next decision without a restart. Default: the limits in force in this
        database (:class:`~core.paper.limits.StoredLimits`: read in the bar's own
        transaction, again only when their version changes).
    on_cycle
        Called after every completed cycle (alerts, monitoring).
    sleep
        Waits while paused, while the broker is down and between bars (inject in tests).
    clock
        The UTC time of order timestamps and the order-rate limit (inject in tests).
    lease
        The session's lease, already acquired by the caller; by default :meth:`run`
        takes one (and refuses to start when another worker holds it).
    headroom
        Share of each exposure limit the sizer may use (see :mod:`core.paper.sizing`).
    group_commit
        In a replay (``speed=0``) with the simulator, run several bars per transaction
        under this rule (:mod:`core.paper.group`; e.g.
        :data:`~core.paper.group.REPLAY_GROUP_COMMIT`, what the paper service uses).
        Default: one transaction per bar, each bar committed before ``on_cycle`` sees it.
    feed
        Where the bars come from (:mod:`core.feeds`). None or a
        :class:`~core.feeds.replay.ReplayFeed`: the replay of ``prices`` (or the feed's
        frames), the fast path. A live or simulated feed: the calendar is the session's
        stored bars (the feed's warm-up history on the first start, stored), and grows as
        bar sets arrive; every bar used is stored (:mod:`core.paper.live`).
    observers
        Watch every processed bar (:mod:`core.paper.observers`): ``rebuild`` at start,
        ``on_bar`` after each bar's decisions, in its transaction.
    market_clock
        When the market is open (a live feed waits while it is closed, beating); default
        open around the clock.
    closed_wait_s
        Longest sleep while the market is closed (a heartbeat after each).
    waiting_beat_s
        While the market is open but no bar has come: a heartbeat at most this often
        (market clock seconds), so a minute-bar session writes a few beats per bar, not
        one per poll.
    """

    def __init__(
        self,
        *,
        engine: Engine,
        session_name: str,
        prices: dict[str, pd.DataFrame] | None = None,
        broker: Broker,
        limits: LimitsProvider | None = None,
        on_cycle: CycleHook | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Clock = utc_clock,
        lease: SessionLease | None = None,
        headroom: float = DEFAULT_HEADROOM,
        group_commit: GroupCommit | None = None,
        feed: Feed | None = None,
        observers: Sequence[BarObserver] = (),
        market_clock: MarketClock | None = None,
        closed_wait_s: float = 15.0,
        waiting_beat_s: float = 5.0,
    ) -> None:
        self._engine = engine
        self.feed = feed
        self.live = feed is not None and not isinstance(feed, ReplayFeed)
        """Whether bars arrive from a live (or simulated-live) feed."""
        self.observers = list(observers)
        self.market = market_clock or AlwaysOpenClock(clock=clock)
        self.closed_wait_s = closed_wait_s
        self.waiting_beat_s = waiting_beat_s
        self._waiting_beat: datetime | None = None
        self._clock = clock
        self._unstored: dict[int, list[dict[str, Any]]] = {}
        """Rows of live bars in the calendar, written with the bar's transaction."""
        self._received: dict[int, dict[str, Any]] = {}
        """Arrival figures of live bars not yet processed."""
        self.group_commit = group_commit
        self._driver: Any = None
        self._hooked: set[int] = set()
        self.session_name = session_name
        self.broker = broker
        self.on_cycle = on_cycle
        self._sleep = sleep
        self.lease = lease
        factory = sessionmaker(bind=engine, expire_on_commit=False)
        with factory.begin() as s:
            row = session_row(s, session_name)
            config, symbols, account_id = dict(row.config), list(row.symbols), row.account_id
            session_id = row.id
        if account_id is None:
            raise LookupError(f"paper session {session_name!r} has no account")
        if self.live:
            assert feed is not None
            prices = live.load_calendar(
                factory,
                session_id=session_id,
                symbols=symbols,
                feed=feed,
                train_bars=int(config["train_bars"]),
                now=clock(),
                renew=self._renew,
            )
        elif prices is None:
            if not isinstance(feed, ReplayFeed):
                raise ValueError("the paper worker needs prices or a feed")
            prices = feed.frames
        common = common_calendar(prices)
        self.feed_kind = "replay" if feed is None else str(feed.kind)
        self.bar_interval_s = TIMEFRAMES[str(config.get("timeframe", "1Day"))].total_seconds()
        self.ctx = SessionContext(
            sessions=factory,
            name=session_name,
            session_id=session_id,
            account_id=account_id,
            broker=broker,
            index=common,
            prices={s: f.loc[common] for s, f in prices.items()},
            symbols=symbols,
            renew=self._renew,
        )
        self.cycle = BarCycle(
            self.ctx,
            config,
            limits=StoredLimits() if limits is None else limits,
            clock=clock,
            headroom=headroom,
            engine=engine,
        )
        if not self.live:
            check_training(self.cycle.train_bars, len(common))

    # ------------------------------------------------------------------ control
    def _renew(self, s: Session) -> None:
        if self.lease is not None:
            self.lease.renew(s)

    def _control(self) -> tuple[str, bool, str]:
        with self.ctx.sessions.begin() as s:
            row = WorkerControlRepository(s).get()
            return row.desired_state, bool(row.flatten_on_kill), row.reason

    def _beat(self, cycle: int, status: str, latency_ms: float, error: str | None = None) -> None:
        with self.ctx.sessions.begin() as s:
            self._renew(s)
            HeartbeatRepository(s).beat(
                cycle=cycle, status=status, latency_ms=latency_ms, last_error=error
            )

    def _set_status(self, status: str) -> int:
        """Store the session's status; returns its cursor."""
        with self.ctx.sessions.begin() as s:
            self._renew(s)
            row = self.ctx.session_row(s)
            row.status = status
            row.updated_at = utcnow()
            return row.cursor

    # ------------------------------------------------------------------ run
    def run(
        self,
        *,
        steps: int | None = None,
        speed: float = 0.0,
        poll_s: float = 0.5,
        until: pd.Timestamp | None = None,
    ) -> Summary:
        """Process bars until ``steps`` are done, the data ends, or control says stop.

        Parameters
        ----------
        steps
            Bars to process in this run (None: to the end of the data).
        speed
            Bars per second of the simulated clock (0: as fast as possible).
        poll_s
            Control polling interval while paused.
        until
            Last bar to process (inclusive), e.g. to replay up to a date.
        """
        own_lease = self.lease is None
        if own_lease:
            self.lease = SessionLease(self._engine, self.session_name).acquire()
        try:
            with self._bar_sessions() as (sessions, driver):
                self._driver = driver
                if self.live:
                    return self._run_live(steps=steps, poll_s=poll_s, sessions=sessions)
                return self._run(
                    steps=steps, speed=speed, poll_s=poll_s, until=until, sessions=sessions
                )
        finally:
            if own_lease and self.lease is not None:
                self.lease.release()
                self.lease = None

    def _start(self, summary: Summary, start: int, poll_s: float) -> None:
        """Resubmit what a crash left unsent and reconcile (waiting for the broker)."""
        while True:  # the broker may be down at start-up: wait for it, beating meanwhile
            state, _flatten, _reason = self._control()
            if state in ("stopped", "killed"):
                return
            try:
                summary.resubmitted, rejected = submit_pending(self.ctx, summary)
                self.cycle.pending_rejections += rejected
                summary.reconciliation_differences = reconcile_ledger(self.ctx)
                return
            except BrokerUnavailableError as exc:
                self._broker_down(summary, exc, start - 1, poll_s)

    @contextmanager
    def _bar_sessions(self) -> Iterator[tuple[sessionmaker[Session], Any]]:
        """The sessions of the bars: with the simulator on SQLite, on one connection of
        their own with ``synchronous=NORMAL``, and without autoflush (the bars' writes
        wait for the commit, :mod:`core.paper.group`); with it, that connection's sqlite3
        object (else None).

        In WAL mode that keeps every commit atomic and durable when the process is
        killed (SIGKILL: the WAL is in the operating system's cache), and drops the
        fsync of each commit; only a power cut may roll the last bars back, and as every
        effect of a simulated bar is in this database, they are then simply run again,
        identically. With any other broker (orders reach the outside world) every commit
        stays fully synchronous.
        """
        engine = self._engine
        if not (self.cycle.joined and engine.dialect.name == "sqlite"):
            yield self.ctx.sessions, None
            return
        with engine.connect() as conn:
            mode = str(conn.exec_driver_sql("PRAGMA journal_mode").scalar()).lower()
            before = conn.exec_driver_sql("PRAGMA synchronous").scalar()
            conn.commit()
            if mode != "wal":
                yield self.ctx.sessions, None
                return
            conn.exec_driver_sql("PRAGMA synchronous=NORMAL")
            conn.commit()
            try:
                factory = sessionmaker(bind=conn, expire_on_commit=False, autoflush=False)
                yield factory, conn.connection.driver_connection
            finally:
                conn.rollback()
                conn.exec_driver_sql(f"PRAGMA synchronous={int(before or 2)}")
                conn.commit()

    def _run(
        self,
        *,
        steps: int | None,
        speed: float,
        poll_s: float,
        until: pd.Timestamp | None,
        sessions: sessionmaker[Session],
    ) -> Summary:
        summary = Summary()
        index = self.ctx.index
        start = max(self._set_status("running") + 1, self.cycle.train_bars)
        self._start(summary, start, poll_s)
        self._rebuild(start)
        t = start
        done = 0
        end = len(index) if until is None else int(index.searchsorted(until, "right"))
        group = self.group_commit if (self.cycle.joined and speed == 0) else None
        while t < end and (steps is None or done < steps):
            started = time.perf_counter()
            cycles: list[CycleReport] = []
            s = sessions()
            try:
                poll = WorkerControlRepository(s).poll()
                if poll.desired_state == "running":
                    last = end if steps is None else min(end, t + steps - done)
                    stop = min(last, t + (1 if group is None else group.max_bars))
                    limits = self.cycle.limits_in_force(s, poll.limits_version)
                    cycles = self._bars(s, t, stop, summary, limits, started, group)
            except BrokerUnavailableError as exc:
                s.rollback()
                self._broker_down(summary, exc, t, poll_s)
                # The pipelines (and observers) may have stepped bar t already: rebuild
                # them so the retry decides bar t exactly as an uninterrupted run would.
                self._rebuild(t)
                continue
            except BaseException:
                s.rollback()
                self.cycle.forget()
                raise
            finally:
                s.close()
            state = poll.desired_state
            if state == "paused":
                self._beat(summary.cycles, "paused", 0.0)
                self._sleep(poll_s)
                continue
            if state == "killed":
                self._kill(t - 1, poll.flatten_on_kill, poll.reason, summary)
                summary.state = "killed"
                break
            if state == "stopped":
                summary.state = "stopped"
                break
            for cycle in cycles:  # committed: the hooks see them in bar order
                if self.on_cycle is not None and id(cycle) not in self._hooked:
                    self.on_cycle(cycle)
                summary.cycles += 1
                summary.last_bar = self._label(t)
                done += 1
                t += 1
            if speed > 0:
                self._sleep(1.0 / speed)
        else:
            summary.state = "finished" if t >= len(index) else "done-steps"
        return self._finish(summary)

    def _finish(self, summary: Summary) -> Summary:
        """Close a run: the final equity (NaN when the broker cannot say), the last beat
        and the session's status."""
        try:
            summary.final_equity = self.broker.account().equity
        except BrokerError:
            summary.final_equity = math.nan
        self._beat(summary.cycles, summary.state, 0.0)
        self._set_status(summary.state)
        return summary

    # ------------------------------------------------------------------ per bar
    def _rebuild(self, start: int) -> None:
        """Pipelines and observers rebuilt on bars ``0 .. start - 1`` (a (re)start)."""
        self.cycle.rebuild(start)
        if self.observers:
            frames = self.cycle.frames(start)
            for observer in self.observers:
                observer.rebuild(start, frames)
        if self.lease is not None:
            self.lease.renew()  # the tuning may have taken a while

    def _label(self, t: int) -> str:
        """Bar t's label for the summary: the date of a daily bar, else the time."""
        stamp = self.ctx.stamp(t)
        return str(stamp.date()) if stamp == stamp.normalize() else str(stamp)

    def _figures(self, t: int, report: CycleReport) -> None:
        """The feed's figures of bar t (its kind, bar length, latency stages)."""
        report.feed = self.feed_kind
        report.bar_interval_s = self.bar_interval_s
        received = self._received.get(t)
        if received is not None:
            report.stage_ms = live.stage_ms(received, self.cycle.decided_at, self.cycle.sent_at)

    def _observe(self, s: Session, t: int, report: CycleReport) -> None:
        """Every observer's ``on_bar`` for bar t (frames end at it), in its transaction."""
        event = BarEvent(
            session_id=self.ctx.session_id,
            session_name=self.session_name,
            t=t,
            ts=self.ctx.stamp(t),
            frames=self.cycle.frames(t + 1),
            decisions=dict(self.cycle.decisions),
            closes=self.cycle.closes(t),
            equity=report.equity,
            report=report,
            config=self.cycle.config,
        )
        for observer in self.observers:
            observer.on_bar(event, s)

    # ------------------------------------------------------------------ live
    def _resume_at(self) -> int:
        """The bar after the cursor, located by the cursor's timestamp in the calendar
        (RuntimeError when the stored calendar and the cursor disagree); for a session
        that has processed no bar yet, the bar after its warm-up history."""
        with self.ctx.sessions.begin() as s:
            row = self.ctx.session_row(s)
            cursor, cursor_ts = row.cursor, row.cursor_ts
        if cursor_ts is None:  # a new session: its warm-up history is all in the past
            return len(self.ctx.index)
        stamp = pd.Timestamp(cursor_ts)
        stamp = stamp.tz_convert(None) if stamp.tzinfo is not None else stamp
        at = int(self.ctx.index.searchsorted(stamp, "left"))
        if at >= len(self.ctx.index) or self.ctx.index[at] != stamp or at != cursor:
            raise RuntimeError(
                f"session {self.session_name!r}: its cursor (bar {cursor}, {stamp}) is not in "
                "its stored calendar; the stored bars were changed"
            )
        return at + 1

    def _take(self, bar_sets: Sequence[BarSet]) -> None:
        """Append arriving bar sets to the calendar (stored with their bar's work)."""
        now_perf, now = time.perf_counter(), self._clock()
        assert self.feed is not None
        for bar_set in bar_sets:
            if bar_set.ts <= self.ctx.index[-1]:
                continue  # already in the calendar (a feed must not, but never twice)
            t = self.cycle.extend(bar_set.ts, bar_set.bars)
            self._unstored[t] = bar_rows(
                self.ctx.session_id, bar_set.ts, bar_set.bars, filled=bar_set.filled
            )
            behind = (now - bar_set.received_at).total_seconds()
            self._received[t] = {
                "perf": now_perf - max(0.0, behind),
                "arrival_ms": live.arrival_ms(self.feed, bar_set),
            }

    def _wait(self, summary: Summary, poll_s: float) -> bool:
        """Wait for the next bar set (sleeping, beating, while the market is closed);
        False when the feed has ended."""
        assert self.feed is not None
        now = self.market.now()
        if not self.market.is_open(now):
            if self.feed.completes_after_close:
                late = self.feed.poll(0.0)  # the session's last bars, a daily bar
                if late:
                    self._take(late)
                    return True
            reopen = (self.market.next_open(now) - now).total_seconds()
            self._beat(summary.cycles, "market_closed", 0.0)
            self._sleep(max(0.0, min(self.closed_wait_s, reopen)))
            return True
        bar_sets = self.feed.poll(poll_s)
        if bar_sets:
            self._take(bar_sets)
            return True
        if self.feed.finished:
            return False
        last = self._waiting_beat
        if last is None or (now - last).total_seconds() >= self.waiting_beat_s:
            self._beat(summary.cycles, "waiting", 0.0)  # alive while no bar comes
            self._waiting_beat = now
        return True

    def _run_live(
        self, *, steps: int | None, poll_s: float, sessions: sessionmaker[Session]
    ) -> Summary:
        """Bars from the feed as they arrive: the stored calendar first (a restart's
        bars after the cursor), the gap since its last bar, then the live bars."""
        assert self.feed is not None
        summary = Summary()
        self._set_status("running")
        start = max(self._resume_at(), self.cycle.train_bars)
        self._start(summary, start, poll_s)
        self._take(live.gap_sets(self.feed, self.ctx.symbols, self.ctx.index[-1], self._clock()))
        self._rebuild(start)
        self.feed.start(self.ctx.symbols, after=self.ctx.index[-1])
        t, done = start, 0
        summary.state = "done-steps"
        try:
            while steps is None or done < steps:
                if t >= len(self.ctx.index):
                    state, flatten, reason = self._control()
                    if state == "running":
                        if not self._wait(summary, poll_s):
                            summary.state = "finished"
                            break
                        continue
                    if state == "paused":
                        self._beat(summary.cycles, "paused", 0.0)
                        self._sleep(poll_s)
                        continue
                    if state == "killed":
                        self._kill(t - 1, flatten, reason, summary)
                    summary.state = state
                    break
                cycles, state = self._live_bar(t, summary, poll_s, sessions)
                if state == "paused":
                    self._beat(summary.cycles, "paused", 0.0)
                    self._sleep(poll_s)
                    continue
                if state in ("stopped", "killed"):
                    summary.state = state
                    break
                for cycle in cycles:
                    if self.on_cycle is not None:
                        self.on_cycle(cycle)
                    summary.cycles += 1
                    summary.last_bar = self._label(t)
                    done += 1
                    t += 1
        finally:
            self.feed.stop()
        return self._finish(summary)

    def _live_bar(
        self, t: int, summary: Summary, poll_s: float, sessions: sessionmaker[Session]
    ) -> tuple[list[CycleReport], str]:
        """Bar t in its own transaction (the control polled in it); its reports and the
        control state."""
        started = time.perf_counter()
        s = sessions()
        try:
            poll = WorkerControlRepository(s).poll()
            if poll.desired_state != "running":
                s.rollback()
                if poll.desired_state == "killed":
                    self._kill(t - 1, poll.flatten_on_kill, poll.reason, summary)
                return [], poll.desired_state
            limits = self.cycle.limits_in_force(s, poll.limits_version)
            return self._bars(s, t, t + 1, summary, limits, started, None), "running"
        except BrokerUnavailableError as exc:
            s.rollback()
            self._broker_down(summary, exc, t, poll_s)
            self._rebuild(t)  # bar t runs again from the state before it
            return [], "running"
        except BaseException:
            s.rollback()
            self.cycle.forget()
            raise
        finally:
            s.close()

    def _bars(
        self,
        s: Session,
        t: int,
        stop: int,
        summary: Summary,
        limits: RiskLimits,
        started: float,
        group: GroupCommit | None,
    ) -> list[CycleReport]:
        """Bars ``t`` .. at most ``stop - 1`` in session ``s``, then their heartbeats and
        the lease, committed once: one bar without ``group``, else the bars of
        :mod:`core.paper.group`'s rule. Returns the bars' reports; the caller calls the
        hooks of those not in ``self._hooked`` once they are committed.

        On the simulator's SQLite connection a group writes nothing before its commit, so
        other connections are never kept waiting by it: a hook is then called as soon as
        its bar is done (the bar is not durable yet: a crash runs it, and calls its hook,
        again), and the group ends after a bar at which another connection committed
        (``PRAGMA data_version``: e.g. a hook or the dashboard changed the control row),
        so the next group reads the change before its first bar.
        """
        writes = BarWrites() if self.cycle.joined else None
        driver = self._driver if group is not None else None
        seen = _data_version(driver)
        began = started
        cycles: list[CycleReport] = []
        self._hooked = set()
        with self.cycle.bound(s):
            while True:
                cycle = self.cycle.run(t, summary, s, limits, writes)
                cycle.latency_ms = (time.perf_counter() - started) * 1000
                self._figures(t, cycle)
                beat = summary.cycles + len(cycles)
                if writes is None:
                    HeartbeatRepository(s).append(
                        cycle=beat, status="running", latency_ms=cycle.latency_ms
                    )
                else:
                    writes.beat(cycle=beat, status="running", latency_ms=cycle.latency_ms)
                self.cycle.closed(t, cycle)
                if self.observers:
                    self._observe(s, t, cycle)
                cycles.append(cycle)
                t += 1
                if (
                    group is None
                    or t >= stop
                    or self.cycle.wrote_control
                    or (time.perf_counter() - began) * 1000 >= group.max_ms
                ):
                    break
                if driver is not None and not driver.in_transaction:
                    if self.on_cycle is not None:
                        self.on_cycle(cycle)
                        self._hooked.add(id(cycle))
                    if _data_version(driver) != seen:
                        break
                started = time.perf_counter()
            committing = time.perf_counter()
            stored = [b for b in range(t - len(cycles), t) if b in self._unstored]
            if writes is not None:
                writes.flush(s, self.ctx.session_id)
            if stored:  # the live bars used, with the bars' other writes
                rows = [row for b in stored for row in self._unstored[b]]
                LiveBarRepository(s).add_rows(rows)
            self._renew(s)  # the bars commit only while this worker holds the lease
            s.commit()
        for b in stored:
            del self._unstored[b]
            self._received.pop(b, None)
        cycles[-1].commit_ms = (time.perf_counter() - committing) * 1000
        return cycles

    def _broker_down(self, summary: Summary, exc: Exception, t: int, poll_s: float) -> None:
        """Record the outage (heartbeat, alert hook) and wait before retrying."""
        self._beat(summary.cycles, "broker_down", 0.0, str(exc))
        if self.on_cycle is not None:
            self.on_cycle(
                CycleReport(
                    bar=t,
                    ts=self.ctx.index[max(t, 0)],
                    equity=math.nan,
                    start_of_day_equity=math.nan,
                    peak_equity=math.nan,
                    broker_connected=False,
                )
            )
        self._sleep(poll_s)

    def _kill(self, t: int, flatten: bool, reason: str, summary: Summary) -> None:
        """Cancel open orders and, if asked, flatten every position at the last close."""
        bar = max(t, 0)
        outcome = carry_out_kill(
            self._engine,
            session_name=self.session_name,
            account_id=self.ctx.account_id,
            broker=self.broker,
            prices=self.cycle.closes(bar),
            ts=self.ctx.index[bar],
            flatten=flatten,
            reason=reason,
            renew=self._renew if self.lease is not None else None,
        )
        summary.orders += outcome.flatten_orders
        summary.fills += outcome.flatten_fills


def _data_version(driver: Any) -> int | None:
    """SQLite's ``PRAGMA data_version`` of a sqlite3 connection: it changes when another
    connection commits (None without a connection)."""
    if driver is None:
        return None
    return int(driver.execute("PRAGMA data_version").fetchone()[0])
