"""Model training and the model registry (pages and CLI share these)."""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import ConfigDict, Field, model_validator
from sqlalchemy import select

from app.operations.costs import Costs
from app.services import runs as run_store
from app.services.auth import LOCAL, Actor, require
from app.services.data import load_prices
from app.services.db import get_engine
from core.config import get_settings
from core.serialize import json_safe
from core.store.db import session_scope
from core.store.models import ModelEvent, ModelVersion, utcnow

Progress = Callable[[float, str], None]
STAGES = ("candidate", "champion", "archived")


class TrainRequest(Costs):
    """What to train, on which data, how to validate, and how to trade the signal."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    dataset: str = "ohlcv_daily"
    symbol: str = "SP500"
    kind: Literal["logistic", "random_forest", "xgboost"] = "xgboost"
    params: dict[str, Any] = Field(default_factory=dict)
    features: list[str] | None = Field(default=None, min_length=1)
    horizon: int = Field(default=5, ge=1, le=60)
    label: Literal["sign", "triple_barrier"] = "sign"
    test_fraction: float = Field(default=0.25, gt=0.05, lt=0.8)
    tune: bool = False
    n_trials: int = Field(default=20, ge=1, le=500)
    seed: int = 0
    threshold: float = Field(default=0.5, ge=0.5, lt=1.0)
    allow_short: bool = False
    allow_lookahead: bool = False

    @model_validator(mode="after")
    def _check(self) -> TrainRequest:
        from core.features import REGISTRY
        from core.ml import ModelSpec

        ModelSpec(kind=self.kind, params=self.params, seed=self.seed)
        unknown = sorted(set(self.features or []) - set(REGISTRY))
        if unknown:
            raise ValueError(f"unknown features {unknown}; see the feature list")
        return self


@dataclass(frozen=True)
class TrainOutcome:
    """A trained model with its evaluation and the saved run."""

    run_id: int | None
    request: TrainRequest
    params: dict[str, Any]
    features: list[str]
    evaluation: dict[str, Any]
    importance: pd.DataFrame
    signal_metrics: dict[str, float]
    equity: pd.Series
    benchmark: pd.Series
    train_range: tuple[date, date]
    test_range: tuple[date, date]
    trials: int
    data_hash: str
    warnings: tuple[str, ...] = ()
    lookahead: dict[str, Any] | None = None


def _screen_features(
    prices: pd.DataFrame, features: list[str], request: TrainRequest
) -> tuple[dict[str, Any], list[str]]:
    """Run the look-ahead check on the features; refuse a leaky one unless overridden."""
    from core.ml.lookahead import LookaheadError, check_features

    report = check_features(features, prices, horizon=request.horizon)
    notes = []
    if report.leaky:
        if not request.allow_lookahead:
            raise LookaheadError(report)
        notes.append(
            f"LOOK-AHEAD CHECK OVERRIDDEN (allow_lookahead): {report.message()}; these "
            "results are not a valid out-of-sample test"
        )
    return report.as_dict(), notes


def train(
    request: TrainRequest, *, progress: Progress | None = None, save: bool = True
) -> TrainOutcome:
    """Train, optionally tune with Optuna (study stored in the database), evaluate
    out of sample, and backtest the signal on the test period."""
    from core.backtest import run_backtest
    from core.backtest.spec import BacktestSpec
    from core.features import available_features
    from core.ml import (
        ModelSpec,
        evaluate,
        fit_model,
        make_dataset,
        permutation_importance,
        save_model,
        shap_importance,
        signal_positions,
        time_split,
        tune,
    )

    report = progress or (lambda _f, _m: None)
    prices = load_prices(request.dataset, request.symbol)
    features = request.features or available_features(prices.columns)
    report(0.02, f"Look-ahead check of {len(features)} features")
    lookahead, warnings = _screen_features(prices, list(features), request)
    report(0.05, f"Building dataset: {len(features)} features, horizon {request.horizon}")
    dataset = make_dataset(prices, features, horizon=request.horizon, label=request.label)
    train_ds, test_ds = time_split(
        dataset, test_fraction=request.test_fraction, embargo=request.horizon
    )
    params = dict(request.params)
    trials = 1
    if request.tune:

        def on_trial(number: int, value: float) -> None:
            report(
                0.1 + 0.6 * (number + 1) / request.n_trials,
                f"Optuna trial {number + 1}/{request.n_trials}: CV AUC {value:.4f}",
            )

        get_engine()  # the database (and its folder) exist before Optuna connects
        tuned = tune(
            train_ds,
            request.kind,
            n_trials=request.n_trials,
            seed=request.seed,
            storage=get_settings().database_url,
            study_name=f"{request.symbol}-{request.kind}-{pd.Timestamp.now(tz='UTC'):%Y%m%d%H%M%S%f}",
            callback=on_trial,
            fixed_params=params or None,
        )
        params = {**tuned.best_params, **params}
        trials = tuned.n_trials
    report(0.75, "Fitting the final model")
    spec = ModelSpec(kind=request.kind, params=params, seed=request.seed)
    model = fit_model(spec, train_ds.X, train_ds.y)
    report(0.85, "Evaluating out of sample")
    evaluation = evaluate(model, test_ds.X, test_ds.y, request.threshold)
    importance = permutation_importance(model, test_ds.X, test_ds.y, seed=request.seed)
    frame = (
        importance.rename("permutation").to_frame()
        if isinstance(importance, pd.Series)
        else pd.DataFrame(importance)
    )
    if request.kind == "xgboost":
        frame["shap_mean_abs"] = shap_importance(model, test_ds.X)
    frame = frame.sort_values(frame.columns[0], ascending=False)
    proba = pd.Series(model.predict_proba(test_ds.X)[:, 1], index=test_ds.X.index)
    positions = signal_positions(proba, request.threshold, allow_short=request.allow_short)
    test_prices = prices.loc[test_ds.X.index[0] : test_ds.X.index[-1]]
    bt_spec = BacktestSpec(fees=request.fees, slippage=request.slippage)
    result = run_backtest(test_prices, positions.reindex(test_prices.index).fillna(0.0), bt_spec)
    bench = run_backtest(test_prices, pd.Series(1.0, index=test_prices.index), bt_spec)
    signal_metrics = {k: float(np.asarray(v).item()) for k, v in result.metrics.items()}
    from core.ml.lookahead import implausibility_warnings

    warnings += implausibility_warnings(
        sharpe=signal_metrics.get("sharpe"), auc=evaluation.get("roc_auc")
    )
    data_hash = hashlib.sha256(pd.util.hash_pandas_object(prices).to_numpy().tobytes()).hexdigest()
    train_range = (train_ds.X.index[0].date(), train_ds.X.index[-1].date())
    test_range = (test_ds.X.index[0].date(), test_ds.X.index[-1].date())
    run_id = None
    if save:
        report(0.95, "Saving the run")
        scalar_eval = {k: v for k, v in evaluation.items() if isinstance(v, int | float)}
        run_id = run_store.save_run(
            kind="train",
            title=f"{request.kind} {request.symbol} h={request.horizon}",
            spec={
                **request.model_dump(mode="json"),
                "resolved_params": spec.resolved_params(),
                "resolved_features": list(features),
            },
            metrics={
                **json_safe(scalar_eval),
                "signal": json_safe(signal_metrics),
                "trials": trials,
                "data_hash": data_hash,
                "train_range": [d.isoformat() for d in train_range],
                "test_range": [d.isoformat() for d in test_range],
                "evaluation": json_safe(evaluation),
                "warnings": list(warnings),
                "lookahead": lookahead,
            },
            frames={
                "curves": pd.DataFrame(
                    {
                        "equity": result.equity,
                        "benchmark": bench.equity,
                        "proba": proba.reindex(test_prices.index),
                    }
                ),
                "importance": frame,
            },
        )
        save_model(
            model,
            run_store.run_folder(run_id) / "model",
            metadata={
                "kind": request.kind,
                "params": spec.resolved_params(),
                "features": list(features),
            },
        )
    report(1.0, "Done")
    return TrainOutcome(
        run_id,
        request,
        spec.resolved_params(),
        list(features),
        evaluation,
        frame,
        signal_metrics,
        result.equity,
        bench.equity,
        train_range,
        test_range,
        trials,
        data_hash,
        tuple(warnings),
        lookahead,
    )


@dataclass(frozen=True)
class VersionRow:
    """A registry entry as shown to users."""

    id: int
    name: str
    version: int
    kind: str
    stage: str
    features: list[str]
    params: dict[str, Any]
    train_start: date
    train_end: date
    data_hash: str
    metrics: dict[str, Any]
    checksum: str
    created_at: Any
    promoted_at: Any

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in self.__dict__.items()
        }


def _row(v: ModelVersion) -> VersionRow:
    return VersionRow(
        v.id,
        v.name,
        v.version,
        v.kind,
        v.stage,
        list(v.features),
        dict(v.params),
        v.train_start,
        v.train_end,
        v.data_hash,
        dict(v.metrics),
        v.checksum,
        v.created_at,
        v.promoted_at,
    )


def register(run_id: int, name: str, *, actor: Actor = LOCAL) -> VersionRow:
    """Copy a training run's artifact into the registry as a new candidate version."""
    from core.ml import verify_artifact

    require(actor, "analyst", "registering a model")
    if not name or len(name) > 64 or not name.replace("-", "").replace("_", "").isalnum():
        raise ValueError(f"model name {name!r}: use 1-64 letters, digits, '-' or '_'")
    run = run_store.get_run(run_id)
    if run.kind != "train":
        raise ValueError(f"run {run_id} is a {run.kind}, not a training run")
    source = run_store.run_folder(run_id) / "model"
    manifest = verify_artifact(source)
    checksum = manifest["checksum"]
    folder = None
    try:
        with session_scope(get_engine()) as session:
            latest = session.scalar(
                select(ModelVersion.version)
                .where(ModelVersion.name == name)
                .order_by(ModelVersion.version.desc())
                .limit(1)
            )
            version = (latest or 0) + 1
            folder = get_settings().var_dir / "models" / name / f"v{version}"
            if folder.exists():
                shutil.rmtree(folder)
            shutil.copytree(source, folder)
            verify_artifact(folder, expected_checksum=checksum)
            spec = run.spec
            record = ModelVersion(
                name=name,
                version=version,
                kind=spec["kind"],
                params=spec.get("resolved_params", spec.get("params", {})),
                features=spec.get("resolved_features") or spec.get("features") or [],
                dataset=f"{spec['dataset']}/{spec['symbol']}",
                train_start=date.fromisoformat(run.metrics["train_range"][0]),
                train_end=date.fromisoformat(run.metrics["train_range"][1]),
                data_hash=run.metrics["data_hash"],
                metrics={
                    k: run.metrics.get(k)
                    for k in ("roc_auc", "pr_auc", "log_loss", "brier", "accuracy", "trials")
                }
                | {
                    "signal_sharpe": (run.metrics.get("signal") or {}).get("sharpe"),
                    "run_id": run_id,
                },
                stage="candidate",
                artifact_path=str(folder),
                checksum=checksum,
            )
            session.add(record)
            session.flush()
            session.add(
                ModelEvent(
                    name=name,
                    version_id=record.id,
                    action="register",
                    from_stage=None,
                    to_stage="candidate",
                    reason=f"from training run {run_id}",
                    actor=actor.name,
                )
            )
            session.flush()
            return _row(record)
    except BaseException:
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)
        raise


