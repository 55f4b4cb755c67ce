"""Paper-trading services: sessions, the worker, dashboard controls and the monitor view.

The worker is a separate process (``workbench paper run``) supervised through the
database: the dashboard and CLI write the desired state (running, paused, stopped,
killed) and read the heartbeat, never touching the worker directly.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import pandas as pd
from pydantic import ConfigDict, Field
from sqlalchemy import select

from app.operations.costs import Costs
from app.services.auth import LOCAL, Actor, require
from app.services.data import load_prices
from app.services.db import get_engine
from core.config import get_settings
from core.paper.lease import DEFAULT_TTL_S
from core.store.db import session_scope
from core.store.paper import (
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

ROOT = Path(__file__).resolve().parents[2]
MAX_STEPS = 1_000_000
MAX_SPEED = 10_000.0


class PaperRequest(Costs):
    """A paper session's configuration (fixed once the session exists)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    session: str = Field(default="default", pattern=r"^[A-Za-z0-9_-]{1,32}$")
    broker: Literal["sim", "alpaca"] = "sim"
    dataset: str = "ohlcv_daily"
    symbols: list[str] = Field(default_factory=lambda: ["SP500"], min_length=1, max_length=20)
    train_bars: int = Field(default=1000, ge=250, le=10_000)
    selector: Literal["ucb", "thompson", "exp3", "contextual"] = "contextual"
    initial_cash: float = Field(default=100_000.0, gt=0)
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


def _check_broker(request: PaperRequest, broker: Any) -> None:
    """Refuse wrong Alpaca keys before any work (BrokerConfigError names the fix)."""
    from core.broker import BrokerUnavailableError

    if request.broker == "alpaca":
        try:
            broker.account()
        except BrokerUnavailableError:
            pass  # down, not refused: the worker waits for it, beating meanwhile


def run_worker(
    request: PaperRequest,
    *,
    steps: int | None,
    speed: float = 0.0,
    actor: Actor = LOCAL,
    start_running: bool = True,
    until: str | None = None,
    sleep: Callable[[float], None] | None = None,
    clock: Callable[[], datetime] | None = None,
    lease_ttl_s: float = DEFAULT_TTL_S,
) -> dict[str, Any]:
    """Run the worker in this process until steps, ``until``, the data's end, or a stop/kill.

    The session's lease is taken before anything is written: a second worker on the
    same session gets :class:`~core.paper.lease.LeaseHeldError` and changes nothing.

    Raises
    ------
    ValueError
        ``steps`` or ``speed`` out of range, or ``until`` not a date.
    LeaseHeldError
        Another live worker runs this session.
    BrokerConfigError
        Alpaca refused the keys.
    """
    from app.services import risk as risk_service
    from core.paper.lease import SessionLease
    from core.paper.worker import PaperWorker

    require(actor, "trader", "running the paper trader")
    check_run_options(steps=steps, speed=speed)
    stop = _parse_until(until)
    prices = {s: load_prices(request.dataset, s) for s in request.symbols}
    if request.broker == "alpaca":
        _check_broker(request, _broker(request))
    engine = get_engine()
    lease = SessionLease(engine, request.session, ttl_s=lease_ttl_s, clock=clock or _utc_now)
    lease.acquire()
    try:
        ensure_session(request)
        with _sessions() as s:
            control = WorkerControlRepository(s)
            # A pending kill is carried out (cancel, flatten) before anything else runs.
            if start_running and control.get().desired_state == "stopped":
                control.set("running", updated_by=actor.name, reason="worker started")
            row = PaperSessionRepository(s).get(request.session)
            assert row is not None
            row.pid = os.getpid()
        worker = PaperWorker(
            engine=engine,
            session_name=request.session,
            prices=prices,
            broker=_broker(request),
            limits=lambda: risk_service.current_limits()[1],
            on_cycle=_alert_hook(request.symbols),
            lease=lease,
            **({"sleep": sleep} if sleep is not None else {}),
            **({"clock": clock} if clock is not None else {}),
        )
        return worker.run(steps=steps, speed=speed, until=stop).as_dict()
    finally:
        lease.release()


def _utc_now() -> datetime:
    return datetime.now(UTC)


def check_run_options(*, steps: int | None, speed: float) -> None:
    """Refuse out-of-range run options, naming the flag and its range (before any work)."""
    if steps is not None and not 1 <= steps <= MAX_STEPS:
        raise ValueError(
            f"--steps must be a whole number of bars from 1 to {MAX_STEPS:,} (or omitted to "
            f"run to the end of the data); got {steps}"
        )
    if not (math.isfinite(speed) and 0 <= speed <= MAX_SPEED):
        raise ValueError(
            f"--speed must be from 0 (as fast as possible) to {MAX_SPEED:g} bars per second; "
            f"got {speed}"
        )


def _parse_until(until: str | None) -> pd.Timestamp | None:
    if not until:
        return None
    try:
        return pd.Timestamp(until)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"--until must be a date such as 2005-06-30; got {until!r}") from exc


@dataclass(frozen=True)
class ControlOutcome:
    """What a pause, resume or kill did.

    Attributes
    ----------
    changed
        Whether the desired state was changed (False: nothing was done, see ``message``).
    desired_state
        The desired state after the call.
    message
        One sentence for the user.
    flattened
        Sessions flattened at once by the kill (no worker was running them).
    """

    changed: bool
    desired_state: str
    message: str
    flattened: list[str]

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return dict(self.__dict__)


def running_workers() -> list[str]:
    """Sessions whose worker holds a live lease."""
    from core.paper.lease import live_leases

    with _sessions() as s:
        return [lease.session for lease in live_leases(s)]


