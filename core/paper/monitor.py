"""What the live monitor shows of a paper session, read in one transaction, and the
session's book as the risk report sees it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from sqlalchemy.orm import Session

from core.paper.lease import live_leases
from core.paper.monitor_live import (
    book_view,
    drift_view,
    feed_view,
    latency_view,
    live_test_view,
    model_health_view,
)
from core.risk.state import PortfolioState, build_portfolio_state
from core.store.paper import (
    CONTROL_DEFAULTS,
    DecisionRepository,
    HeartbeatRepository,
    PaperSession,
    PaperSessionRepository,
    WorkerControlRepository,
)
from core.store.trading import (
    OPEN_ORDER_STATUSES,
    FillRepository,
    OrderRepository,
    PositionRepository,
    ReconciliationRepository,
    TradingAccount,
)


@dataclass(frozen=True)
class MonitorView:
    """Everything the live monitor shows, read in one go."""

    session: dict[str, Any] | None
    control: dict[str, Any]
    heartbeat: dict[str, Any] | None
    alive: bool
    account: dict[str, Any] | None
    positions: pd.DataFrame
    open_orders: pd.DataFrame
    orders: pd.DataFrame
    fills: pd.DataFrame
    decisions: pd.DataFrame
    equity: pd.DataFrame
    reconciliation: list[dict[str, Any]]
    feed: dict[str, Any] = field(default_factory=dict)
    """The session's feed settings (feed, timeframe, dataset, model, challenger, ...)."""
    latency: dict[str, Any] = field(default_factory=dict)
    """The last live bar's latency stages and their medians (ms)."""
    book: pd.DataFrame = field(default_factory=pd.DataFrame)
    """Per symbol: position, market value, P&L, regime, the model's probability."""
    model_health: dict[str, Any] = field(default_factory=dict)
    """Live model metrics beside the registration figures."""
    drift: dict[str, Any] = field(default_factory=dict)
    """The newest PSI/KS per feature (and regime), worst first."""
    live_test: dict[str, Any] | None = None
    """The newest live A/B test of the session's champion against its shadow."""


def read_monitor(s: Session, session: str | None = None) -> MonitorView:
    """The state of a session (the newest one when not named), read in one snapshot
    (``s`` must not have run a statement yet: see :func:`_snapshot`)."""
    _snapshot(s)
    repo = PaperSessionRepository(s)
    row = repo.get(session) if session else repo.latest()
    control = WorkerControlRepository(s).peek()  # a read-only snapshot: nothing is created
    beat = HeartbeatRepository(s).latest()
    control_view: dict[str, Any] = (
        {**CONTROL_DEFAULTS, "updated_at": None}
        if control is None
        else {key: getattr(control, key) for key in (*CONTROL_DEFAULTS, "updated_at")}
    )
    beat_view = None
    if beat is not None:
        beat_view = {
            "ts": beat.ts,
            "cycle": beat.cycle,
            "status": beat.status,
            "latency_ms": beat.latency_ms,
            "last_error": beat.last_error,
        }
    if row is None:
        empty = pd.DataFrame()
        frames = (empty,) * 6
        return MonitorView(None, control_view, beat_view, False, None, *frames, [])
    orders = _orders(s, row)
    open_orders = orders[orders["status"].isin(OPEN_ORDER_STATUSES)] if len(orders) else orders
    alive = row.name in {lease.session for lease in live_leases(s)}
    positions = _positions(s, row)
    return MonitorView(
        _session_view(row),
        control_view,
        beat_view,
        alive,
        _account_view(s, row),
        positions,
        open_orders,
        orders,
        _fills(s, row),
        _decisions(s, row),
        _equity(repo, row),
        [
            {"ts": r.ts, "differences": r.n_differences, "detail": r.differences}
            for r in ReconciliationRepository(s).recent(5)
        ],
        feed=feed_view(row.config or {}),
        latency=latency_view(s, row.name),
        book=book_view(s, row, positions),
        model_health=model_health_view(s, row),
        drift=drift_view(s, row),
        live_test=live_test_view(s, row),
    )


def _snapshot(s: Session) -> None:
    """Make every read of ``s`` see one snapshot: PostgreSQL's REPEATABLE READ; on SQLite
    an explicit BEGIN (pysqlite runs SELECTs outside a transaction otherwise, so a bar
    committed between two reads would mix two states)."""
    if s.get_bind().dialect.name == "postgresql":
        s.connection(execution_options={"isolation_level": "REPEATABLE READ"})
        return
    conn = s.connection()
    raw = conn.connection.dbapi_connection
    if conn.dialect.name == "sqlite" and raw is not None and not raw.in_transaction:
        conn.exec_driver_sql("BEGIN")


