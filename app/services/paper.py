"""Paper-trading services: sessions, the worker, dashboard controls and the monitor view.

The worker is a separate process (``workbench paper run``) supervised through the
database: the dashboard and CLI write the desired state (running, paused, stopped,
killed) and read the heartbeat, never touching the worker directly.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from app.services.auth import LOCAL, Actor, require
from app.services.data import load_prices
from app.services.db import get_engine
from core.config import get_settings
from core.store.db import session_scope
from core.store.paper import PaperSession, PaperSessionRepository
from core.store.trading import (
    FillRepository,
    HeartbeatRepository,
    OrderRepository,
    PositionRepository,
    ReconciliationRepository,
    TradingAccount,
    WorkerControlRepository,
)

ROOT = Path(__file__).resolve().parents[2]
HEARTBEAT_STALE_S = 15.0


class PaperRequest(BaseModel):
    """A paper session's configuration (fixed once the session exists)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    session: str = Field(default="default", pattern=r"^[A-Za-z0-9_-]{1,32}$")
    broker: Literal["sim", "alpaca"] = "sim"
    dataset: str = "ohlcv_daily"
    symbols: list[str] = Field(default_factory=lambda: ["SP500"], min_length=1, max_length=20)
    train_bars: int = Field(default=1000, ge=250, le=10_000)
    selector: Literal["ucb", "thompson", "exp3", "contextual"] = "contextual"
    initial_cash: float = Field(default=100_000.0, gt=0)
    fees: float = Field(default=0.0005, ge=0, le=0.05)
    slippage: float = Field(default=0.0005, ge=0, le=0.05)
    seed: int = 0


def _sessions() -> Any:
    return session_scope(get_engine())


def _broker(request: PaperRequest) -> Any:
    from core.broker import AlpacaBroker, SimBroker

    if request.broker == "sim":
        return SimBroker(
            get_engine(),
            account=request.session,
            initial_cash=request.initial_cash,
            fees=request.fees,
            slippage=request.slippage,
        )
    settings = get_settings()
    return AlpacaBroker(
        paper=True,
        url_override=settings.alpaca_trading_url,
        data_url_override=settings.alpaca_data_url,
    )


def ensure_session(request: PaperRequest) -> PaperSession:
    """Create the session, or check that an existing one has the same configuration."""
    from core.store.trading import AccountRepository

    broker = _broker(request)
    with _sessions() as s:
        repo = PaperSessionRepository(s)
        row = repo.get(request.session)
        config = request.model_dump(mode="json")
        if row is not None:
            differs = {k for k, v in config.items() if row.config.get(k) != v}
            if differs:
                raise ValueError(
                    f"session {request.session!r} exists with a different {sorted(differs)}; "
                    "use another --session name or the same settings"
                )
            return row
        account_id = (
            broker.account_id
            if request.broker == "sim"
            else AccountRepository(s).get_or_create("alpaca", request.session).id
        )
        return repo.add(
            PaperSession(
                name=request.session,
                broker=request.broker,
                dataset=request.dataset,
                symbols=list(request.symbols),
                config=config,
                account_id=account_id,
                cursor=-1,
                peak_equity=request.initial_cash,
                status="new",
            )
        )


def _alert_hook(symbols: list[str]) -> Any:
    from app.services import alerts
    from core.alerts import Snapshot

    def on_cycle(report: Any) -> None:
        first = symbols[0]
        snapshot = Snapshot(
            ts=datetime.now(UTC),
            drawdown=max(0.0, 1 - report.equity / report.peak_equity),
            daily_loss=max(0.0, 1 - report.equity / report.start_of_day_equity),
            utilization=report.utilization,
            rejected_orders=report.rejected,
            broker_connected=report.broker_connected,
            reconciliation_differences=report.reconciliation_differences,
            regime=report.regime.get(first),
            previous_regime=report.previous_regime.get(first),
            heartbeat_ts=datetime.now(UTC),
            latency_ms=report.latency_ms,
        )
        alerts.evaluate(snapshot)

    return on_cycle


def run_worker(
    request: PaperRequest,
    *,
    steps: int | None,
    speed: float = 0.0,
    actor: Actor = LOCAL,
    start_running: bool = True,
    until: str | None = None,
) -> dict[str, Any]:
    """Run the worker in this process until steps, ``until``, the data's end, or a stop/kill."""
    from app.services import risk as risk_service
    from core.paper.worker import PaperWorker

    require(actor, "trader", "running the paper trader")
    ensure_session(request)
    prices = {s: load_prices(request.dataset, s) for s in request.symbols}
    with _sessions() as s:
        control = WorkerControlRepository(s)
        # A pending kill is carried out (cancel, flatten) before anything else runs.
        if start_running and control.get().desired_state == "stopped":
            control.set("running", updated_by=actor.name, reason="worker started")
        row = PaperSessionRepository(s).get(request.session)
        assert row is not None
        row.pid = os.getpid()
    worker = PaperWorker(
        engine=get_engine(),
        session_name=request.session,
        prices=prices,
        broker=_broker(request),
        limits=lambda: risk_service.current_limits()[1],
        on_cycle=_alert_hook(request.symbols),
    )
    stop = pd.Timestamp(until) if until else None
    return worker.run(steps=steps, speed=speed, until=stop).as_dict()


def set_state(
    state: str, *, actor: Actor = LOCAL, reason: str = "", flatten: bool | None = None
) -> None:
    """Ask the worker to run, pause, stop or kill (role: trader)."""
    require(actor, "trader", f"setting the paper trader to {state}")
    with _sessions() as s:
        WorkerControlRepository(s).set(
            state, updated_by=actor.name, reason=reason, flatten_on_kill=flatten
        )


