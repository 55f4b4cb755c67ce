"""The retraining policy acting on the registry, live, bar by bar (a :class:`BarObserver`).

:class:`LiveRetrainer` watches a paper session whose live model is a registry champion
(``config["model"] = "NAME@champion"``) and, each bar:

1. tracks the champion's live per-bar returns: the champion model stepped on the bars
   (:class:`~core.pipeline.ModelPipeline`, same sizing) with its positions earning the
   next bars' returns net of ``fees + slippage`` (:func:`core.ensemble.step_return`, the
   workbench execution convention), summed over the session's symbols;
2. fires a trigger, outside the cool-down: **decay** (the policy metric of the last
   ``window_bars`` returns below ``threshold``), **drift** (a callable on the bar event;
   default :func:`core.monitoring.drift.drift_signal` of the cycle report's drift
   figures) or **schedule** (every ``schedule_bars`` bars);
3. on a trigger, trains a challenger of the champion's kind and features on the trailing
   ``train_window_bars`` of the first symbol (``core.ml``: the dataset's last quarter is
   held out and its ROC AUC is the version's out-of-sample metric), registers it as a
   candidate, and from the next bar runs it in shadow
   (:class:`~core.paper.shadow.ShadowChallenger`): the live SPRT and the session's
   ``promotion`` policy decide;
4. when the champion changes to the challenger, puts it on probation: after
   ``probation_bars`` its live returns are compared with its predecessor's on the same
   bars and, if it trails by more than ``rollback_margin`` of the metric, the registry
   rolls back (:meth:`ModelRegistry.rollback`).

Every action is audited: a ``retrain`` model event on the new version, the registry's
own register / promote / rollback events, and a row of ``retrain_decisions`` (live,
``replay=False``). All writes happen in the bar's transaction.
"""

from __future__ import annotations

import math
import shutil
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from core.config import get_settings
from core.paper.model_refs import load_version, model_pipeline, parse_model_ref
from core.paper.observers import BarEvent
from core.pipeline import ModelPipeline, SymbolBook
from core.registry import Candidate, ModelRegistry, save_model
from core.retrain.policy import Metric, metric_value
from core.store.registry import RegistryRepository
from core.store.retrain import RetrainDecisionRepository

ACTOR = "retrain-policy"


class LiveRetrainPolicy(BaseModel):
    """When to retrain live, on which bars, and when to roll back (frozen)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    metric: Metric = "sharpe"
    threshold: float = 0.0
    window_bars: int = Field(63, ge=2)
    min_samples: int = Field(42, ge=2)
    schedule_bars: int | None = Field(None, ge=1)
    drift: bool = True
    cooldown_bars: int = Field(63, ge=0)
    train_window_bars: int = Field(750, ge=100)
    horizon: int = Field(5, ge=1)
    probation_bars: int = Field(63, ge=2)
    rollback_margin: float = Field(0.0, ge=0.0)
    seed: int = 0


DriftFn = Callable[[BarEvent], tuple[bool, str]]


def report_drift(event: BarEvent) -> tuple[bool, str]:
    """Monitoring's drift signal on this bar's report (fired, reason)."""
    from core.monitoring.drift import drift_signal

    signal = drift_signal(event.report.drift or {})
    return bool(signal.drifted), str(signal.reason)


def train_challenger(
    prices: pd.DataFrame,
    *,
    kind: str,
    features: list[str],
    horizon: int,
    seed: int,
    folder: Path,
) -> dict[str, Any]:
    """Fit ``kind`` on ``prices`` (the last quarter held out), save it to ``folder``;
    its out-of-sample metrics."""
    from sklearn.metrics import roc_auc_score

    from core.ml import ModelSpec, fit_model, make_dataset, time_split

    data = make_dataset(prices, features, horizon=horizon)
    train, test = time_split(data, test_fraction=0.25, embargo=horizon)
    model = fit_model(ModelSpec(kind=kind, seed=seed), train.X, train.y)
    proba = model.predict_proba(test.X)[:, 1]
    auc = float(roc_auc_score(test.y, proba)) if test.y.nunique() == 2 else math.nan
    save_model(model, folder)
    return {
        "roc_auc": auc,
        "train_rows": len(train),
        "test_rows": len(test),
        "train_range": [str(train.X.index[0].date()), str(train.X.index[-1].date())],
    }


@dataclass
class _Book:
    """One model's live per-bar returns (positions decided at each close)."""

    pipes: dict[str, ModelPipeline]
    p1: dict[str, float] = field(default_factory=dict)
    p2: dict[str, float] = field(default_factory=dict)
    prev: dict[str, float] = field(default_factory=dict)
    returns: deque[float] = field(default_factory=lambda: deque(maxlen=5000))