def set_state(
    state: str, *, actor: Actor = LOCAL, reason: str = "", flatten: bool | None = None
) -> ControlOutcome:
    """Pause, resume or kill the paper trader (role: trader).

    Pause and resume act only on a running worker (and resume only a paused one);
    otherwise nothing changes and the outcome says why. A kill is recorded for the
    running workers and carried out at once (cancel, flatten) on every session no
    worker is running.
    """
    require(actor, "trader", f"setting the paper trader to {state}")
    if state not in ("paused", "running", "killed", "stopped"):
        raise ValueError(f"state must be paused, running, killed or stopped; got {state!r}")
    workers = running_workers()
    with _sessions() as s:
        current = WorkerControlRepository(s).get().desired_state
    if state in ("paused", "running"):
        verb = "pause" if state == "paused" else "resume"
        if not workers:
            return ControlOutcome(
                False,
                current,
                f"no paper worker is running: nothing to {verb} (start one with "
                "`workbench paper run` or the Start button)",
                [],
            )
        needed = "running" if state == "paused" else "paused"
        if current != needed:
            return ControlOutcome(
                False, current, f"the worker is {current}, not {needed}: nothing to {verb}", []
            )
    _set_control(state, actor=actor, reason=reason, flatten=flatten)
    if state != "killed":
        return ControlOutcome(True, state, f"paper trader: {state} requested", [])
    return _kill_idle_sessions(actor, reason, workers)


def _set_control(
    state: str, *, actor: Actor, reason: str = "", flatten: bool | None = None
) -> None:
    with _sessions() as s:
        WorkerControlRepository(s).set(
            state, updated_by=actor.name, reason=reason, flatten_on_kill=flatten
        )


def _kill_idle_sessions(actor: Actor, reason: str, workers: list[str]) -> ControlOutcome:
    """Cancel and (if asked) flatten now every session no worker is running."""
    from core.paper.lease import LeaseHeldError, SessionLease
    from core.paper.worker import carry_out_kill, kill_summary

    with _sessions() as s:
        flatten = WorkerControlRepository(s).get().flatten_on_kill
        rows = [
            (r.name, r.account_id)
            for r in s.scalars(select(PaperSession).order_by(PaperSession.id))
        ]
    done, problems = [], []
    left = False
    for name, account_id in rows:
        if name in workers or account_id is None:
            continue
        lease = SessionLease(get_engine(), name, role="kill-switch")
        try:
            lease.acquire()
        except LeaseHeldError:
            workers.append(name)  # a worker started meanwhile: it carries the kill out
            continue
        try:
            request, prices, ts = _session_marks(name)
            outcome = carry_out_kill(
                get_engine(),
                session_name=name,
                account_id=account_id,
                broker=_broker(request),
                prices=prices,
                ts=ts,
                flatten=flatten,
                reason=reason or "kill switch",
                renew=lease.renew,
                stop=False,
            )
            if outcome.flatten_orders or outcome.cancelled:
                done.append(name)
            left = left or bool(outcome.positions_left)
        except Exception as exc:  # reported; the kill stays pending
            problems.append(f"{name}: {exc}")
        finally:
            lease.release()
    if not workers and not problems:
        with _sessions() as s:
            WorkerControlRepository(s).set(
                "stopped",
                updated_by=actor.name,
                reason=kill_summary(reason or "kill switch", flatten, left),
            )
    parts = [f"kill switch engaged ({'flatten' if flatten else 'keep positions'})"]
    if done:
        parts.append(f"carried out now on {', '.join(done)}")
    if workers:
        parts.append(f"the running worker(s) of {', '.join(sorted(set(workers)))} do it now")
    if problems:
        parts.append("not yet done (retried when a worker starts): " + "; ".join(problems))
    state = "killed" if workers or problems else "stopped"
    return ControlOutcome(True, state, "; ".join(parts), done)


def _session_marks(name: str) -> tuple[PaperRequest, dict[str, float], pd.Timestamp]:
    """A stored session's request, and its symbols' closes at its last completed bar."""
    with _sessions() as s:
        row = PaperSessionRepository(s).get(name)
        assert row is not None
        config, cursor = dict(row.config), row.cursor
    request = PaperRequest(**config)
    frames = {sym: load_prices(request.dataset, sym) for sym in request.symbols}
    common = None
    for frame in frames.values():
        common = frame.index if common is None else common.intersection(frame.index)
    assert common is not None
    bar = max(cursor, 0)
    ts = common[bar]
    return request, {sym: float(f.loc[ts, "close"]) for sym, f in frames.items()}, ts


def start_worker_process(
    request: PaperRequest, *, speed: float, steps: int | None = None, actor: Actor = LOCAL
) -> int:
    """Start ``workbench paper run`` as a separate process; returns its pid."""
    require(actor, "trader", "starting the paper trader")
    check_run_options(steps=steps, speed=speed)
    if request.session in running_workers():
        raise ValueError(
            f"a worker is already running session {request.session!r}; pause or kill it first"
        )
    ensure_session(request)
    with _sessions() as s:
        if WorkerControlRepository(s).get().desired_state != "killed":
            WorkerControlRepository(s).set(
                "running", updated_by=actor.name, reason="started from the dashboard"
            )
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


def worker_alive(session: str | None = None) -> bool:
    """Whether a worker holds a live lease (on ``session``, or on any session)."""
    workers = running_workers()
    return bool(workers) if session is None else session in workers


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
    from core.store.paper import DecisionRepository

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
        open_orders = orders[orders["status"].isin(OPEN_ORDER_STATUSES)] if len(orders) else orders
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
                for d in DecisionRepository(s).recent(limit=100, session_name=row.name)
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
        worker_alive(session_view["name"]),
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
