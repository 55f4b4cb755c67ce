"""Shared pieces of the paper worker tests on a temporary SQLite database: a sim-broker
session's settings and a database with that session opened and set running."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from core.paper.session import open_session
from core.store.db import make_engine, session_scope, upgrade
from core.store.paper import WorkerControlRepository


def sim_config(
    session: str, symbols: Sequence[str], *, train_bars: int, **extra: Any
) -> dict[str, Any]:
    """Settings of a sim-broker session on the embedded daily dataset (fees and slippage
    5 bp, the contextual selector, seed 0); ``extra`` keys (feed, timeframe) come last."""
    return {
        "session": session,
        "broker": "sim",
        "dataset": "ohlcv_daily",
        "symbols": list(symbols),
        "initial_cash": 100_000.0,
        "fees": 0.0005,
        "slippage": 0.0005,
        "train_bars": train_bars,
        "selector": "contextual",
        "seed": 0,
        **extra,
    }


def running_session_db(path: Path, config: dict[str, Any]) -> Engine:
    """A migrated SQLite database at ``path`` with the session of ``config`` opened and
    its worker control set to running."""
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    with session_scope(engine) as s:
        open_session(s, config)
        WorkerControlRepository(s).set("running", updated_by="test")
    return engine
