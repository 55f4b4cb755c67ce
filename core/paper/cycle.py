"""One bar of a paper session: fills, decisions, risk, orders, close.

Per bar t: the open (fills of the previous bar's orders) and the close (marks) go to the
broker; each symbol's pipeline decides at the close, bounded by the sizer and passed
through the pre-trade check (:class:`PreTradeGate`); decisions and orders are recorded,
the orders sent, the ledger reconciled, and the bar closed (:func:`core.paper.book.close_bar`).
All of it runs in one database session (see :class:`BarCycle`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, cast

import numpy as np
import pandas as pd
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from core.broker import LedgerBroker
from core.paper.book import DayMarks, book_state, close_bar, day_marks, utilization
from core.paper.context import SessionContext
from core.paper.group import BarWrites
from core.paper.lease import Clock
from core.paper.limits import LimitsProvider, StoredLimits
from core.paper.orders import (
    DecisionEntry,
    reconcile_ledger,
    record_bar,
    send_orders,
    unsent_orders,
)
from core.paper.report import CycleReport, Summary
from core.paper.sizing import sizing_caps
from core.risk import ProposedOrder, RiskDecision, RiskLimits, pre_trade_check
from core.risk.state import NO_HISTORY, HistoryArrays, PortfolioState, history_arrays
from core.store.paper import DecisionRepository, WorkerControlRepository

HISTORY_BARS = 250
"""Daily returns the pre-trade check sees (VaR, concentration)."""


def _largest_passing(check: Callable[[float], RiskDecision], requested: float) -> Any:
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


class PreTradeGate:
    """The pipeline's risk hook: the pre-trade check on the book ``state``.

    An order refused for its size (VaR, concentration) but not by the kill switch is cut
    to the largest whole quantity that passes: that is sizing, not a block
    (``fitted``). Otherwise ``verdict`` keeps the check's decision.
    """

    def __init__(self, state: PortfolioState, limits: RiskLimits, now: datetime) -> None:
        self.state, self.limits, self.now = state, limits, now
        self.verdict: RiskDecision | None = None
        self.fitted = False

    def _check(self, order: Any, qty: float) -> RiskDecision:
        return pre_trade_check(
            ProposedOrder(symbol=order.symbol, side=order.side, qty=qty, price=order.price),
            self.state,
            self.limits,
            now=self.now,
            fractional=False,
        )

    def __call__(self, order: Any, _book: Any) -> Any:
        """Approve, cut or block the pipeline's order."""
        from core.pipeline import GateDecision

        decision = self._check(order, order.qty)
        fitted = None
        if not decision.approved and not decision.kill_switch:
            fitted = _largest_passing(lambda qty: self._check(order, qty), order.qty)
        if fitted is not None:
            self.fitted = True
            reason = "sized to fit the limits (full order: " + "; ".join(decision.rejection_reasons)
            return GateDecision(
                approved=True, qty=float(fitted.allowed_quantity), reason=reason + ")"
            )
        self.verdict = decision
        reason = "; ".join(decision.rejection_reasons + list(decision.adjustments))
        return GateDecision(
            approved=decision.approved,
            qty=float(decision.allowed_quantity),
            reason=reason or "approved",
        )