def list_versions(name: str | None = None) -> list[VersionRow]:
    """Registry entries, newest first."""
    with session_scope(get_engine()) as session:
        query = select(ModelVersion).order_by(ModelVersion.name, ModelVersion.version.desc())
        if name:
            query = query.where(ModelVersion.name == name)
        return [_row(v) for v in session.scalars(query)]


def events(name: str | None = None) -> list[dict[str, Any]]:
    """Registry audit trail, newest first."""
    with session_scope(get_engine()) as session:
        query = select(ModelEvent).order_by(ModelEvent.id.desc())
        if name:
            query = query.where(ModelEvent.name == name)
        return [
            {
                "id": e.id,
                "name": e.name,
                "version_id": e.version_id,
                "action": e.action,
                "from": e.from_stage,
                "to": e.to_stage,
                "reason": e.reason,
                "actor": e.actor,
                "at": e.created_at.isoformat(),
            }
            for e in session.scalars(query)
        ]


def promote(version_id: int, *, reason: str = "", actor: Actor = LOCAL) -> VersionRow:
    """Make a version the champion of its name; the previous champion is archived."""
    require(actor, "pm", "promoting a model")
    with session_scope(get_engine()) as session:
        target = session.get(ModelVersion, version_id)
        if target is None:
            raise LookupError(f"no model version with id {version_id}")
        if target.stage == "champion":
            raise ValueError(f"{target.name} v{target.version} is already the champion")
        _verify(target)
        for current in session.scalars(
            select(ModelVersion).where(
                ModelVersion.name == target.name, ModelVersion.stage == "champion"
            )
        ):
            current.stage = "archived"
            session.add(
                ModelEvent(
                    name=current.name,
                    version_id=current.id,
                    action="archive",
                    from_stage="champion",
                    to_stage="archived",
                    reason=f"replaced by v{target.version}",
                    actor=actor.name,
                )
            )
        previous = target.stage
        target.stage = "champion"
        target.promoted_at = utcnow()
        session.add(
            ModelEvent(
                name=target.name,
                version_id=target.id,
                action="promote",
                from_stage=previous,
                to_stage="champion",
                reason=reason,
                actor=actor.name,
            )
        )
        session.flush()
        return _row(target)


