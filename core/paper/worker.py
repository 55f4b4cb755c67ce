"""The supervised paper-trading worker.

One cycle per bar: fills, decision pipeline, risk check, orders, records. The worker is
steered through the ``worker_control`` row (running, paused, stopped, killed) and leaves a
heartbeat every cycle.

Crash safety (kill -9 at any point, then restart):

* One worker per session: the worker holds the session's lease
  (:mod:`core.paper.lease`) and renews it in the transaction of every bar's writes; a
  second worker is refused before it writes anything, a crashed one's lease is taken over.
* Every order has a deterministic ``client_order_id`` built from the session, the symbol
  and the bar (:mod:`core.paper.ids`: unambiguous for any names), so re-deciding a bar
  can never create a second order; a decision is unique per (session, bar, symbol).
* A decision and its order row are committed in one transaction *before* the order is
  sent; on restart every order still ``pending_new`` is (re)submitted, and the broker's
  idempotency on ``client_order_id`` turns a repeat into a no-op.
* Fills are applied by the broker in the same transaction as the position and cash, so a
  price fed twice fills nothing twice.
* The cursor (last completed bar) moves with the bar's equity snapshot and heartbeat;
  a half-finished bar is simply run again, skipping decisions already recorded.
* The decision pipeline is rebuilt deterministically (agents tuned on the same training
  bars, seeded selector) and warmed up on every bar up to the cursor.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import pandas as pd
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from core.broker import (
    Broker,
    BrokerError,
    BrokerUnavailableError,
    OrderRejectedError,
    OrderRequest,
    portfolio_state,
    reconcile,
    record_order,
)
from core.paper.ids import client_order_id
from core.paper.lease import Clock, SessionLease, utc_clock
from core.paper.sizing import DEFAULT_HEADROOM, book_breaches, sizing_caps
from core.risk import ProposedOrder as RiskOrder
from core.risk import RiskLimits, pre_trade_check
from core.serialize import json_safe
from core.store.models import utcnow
from core.store.paper import (
    DecisionRepository,
    HeartbeatRepository,
    PaperSession,
    PaperSessionRepository,
    WorkerControlRepository,
)
from core.store.trading import (
    OrderRepository,
    PositionRepository,
    ReconciliationRepository,
    TradingOrder,
)

LimitsProvider = Callable[[], RiskLimits]
CycleHook = Callable[["CycleReport"], None]

__all__ = [
    "CycleReport",
    "KillOutcome",
    "PaperWorker",
    "Summary",
    "carry_out_kill",
    "client_order_id",
    "kill_summary",
]


@dataclass
class Summary:
    """Totals of a worker run (the CLI prints these)."""

    cycles: int = 0
    orders: int = 0
    fills: int = 0
    rejected: int = 0
    """Orders not placed: blocked by the pre-trade check plus refused by the broker."""
    risk_rejected: int = 0
    broker_rejected: int = 0
    orders_blocked_or_shrunk_by_risk: int = 0
    """Decisions whose order the pre-trade check blocked or cut."""
    sized_within_limits: int = 0
    """Decisions whose target or order the sizer bounded by the limits in force."""
    limit_breaches: int = 0
    """Exposure limits (weight, gross, net) broken by the book at a bar's close."""
    final_equity: float = math.nan
    state: str = "stopped"
    last_bar: str | None = None
    resubmitted: int = 0
    reconciliation_differences: int = 0

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return dict(self.__dict__)


@dataclass
class CycleReport:
    """What one cycle saw, for alerts and the monitor."""

    bar: int
    ts: pd.Timestamp
    equity: float
    start_of_day_equity: float
    peak_equity: float
    regime: dict[str, str] = field(default_factory=dict)
    previous_regime: dict[str, str] = field(default_factory=dict)
    rejected: int = 0
    latency_ms: float = 0.0
    broker_connected: bool = True
    reconciliation_differences: int = 0
    utilization: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class KillOutcome:
    """What a kill did: orders cancelled, flatten orders sent and filled."""

    cancelled: int
    flatten_orders: int
    flatten_fills: int
    positions_left: dict[str, float]


