"""The supervised paper-trading worker.

One cycle per bar: fills, decision pipeline, risk check, orders, records. The worker is
steered through the ``worker_control`` row (running, paused, stopped, killed) and leaves a
heartbeat every cycle.

Crash safety (kill -9 at any point, then restart):

* Every order has a deterministic ``client_order_id`` built from the session, the symbol
  and the bar, so re-deciding a bar can never create a second order.
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
from collections.abc import Callable
from dataclasses import dataclass, field
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
    SimBroker,
    apply_broker_order,
    portfolio_state,
    reconcile,
    sync_account,
    sync_orders,
)
from core.risk import ProposedOrder as RiskOrder
from core.risk import RiskLimits, pre_trade_check
from core.serialize import json_safe
from core.store.models import utcnow
from core.store.paper import PaperSession, PaperSessionRepository
from core.store.trading import (
    DecisionRepository,
    HeartbeatRepository,
    OrderRepository,
    PositionRepository,
    ReconciliationRepository,
    TradingOrder,
    WorkerControlRepository,
)

LimitsProvider = Callable[[], RiskLimits]
CycleHook = Callable[["CycleReport"], None]


@dataclass
class Summary:
    """Totals of a worker run (the CLI prints these)."""

    cycles: int = 0
    orders: int = 0
    fills: int = 0
    rejected: int = 0
    risk_violations: int = 0
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


def client_order_id(session: str, symbol: str, ts: pd.Timestamp, tag: str = "t") -> str:
    """Deterministic idempotency key of the order a session sends for a bar.

    >>> client_order_id("demo", "SP500", pd.Timestamp("2010-01-04"))
    'wb-demo-SP500-20100104-t'
    """
    return f"wb-{session}-{symbol}-{ts:%Y%m%d}-{tag}"


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
        Any :class:`~core.broker.Broker`; a :class:`~core.broker.SimBroker` is fed the
        replayed prices, other brokers are synchronised every cycle.
    limits
        Returns the risk limits in force; called every cycle, so a change applies from
        the next decision without a restart.
    on_cycle
        Called after every completed cycle (alerts, monitoring).
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
    ) -> None:
        self._sessions = sessionmaker(bind=engine, expire_on_commit=False)
        self.session_name = session_name
        self.broker = broker
        self.limits = limits
        self.on_cycle = on_cycle
        self._sleep = sleep
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

    def _beat(self, cycle: int, status: str, latency_ms: float, error: str | None = None) -> None:
        with self._sessions.begin() as s:
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
        summary = Summary()
        with self._sessions.begin() as s:
            row = self._session_row(s)
            start = max(row.cursor + 1, self.train_bars)
            row.status = "running"
            row.updated_at = utcnow()
        while True:  # the broker may be down at start-up: wait for it, beating meanwhile
            state, _flatten, _reason = self._control()
            if state in ("stopped", "killed"):
                break
            try:
                summary.resubmitted = self._submit_pending(summary)
                summary.reconciliation_differences = self._reconcile()
                break
            except BrokerUnavailableError as exc:
                self._broker_down(summary, exc, start - 1, poll_s)
        self._build_pipelines(start)
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
        fills = 0
        if isinstance(self.broker, SimBroker):
            ts = self.index[t]
            for symbol in self.symbols:
                row = self.prices[symbol].iloc[t]
                price = float(row["open"]) if at_open and "open" in row else float(row["close"])
                fills += len(self.broker.on_price(symbol, ts.to_pydatetime(), price))
        elif at_open:
            with self._sessions.begin() as s:
                fills += len(sync_orders(s, self.account_id, self.broker))
        return fills

    def _decided(self, s: Session, t: int, symbol: str | None = None) -> bool:
        """Whether this session recorded a decision for bar t (for ``symbol``, or any)."""
        limit = len(self.symbols) + 5 if symbol else len(self.symbols) * 3 + 5
        return any(
            d.payload.get("session") == self.session_name and d.payload.get("bar") == t
            for d in DecisionRepository(s).recent(symbol=symbol, limit=limit)
        )

    def _bar_started(self, t: int) -> bool:
        """Whether bar t was partly processed before a crash (a decision is recorded)."""
        with self._sessions.begin() as s:
            return self._decided(s, t)

    def _cycle(self, t: int, summary: Summary) -> CycleReport:
        ts = self.index[t]
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
        for symbol in self.symbols:
            state = portfolio_state(
                self.broker,
                start_of_day_equity=start_of_day,
                peak_equity=peak,
                recent_order_times=list(orders_this_bar),
                returns_history=history,
                prices=prices_now,
            )
            verdicts: list[Any] = []

            def hook(
                order: Any, _pipe_state: Any, *, _state: Any = state, _out: list = verdicts
            ) -> Any:
                from core.pipeline import RiskDecision as PipeVerdict

                decision = pre_trade_check(
                    RiskOrder(
                        symbol=order.symbol, side=order.side, qty=order.qty, price=order.price
                    ),
                    _state,
                    limits,
                    now=datetime.now(UTC),
                    fractional=False,
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

            shares = float(state.positions.get(symbol, 0.0))
            decision = pipe.step(
                self._bar(symbol, t), PipeState(equity=state.equity, shares=shares)
            )
            report.regime[symbol] = decision.regime
            self._last_regime[symbol] = decision.regime
            risk = verdicts[-1] if verdicts else None
            if risk is not None and (risk.rejection_reasons or not risk.approved):
                summary.risk_violations += 1
            if risk is not None and not risk.approved:
                summary.rejected += 1
                report.rejected += 1
            if risk is not None and getattr(risk, "kill_switch", False):
                with self._sessions.begin() as s:
                    WorkerControlRepository(s).set(
                        "killed",
                        updated_by="risk-engine",
                        reason="; ".join(risk.rejection_reasons) or "kill switch",
                    )
            self._record(t, symbol, decision, summary)
            if decision.approved_qty != 0:
                orders_this_bar.append(datetime.now(UTC))
        self._submit_pending(summary)
        report.reconciliation_differences = self._reconcile()
        self._close_bar(t, report)
        report.utilization = self._utilization(
            limits, start_of_day, report.peak_equity, history, prices_now
        )
        return report

    def _record(self, t: int, symbol: str, decision: Any, summary: Summary) -> None:
        """Store the decision and its order in one transaction (skipped if already there)."""
        ts = self.index[t]
        cid = client_order_id(self.session_name, symbol, ts)
        with self._sessions.begin() as s:
            if self._decided(s, t, symbol):
                return
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
                "client_order_id": cid if decision.approved_qty != 0 else None,
            }
            row = DecisionRepository(s).add(
                symbol=symbol,
                payload=json_safe(payload),
                explanation=decision.explanation,
                ts=ts.to_pydatetime().replace(tzinfo=UTC),
            )
            qty = math.floor(abs(decision.approved_qty))
            if qty >= 1:
                from core.broker.ledger import record_order

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

    def _submit_pending(self, summary: Summary) -> int:
        """Send every recorded-but-unacknowledged order (idempotent by client_order_id)."""
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
        for order_id, cid, symbol, side, qty in pending:
            request = OrderRequest(symbol=symbol, side=side, qty=qty, client_order_id=cid)
            try:
                seen = self.broker.submit(request)
            except OrderRejectedError as exc:
                with self._sessions.begin() as s:
                    row = s.get_one(TradingOrder, order_id)
                    row.status, row.reason, row.updated_at = "rejected", str(exc), utcnow()
                summary.rejected += 1
                continue
            except BrokerUnavailableError:
                raise
            except BrokerError as exc:
                with self._sessions.begin() as s:
                    row = s.get_one(TradingOrder, order_id)
                    row.reason, row.updated_at = str(exc), utcnow()
                continue
            if not isinstance(self.broker, SimBroker):
                with self._sessions.begin() as s:
                    if apply_broker_order(s, s.get_one(TradingOrder, order_id), seen) is not None:
                        summary.fills += 1
        return len(pending)

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

    def _close_bar(self, t: int, report: CycleReport) -> None:
        """Equity snapshot, peak, cursor: one transaction that completes the bar."""
        account = self.broker.account()
        with self._sessions.begin() as s:
            if not isinstance(self.broker, SimBroker):
                sync_account(s, self.account_id, self.broker)
            row = self._session_row(s)
            positions = PositionRepository(s).list(self.account_id)
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
        self.broker.cancel_all()
        with self._sessions.begin() as s:
            for order in OrderRepository(s).open(self.account_id):
                order.status, order.reason = "canceled", f"kill switch: {reason}"
        if flatten:
            ts = self.index[max(t, 0)]
            with self._sessions.begin() as s:
                held = [(p.symbol, p.qty) for p in PositionRepository(s).list(self.account_id)]
            for symbol, qty in held:
                if abs(qty) < 1e-9:
                    continue
                cid = client_order_id(self.session_name, symbol, ts, tag="flatten")
                self.broker.submit(
                    OrderRequest(
                        symbol=symbol,
                        side="sell" if qty > 0 else "buy",
                        qty=abs(qty),
                        client_order_id=cid,
                    )
                )
                summary.orders += 1
                if isinstance(self.broker, SimBroker):
                    price = float(self.prices[symbol]["close"].iloc[max(t, 0)])
                    summary.fills += len(self.broker.on_price(symbol, ts.to_pydatetime(), price))
        with self._sessions.begin() as s:
            WorkerControlRepository(s).set(
                "stopped",
                updated_by="worker",
                reason=f"killed ({reason or 'by user'}); "
                + ("positions flattened" if flatten else "positions kept"),
            )