def rollback(name: str, *, reason: str = "", actor: Actor = LOCAL) -> VersionRow:
    """Restore the previous champion of ``name``; the current one is archived."""
    require(actor, "pm", "rolling back a model")
    with session_scope(get_engine()) as session:
        current = session.scalar(
            select(ModelVersion).where(ModelVersion.name == name, ModelVersion.stage == "champion")
        )
        if current is None:
            raise LookupError(f"model {name!r} has no champion to roll back")
        # Champions form a stack: each promotion pushes, each rollback pops, so repeated
        # rollbacks walk further back instead of flip-flopping between two versions.
        stack: list[int] = []
        for event in session.scalars(
            select(ModelEvent)
            .where(ModelEvent.name == name, ModelEvent.action.in_(("promote", "rollback")))
            .order_by(ModelEvent.id)
        ):
            if event.action == "promote":
                stack = [v for v in stack if v != event.version_id] + [event.version_id]
            elif stack and stack[-1] == event.version_id:
                stack.pop()
        if len(stack) < 2 or stack[-1] != current.id:
            raise LookupError(f"model {name!r} has no earlier champion to roll back to")
        earlier = session.get_one(ModelVersion, stack[-2])
        _verify(earlier)
        current.stage = "archived"
        earlier.stage = "champion"
        earlier.promoted_at = utcnow()
        session.add(
            ModelEvent(
                name=name,
                version_id=current.id,
                action="rollback",
                from_stage="champion",
                to_stage="archived",
                reason=reason,
                actor=actor.name,
            )
        )
        session.add(
            ModelEvent(
                name=name,
                version_id=earlier.id,
                action="restore",
                from_stage="archived",
                to_stage="champion",
                reason=reason,
                actor=actor.name,
            )
        )
        session.flush()
        return _row(earlier)


