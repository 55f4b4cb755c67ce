"""One bar of a paper session: fills, decisions, risk, orders, close.

Per bar t: the open (fills of the previous bar's orders) and the close (marks) go to the
broker; each symbol's pipeline decides at the close, bounded by the sizer and passed
through the pre-trade check (:class:`PreTradeGate`); decisions and orders are recorded,
the orders sent, the ledger reconciled, and the bar closed (:func:`core.paper.book.close_bar`).
All of it runs in one database session (see :class:`BarCycle`).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator, Mapping
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
        self.config = config
        self.engine = engine
        self.limits = limits
        self.train_bars = int(config["train_bars"])
        self.selector = str(config.get("selector", "contextual"))
        self.seed = int(config.get("seed", 0))
        self.clock = clock
        self.headroom = headroom
        closes = pd.DataFrame({s: f["close"] for s, f in ctx.prices.items()})
        returns = closes.pct_change()
        self._return_columns = list(returns.columns)
        self._rows = _Rows()
        """The calendar's arrays (returns, complete rows, each symbol's bars, opens and
        closes); a live session's grow by :meth:`extend`."""
        self._rows.put("returns", returns.to_numpy(dtype=np.float64))
        self._rows.put("complete", ~np.isnan(self._rows["returns"]).any(axis=1))
        self._pipelines: dict[str, Any] = {}
        self.last_regime: dict[str, str] = {}
        self.pending_rejections = 0
        """Orders the broker refused at start-up, reported with the first cycle."""
        self.decisions: dict[str, Any] = {}
        """The last bar's decision per symbol (for the observers)."""
        self.decided_at = self.sent_at = 0.0
        """``perf_counter`` when the last bar's decisions were made and its orders sent."""
        broker = ctx.broker
        self.joined = (
            engine is not None
            and isinstance(broker, LedgerBroker)
            and broker.shares_ledger(engine, ctx.account_id)
        )
        """Whether the broker joins the bar's transaction (one commit per bar)."""
        self._cols: dict[str, list[str]] = {}
        for symbol in ctx.symbols:
            frame = ctx.prices[symbol]
            cols = [k for k in ("open", "high", "low", "close", "volume") if k in frame.columns]
            self._cols[symbol] = cols
            self._rows.put(("bars", symbol), frame[cols].to_numpy(dtype=np.float64))
            self._rows.put(("close", symbol), frame["close"].to_numpy(dtype=np.float64))
            at = "open" if "open" in frame.columns else "close"
            self._rows.put(("open", symbol), frame[at].to_numpy(dtype=np.float64))
        self._views()
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

    def _views(self) -> None:
        """Point the hot path's arrays at the calendar's rows."""
        rows = self._rows
        self._returns = rows["returns"]
        self._complete = rows["complete"]
        self._columns = {s: (c, rows[("bars", s)]) for s, c in self._cols.items()}
        self._closes = {s: rows[("close", s)] for s in self._cols}
        self._opens = {s: rows[("open", s)] for s in self._cols}

    def extend(self, ts: pd.Timestamp, bars: Mapping[str, Mapping[str, float]]) -> int:
        """Append bar set ``ts`` (every symbol's closed bar) to the calendar and the
        arrays (amortised O(1): nothing is rebuilt); returns its position."""
        t = self.ctx.extend(ts)
        rows = self._rows
        previous = {s: float(self._closes[s][t - 1]) for s in self._cols} if t else {}
        ret = np.array(
            [
                float(bars[s]["close"]) / previous[s] - 1 if t else math.nan
                for s in self._return_columns
            ],
            dtype=np.float64,
        )
        row: dict[Any, Any] = {"returns": ret, "complete": not np.isnan(ret).any()}
        for symbol, cols in self._cols.items():
            bar = bars[symbol]
            row[("bars", symbol)] = [float(bar.get(k, 0.0)) for k in cols]
            row[("close", symbol)] = float(bar["close"])
            row[("open", symbol)] = float(bar["open" if "open" in cols else "close"])
        rows.append(row)
        self._views()
        return t

    def frame(self, symbol: str, upto: int) -> pd.DataFrame:
        """``symbol``'s bars ``0 .. upto - 1`` (a canonical frame)."""
        start = self.ctx.prices[symbol]
        if upto <= len(start):
            return start.iloc[:upto]
        cols, values = self._columns[symbol]
        return pd.DataFrame(values[:upto], index=self.ctx.index[:upto], columns=cols)

    def frames(self, upto: int) -> Mapping[str, pd.DataFrame]:
        """Every symbol's bars ``0 .. upto - 1``, each built when first read."""
        return _Frames(self, upto)

    def rebuild(self, upto: int) -> None:
        """Fresh, deterministic pipelines warmed up on bars ``0 .. upto - 1``, built by
        :func:`core.paper.model_loop.pipeline_for` on those bars only."""
        from core.paper.model_loop import pipeline_for

        self.forget()
        for symbol in self.ctx.symbols:
            frame = self.frame(symbol, upto)
            pipe = pipeline_for(frame, self.config, symbol=symbol, engine=self.engine)
            pipe.warm_up(frame)
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
        self.decisions = {entry.symbol: entry.decision for entry in entries}
        self.decided_at = time.perf_counter()
        orders = record_bar(ctx, s, t, entries, summary, check=not known_fresh, writes=writes)
        self.checkpoint(s)  # another broker: the orders are durable before they are sent
        if self._unsent:
            orders = unsent_orders(ctx, s, orders)
        rejected, self._unsent = send_orders(ctx, s, orders, summary, lambda: self.checkpoint(s))
        self.sent_at = time.perf_counter()
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
        if decision.probability is not None:
            bar.report.probabilities[symbol] = decision.probability
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


class _Rows:
    """Named arrays of one length that grow a row at a time (capacity doubled when
    full); ``rows[key]`` is the view of the rows so far."""

    def __init__(self) -> None:
        self._buf: dict[Any, np.ndarray] = {}
        self.n = 0

    def put(self, key: Any, values: np.ndarray) -> None:
        """Start array ``key`` with ``values`` (every array has the same length)."""
        self._buf[key] = values
        self.n = len(values)

    def __getitem__(self, key: Any) -> np.ndarray:
        return self._buf[key][: self.n]

    def append(self, row: Mapping[Any, Any]) -> None:
        """Add one row to every array (``row``: key -> value)."""
        n = self.n
        for key, value in row.items():
            buf = self._buf[key]
            if n == len(buf):
                grown = np.empty((max(2 * n, 16), *buf.shape[1:]), dtype=buf.dtype)
                grown[:n] = buf
                self._buf[key] = buf = grown
            buf[n] = value
        self.n = n + 1


class _Frames(Mapping[str, pd.DataFrame]):
    """The symbols' frames up to a bar, each built on first access (observers)."""

    def __init__(self, cycle: BarCycle, upto: int) -> None:
        self._cycle, self._upto = cycle, upto
        self._built: dict[str, pd.DataFrame] = {}

    def __getitem__(self, symbol: str) -> pd.DataFrame:
        if symbol not in self._built:
            if symbol not in self._cycle.ctx.symbols:
                raise KeyError(symbol)
            self._built[symbol] = self._cycle.frame(symbol, self._upto)
        return self._built[symbol]

    def __iter__(self) -> Iterator[str]:
        return iter(self._cycle.ctx.symbols)

    def __len__(self) -> int:
        return len(self._cycle.ctx.symbols)


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
