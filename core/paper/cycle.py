"""One bar of a paper session: fills, decisions, risk, orders, close.

Per bar t: the open (fills of the previous bar's orders) and the close (marks) go to the
broker; each symbol's pipeline decides at the close, bounded by the sizer and passed
through the pre-trade check (:class:`PreTradeGate`); decisions and orders are recorded,
the orders sent, the ledger reconciled, and the bar closed (:func:`core.paper.book.close_bar`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

import pandas as pd

from core.paper.book import DayMarks, book_state, close_bar, day_marks, utilization
from core.paper.context import SessionContext
from core.paper.lease import Clock
from core.paper.orders import reconcile_ledger, record_decision, submit_pending
from core.paper.report import CycleReport, Summary
from core.paper.sizing import sizing_caps
from core.risk import ProposedOrder, RiskDecision, RiskLimits, pre_trade_check
from core.risk.state import PortfolioState
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
        Returns the risk limits in force (read every bar).
    clock
        UTC time of order timestamps and the order-rate limit.
    headroom
        Share of each exposure limit the sizer may use.
    """

    def __init__(
        self,
        ctx: SessionContext,
        config: dict[str, Any],
        *,
        limits: Callable[[], RiskLimits],
        clock: Clock,
        headroom: float,
    ) -> None:
        self.ctx = ctx
        self.limits = limits
        self.train_bars = int(config["train_bars"])
        self.selector = str(config.get("selector", "contextual"))
        self.seed = int(config.get("seed", 0))
        self.clock = clock
        self.headroom = headroom
        closes = pd.DataFrame({s: f["close"] for s, f in ctx.prices.items()})
        self._returns = closes.pct_change()
        self._pipelines: dict[str, Any] = {}
        self.last_regime: dict[str, str] = {}
        self.pending_rejections = 0
        """Orders the broker refused at start-up, reported with the first cycle."""

    def rebuild(self, upto: int) -> None:
        """Fresh, deterministic pipelines warmed up on bars ``0 .. upto - 1``."""
        from core.pipeline import build_pipeline

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

    def _bar(self, symbol: str, t: int) -> dict[str, Any]:
        row = self.ctx.prices[symbol].iloc[t]
        bar: dict[str, Any] = {
            k: float(row[k]) for k in ("open", "high", "low", "close", "volume") if k in row
        }
        bar["ts"] = self.ctx.index[t]
        bar["symbol"] = symbol
        return bar

    def feed(self, t: int, *, at_open: bool) -> int:
        """Give the broker bar t's opens (fills) or closes (marks); sync the ledger after
        the open. Returns the fills."""
        ctx = self.ctx
        prices = {}
        for symbol in ctx.symbols:
            row = ctx.prices[symbol].iloc[t]
            at = "open" if at_open and "open" in row else "close"
            prices[symbol] = float(row[at])
        fills = len(ctx.broker.on_bar(ctx.index[t].to_pydatetime(), prices))
        if at_open:
            with ctx.sessions.begin() as s:
                fills += len(ctx.broker.sync_orders(s, ctx.account_id))
        return fills

    def run(self, t: int, summary: Summary) -> CycleReport:
        """Process bar t (a bar half done before a crash is completed, not repeated)."""
        ctx = self.ctx
        # The open (fills of the previous bar's orders) and the close (marks) are fed before
        # any decision; if bar t already has a decision they were fed, and feeding them
        # again would fill bar t's own orders at bar t's prices.
        with ctx.sessions.begin() as s:
            started = DecisionRepository(s).decided(ctx.name, t)
        if not started:
            summary.fills += self.feed(t, at_open=True)
            self.feed(t, at_open=False)
        limits = self.limits()
        marks = day_marks(ctx, t)
        report = CycleReport(
            bar=t,
            ts=ctx.index[t],
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
            history=self._returns.iloc[max(1, t - HISTORY_BARS) : t + 1].dropna(),
            prices=ctx.closes(t),
            report=report,
        )
        for symbol in ctx.symbols:
            self._decide(bar, symbol, summary)
        report.rejected += submit_pending(ctx, summary)[1]
        report.reconciliation_differences = reconcile_ledger(ctx)
        close_bar(ctx, t, report, limits, bar.prices, summary)
        after = replace(marks, peak_equity=report.peak_equity)
        report.utilization = utilization(ctx, after, limits, history=bar.history, prices=bar.prices)
        return report

    def _decide(self, bar: _Bar, symbol: str, summary: Summary) -> None:
        """Decide ``symbol`` at the bar's close and record the decision and its order."""
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
            with ctx.sessions.begin() as s:
                ctx.renew(s)
                WorkerControlRepository(s).set(
                    "killed",
                    updated_by="risk-engine",
                    reason="; ".join(risk.rejection_reasons) or "kill switch",
                )
        record_decision(ctx, bar.t, symbol, decision, caps, summary)
        whole = math.floor(abs(decision.approved_qty))
        if whole >= 1:
            bar.order_times.append(now)
            signed = math.copysign(whole, decision.approved_qty)
            bar.pending[symbol] = bar.pending.get(symbol, 0.0) + signed


@dataclass
class _Bar:
    """One bar's inputs, and the orders decided so far at its close.

    This bar's orders fill at the next open: later symbols are sized and checked against
    the book as it will be once they fill (``pending``).
    """

    t: int
    marks: DayMarks
    limits: RiskLimits
    history: pd.DataFrame
    prices: dict[str, float]
    report: CycleReport
    order_times: list[datetime] = field(default_factory=list)
    pending: dict[str, float] = field(default_factory=dict)