def carry_out_kill(
    engine: Engine,
    *,
    session_name: str,
    account_id: int,
    broker: Broker,
    prices: Mapping[str, float],
    ts: pd.Timestamp,
    flatten: bool,
    reason: str,
    renew: Callable[[Session], None] | None = None,
    stop: bool = True,
) -> KillOutcome:
    """Cancel every open order and, if asked, flatten every position now.

    The simulator fills the flatten orders at ``prices`` (the last close); other brokers
    get market orders recorded in the ledger first (crash-safe keys tagged ``flatten``)
    and mirrored from the broker's answer. With ``stop`` the control row is then set to
    ``stopped`` (the kill is done).
    """
    factory = sessionmaker(bind=engine, expire_on_commit=False)
    cancelled = broker.cancel_all()
    with factory.begin() as s:
        if renew is not None:
            renew(s)
        for order in OrderRepository(s).open(account_id):
            order.status, order.reason = "canceled", f"kill switch: {reason}"
            order.updated_at = utcnow()
    sent = fills = 0
    if flatten:
        with factory.begin() as s:
            held = [(p.symbol, p.qty) for p in PositionRepository(s).list(account_id)]
        for symbol, qty in held:
            if abs(qty) < 1e-9:
                continue
            request = _flatten_request(factory, account_id, session_name, symbol, qty, ts)
            with factory.begin() as s:
                if renew is not None:
                    renew(s)
                record_order(s, account_id, request)
            seen = broker.submit(request)
            with factory.begin() as s:
                stored = OrderRepository(s).by_client_id(
                    request.client_order_id, account_id=account_id
                )
                if stored is not None and broker.apply_answer(s, stored, seen) is not None:
                    fills += 1
            fills += len(broker.on_bar(ts.to_pydatetime(), {symbol: float(prices[symbol])}))
            sent += 1
    with factory.begin() as s:
        left = {p.symbol: p.qty for p in PositionRepository(s).list(account_id)}
        if renew is not None:
            renew(s)
        if stop:
            WorkerControlRepository(s).set(
                "stopped", updated_by="worker", reason=kill_summary(reason, flatten, bool(left))
            )
    return KillOutcome(cancelled, sent, fills, left)


def kill_summary(reason: str, flatten: bool, left: bool) -> str:
    """The control row's reason after a kill (``left``: positions remain open).

    >>> kill_summary("test", True, False)
    'killed (test); positions flattened'
    """
    if not flatten:
        done = "positions kept"
    else:
        done = "positions flattened" if not left else "flatten orders sent"
    return f"killed ({reason or 'by user'}); {done}"


def _flatten_request(
    factory: sessionmaker[Session],
    account_id: int,
    session_name: str,
    symbol: str,
    qty: float,
    ts: pd.Timestamp,
) -> OrderRequest:
    """The flatten order, with the first key of this bar not used by a closed order."""
    side = "sell" if qty > 0 else "buy"
    with factory.begin() as s:
        orders = OrderRepository(s)
        for n in range(1, 1000):
            tag = "flatten" if n == 1 else f"flatten{n}"
            cid = client_order_id(session_name, symbol, ts, tag=tag)
            existing = orders.by_client_id(cid, account_id=account_id)
            if existing is None and orders.client_id_owner(cid) is None:
                break
    return OrderRequest(symbol=symbol, side=side, qty=abs(qty), client_order_id=cid)