class LiveRetrainer:
    """Observer applying a :class:`LiveRetrainPolicy` to the session's champion."""

    def __init__(
        self,
        config: Mapping[str, Any],
        *,
        engine: Engine,
        policy: LiveRetrainPolicy | None = None,
        drift: DriftFn | None = None,
        artifacts: Path | None = None,
    ) -> None:
        ref = parse_model_ref(str(config.get("model") or ""))
        if ref.version is not None:
            raise ValueError(f"live retraining acts on a champion: use --model {ref.name}@champion")
        self.config = dict(config)
        self.engine = engine
        self.name = ref.name
        raw = config.get("retrain")
        self.policy = policy or LiveRetrainPolicy(**(raw if isinstance(raw, Mapping) else {}))
        self.drift = drift or report_drift
        self.artifacts = artifacts or get_settings().var_dir / "retrain"
        """Staging folder of challengers; each is removed once the registry holds its copy."""
        self.cost = float(config.get("fees", 0.0005)) + float(config.get("slippage", 0.0005))
        self.books: dict[int, _Book] = {}
        self.champion_id: int | None = None
        self.predecessor_id: int | None = None
        self.promoted_at: int | None = None
        self.last_action: int | None = None
        self.challenger_id: int | None = None
        self.pending_shadow: str | None = None
        self.shadow: Any = None
        self.upto = 0
        self.frames: Mapping[str, pd.DataFrame] = {}

    # ----- BarObserver -------------------------------------------------------------------
    def rebuild(self, upto: int, frames: Mapping[str, pd.DataFrame]) -> None:
        """Forget the in-memory books; they restart from bar ``upto``."""
        self.books.clear()
        self.upto, self.frames = upto, frames
        if self.shadow is not None:
            self.shadow.rebuild(upto, frames)

    def on_bar(self, event: BarEvent, s: Session) -> None:
        """Step the books, then check the triggers, the shadow and the probation."""
        registry = ModelRegistry(s)
        champion = registry.champion(self.name)
        if champion is None:
            return
        if self.champion_id is None:
            self.champion_id = champion.id
        elif champion.id != self.champion_id:
            self._champion_changed(champion.id, event)
        for version_id in {champion.id, self.predecessor_id} - {None}:
            assert version_id is not None
            self._step(s, version_id, event)
        if self.pending_shadow is not None:
            self._start_shadow(event)
        if self.shadow is not None:
            self.shadow.on_bar(event, s)
        if self.promoted_at is not None:
            if event.t - self.promoted_at >= self.policy.probation_bars:
                self._review(s, event)
            return
        trigger = self._trigger(event)
        if trigger is not None:
            self._retrain(s, event, champion.id, trigger)

    # ----- books -------------------------------------------------------------------------
    def _book(self, s: Session, version_id: int, event: BarEvent) -> _Book:
        book = self.books.get(version_id)
        if book is None:
            stored = ModelRegistry(s).get(version_id)
            row, model = load_version(self.engine, f"{stored.name}:{stored.version}")
            pipes = {}
            for symbol, frame in event.frames.items():
                pipe = model_pipeline(frame, self.config, row, model, symbol=symbol)
                pipe.warm_up(frame.iloc[:-1])
                pipes[symbol] = pipe
            book = self.books[version_id] = _Book(pipes=pipes)
            for symbol, frame in event.frames.items():
                if len(frame) >= 2:
                    book.prev[symbol] = float(frame["close"].iloc[-2])
        return book

    def _step(self, s: Session, version_id: int, event: BarEvent) -> None:
        from core.ensemble import step_return

        book = self._book(s, version_id, event)
        total, counted = 0.0, False
        for symbol, frame in event.frames.items():
            bar = frame.iloc[-1]
            close = float(bar["close"])
            open_ = float(bar["open"]) if "open" in frame.columns else math.nan
            prev = book.prev.get(symbol, math.nan)
            if prev > 0:
                if open_ > 0:
                    gap, session = open_ / prev - 1.0, close / open_ - 1.0
                else:
                    gap, session = close / prev - 1.0, 0.0
                p1, p2 = book.p1.get(symbol, 0.0), book.p2.get(symbol, 0.0)
                total += float(step_return(p2, p1, gap, session, self.cost))
                counted = True
            cols = [k for k in ("open", "high", "low", "close", "volume") if k in frame.columns]
            decision = book.pipes[symbol].step(
                {k: float(bar[k]) for k in cols}, SymbolBook(equity=1.0)
            )
            book.p2[symbol] = book.p1.get(symbol, 0.0)
            book.p1[symbol] = float(decision.target_position)
            book.prev[symbol] = close
        if counted:
            book.returns.append(total)

    # ----- triggers ----------------------------------------------------------------------
    def _trigger(self, event: BarEvent) -> str | None:
        p = self.policy
        t = event.t
        if self.last_action is not None and t - self.last_action < p.cooldown_bars:
            return None
        if p.schedule_bars is not None:
            since = t - (self.last_action if self.last_action is not None else self.upto)
            if since >= p.schedule_bars:
                return f"schedule: {since} bars since the last retraining"
        if p.drift:
            fired, reason = self.drift(event)
            if fired:
                return f"drift: {reason}"
        assert self.champion_id is not None
        returns = list(self.books[self.champion_id].returns)[-p.window_bars :]
        if len(returns) >= p.min_samples:
            value = metric_value(p.metric, pd.Series(returns), self._ppy())
            if value < p.threshold:
                return (
                    f"decay: live {p.metric} {value:.3f} < {p.threshold:.3f} "
                    f"over {len(returns)} bars"
                )
        return None

    def _ppy(self) -> float:
        assert self.champion_id is not None
        pipes = self.books[self.champion_id].pipes
        return next(iter(pipes.values())).sizing.periods_per_year if pipes else 252.0

    # ----- actions -----------------------------------------------------------------------
    def _retrain(self, s: Session, event: BarEvent, champion_id: int, trigger: str) -> None:
        p = self.policy
        registry = ModelRegistry(s)
        champion = registry.get(champion_id)
        symbol = next(iter(event.frames))
        window = event.frames[symbol].iloc[-p.train_window_bars :]
        folder = self.artifacts / f"{self.name}-t{event.t}"
        metrics = train_challenger(
            window,
            kind=champion.kind,
            features=list(champion.features),
            horizon=p.horizon,
            seed=p.seed,
            folder=folder,
        )
        start, end = metrics.pop("train_range")
        candidate = Candidate(
            run_id=0,
            kind=champion.kind,
            params=dict(champion.params),
            features=list(champion.features),
            dataset=f"live:{event.session_name}/{symbol}",
            train_start=date.fromisoformat(start),
            train_end=date.fromisoformat(end),
            data_hash="live",
            metrics={**metrics, "trigger": trigger},
        )
        row = registry.register(self.name, candidate, source=folder, actor=ACTOR)
        shutil.rmtree(folder, ignore_errors=True)  # the registry keeps its own copy
        reason = (
            f"live retraining ({trigger}): trained on {start}..{end} of {symbol} "
            f"({len(window)} bars), OOS ROC AUC {metrics['roc_auc']:.4f}; shadow test next"
        )
        RegistryRepository(s).add_event(
            name=self.name,
            version_id=row.id,
            action="retrain",
            from_stage=None,
            to_stage="candidate",
            reason=reason,
            actor=ACTOR,
        )
        self._decision(s, event, trigger, "retrained", champion_id, row.id, reason, metrics)
        self.challenger_id = row.id
        self.pending_shadow = f"{self.name}:{row.version}"
        self.last_action = event.t

    def _start_shadow(self, event: BarEvent) -> None:
        from core.paper.shadow import ShadowChallenger

        config = {**self.config, "challenger": self.pending_shadow}
        self.shadow = ShadowChallenger(config, engine=self.engine)
        self.shadow.rebuild(event.t, {k: f.iloc[:-1] for k, f in event.frames.items()})
        self.pending_shadow = None

    def _champion_changed(self, new_id: int, event: BarEvent) -> None:
        if new_id == self.challenger_id:  # the shadow test (auto or a PM) promoted it
            self.predecessor_id, self.promoted_at = self.champion_id, event.t
            self.shadow = None
        self.champion_id = new_id

    def _review(self, s: Session, event: BarEvent) -> None:
        p = self.policy
        assert self.champion_id is not None and self.predecessor_id is not None
        n = event.t - (self.promoted_at or event.t)
        new = list(self.books[self.champion_id].returns)[-n:]
        old = list(self.books[self.predecessor_id].returns)[-n:]
        ppy = self._ppy()
        m_new = metric_value(p.metric, pd.Series(new), ppy)
        m_old = metric_value(p.metric, pd.Series(old), ppy)
        numbers = {"promoted_metric": m_new, "predecessor_metric": m_old, "bars": float(n)}
        trigger = f"probation review after {n} bars"
        worse = bool(
            np.isfinite(m_new) and np.isfinite(m_old) and m_new < m_old - p.rollback_margin
        )
        if worse:
            reason = (
                f"new champion {p.metric} {m_new:.3f} trails its predecessor's {m_old:.3f} "
                f"(margin {p.rollback_margin:.3f}) over {n} live bars: rolled back"
            )
            ModelRegistry(s).rollback(self.name, reason=reason, actor=ACTOR)
            kind = "rolled_back"
            self.champion_id = self.predecessor_id
        else:
            reason = f"new champion {p.metric} {m_new:.3f} vs predecessor {m_old:.3f}: kept"
            kind = "kept"
        self._decision(
            s, event, trigger, kind, self.champion_id, self.predecessor_id, reason, numbers
        )
        self.predecessor_id = self.promoted_at = None
        self.last_action = event.t

    def _decision(
        self,
        s: Session,
        event: BarEvent,
        trigger: str,
        decision: str,
        champion_id: int | None,
        challenger_id: int | None,
        reason: str,
        numbers: Mapping[str, Any],
    ) -> None:
        RetrainDecisionRepository(s).add(
            model_name=self.name,
            as_of=pd.Timestamp(event.ts).date(),
            trigger=trigger[:64],
            decision=decision,
            reason=reason,
            numbers={k: v for k, v in numbers.items() if isinstance(v, int | float)},
            replay=False,
            champion_version_id=champion_id,
            challenger_version_id=challenger_id,
        )


def retrain_observers(config: Mapping[str, Any], *, engine: Engine) -> list[LiveRetrainer]:
    """The live retraining observer of a session (``config["retrain"]`` set), else none."""
    if not config.get("retrain") or not config.get("model"):
        return []
    return [LiveRetrainer(config, engine=engine)]


__all__ = [
    "LiveRetrainPolicy",
    "LiveRetrainer",
    "report_drift",
    "retrain_observers",
    "train_challenger",
]
