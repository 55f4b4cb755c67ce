"""The monitoring observer of a paper session: live model metrics, drift, data quality.

:func:`monitor_observers` gives one :class:`MonitorObserver` per session. Every bar it

* checks each symbol's new bar (:func:`core.monitoring.quality.bar_quality`: missing
  bars, outlier return in sigmas, bad tick) -> ``report.quality``;
* records the model's probability per symbol (the decision's ``probability``, or
  ``report.probabilities``) and, ``horizon`` bars later, its realized outcome (up or
  not, from the closes: known only then, no look-ahead); the rolling hit rate, AUC,
  Brier score and ECE of the last ``metrics_window`` outcomes, and their decay from the
  registration figures (``<metric>_drop``) -> ``report.model_metrics``;
* every ``every`` bars, PSI and KS of each feature over the last ``window`` bars of all
  symbols, overall and per regime, against the reference -> ``report.drift`` (carried
  to the bars in between).

The reference is the registered model's training distribution (``config["model"]``) or,
for a session without a model, the distribution of the session's warm-up bars
(``train_bars``) for :data:`WARMUP_FEATURES`. Rows go to ``monitor_points`` in the
bar's transaction (``quality`` and ``model`` every bar, ``drift`` when computed); a
restart restores the pending predictions, outcomes and regimes from them.
"""

from __future__ import annotations

import logging
import math
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from core.monitoring.drift import DRIFT_THRESHOLD, DriftSignal, drift_scores, drift_signal
from core.monitoring.metrics import decay, model_metrics
from core.monitoring.quality import bar_quality
from core.monitoring.reference import reference_distribution, reference_for
from core.paper.observers import BarEvent, BarObserver
from core.store.models import ModelVersion
from core.store.monitoring import MonitoringRepository, MonitorPoint

log = logging.getLogger(__name__)

WARMUP_FEATURES = (
    "ret_1",
    "ret_5",
    "vol_21",
    "hl_range",
    "rsi_14",
    "close_location",
    "volume_z_20",
)
"""Scale-free features a session without a model is watched on (price levels and
drawdowns drift by nature and would always alarm; smoothed ones such as ``natr_14``
swing by a PSI of ~0.4 over 250-bar windows of a stationary series)."""


@dataclass(frozen=True)
class MonitorSettings:
    """How often and over how many bars the session is monitored."""

    every: int = 10
    """Bars between drift computations."""
    window: int = 250
    """Live bars (per symbol) the drift is measured on (features such as a 21-bar
    volatility are autocorrelated: shorter windows make PSI noisy)."""
    metrics_window: int = 200
    """Realized outcomes (all symbols) the live model metrics are measured on."""
    min_outcomes: int = 100
    """Fewest outcomes before model metrics are reported."""
    outlier_window: int = 100
    """Trailing returns the outlier sigma is measured against."""

    @classmethod
    def of(cls, config: Mapping[str, Any]) -> MonitorSettings:
        """From ``config["monitor"]`` (a mapping of these fields), defaults otherwise."""
        raw = config.get("monitor") or {}
        return cls(**{k: int(v) for k, v in raw.items() if k in cls.__dataclass_fields__})


def resolve_version(s: Session, ref: str) -> ModelVersion | None:
    """The registry version a ``NAME:VERSION`` or ``NAME@champion`` reference names."""
    name, sep, version = ref.partition(":")
    query = select(ModelVersion)
    if sep:
        if not version.isdigit():
            return None
        query = query.where(ModelVersion.name == name, ModelVersion.version == int(version))
    else:
        name, _, stage = ref.partition("@")
        query = query.where(ModelVersion.name == name, ModelVersion.stage == (stage or "champion"))
    return s.scalars(query.order_by(ModelVersion.version.desc())).first()


def _probability(event: BarEvent, symbol: str) -> float | None:
    value = getattr(event.decisions.get(symbol), "probability", None)
    if value is None:
        value = event.report.probabilities.get(symbol)
    return float(value) if value is not None and math.isfinite(float(value)) else None


def _finite(values: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if not (isinstance(v, float) and not math.isfinite(v))}