def _largest_passing(check: Callable[[float], Any], requested: float) -> Any:
    """The pre-trade verdict of the largest whole quantity below ``requested`` that passes
    (bisection; VaR and concentration grow with the order), or None when none does."""
    hi = math.floor(requested)
    if hi < 1:
        return None
    first = check(1.0)
    if not first.approved:
        return None
    lo, best = 1, first
    while hi - lo > 1:
        mid = (lo + hi) // 2
        verdict = check(float(mid))
        if verdict.approved:
            lo, best = mid, verdict
        else:
            hi = mid
    if hi != lo:
        top = check(float(hi))
        if top.approved and top.allowed_quantity < requested:
            best = top
    return best


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
        the next decision without a restart.
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
    """

    def __init__(
        self,
        *,
        engine: Engine,
        session_name: str,
        prices: dict[str, pd.DataFrame],
        broker: Broker,
        limits: LimitsProvider,
        on_cycle: CycleHook | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Clock = utc_clock,
        lease: SessionLease | None = None,
        headroom: float = DEFAULT_HEADROOM,
    ) -> None:
        self._engine = engine
        self._sessions = sessionmaker(bind=engine, expire_on_commit=False)
        self.session_name = session_name
        self.broker = broker
        self.limits = limits
        self.on_cycle = on_cycle
        self._sleep = sleep
        self._clock = clock
        self.lease = lease
        self.headroom = headroom
        self._pending_rejections = 0
        common = None
        for frame in prices.values():
            common = frame.index if common is None else common.intersection(frame.index)
        if common is None or len(common) == 0:
            raise ValueError("the symbols share no bars; pick symbols with overlapping history")
        self.index = common
        self.prices = {s: f.loc[common] for s, f in prices.items()}
        with self._sessions.begin() as s:
            row = self._session_row(s)
            self.config = dict(row.config)
            self.symbols = list(row.symbols)
            self.account_id = row.account_id
        self.train_bars = int(self.config["train_bars"])
        if self.train_bars >= len(self.index) - 1:
            raise ValueError(
                f"train_bars {self.train_bars} leaves no bars to trade in {len(self.index)}"
            )
        returns = pd.DataFrame({s: f["close"] for s, f in self.prices.items()}).pct_change()
        self._returns = returns
        self._pipelines: dict[str, Any] = {}
        self._last_regime: dict[str, str] = {}

    # ------------------------------------------------------------------ helpers
    def _session_row(self, s: Session) -> PaperSession:
        row = PaperSessionRepository(s).get(self.session_name)
        if row is None:
            raise LookupError(f"no paper session named {self.session_name!r}")
        return row

    def _build_pipelines(self, upto: int) -> None:
        """Fresh, deterministic pipelines warmed up on bars ``0 .. upto - 1``."""
        from core.pipeline import build_pipeline

        for symbol in self.symbols:
            frame = self.prices[symbol]
            pipe = build_pipeline(
                frame,
                train_bars=self.train_bars,
                selector=self.config.get("selector", "contextual"),
                seed=int(self.config.get("seed", 0)),
                symbol=symbol,
            )
            pipe.warm_up(frame.iloc[:upto])
            self._pipelines[symbol] = pipe

    def _bar(self, symbol: str, t: int) -> dict[str, Any]:
        row = self.prices[symbol].iloc[t]
        bar = {k: float(row[k]) for k in ("open", "high", "low", "close", "volume") if k in row}
        bar["ts"] = self.index[t]
        bar["symbol"] = symbol
        return bar

    def _control(self) -> tuple[str, bool, str]:
        with self._sessions.begin() as s:
            row = WorkerControlRepository(s).get()
            return row.desired_state, bool(row.flatten_on_kill), row.reason

    def _renew(self, s: Session) -> None:
        if self.lease is not None:
            self.lease.renew(s)

    def _beat(self, cycle: int, status: str, latency_ms: float, error: str | None = None) -> None:
        with self._sessions.begin() as s:
            self._renew(s)
            HeartbeatRepository(s).beat(
                cycle=cycle, status=status, latency_ms=latency_ms, last_error=error
            )

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
            return self._run(steps=steps, speed=speed, poll_s=poll_s, until=until)
        finally:
            if own_lease and self.lease is not None:
                self.lease.release()
                self.lease = None

    def _run(
        self, *, steps: int | None, speed: float, poll_s: float, until: pd.Timestamp | None
    ) -> Summary:
        summary = Summary()
        with self._sessions.begin() as s:
            self._renew(s)
            row = self._session_row(s)
            start = max(row.cursor + 1, self.train_bars)
            row.status = "running"
            row.updated_at = utcnow()
        while True:  # the broker may be down at start-up: wait for it, beating meanwhile
            state, _flatten, _reason = self._control()
            if state in ("stopped", "killed"):
                break
            try:
                summary.resubmitted, rejected = self._submit_pending(summary)
                self._pending_rejections += rejected
                summary.reconciliation_differences = self._reconcile()
                break
            except BrokerUnavailableError as exc:
                self._broker_down(summary, exc, start - 1, poll_s)
        self._build_pipelines(start)
        if self.lease is not None:
            self.lease.renew()  # the tuning may have taken a while
        t = start
        done = 0
        end = len(self.index) if until is None else int(self.index.searchsorted(until, "right"))
        while t < end and (steps is None or done < steps):
            state, flatten, reason = self._control()
            if state == "paused":
                self._beat(summary.cycles, "paused", 0.0)
                self._sleep(poll_s)
                continue
            if state == "killed":
                self._kill(t - 1, flatten, reason, summary)
                summary.state = "killed"
                break
            if state == "stopped":
                summary.state = "stopped"
                break
            started = time.perf_counter()
            try:
                cycle = self._cycle(t, summary)
            except BrokerUnavailableError as exc:
                self._broker_down(summary, exc, t, poll_s)
                # The pipelines may have stepped bar t already: rebuild them so the retry
                # decides bar t exactly as an uninterrupted run would.
                self._build_pipelines(t)
                continue
            cycle.latency_ms = (time.perf_counter() - started) * 1000
            self._beat(summary.cycles, "running", cycle.latency_ms)
            if self.on_cycle is not None:
                self.on_cycle(cycle)
            summary.cycles += 1
            summary.last_bar = str(self.index[t].date())
            done += 1
            t += 1
            if speed > 0:
                self._sleep(1.0 / speed)
        else:
            summary.state = "finished" if t >= len(self.index) else "done-steps"
        try:
            summary.final_equity = self.broker.account().equity
        except BrokerError:
            summary.final_equity = math.nan
        self._beat(summary.cycles, summary.state, 0.0)
        with self._sessions.begin() as s:
            self._renew(s)
            row = self._session_row(s)
            row.status = summary.state
            row.updated_at = utcnow()
        return summary

    def _broker_down(self, summary: Summary, exc: Exception, t: int, poll_s: float) -> None:
        """Record the outage (heartbeat, alert hook) and wait before retrying."""
        self._beat(summary.cycles, "broker_down", 0.0, str(exc))
        if self.on_cycle is not None:
            ts = self.index[max(t, 0)]
            self.on_cycle(
                CycleReport(
                    bar=t,
                    ts=ts,
                    equity=math.nan,
                    start_of_day_equity=math.nan,
                    peak_equity=math.nan,
                    broker_connected=False,
                )
            )
        self._sleep(poll_s)

    # ------------------------------------------------------------------ one bar
    def _feed(self, t: int, *, at_open: bool) -> int:
        """Give the simulator bar t's open (fills) or close (marks); sync other brokers."""
        prices = {}
        for symbol in self.symbols:
            row = self.prices[symbol].iloc[t]
            prices[symbol] = (
                float(row["open"]) if at_open and "open" in row else float(row["close"])
            )
        fills = len(self.broker.on_bar(self.index[t].to_pydatetime(), prices))
        if at_open:
            with self._sessions.begin() as s:
                fills += len(self.broker.sync_orders(s, self.account_id))
        return fills

    def _decided(self, s: Session, t: int, symbol: str | None = None) -> bool:
        """Whether this session recorded a decision for bar t (for ``symbol``, or any)."""
        return DecisionRepository(s).decided(self.session_name, t, symbol)

    def _bar_started(self, t: int) -> bool:
        """Whether bar t was partly processed before a crash (a decision is recorded)."""
        with self._sessions.begin() as s:
            return self._decided(s, t)

    def _cycle(self, t: int, summary: Summary) -> CycleReport:
        ts = self.index[t]
        if self.lease is not None:
            self.lease.renew()  # before the prices are fed: a worker that lost it stops here
        # The open (fills of the previous bar's orders) and the close (marks) are fed before
        # any decision; if bar t already has a decision they were fed, and feeding them
        # again would fill bar t's own orders at bar t's prices.
        if not self._bar_started(t):
            summary.fills += self._feed(t, at_open=True)
            self._feed(t, at_open=False)
        limits = self.limits()
        with self._sessions.begin() as s:
            row = self._session_row(s)
            last = PaperSessionRepository(s).last_equity(row.id)
            start_of_day = last.equity if last is not None else self.broker.account().equity
            peak = max(row.peak_equity, start_of_day)
        history = self._returns.iloc[max(1, t - 250) : t + 1].dropna()
        prices_now = {s: float(self.prices[s]["close"].iloc[t]) for s in self.symbols}
        orders_this_bar: list[datetime] = []
        report = CycleReport(
            bar=t,
            ts=ts,
            equity=math.nan,
            start_of_day_equity=start_of_day,
            peak_equity=peak,
            previous_regime=dict(self._last_regime),
        )
        report.rejected, self._pending_rejections = self._pending_rejections, 0
        # This bar's orders fill at the next open: later symbols are sized and checked
        # against the book as it will be once they fill.
        pending: dict[str, float] = {}
        for symbol in self.symbols:
            state = portfolio_state(
                self.broker,
                start_of_day_equity=start_of_day,
                peak_equity=peak,
                recent_order_times=list(orders_this_bar),
                returns_history=history,
                prices=prices_now,
            )
            if pending:
                book = dict(state.positions)
                for sym, qty in pending.items():
                    book[sym] = book.get(sym, 0.0) + qty
                state = replace(state, positions={k: v for k, v in book.items() if v != 0})
            verdicts: list[Any] = []
            now = self._clock()

            def hook(
                order: Any,
                _pipe_state: Any,
                *,
                _state: Any = state,
                _out: list = verdicts,
                _now: datetime = now,
            ) -> Any:
                from core.pipeline import RiskDecision as PipeVerdict

                def check(amount: float) -> Any:
                    return pre_trade_check(
                        RiskOrder(
                            symbol=order.symbol, side=order.side, qty=amount, price=order.price
                        ),
                        _state,
                        limits,
                        now=_now,
                        fractional=False,
                    )

                decision = check(order.qty)
                fitted = None
                if not decision.approved and not decision.kill_switch:
                    fitted = _largest_passing(check, order.qty)
                if fitted is not None:  # sized to fit VaR / concentration: not a block
                    _out.append(("sized", fitted))
                    reason = (
                        "sized to fit the limits (full order: "
                        + "; ".join(decision.rejection_reasons)
                        + ")"
                    )
                    return PipeVerdict(
                        approved=True, qty=float(fitted.allowed_quantity), reason=reason
                    )
                _out.append(decision)
                reason = "; ".join(decision.rejection_reasons + list(decision.adjustments))
                return PipeVerdict(
                    approved=decision.approved,
                    qty=float(decision.allowed_quantity),
                    reason=reason or "approved",
                )

            pipe = self._pipelines[symbol]
            pipe.risk_hook = hook
            from core.pipeline import PortfolioState as PipeState

            caps = sizing_caps(state, symbol, limits, headroom=self.headroom)
            shares = float(state.positions.get(symbol, 0.0))
            decision = pipe.step(
                self._bar(symbol, t),
                PipeState(
                    equity=state.equity,
                    shares=shares,
                    max_long=caps.max_long,
                    max_short=caps.max_short,
                    max_order_value=caps.max_order_value,
                ),
            )
            risk = verdicts[-1] if verdicts else None
            if isinstance(risk, tuple):  # fitted by the sizer, then approved by the check
                risk = None
                summary.sized_within_limits += 1
            elif decision.sized_by:
                summary.sized_within_limits += 1
            report.regime[symbol] = decision.regime
            self._last_regime[symbol] = decision.regime
            if risk is not None and (not risk.approved or risk.shrunk):
                summary.orders_blocked_or_shrunk_by_risk += 1
            if risk is not None and not risk.approved:
                summary.rejected += 1
                summary.risk_rejected += 1
                report.rejected += 1
            if risk is not None and getattr(risk, "kill_switch", False):
                with self._sessions.begin() as s:
                    self._renew(s)
                    WorkerControlRepository(s).set(
                        "killed",
                        updated_by="risk-engine",
                        reason="; ".join(risk.rejection_reasons) or "kill switch",
                    )
            self._record(t, symbol, decision, summary, caps)
            whole = math.floor(abs(decision.approved_qty))
            if whole >= 1:
                orders_this_bar.append(now)
                pending[symbol] = pending.get(symbol, 0.0) + math.copysign(
                    whole, decision.approved_qty
                )
        report.rejected += self._submit_pending(summary)[1]
        report.reconciliation_differences = self._reconcile()
        self._close_bar(t, report, limits, prices_now, summary)
        report.utilization = self._utilization(
            limits, start_of_day, report.peak_equity, history, prices_now
        )
        return report

    def _record(self, t: int, symbol: str, decision: Any, summary: Summary, caps: Any) -> None:
        """Store the decision and its order in one transaction (skipped if already there)."""
        ts = self.index[t]
        cid = client_order_id(self.session_name, symbol, ts)
        with self._sessions.begin() as s:
            self._renew(s)
            if self._decided(s, t, symbol):
                return
            sized_by = {
                "max_long": caps.long_limit,
                "max_short": caps.short_limit,
                "max_order_value": "max_order_notional",
            }.get(decision.sized_by)
            payload = {
                "session": self.session_name,
                "bar": t,
                "regime": decision.regime,
                "regime_probs": decision.regime_probs,
                "weights": decision.weights,
                "signal": decision.signal,
                "target_position": decision.target_position,
                "order_qty": decision.order_qty,
                "approved": decision.approved,
                "approved_qty": decision.approved_qty,
                "risk_reason": decision.risk_reason,
                "latency_us": decision.latency_us,
                "sized_by_limit": sized_by,
                "client_order_id": cid if math.floor(abs(decision.approved_qty)) >= 1 else None,
            }
            row = DecisionRepository(s).add(
                symbol=symbol,
                payload=json_safe(payload),
                explanation=decision.explanation,
                ts=ts.to_pydatetime().replace(tzinfo=UTC),
                session_name=self.session_name,
                bar=t,
            )
            qty = math.floor(abs(decision.approved_qty))
            if qty >= 1:
                record_order(
                    s,
                    self.account_id,
                    OrderRequest(
                        symbol=symbol,
                        side="buy" if decision.approved_qty > 0 else "sell",
                        qty=qty,
                        client_order_id=cid,
                    ),
                    decision_id=row.id,
                )
                summary.orders += 1

    def _submit_pending(self, summary: Summary) -> tuple[int, int]:
        """Send every recorded-but-unacknowledged order (idempotent by client_order_id).

        Returns how many were pending and how many the broker rejected.
        """
        with self._sessions.begin() as s:
            pending = [
                (o.id, o.client_order_id, o.symbol, o.side, o.qty)
                for o in s.scalars(
                    select(TradingOrder)
                    .where(
                        TradingOrder.account_id == self.account_id,
                        TradingOrder.status == "pending_new",
                    )
                    .order_by(TradingOrder.id)
                )
            ]
        rejected = 0
        for order_id, cid, symbol, side, qty in pending:
            request = OrderRequest(symbol=symbol, side=side, qty=qty, client_order_id=cid)
            try:
                seen = self.broker.submit(request)
            except OrderRejectedError as exc:
                with self._sessions.begin() as s:
                    self._renew(s)
                    row = s.get_one(TradingOrder, order_id)
                    row.status, row.reason, row.updated_at = "rejected", str(exc), utcnow()
                summary.rejected += 1
                summary.broker_rejected += 1
                rejected += 1
                continue
            except BrokerUnavailableError:
                raise
            except BrokerError as exc:
                with self._sessions.begin() as s:
                    row = s.get_one(TradingOrder, order_id)
                    row.reason, row.updated_at = str(exc), utcnow()
                continue
            with self._sessions.begin() as s:
                if self.broker.apply_answer(s, s.get_one(TradingOrder, order_id), seen) is not None:
                    summary.fills += 1
        return len(pending), rejected

    def _utilization(
        self,
        limits: RiskLimits,
        start_of_day: float,
        peak: float,
        history: pd.DataFrame,
        prices_now: dict[str, float],
    ) -> dict[str, float]:
        """Share of every risk limit in use after this bar (for the alert rules)."""
        from core.risk import portfolio_risk

        state = portfolio_state(
            self.broker,
            start_of_day_equity=start_of_day,
            peak_equity=peak,
            returns_history=history,
            prices=prices_now,
        )
        return dict(portfolio_risk(state, limits).utilization)

    def _close_bar(
        self,
        t: int,
        report: CycleReport,
        limits: RiskLimits,
        prices_now: dict[str, float],
        summary: Summary,
    ) -> None:
        """Equity snapshot, peak, cursor: one transaction that completes the bar.

        The book's exposures are audited here from the ledger's quantities, the bar's
        closes and the broker's equity: every limit they break counts in
        ``summary.limit_breaches``.
        """
        account = self.broker.account()
        with self._sessions.begin() as s:
            self._renew(s)
            self.broker.sync_account(s, self.account_id)
            row = self._session_row(s)
            positions = PositionRepository(s).list(self.account_id)
            book = {p.symbol: p.qty for p in positions}
            marks = {
                p.symbol: prices_now.get(p.symbol, p.last_price or p.avg_price) for p in positions
            }
            summary.limit_breaches += len(
                book_breaches(positions=book, prices=marks, equity=account.equity, limits=limits)
            )
            realized = sum(p.realized_pnl for p in positions)
            unrealized = sum(
                p.qty * ((p.last_price or p.avg_price) - p.avg_price) for p in positions
            )
            repo = PaperSessionRepository(s)
            repo.snapshot(
                session_id=row.id,
                bar=t,
                ts=self.index[t].to_pydatetime().replace(tzinfo=UTC),
                equity=account.equity,
                cash=account.cash,
                realized_pnl=realized,
                unrealized_pnl=unrealized,
            )
            row.peak_equity = max(row.peak_equity, account.equity)
            row.cursor = t
            row.cursor_ts = self.index[t].to_pydatetime().replace(tzinfo=UTC)
            row.updated_at = utcnow()
            report.equity = account.equity
            report.peak_equity = row.peak_equity

    def _reconcile(self) -> int:
        """Compare the ledger with the broker; a report is stored when they differ."""
        with self._sessions.begin() as s:
            result = reconcile(s, self.broker, account_id=self.account_id, record=False)
            if result.differences:
                ReconciliationRepository(s).add(
                    broker=result.broker,
                    differences=result.to_dicts(),
                    account_id=self.account_id,
                    ts=result.ts,
                )
        return len(result.differences)

    def _kill(self, t: int, flatten: bool, reason: str, summary: Summary) -> None:
        """Cancel open orders and, if asked, flatten every position at the last price."""
        bar = max(t, 0)
        outcome = carry_out_kill(
            self._engine,
            session_name=self.session_name,
            account_id=self.account_id,
            broker=self.broker,
            prices={s: float(self.prices[s]["close"].iloc[bar]) for s in self.symbols},
            ts=self.index[bar],
            flatten=flatten,
            reason=reason,
            renew=self._renew if self.lease is not None else None,
        )
        summary.orders += outcome.flatten_orders
        summary.fills += outcome.flatten_fills
