"""A paper session's settings, broker and prices: what its worker needs, read from its row.

A session is created once with its settings (``config``: broker, dataset, symbols,
starting cash, fees, slippage, training bars, selector, seed); later runs name the
session and get the same settings back, so a worker started with only the session's
name trades exactly as the request that created it asked.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

import pandas as pd
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from core import broker as brokers
from core.broker import Broker, BrokerUnavailableError
from core.config import get_settings
from core.store.paper import PaperSession, PaperSessionRepository, WorkerControlRepository
from core.store.trading import AccountRepository

MAX_STEPS = 1_000_000
MAX_SPEED = 10_000.0
REMOTE_BROKERS = ("alpaca",)
"""Brokers with a market and keys of their own (the ledger mirrors them)."""

LEGACY_DEFAULTS: dict[str, Any] = {
    "feed": "replay",
    "timeframe": "1Day",
    "model": None,
    "challenger": None,
    "promotion": "approval",
    "data_feed": "iex",
}
"""The live settings of a session created before they existed (issue 13): a replay."""

Frames = Callable[[str, str], pd.DataFrame]
"""``frames(dataset, symbol)``: the canonical price frame of one symbol."""


@dataclass(frozen=True)
class SessionIO:
    """How a front end reaches a session's outside world.

    Attributes
    ----------
    broker_for
        The broker of a session's settings (e.g. :func:`make_broker` on its engine).
    frames
        A symbol's price frame, ``frames(dataset, symbol)``.
    """

    broker_for: Callable[[Mapping[str, Any]], Broker]
    frames: Frames


def check_feed_options(
    config: Mapping[str, Any], *, speed: float, until: pd.Timestamp | None
) -> None:
    """Refuse run options the session's feed cannot take, naming the flag."""
    feed = config.get("feed", "replay")
    if feed == "simulated" and not speed > 0:
        raise ValueError(
            "--feed simulated plays the dataset on the wall clock: give --speed in bars per "
            "second above 0 (e.g. --speed 1)"
        )
    if feed == "alpaca" and speed > 0:
        raise ValueError(
            "--speed applies to --feed replay and simulated; --feed alpaca trades live bars "
            "as they close (leave --speed out)"
        )
    if feed != "replay" and until is not None:
        raise ValueError(f"--until applies to --feed replay only (this session's feed is {feed})")


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


def parse_until(until: str | None) -> pd.Timestamp | None:
    """The last bar to replay (``--until``), or None."""
    if not until:
        return None
    try:
        return pd.Timestamp(until)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"--until must be a date such as 2005-06-30; got {until!r}") from exc


def stored_config(s: Session, name: str) -> dict[str, Any] | None:
    """The settings session ``name`` was created with (None: no such session)."""
    row = PaperSessionRepository(s).get(name)
    return None if row is None else dict(row.config)


def make_broker(engine: Engine, config: Mapping[str, Any]) -> Broker:
    """The session's broker: the simulator on ``engine`` (account = the session's name,
    with its cash, fees and slippage) or Alpaca paper (URLs from the settings)."""
    if config["broker"] == "sim":
        return brokers.make_broker(
            "sim",
            engine=engine,
            account=config["session"],
            initial_cash=float(config["initial_cash"]),
            fees=float(config["fees"]),
            slippage=float(config["slippage"]),
        )
    settings = get_settings()
    return brokers.make_broker(
        "alpaca",
        paper=True,
        url_override=settings.alpaca_trading_url,
        data_url_override=settings.alpaca_data_url,
    )


def missing_session(name: str) -> str:
    """The message for a run that names a session nobody created."""
    return (
        f"no paper session named {name!r}: create it with `workbench paper run --session "
        f"{name}` and its settings, or start it from the dashboard"
    )


def prepare_run(
    sessions: Callable[[], AbstractContextManager[Session]],
    request: Mapping[str, Any] | str,
    io: SessionIO,
) -> tuple[dict[str, Any], dict[str, pd.DataFrame]]:
    """The settings and prices of a run, refused before any work where the worker would
    refuse them (bad symbols or training bars, wrong keys).

    ``request`` is a new session's settings, or a stored session's name (LookupError
    when there is none).
    """
    if isinstance(request, str):
        with sessions() as s:
            stored = stored_config(s, request)
        if stored is None:
            raise LookupError(missing_session(request))
        request = stored
    config = {**LEGACY_DEFAULTS, **dict(request)}
    prices: dict[str, pd.DataFrame] = {}
    if config["feed"] != "alpaca":  # live bars have no dataset: the feed gives them
        prices = session_prices(config, io.frames)
    if config["broker"] in REMOTE_BROKERS:  # the simulator has no keys to refuse
        check_broker(io.broker_for(config))
    return config, prices