class MonitorObserver:
    """Watches one session's bars (see the module docstring)."""

    def __init__(
        self,
        config: Mapping[str, Any],
        *,
        engine: Engine,
        settings: MonitorSettings | None = None,
    ) -> None:
        self._config = config
        self._engine = engine
        self.settings = settings or MonitorSettings.of(config)
        self.session_name = str(config.get("session", ""))
        self.reference: dict[str, Any] | None = None
        self.features: list[str] = []
        self.horizon = 1
        self._pending: dict[str, deque[tuple[pd.Timestamp, float]]] = {}
        self._outcomes: deque[tuple[float, int]] = deque(maxlen=self.settings.metrics_window)
        self._regimes: dict[str, dict[pd.Timestamp, str]] = {}
        self._drift: dict[str, float] = {}
        self._interval: pd.Timedelta | None = None

    # --- reference ---------------------------------------------------------------------

    def _load_reference(self, s: Session, frames: Mapping[str, pd.DataFrame]) -> None:
        ref = self._config.get("model")
        if ref:
            version = resolve_version(s, str(ref))
            if version is not None:
                self.reference = reference_for(s, version.id, version.artifact_path)
        if self.reference is None:
            self.reference = self._warmup_reference(frames)
        self.features = list(self.reference.get("features", {})) if self.reference else []
        self.horizon = int((self.reference or {}).get("horizon", 1))

    def _warmup_reference(self, frames: Mapping[str, pd.DataFrame]) -> dict[str, Any] | None:
        from core.features import available_features, compute_features

        bars = int(self._config.get("train_bars", 0) or 0)
        parts = []
        for frame in frames.values():
            head = frame.iloc[:bars] if bars > 0 else frame
            if len(head) > 0:
                have = set(available_features(head.columns))
                names = [f for f in WARMUP_FEATURES if f in have]
                parts.append(compute_features(head, names).dropna(how="all"))
        if not parts:
            return None
        X = pd.concat(parts, ignore_index=True)
        return reference_distribution(X) if len(X) else None

    # --- BarObserver -------------------------------------------------------------------

    def rebuild(self, upto: int, frames: Mapping[str, pd.DataFrame]) -> None:
        """Load the reference and restore predictions, outcomes and regimes stored for
        bars before ``upto``."""
        from core.store.db import session_scope

        self._pending = {}
        self._outcomes.clear()
        self._regimes = {}
        self._drift = {}
        self._interval = None
        with session_scope(self._engine) as s:
            self._load_reference(s, frames)
            repo = MonitoringRepository(s)
            keep = max(self.settings.window, self.settings.metrics_window) * 2
            for row in repo.points(self.session_name, limit=keep * 3):
                if row.bar >= upto:
                    continue
                self._restore(row)

    def _restore(self, row: MonitorPoint) -> None:
        ts = pd.Timestamp(row.ts).tz_localize(None) if row.ts.tzinfo else pd.Timestamp(row.ts)
        if row.kind == "quality":
            for sym, q in row.values.items():
                if isinstance(q, dict) and q.get("regime"):
                    self._regimes.setdefault(sym, {})[ts] = str(q["regime"])
        elif row.kind == "model":
            for sym, p_ts, _p in row.values.get("realized_from", []):
                queue = self._pending.get(sym)
                if queue:
                    self._pending[sym] = deque(x for x in queue if str(x[0]) != p_ts)
            for _sym, p, y in row.values.get("realized", []):
                self._outcomes.append((float(p), int(y)))
            for sym, p in row.values.get("predictions", {}).items():
                self._pending.setdefault(sym, deque()).append((ts, float(p)))
        elif row.kind == "drift":
            self._drift = {k: float(v) for k, v in row.values.items()}

    def on_bar(self, event: BarEvent, s: Session) -> None:
        """Quality, model metrics and (every ``every`` bars) drift of bar ``event.t``."""
        report = event.report
        report.session = event.session_name
        if self._interval is None:
            self._interval = pd.Timedelta(seconds=float(report.bar_interval_s))
        quality_row = self._quality(event)
        predictions, realized, realized_from = self._predictions(event)
        metrics = self._metrics()
        report.model_metrics.update(metrics)
        oos = dict((self.reference or {}).get("oos", {}))
        report.model_reference.update(oos)
        if self.settings.every > 0 and event.t % self.settings.every == 0:
            try:
                fresh = self._drift_now(event)
            except (ValueError, KeyError, TypeError, ArithmeticError) as exc:
                # monitoring never stops the bar: the drift panel keeps the last figures
                log.warning(
                    "drift of session %s at bar %s failed: %s", self.session_name, event.t, exc
                )
                fresh = {}
            if fresh:
                self._drift = fresh
                self._add(s, event, "drift", fresh)
        report.drift.update(self._drift)
        self._add(s, event, "quality", quality_row)
        if predictions or realized or metrics:
            model = {
                "predictions": predictions,
                "realized": realized,
                "realized_from": realized_from,
                "metrics": metrics,
            }
            self._add(s, event, "model", model)

    # --- per bar -----------------------------------------------------------------------

    def _quality(self, event: BarEvent) -> dict[str, Any]:
        assert self._interval is not None
        out: dict[str, Any] = {}
        report = event.report
        for sym, frame in event.frames.items():
            if len(frame) == 0:
                continue
            q = bar_quality(frame, interval=self._interval, window=self.settings.outlier_window)
            for key, value in q.items():
                report.quality[f"{key}:{sym}"] = value
            regime = report.regime.get(sym)
            if regime:
                self._regimes.setdefault(sym, {})[pd.Timestamp(frame.index[-1])] = regime
            out[sym] = _finite({**q, "regime": regime})
        values = list(out.values())
        report.quality["gap_bars"] = float(sum(q.get("gap_bars", 0.0) for q in values))
        report.quality["bad_ticks"] = float(sum(q.get("bad_tick", 0.0) for q in values))
        sigmas = [q["outlier_sigma"] for q in values if "outlier_sigma" in q]
        report.quality["outlier_sigma"] = max(sigmas, default=float("nan"))
        return out

    def _predictions(
        self, event: BarEvent
    ) -> tuple[dict[str, float], list[list[Any]], list[list[Any]]]:
        predictions: dict[str, float] = {}
        realized: list[list[Any]] = []
        realized_from: list[list[Any]] = []
        h = max(1, self.horizon)
        for sym, frame in event.frames.items():
            queue = self._pending.setdefault(sym, deque())
            closes = frame["close"]
            while queue:
                p_ts, p = queue[0]
                if p_ts not in closes.index:
                    queue.popleft()
                    continue
                at = int(closes.index.get_loc(p_ts))
                if len(closes) - 1 - at < h:
                    break
                queue.popleft()
                y = int(float(closes.iloc[at + h]) > float(closes.iloc[at]))
                self._outcomes.append((p, y))
                realized.append([sym, p, y])
                realized_from.append([sym, str(p_ts), p])
            p_now = _probability(event, sym)
            if p_now is not None and len(frame):
                queue.append((pd.Timestamp(frame.index[-1]), p_now))
                predictions[sym] = p_now
        return predictions, realized, realized_from

    def _metrics(self) -> dict[str, float]:
        if len(self._outcomes) < self.settings.min_outcomes:
            return {}
        p = np.array([o[0] for o in self._outcomes])
        y = np.array([o[1] for o in self._outcomes])
        live = model_metrics(y, p)
        oos = (self.reference or {}).get("oos", {})
        return _finite({**live, **decay(live, oos)})

    def _drift_now(self, event: BarEvent) -> dict[str, float]:
        from core.features import compute_features, max_lookback

        if not self.reference or not self.features:
            return {}
        w = self.settings.window
        lookback = max_lookback(self.features)
        parts, labels = [], []
        for sym, frame in event.frames.items():
            names = [f for f in self.features if f in _computable(frame)]
            if not names:
                continue
            tail = frame.iloc[-(w + lookback) :]
            feats = compute_features(tail, names).iloc[-w:]
            regimes = self._regimes.get(sym, {})
            labels.append(pd.Series([regimes.get(pd.Timestamp(t)) for t in feats.index]))
            parts.append(feats.reset_index(drop=True))
        if not parts:
            return {}
        live = pd.concat(parts, ignore_index=True)
        regime = pd.concat(labels, ignore_index=True)
        has_regime = regime.notna().any()
        return drift_scores(self.reference, live, regimes=regime if has_regime else None)

    def _add(self, s: Session, event: BarEvent, kind: str, values: dict[str, Any]) -> None:
        MonitoringRepository(s).add_bar_point(
            event.session_name, event.t, event.ts, kind, _finite(values)
        )