def _account(row: PaperSession) -> int:
    """The session's ledger account (-1, which holds nothing, when it has none)."""
    return -1 if row.account_id is None else row.account_id


def _session_view(row: PaperSession) -> dict[str, Any]:
    return {
        "name": row.name,
        "broker": row.broker,
        "dataset": row.dataset,
        "symbols": row.symbols,
        "cursor": row.cursor,
        "cursor_ts": row.cursor_ts,
        "status": row.status,
        "peak_equity": row.peak_equity,
        "config": row.config,
    }


def _account_view(s: Session, row: PaperSession) -> dict[str, float] | None:
    account = s.get(TradingAccount, row.account_id) if row.account_id else None
    if account is None:
        return None
    return {"cash": account.cash, "equity": account.equity, "initial_cash": account.initial_cash}


def _positions(s: Session, row: PaperSession) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "symbol": p.symbol,
                "qty": p.qty,
                "avg_price": p.avg_price,
                "last_price": p.last_price,
                "market_value": p.qty * (p.last_price or p.avg_price),
                "unrealized_pnl": p.qty * ((p.last_price or p.avg_price) - p.avg_price),
                "realized_pnl": p.realized_pnl,
            }
            for p in PositionRepository(s).list(_account(row), include_flat=True)
        ]
    )


def _orders(s: Session, row: PaperSession) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "client_order_id": o.client_order_id,
                "symbol": o.symbol,
                "side": o.side,
                "qty": o.qty,
                "filled_qty": o.filled_qty,
                "avg_fill_price": o.avg_fill_price,
                "status": o.status,
                "reason": o.reason,
                "created_at": o.created_at,
            }
            for o in OrderRepository(s).list(_account(row), limit=200)
        ]
    )


def _fills(s: Session, row: PaperSession) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "ts": f.ts,
                "symbol": f.symbol,
                "side": f.side,
                "qty": f.qty,
                "price": f.price,
                "fee": f.fee,
            }
            for f in FillRepository(s).list(_account(row), limit=200)
        ]
    )


def _decisions(s: Session, row: PaperSession) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "ts": d.ts,
                "symbol": d.symbol,
                "regime": d.payload.get("regime"),
                "target": d.payload.get("target_position"),
                "order_qty": d.payload.get("order_qty"),
                "approved_qty": d.payload.get("approved_qty"),
                "risk": d.payload.get("risk_reason"),
                "weights": d.payload.get("weights"),
                "regime_probs": d.payload.get("regime_probs"),
                "explanation": d.explanation,
            }
            for d in DecisionRepository(s).recent(limit=100, session_name=row.name)
        ]
    )


def _equity(repo: PaperSessionRepository, row: PaperSession) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "ts": e.ts,
                "bar": e.bar,
                "equity": e.equity,
                "cash": e.cash,
                "realized_pnl": e.realized_pnl,
                "unrealized_pnl": e.unrealized_pnl,
            }
            for e in repo.equity(row.id)
        ]
    )


def risk_state(
    view: MonitorView, closes: Callable[[str, str], pd.DataFrame]
) -> PortfolioState | None:
    """The session's book at its last completed bar, as its worker saw it then (None
    without a session or account).

    ``closes(dataset, symbol)`` gives a symbol's price frame; the returns history is the
    last 250 daily returns up to that bar.
    """
    if view.session is None or view.account is None:
        return None
    dataset, symbols = view.session["dataset"], view.session["symbols"]
    history = pd.DataFrame({s: closes(dataset, s)["close"] for s in symbols}).pct_change().dropna()
    if view.session["cursor_ts"] is not None:
        history = history.loc[: pd.Timestamp(view.session["cursor_ts"]).tz_localize(None)].tail(250)
    book = view.positions
    snapshots = view.equity
    closed = dict(zip(snapshots["bar"], snapshots["equity"], strict=True)) if len(snapshots) else {}
    return build_portfolio_state(
        equity=view.account["equity"],
        cash=view.account["cash"],
        positions={r.symbol: r.qty for r in book.itertuples() if abs(r.qty) > 1e-9},
        prices={r.symbol: (r.last_price or r.avg_price) for r in book.itertuples()},
        bar=view.session["cursor"],
        equity_at_close=closed,
        peak_equity=view.session["peak_equity"],
        returns_history=history,
    )


__all__ = ["MonitorView", "read_monitor", "risk_state"]