def begin_run(s: Session, config: Mapping[str, Any], *, by: str, start: bool) -> None:
    """Create (or check) the session and mark it as run by this process; with ``start``
    a stopped worker is set running (a pending kill is carried out first)."""
    row = open_session(s, config)
    control = WorkerControlRepository(s)
    if start and control.get().desired_state == "stopped":
        control.set("running", updated_by=by, reason="worker started")
    row.pid = os.getpid()


def request_running(s: Session, *, by: str, reason: str) -> None:
    """Ask for a running worker (a pending kill stays pending)."""
    control = WorkerControlRepository(s)
    if control.get().desired_state != "killed":
        control.set("running", updated_by=by, reason=reason)


def check_broker(broker: Broker) -> None:
    """Refuse wrong keys before any work (BrokerConfigError names the fix); a broker
    that is down is not refused: the worker waits for it, beating meanwhile."""
    try:
        broker.account()
    except BrokerUnavailableError:
        pass


def open_session(s: Session, config: Mapping[str, Any]) -> PaperSession:
    """Create session ``config["session"]``, or check that the stored one has the same
    settings (ValueError names those that differ).

    The simulator's ledger account starts with the session's cash; the mirror of a
    remote broker starts empty and takes the broker's balances at its first close.
    """
    name = str(config["session"])
    repo = PaperSessionRepository(s)
    row = repo.get(name)
    if row is not None:
        stored = {**LEGACY_DEFAULTS, **row.config}
        differs = {k for k, v in config.items() if stored.get(k) != v}
        if differs:
            raise ValueError(
                f"session {name!r} exists with a different {sorted(differs)}; "
                "use another --session name or the same settings"
            )
        return row
    kind = str(config["broker"])
    cash = 0.0 if kind in REMOTE_BROKERS else float(config["initial_cash"])
    account = AccountRepository(s).get_or_create(kind, name, initial_cash=cash)
    return repo.add(
        PaperSession(
            name=name,
            broker=config["broker"],
            dataset=config["dataset"],
            symbols=list(config["symbols"]),
            config=dict(config),
            account_id=account.id,
            cursor=-1,
            peak_equity=float(config["initial_cash"]),
            status="new",
        )
    )


def session_prices(config: Mapping[str, Any], frames: Frames) -> dict[str, pd.DataFrame]:
    """Each of the session's symbols' frames, checked to leave bars to trade after the
    training bars (ValueError otherwise, before any work)."""
    from core.feeds.factory import dataset_frames

    prices = dataset_frames(config, frames)  # checks the dataset has the timeframe
    check_training(int(config["train_bars"]), len(common_calendar(prices)))
    return prices


def check_training(train_bars: int, bars: int) -> None:
    """ValueError unless ``train_bars`` leave bars to trade in a calendar of ``bars``."""
    if train_bars >= bars - 1:
        raise ValueError(f"train_bars {train_bars} leaves no bars to trade in {bars}")


def common_calendar(prices: Mapping[str, pd.DataFrame]) -> pd.DatetimeIndex:
    """The bars every symbol has (ValueError when they share none)."""
    common = None
    for frame in prices.values():
        common = frame.index if common is None else common.intersection(frame.index)
    if common is None or len(common) == 0:
        raise ValueError("the symbols share no bars; pick symbols with overlapping history")
    return pd.DatetimeIndex(common)


def stored_frames(s: Session, row: PaperSession) -> dict[str, pd.DataFrame] | None:
    """A live (alpaca or simulated) session's bars as it stored them, every symbol's
    (warm-up and live); None for a replay, or before every symbol has a stored bar (its
    prices are then its dataset's)."""
    from core.store.live import LiveBarRepository

    if dict(row.config or {}).get("feed", "replay") == "replay":
        return None
    stored = LiveBarRepository(s).frames(row.id, row.symbols)
    return stored if stored and all(len(f) for f in stored.values()) else None


def session_marks(
    factory: sessionmaker[Session], name: str, frames: Frames
) -> tuple[dict[str, Any], dict[str, float], pd.Timestamp]:
    """A stored session's settings, and its symbols' closes at its last completed bar
    (a live session's from the bars it stored, a replay's from its dataset)."""
    with factory.begin() as s:
        row = PaperSessionRepository(s).get(name)
        if row is None:
            raise LookupError(f"no paper session named {name!r}")
        config, cursor, dataset, symbols = dict(row.config), row.cursor, row.dataset, row.symbols
        stored = stored_frames(s, row)
    prices = stored or {sym: frames(dataset, sym) for sym in symbols}
    ts = common_calendar(prices)[max(cursor, 0)]
    return config, {sym: float(f.loc[ts, "close"]) for sym, f in prices.items()}, ts