def _computable(frame: pd.DataFrame) -> set[str]:
    from core.features import available_features

    return set(available_features(frame.columns))


def latest_figures(s: Session, session_name: str, kind: str) -> tuple[int | None, dict[str, Any]]:
    """The newest stored ``kind`` figures of a session (``drift``: the scores; ``model``:
    the live metrics, from the newest point that has them) and their bar."""
    for row in reversed(MonitoringRepository(s).points(session_name, kind=kind, limit=50)):
        values = dict(row.values)
        figures = (values.get("metrics") or {}) if kind == "model" else values
        if figures:
            return row.bar, dict(figures)
    return None, {}


def session_drift_signal(
    s: Session, session_name: str, *, threshold: float = DRIFT_THRESHOLD
) -> DriftSignal:
    """The retraining trigger of a session's newest drift figures (see
    :func:`core.monitoring.drift.drift_signal`)."""
    _, scores = latest_figures(s, session_name, "drift")
    return drift_signal({k: float(v) for k, v in scores.items()}, threshold=threshold)


def session_decay(
    s: Session, session_name: str, *, metric: str = "auc_drop", threshold: float = 0.05
) -> tuple[bool, str]:
    """Whether the session's model has decayed: its newest live ``metric`` (a
    ``<metric>_drop``: registration minus live, positive = worse; or a live metric,
    compared like the model_metric rule) against ``threshold``, and why."""
    from core.alerts.rules import worse_when_larger

    bar, metrics = latest_figures(s, session_name, "model")
    value = metrics.get(metric)
    if value is None:
        return False, f"no live {metric} yet"
    value = float(value)
    worse = value >= threshold if worse_when_larger(metric) else value < threshold
    op = (">=" if worse else "<") if worse_when_larger(metric) else ("<" if worse else ">=")
    return worse, f"live {metric} {value:.3f} {op} {threshold:g} at bar {bar}"


def monitor_observers(config: Mapping[str, Any], *, engine: Engine) -> list[BarObserver]:
    """The observers that watch the session's model, features and data."""
    return [MonitorObserver(config, engine=engine)]


__all__ = [
    "MonitorObserver",
    "MonitorSettings",
    "latest_figures",
    "monitor_observers",
    "resolve_version",
    "session_decay",
    "session_drift_signal",
]
