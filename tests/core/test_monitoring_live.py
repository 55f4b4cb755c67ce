"""The monitoring observer on seeded bars: model decay and feature drift fire their rules
with realistic thresholds, a healthy run stays silent, rows are stored and a restart
resumes the rolling state."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import Engine, func, select

from core.alerts import AlertRuleSpec, Snapshot, evaluate_rules
from core.features import compute_features
from core.monitoring.live import (
    MonitorObserver,
    MonitorSettings,
    monitor_observers,
    session_decay,
    session_drift_signal,
)
from core.monitoring.metrics import model_metrics
from core.monitoring.reference import reference_distribution, store_reference, write_reference
from core.paper.observers import BarEvent
from core.paper.report import CycleReport, alert_snapshot
from core.store.db import make_engine, session_scope, upgrade
from core.store.models import ModelVersion
from core.store.monitoring import MonitorPoint
from tests.planted_data import gbm_bars

SYMBOLS = ["AAPL", "MSFT", "IBM"]
# natr_14 (a 14-bar Wilder mean of the range over the close) is so persistent that its PSI
# over 250-bar windows of this stationary series swings up to ~0.4: not a feature to alarm on.
FEATURES = ["ret_1", "ret_5", "vol_21", "hl_range", "rsi_14"]
TRAIN = 300
N = 560
RULES = [
    AlertRuleSpec(name="auc-decay", kind="model_metric", threshold=0.1, metric="auc_drop"),
    AlertRuleSpec(name="drift", kind="drift", threshold=0.25),
    AlertRuleSpec(name="gaps", kind="data_gap", threshold=1),
    AlertRuleSpec(name="outliers", kind="outlier_return", threshold=8),
    AlertRuleSpec(name="ticks", kind="bad_tick"),
]
NOW = datetime(2026, 3, 2, 21, 5, tzinfo=UTC)


def _frames(vol_after: float = 1.0, seed: int = 1) -> dict[str, pd.DataFrame]:
    """Seeded GBM daily bars; volatility times ``vol_after`` from bar 400 on."""
    rng = np.random.default_rng(seed)
    idx = pd.bdate_range("2022-01-03", periods=N)
    sd = np.where(np.arange(N) >= 400, 0.01 * vol_after, 0.01)
    return {sym: gbm_bars(rng, sd, idx) for sym in SYMBOLS}


def _model(frames: dict[str, pd.DataFrame], *, decay_from: int | None, seed: int = 2) -> Any:
    """A planted 'model': its probability leans toward the next bar's move (the skill),
    uninformative from ``decay_from`` on."""
    rng = np.random.default_rng(seed)
    noise = {s: rng.normal(0, 0.15, N) for s in SYMBOLS}

    def prob(sym: str, t: int) -> float:
        close = frames[sym]["close"].to_numpy()
        up = t + 1 < N and close[t + 1] > close[t]
        skill = 0.0 if decay_from is not None and t >= decay_from else 0.15
        return float(np.clip(0.5 + (skill if up else -skill) + noise[sym][t], 0.01, 0.99))

    return prob


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    eng = make_engine(f"sqlite:///{tmp_path / 'mon.db'}")
    upgrade(eng)
    yield eng
    eng.dispose()


def _register(engine: Engine, tmp_path: Path, frames: dict[str, pd.DataFrame], prob: Any) -> str:
    """A model version whose reference is the training window's features and its
    out-of-sample figures (the planted model on the training bars)."""
    X = pd.concat([compute_features(f.iloc[:TRAIN], FEATURES).dropna() for f in frames.values()])
    y, p = [], []
    for sym, f in frames.items():
        close = f["close"].to_numpy()
        for t in range(100, TRAIN - 1):
            y.append(int(close[t + 1] > close[t]))
            p.append(prob(sym, t))
    oos = model_metrics(np.array(y), np.array(p))
    folder = tmp_path / "artifact"
    folder.mkdir(exist_ok=True)
    write_reference(folder, reference_distribution(X, oos=oos, horizon=1))
    with session_scope(engine) as s:
        row = ModelVersion(
            name="mon",
            version=1,
            kind="logistic",
            params={},
            features=FEATURES,
            dataset="synthetic",
            train_start=frames["AAPL"].index[0].date(),
            train_end=frames["AAPL"].index[TRAIN - 1].date(),
            data_hash="x",
            metrics={},
            stage="champion",
            artifact_path=str(folder),
            checksum="x",
        )
        s.add(row)
        s.flush()
        store_reference(s, version_id=row.id, name="mon", version=1, artifact_path=folder)
    return "mon:1"


def _run(
    engine: Engine,
    frames: dict[str, pd.DataFrame],
    prob: Callable[[str, int], float],
    config: dict[str, Any],
    *,
    start: int = TRAIN,
    stop: int = N,
    observer: MonitorObserver | None = None,
) -> tuple[MonitorObserver, list[Snapshot]]:
    obs = observer or MonitorObserver(config, engine=engine)
    obs.rebuild(start, {s: f.iloc[:start] for s, f in frames.items()})
    idx = frames["AAPL"].index
    snaps = []
    for t in range(start, stop):
        report = CycleReport(
            bar=t,
            ts=idx[t],
            equity=1.0,
            start_of_day_equity=1.0,
            peak_equity=1.0,
            regime={s: ("calm" if t < 400 else "storm") for s in SYMBOLS},
        )
        event = BarEvent(
            session_id=1,
            session_name=config["session"],
            t=t,
            ts=idx[t],
            frames={s: f.iloc[: t + 1] for s, f in frames.items()},
            decisions={s: SimpleNamespace(probability=prob(s, t)) for s in SYMBOLS},
            closes={s: float(f["close"].iloc[t]) for s, f in frames.items()},
            equity=1.0,
            report=report,
            config=config,
        )
        with session_scope(engine) as s:
            obs.on_bar(event, s)
        snaps.append(alert_snapshot(report, SYMBOLS, NOW))
    return obs, snaps


def _fired(snaps: list[Snapshot]) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {}
    for i, snap in enumerate(snaps):
        for f in evaluate_rules(RULES, snap):
            out.setdefault(f.rule.name, []).append(i + TRAIN)
    return out


def _config(model: str | None) -> dict[str, Any]:
    return {"session": "mon", "symbols": SYMBOLS, "model": model, "train_bars": TRAIN}


def test_a_healthy_run_stays_silent(engine: Engine, tmp_path: Path) -> None:
    frames = _frames()
    prob = _model(frames, decay_from=None)
    ref = _register(engine, tmp_path, frames, prob)
    obs, snaps = _run(engine, frames, prob, _config(ref))
    assert _fired(snaps) == {}
    assert max(s.drift["psi_max"] for s in snaps) < 0.2
    last = snaps[-1]
    assert last.session == "mon" and set(last.quality) == set(SYMBOLS)
    assert last.model_metrics["auc"] > 0.7 and abs(last.model_metrics["auc_drop"]) < 0.08
    assert last.drift["psi_max"] < 0.25 and "psi:vol_21@calm" not in last.drift
    assert obs.features == FEATURES


def test_model_decay_fires_the_model_metric_rule(engine: Engine, tmp_path: Path) -> None:
    frames = _frames()
    prob = _model(frames, decay_from=430)
    ref = _register(engine, tmp_path, frames, _model(frames, decay_from=None))
    _, snaps = _run(engine, frames, prob, _config(ref))
    fired = _fired(snaps)
    assert set(fired) == {"auc-decay"}
    first = fired["auc-decay"][0]
    assert 430 < first < 430 + 100  # within the metrics window of the decay
    message = evaluate_rules(RULES, snaps[-1])[0].message
    assert "auc-decay (model_metric): model auc_drop" in message and "registration auc" in message
    assert "[session mon]" in message
    # the retraining policy's triggers read the same stored figures
    with session_scope(engine) as s:
        decayed, why = session_decay(s, "mon", metric="auc_drop", threshold=0.1)
        assert decayed and why.startswith("live auc_drop") and ">= 0.1" in why
        assert not session_drift_signal(s, "mon").drifted


def test_feature_drift_fires_the_drift_rule(engine: Engine, tmp_path: Path) -> None:
    frames = _frames(vol_after=3.0)
    prob = _model(frames, decay_from=None)
    ref = _register(engine, tmp_path, frames, prob)
    _, snaps = _run(engine, frames, prob, _config(ref))
    fired = _fired(snaps)
    assert "drift" in fired and fired["drift"][0] > 400, fired
    # over a 250-bar window, the tripled volatility shows once ~a quarter of it is new
    assert fired["drift"][0] <= 400 + 80
    assert set(fired) <= {"drift", "outliers"}
    last = snaps[-1]
    # the reference has no rows per regime: live storm rows against the whole (panel only)
    assert last.drift["psi_all:vol_21@storm"] > 1.0 and "psi:vol_21@storm" not in last.drift
    assert "drift (drift): feature drift: PSI" in evaluate_rules(RULES[1:2], last)[0].message
    with session_scope(engine) as s:
        signal = session_drift_signal(s, "mon", threshold=0.25)
        assert signal.drifted and signal.psi_max == pytest.approx(last.drift["psi_max"])
        assert not session_decay(s, "mon", metric="auc_drop", threshold=0.1)[0]


def test_rows_are_stored_and_a_restart_resumes_the_rolling_state(
    engine: Engine, tmp_path: Path
) -> None:
    frames = _frames()
    prob = _model(frames, decay_from=None)
    ref = _register(engine, tmp_path, frames, prob)
    whole, _ = _run(engine, frames, prob, _config(ref), stop=420)
    with session_scope(engine) as s:
        kinds = dict(
            s.execute(select(MonitorPoint.kind, func.count()).group_by(MonitorPoint.kind)).all()
        )
    assert kinds["quality"] == 120 and kinds["model"] == 120 and kinds["drift"] == 12
    # A second observer rebuilt at bar 420 continues with the same outcomes and metrics.
    other = MonitorObserver(_config(ref), engine=engine)
    other.rebuild(420, {s: f.iloc[:420] for s, f in frames.items()})
    assert list(other._outcomes) == list(whole._outcomes)
    assert {s: list(q) for s, q in other._pending.items()} == {
        s: list(q) for s, q in whole._pending.items()
    }


def test_without_a_model_the_warmup_is_the_reference(engine: Engine) -> None:
    frames = _frames(vol_after=3.0)
    (obs,) = monitor_observers(_config(None), engine=engine)
    assert isinstance(obs, MonitorObserver)
    _, snaps = _run(engine, frames, lambda s, t: float("nan"), _config(None), observer=obs)
    assert snaps[0].model_metrics == {} and snaps[0].drift["psi_max"] < 0.25
    assert snaps[-1].drift["psi:vol_21"] > 0.25
    assert MonitorSettings.of({"monitor": {"every": 5}}).every == 5


def test_a_failing_drift_computation_never_stops_the_bar(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import core.monitoring.live as live

    frames = _frames()
    prob = _model(frames, decay_from=None)
    ref = _register(engine, tmp_path, frames, prob)
    _, snaps = _run(engine, frames, prob, _config(ref), stop=TRAIN + 15)
    kept = dict(snaps[-1].drift)

    def broken(*_a: Any, **_k: Any) -> dict[str, float]:
        raise ValueError("planted")

    monkeypatch.setattr(live, "drift_scores", broken)
    _, later = _run(engine, frames, prob, _config(ref), start=TRAIN + 15, stop=TRAIN + 25)
    assert len(later) == 10 and later[-1].drift == kept and later[-1].quality
