"""Shared fixtures of the model-loop tests: seeded prices with a planted edge, a real
trained model registered in a temporary registry, bar events for an observer."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Engine

from core.ml import ModelSpec, fit_model, make_dataset
from core.paper.observers import BarEvent
from core.paper.report import CycleReport
from core.registry import Candidate, ModelRegistry, VersionRow, save_model
from core.store.db import make_engine, session_scope, upgrade

FEATURES = ["ret_1", "ret_5", "rsi_14", "vol_21", "zscore_20", "macd_hist", "atr_14"]


def ar_prices(
    n: int, *, phi: float | np.ndarray = 0.0, sigma: float = 0.01, seed: int = 0
) -> pd.DataFrame:
    """OHLCV bars whose close-to-close returns are AR(1) with coefficient ``phi`` (one
    value, or one per bar: a regime change)."""
    rng = np.random.default_rng(seed)
    eps = rng.normal(0.0, sigma, n)
    coef = np.broadcast_to(np.asarray(phi, dtype=np.float64), (n,))
    r = np.empty(n)
    r[0] = eps[0]
    for t in range(1, n):
        r[t] = coef[t] * r[t - 1] + eps[t]
    close = 100.0 * np.exp(np.cumsum(r))
    open_ = np.r_[100.0, close[:-1]]
    high = np.maximum(open_, close) * (1 + rng.uniform(0, 0.004, n))
    low = np.minimum(open_, close) * (1 - rng.uniform(0, 0.004, n))
    volume = rng.uniform(1e5, 2e5, n)
    index = pd.bdate_range("2015-01-01", periods=n, name="date")
    return pd.DataFrame(
        {"open": open_, "high": high, "low": low, "close": close, "volume": volume}, index=index
    )


def db(tmp_path: Path) -> Engine:
    """A migrated SQLite database in ``tmp_path``."""
    engine = make_engine(f"sqlite:///{tmp_path / 'loop.db'}")
    upgrade(engine)
    return engine


def register_model(
    engine: Engine,
    prices: pd.DataFrame,
    *,
    name: str,
    train_bars: int,
    root: Path,
    kind: str = "logistic",
    features: list[str] | None = None,
    horizon: int = 1,
    seed: int = 0,
    metrics: Mapping[str, Any] | None = None,
) -> VersionRow:
    """Train ``kind`` on ``prices[:train_bars]`` and register it as a candidate."""
    names = features or FEATURES
    train = prices.iloc[:train_bars]
    data = make_dataset(train, names, horizon=horizon)
    model = fit_model(ModelSpec(kind=kind, seed=seed), data.X, data.y)  # type: ignore[arg-type]
    folder = root / f"src-{name}-{seed}-{kind}"
    save_model(model, folder)
    candidate = Candidate(
        run_id=0,
        kind=kind,
        params={},
        features=list(names),
        dataset="test/SYN",
        train_start=date.fromisoformat(str(train.index[0].date())),
        train_end=date.fromisoformat(str(train.index[-1].date())),
        data_hash="0" * 64,
        metrics=dict(metrics or {"roc_auc": 0.5}),
    )
    with session_scope(engine) as s:
        return ModelRegistry(s, root=root / "models").register(name, candidate, source=folder)


def flat(symbols: list[str]) -> dict[str, Any]:
    """Live decisions that hold nothing."""
    return {s: SimpleNamespace(target_position=0.0) for s in symbols}


def event(
    t: int,
    frames: Mapping[str, pd.DataFrame],
    decisions: Mapping[str, Any],
    config: Mapping[str, Any],
    *,
    session_id: int = 1,
) -> BarEvent:
    """Bar t of a session, as the worker hands it to observers (frames end at t)."""
    cut = {s: f.iloc[: t + 1] for s, f in frames.items()}
    ts = next(iter(cut.values())).index[-1]
    report = CycleReport(bar=t, ts=ts, equity=1.0, start_of_day_equity=1.0, peak_equity=1.0)
    return BarEvent(
        session_id=session_id,
        session_name="loop-test",
        t=t,
        ts=ts,
        frames=cut,
        decisions=decisions,
        closes={s: float(f["close"].iloc[-1]) for s, f in cut.items()},
        equity=1.0,
        report=report,
        config=config,
    )