class BarCycle:
    """The decision pipelines of a session and the work of one bar.

    Parameters
    ----------
    ctx
        The running session.
    config
        The session's stored configuration (``train_bars``, ``selector``, ``seed``).
    limits
        Returns the risk limits in force (read every bar); a
        :class:`~core.paper.limits.StoredLimits` is read in the bar's own transaction,
        and only when the limits version changes.
    clock
        UTC time of order timestamps and the order-rate limit.
    headroom
        Share of each exposure limit the sizer may use.

    A bar's database work runs in the one session the worker passes to :meth:`run`.
    With a broker whose book is the ledger (:class:`~core.broker.LedgerBroker`, the
    simulator) the broker joins it, and the whole bar commits once; with any other
    broker the decisions and orders are committed before they are sent
    (:meth:`checkpoint`), and each answer after it arrives.
    """

    def __init__(
        self,
        ctx: SessionContext,
        config: dict[str, Any],
        *,
        limits: LimitsProvider,
        clock: Clock,
        headroom: float,
        engine: Engine | None = None,
    ) -> None:
        self.ctx = ctx
        self.limits = limits
        self.train_bars = int(config["train_bars"])
        self.selector = str(config.get("selector", "contextual"))
        self.seed = int(config.get("seed", 0))
        self.clock = clock
        self.headroom = headroom
        closes = pd.DataFrame({s: f["close"] for s, f in ctx.prices.items()})
        returns = closes.pct_change()
        self._returns = returns.to_numpy(dtype=np.float64)
        self._complete = ~np.isnan(self._returns).any(axis=1)
        self._return_columns = list(returns.columns)
        self._pipelines: dict[str, Any] = {}
        self.last_regime: dict[str, str] = {}
        self.pending_rejections = 0
        """Orders the broker refused at start-up, reported with the first cycle."""
        broker = ctx.broker
        self.joined = (
            engine is not None
            and isinstance(broker, LedgerBroker)
            and broker.shares_ledger(engine, ctx.account_id)
        )
        """Whether the broker joins the bar's transaction (one commit per bar)."""
        self._columns: dict[str, tuple[list[str], np.ndarray]] = {}
        self._opens: dict[str, np.ndarray] = {}
        self._closes: dict[str, np.ndarray] = {}
        for symbol in ctx.symbols:
            frame = ctx.prices[symbol]
            cols = [k for k in ("open", "high", "low", "close", "volume") if k in frame.columns]
            self._columns[symbol] = (cols, frame[cols].to_numpy(dtype=np.float64))
            self._closes[symbol] = frame["close"].to_numpy(dtype=np.float64)
            at = "open" if "open" in frame.columns else "close"
            self._opens[symbol] = frame[at].to_numpy(dtype=np.float64)
        self.forget()

    def forget(self) -> None:
        """Drop what was carried from bar to bar; the next bar reads it again."""
        self._fresh: int | None = None
        """A bar known to have no decision yet (the one after the last this run closed)."""
        self._marks: tuple[DayMarks, float] | None = None
        self._unsent = True
        """Whether orders recorded earlier may still wait to be sent."""
        self.wrote_control = False
        """Whether the last bar wrote the control row (the risk engine's kill switch)."""

    def rebuild(self, upto: int) -> None:
        """Fresh, deterministic pipelines warmed up on bars ``0 .. upto - 1``."""
        from core.pipeline import build_pipeline

        self.forget()
        for symbol in self.ctx.symbols:
            frame = self.ctx.prices[symbol]
            pipe = build_pipeline(
                frame,
                train_bars=self.train_bars,
                selector=self.selector,
                seed=self.seed,
                symbol=symbol,
            )
            pipe.warm_up(frame.iloc[:upto])
            self._pipelines[symbol] = pipe

    def limits_in_force(self, s: Session, version: int) -> RiskLimits:
        """The limits of this bar (``version``: the one the control poll saw)."""
        if isinstance(self.limits, StoredLimits):
            return self.limits.in_session(s, version)
        return self.limits()

    def checkpoint(self, s: Session) -> None:
        """Commit what the bar wrote so far (lease renewed in it), unless the broker
        shares the transaction: then the bar commits once, at its end."""
        if not self.joined:
            self.ctx.renew(s)
            s.commit()

    def closed(self, t: int, report: CycleReport) -> None:
        """Bar t is complete in the open transaction: carry its close to the next bar
        (a rollback calls :meth:`forget`)."""
        self._fresh = t + 1
        closes = {t: report.equity}
        self._marks = (DayMarks(t + 1, closes, report.peak_equity), report.peak_equity)

    def history(self, t: int) -> HistoryArrays:
        """The returns arrays the checks of bar t read: the complete rows of the last
        ``HISTORY_BARS`` daily returns up to bar t."""
        lo, hi = max(1, t - HISTORY_BARS), t + 1
        rows = self._returns[lo:hi][self._complete[lo:hi]]
        if rows.shape[0] == 0:
            return NO_HISTORY
        return history_arrays(rows, self._return_columns)

    def _bar(self, symbol: str, t: int) -> dict[str, Any]:
        cols, values = self._columns[symbol]
        bar: dict[str, Any] = {k: float(v) for k, v in zip(cols, values[t], strict=True)}
        bar["ts"] = self.ctx.stamp(t)
        bar["symbol"] = symbol
        return bar

    def closes(self, t: int) -> dict[str, float]:
        """Every symbol's close at bar t."""
        return {s: float(self._closes[s][t]) for s in self.ctx.symbols}

    def feed(self, s: Session, t: int, *, at_open: bool) -> int:
        """Give the broker bar t's opens (fills) or closes (marks); sync the ledger after
        the open. Returns the fills."""
        ctx = self.ctx
        source = self._opens if at_open else self._closes
        prices = {symbol: float(source[symbol][t]) for symbol in ctx.symbols}
        fills = len(ctx.broker.on_bar(ctx.naive_time(t), prices))
        if at_open:
            fills += len(ctx.broker.sync_orders(s, ctx.account_id))
        return fills

    def bound(self, s: Session) -> AbstractContextManager[None]:
        """The block in which the bars of transaction ``s`` run: a broker that shares the
        ledger is bound to it (its account, positions and open orders read once)."""
        if self.joined:
            return cast(LedgerBroker, self.ctx.broker).bind(s)
        return nullcontext()

    def run(
        self,
        t: int,
        summary: Summary,
        s: Session,
        limits: RiskLimits,
        writes: BarWrites | None = None,
    ) -> CycleReport:
        """Process bar t in ``s``, inside :meth:`bound` (a bar half done before a crash is
        completed, not repeated); the caller renews the lease and commits. With
        ``writes`` (a broker that shares the ledger) the bar's decisions, snapshot and
        cursor are appended there, written when the transaction commits."""
        self.wrote_control = False
        ctx = self.ctx
        known_fresh = self._fresh == t
        # The open (fills of the previous bar's orders) and the close (marks) are fed before
        # any decision; if bar t already has a decision they were fed, and feeding them
        # again would fill bar t's own orders at bar t's prices.
        started = False if known_fresh else DecisionRepository(s).decided(ctx.name, t)
        if not started:
            summary.fills += self.feed(s, t, at_open=True)
            self.feed(s, t, at_open=False)
        if self._marks is not None and self._marks[0].bar == t:
            marks, stored_peak = self._marks
        else:
            marks, stored_peak = day_marks(ctx, s, t)
        report = CycleReport(
            bar=t,
            ts=ctx.stamp(t),
            equity=math.nan,
            start_of_day_equity=marks.start_of_day_equity,
            peak_equity=marks.peak_equity,
            previous_regime=dict(self.last_regime),
        )
        report.rejected, self.pending_rejections = self.pending_rejections, 0
        bar = _Bar(
            t=t,
            marks=marks,
            limits=limits,
            history=self.history(t),
            prices=self.closes(t),
            report=report,
        )
        entries = [self._decide(s, bar, symbol, summary) for symbol in ctx.symbols]
        orders = record_bar(ctx, s, t, entries, summary, check=not known_fresh, writes=writes)
        self.checkpoint(s)  # another broker: the orders are durable before they are sent
        if self._unsent:
            orders = unsent_orders(ctx, s, orders)
        rejected, self._unsent = send_orders(ctx, s, orders, summary, lambda: self.checkpoint(s))
        report.rejected += rejected
        if self.joined and not self._unsent:
            report.reconciliation_differences = 0  # the ledger is the broker's own book
        else:
            report.reconciliation_differences = reconcile_ledger(ctx, s)
        close_bar(
            ctx,
            s,
            t,
            report,
            limits,
            bar.prices,
            summary,
            peak_equity=stored_peak,
            joined=self.joined,
            writes=writes,
        )
        after = replace(marks, peak_equity=report.peak_equity)
        report.utilization = utilization(ctx, after, limits, history=bar.history, prices=bar.prices)
        return report

    def _decide(self, s: Session, bar: _Bar, symbol: str, summary: Summary) -> DecisionEntry:
        """Decide ``symbol`` at the bar's close (recorded with the bar's other decisions)."""
        from core.pipeline import SymbolBook

        ctx = self.ctx
        state = book_state(
            ctx,
            bar.marks,
            history=bar.history,
            prices=bar.prices,
            order_times=list(bar.order_times),
            pending=bar.pending,
        )
        now = self.clock()
        gate = PreTradeGate(state, bar.limits, now)
        pipe = self._pipelines[symbol]
        pipe.risk_hook = gate
        caps = sizing_caps(state, symbol, bar.limits, headroom=self.headroom)
        decision = pipe.step(
            self._bar(symbol, bar.t),
            SymbolBook(
                equity=state.equity,
                shares=float(state.positions.get(symbol, 0.0)),
                max_long=caps.max_long,
                max_short=caps.max_short,
                max_order_value=caps.max_order_value,
            ),
        )
        risk = gate.verdict
        if gate.fitted or decision.sized_by:
            summary.sized_within_limits += 1
        bar.report.regime[symbol] = decision.regime
        self.last_regime[symbol] = decision.regime
        if risk is not None and (not risk.approved or risk.shrunk):
            summary.orders_blocked_or_shrunk_by_risk += 1
        if risk is not None and not risk.approved:
            summary.rejected += 1
            summary.risk_rejected += 1
            bar.report.rejected += 1
        if risk is not None and risk.kill_switch:
            self.wrote_control = True  # a group of bars ends here: the next one reads it
            WorkerControlRepository(s).set(
                "killed",
                updated_by="risk-engine",
                reason="; ".join(risk.rejection_reasons) or "kill switch",
            )
        whole = math.floor(abs(decision.approved_qty))
        if whole >= 1:
            bar.order_times.append(now)
            signed = math.copysign(whole, decision.approved_qty)
            bar.pending[symbol] = bar.pending.get(symbol, 0.0) + signed
        return DecisionEntry(symbol, decision, caps)


@dataclass
class _Bar:
    """One bar's inputs, and the orders decided so far at its close.

    This bar's orders fill at the next open: later symbols are sized and checked against
    the book as it will be once they fill (``pending``).
    """

    t: int
    marks: DayMarks
    limits: RiskLimits
    history: HistoryArrays
    prices: dict[str, float]
    report: CycleReport
    order_times: list[datetime] = field(default_factory=list)
    pending: dict[str, float] = field(default_factory=dict)