def start_worker_process(
    request: PaperRequest, *, speed: float, steps: int | None = None, actor: Actor = LOCAL
) -> int:
    """Start ``workbench paper run`` as a separate process; returns its pid."""
    require(actor, "trader", "starting the paper trader")
    if worker_alive():
        raise ValueError("a worker is already running (fresh heartbeat); pause or kill it first")
    ensure_session(request)
    set_state("running", actor=actor, reason="started from the dashboard")
    args = [
        sys.executable,
        "-m",
        "app.cli",
        "paper",
        "run",
        "--session",
        request.session,
        "--broker",
        request.broker,
        "--dataset",
        request.dataset,
        "--replay",
        "--speed",
        str(speed),
        "--train-bars",
        str(request.train_bars),
        "--selector",
        request.selector,
        "--json",
    ]
    for symbol in request.symbols:
        args += ["--symbol", symbol]
    if steps is not None:
        args += ["--steps", str(steps)]
    log = get_settings().var_dir / "paper_worker.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as handle:
        proc = subprocess.Popen(
            args, cwd=ROOT, stdout=handle, stderr=handle, start_new_session=True, env={**os.environ}
        )
    return proc.pid


def worker_alive(stale_s: float = HEARTBEAT_STALE_S) -> bool:
    """Whether the newest heartbeat is fresh."""
    with _sessions() as s:
        beat = HeartbeatRepository(s).latest()
        if beat is None:
            return False
        ts = beat.ts if beat.ts.tzinfo else beat.ts.replace(tzinfo=UTC)
        return datetime.now(UTC) - ts < timedelta(seconds=stale_s)


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


def monitor(session: str | None = None) -> MonitorView:
    """Read the state of a session (the newest one when not named)."""
    from core.store.trading import DecisionRepository

    with _sessions() as s:
        repo = PaperSessionRepository(s)
        row = repo.get(session) if session else repo.latest()
        control = WorkerControlRepository(s).get()
        beat = HeartbeatRepository(s).latest()
        control_view = {
            "desired_state": control.desired_state,
            "reason": control.reason,
            "updated_by": control.updated_by,
            "flatten_on_kill": control.flatten_on_kill,
            "updated_at": control.updated_at,
        }
        beat_view = (
            None
            if beat is None
            else {
                "ts": beat.ts,
                "cycle": beat.cycle,
                "status": beat.status,
                "latency_ms": beat.latency_ms,
                "last_error": beat.last_error,
            }
        )
        if row is None:
            empty = pd.DataFrame()
            return MonitorView(
                None,
                control_view,
                beat_view,
                False,
                None,
                empty,
                empty,
                empty,
                empty,
                empty,
                empty,
                [],
            )
        account = s.get(TradingAccount, row.account_id) if row.account_id else None
        positions = pd.DataFrame(
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
                for p in PositionRepository(s).list(row.account_id, include_flat=True)
            ]
        )
        order_rows = OrderRepository(s).list(row.account_id, limit=200)
        orders = pd.DataFrame(
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
                for o in order_rows
            ]
        )
        open_states = {"pending_new", "new", "accepted", "partially_filled"}
        open_orders = orders[orders["status"].isin(open_states)] if len(orders) else orders
        fills = pd.DataFrame(
            [
                {
                    "ts": f.ts,
                    "symbol": f.symbol,
                    "side": f.side,
                    "qty": f.qty,
                    "price": f.price,
                    "fee": f.fee,
                }
                for f in FillRepository(s).list(row.account_id, limit=200)
            ]
        )
        decisions = pd.DataFrame(
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
                for d in DecisionRepository(s).recent(limit=100)
                if d.payload.get("session") == row.name
            ]
        )
        equity = pd.DataFrame(
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
        recon = [
            {"ts": r.ts, "differences": r.n_differences, "detail": r.differences}
            for r in ReconciliationRepository(s).recent(5)
        ]
        session_view = {
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
        account_view = (
            None
            if account is None
            else {
                "cash": account.cash,
                "equity": account.equity,
                "initial_cash": account.initial_cash,
            }
        )
    return MonitorView(
        session_view,
        control_view,
        beat_view,
        worker_alive(),
        account_view,
        positions,
        open_orders,
        orders,
        fills,
        decisions,
        equity,
        recon,
    )


def risk_view(view: MonitorView) -> dict[str, float]:
    """Utilization of each risk limit for the session's current book (0..1+)."""
    report = risk_report(view)
    return {} if report is None else dict(report.utilization)


def risk_report(view: MonitorView) -> Any:
    """The full :class:`core.risk.RiskReport` of a session's current book (or None)."""
    from app.services import risk as risk_service
    from core.risk import PortfolioState, portfolio_risk

    if view.session is None or view.account is None:
        return None
    positions = {r.symbol: r.qty for r in view.positions.itertuples() if abs(r.qty) > 1e-9}
    prices = {r.symbol: (r.last_price or r.avg_price) for r in view.positions.itertuples()}
    history = (
        pd.DataFrame(
            {s: load_prices(view.session["dataset"], s)["close"] for s in view.session["symbols"]}
        )
        .pct_change()
        .dropna()
    )
    if view.session["cursor_ts"] is not None:
        history = history.loc[: pd.Timestamp(view.session["cursor_ts"]).tz_localize(None)].tail(250)
    equity = view.account["equity"]
    start = view.equity["equity"].iloc[-2] if len(view.equity) > 1 else equity
    state = PortfolioState(
        equity=equity,
        cash=view.account["cash"],
        positions=positions,
        prices=prices,
        start_of_day_equity=start,
        peak_equity=max(view.session["peak_equity"], equity),
        returns_history=history,
    )
    return portfolio_risk(state, risk_service.current_limits()[1])