def _verify(version: ModelVersion) -> None:
    from core.ml import verify_artifact

    verify_artifact(version.artifact_path, expected_checksum=version.checksum)


def load_version(version_id: int) -> Any:
    """Load a registered model after verifying its checksum."""
    from core.ml import load_model

    with session_scope(get_engine()) as session:
        record = session.get(ModelVersion, version_id)
        if record is None:
            raise LookupError(f"no model version with id {version_id}")
        path, checksum = record.artifact_path, record.checksum
    return load_model(path, expected_checksum=checksum)


def compare_versions(a: int, b: int) -> pd.DataFrame:
    """Side-by-side metrics, params and data of two versions."""
    rows = {v.id: v for v in list_versions()}
    missing = [i for i in (a, b) if i not in rows]
    if missing:
        raise LookupError(f"no model versions {missing}")

    def flat(v: VersionRow) -> dict[str, Any]:
        return {
            "name": f"{v.name} v{v.version}",
            "kind": v.kind,
            "stage": v.stage,
            "train": f"{v.train_start}..{v.train_end}",
            "features": len(v.features),
            **{f"metric.{k}": val for k, val in v.metrics.items()},
            **{f"param.{k}": val for k, val in v.params.items()},
        }

    return pd.DataFrame({f"#{a}": flat(rows[a]), f"#{b}": flat(rows[b])}).astype("string")
