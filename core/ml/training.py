"""Train one classifier end to end: look-ahead check, dataset, split, tuning, fit,
out-of-sample evaluation, importance, and a backtest of its signal on the test period.

Every setting is a required keyword (the request model upstream holds the defaults).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal

import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline

from core.backtest import run_backtest
from core.backtest.spec import BacktestSpec
from core.features import available_features
from core.ml.dataset import make_dataset, time_split
from core.ml.evaluate import evaluate, permutation_importance, shap_importance, signal_positions
from core.ml.lookahead import LookaheadError, check_features, implausibility_warnings
from core.ml.models import ModelKind, ModelSpec, fit_model
from core.ml.tuning import tune as tune_model

Progress = Callable[[float, str], None]


@dataclass(frozen=True)
class TrainingResult:
    """A fitted model with everything measured about it.

    ``proba`` is the up-probability on the test rows; ``equity`` and ``benchmark`` the
    signal's and buy-and-hold's equity over the same test period, with the same costs.
    """

    model: Pipeline
    spec: ModelSpec
    features: list[str]
    evaluation: dict[str, Any]
    importance: pd.DataFrame
    proba: pd.Series
    signal_metrics: dict[str, float]
    equity: pd.Series
    benchmark: pd.Series
    train_range: tuple[date, date]
    test_range: tuple[date, date]
    trials: int
    data_hash: str
    warnings: tuple[str, ...]
    lookahead: dict[str, Any]


def data_hash(prices: pd.DataFrame) -> str:
    """SHA-256 of the price frame's values and index (pandas' row hashes)."""
    return hashlib.sha256(pd.util.hash_pandas_object(prices).to_numpy().tobytes()).hexdigest()


def _screen(
    prices: pd.DataFrame, features: list[str], *, horizon: int, allow_lookahead: bool
) -> tuple[dict[str, Any], list[str]]:
    """Run the look-ahead check on the features; refuse a leaky one unless overridden."""
    report = check_features(features, prices, horizon=horizon)
    notes = []
    if report.leaky:
        if not allow_lookahead:
            raise LookaheadError(report)
        notes.append(
            f"LOOK-AHEAD CHECK OVERRIDDEN (allow_lookahead): {report.message()}; these "
            "results are not a valid out-of-sample test"
        )
    return report.as_dict(), notes


def _importance(
    model: Pipeline, X: pd.DataFrame, y: pd.Series, kind: str, seed: int
) -> pd.DataFrame:
    importance = permutation_importance(model, X, y, seed=seed)
    frame = (
        importance.rename("permutation").to_frame()
        if isinstance(importance, pd.Series)
        else pd.DataFrame(importance)
    )
    if kind == "xgboost":
        frame["shap_mean_abs"] = shap_importance(model, X)
    return frame.sort_values(frame.columns[0], ascending=False)


def train_classifier(
    prices: pd.DataFrame,
    *,
    features: Sequence[str] | None,
    kind: ModelKind,
    params: dict[str, Any],
    horizon: int,
    label: Literal["sign", "triple_barrier"],
    test_fraction: float,
    tune: bool,
    n_trials: int,
    seed: int,
    threshold: float,
    allow_short: bool,
    allow_lookahead: bool,
    fees: float,
    slippage: float,
    study_storage: str | None = None,
    study_name: str | None = None,
    progress: Progress | None = None,
    cancel: Callable[[], None] | None = None,
    executor: str = "serial",
) -> TrainingResult:
    """Train, optionally tune with Optuna, evaluate out of sample and trade the signal.

    Parameters
    ----------
    prices : DataFrame
        Canonical price frame of one symbol.
    features : sequence of str, optional
        Feature names; None for every feature computable from ``prices``' columns.
    study_storage, study_name : str, optional
        Optuna storage URL and study name when ``tune`` (in memory without a storage).
        The study holds ``n_trials`` trials when done: a stored study of that name
        (a restarted job) keeps its finished trials and runs only the missing ones.
    progress : callable, optional
        ``progress(fraction, message)``, called between steps (it may raise to cancel).
    cancel : callable, optional
        Called between tuning trials; it raises to stop.
    executor : {"serial", "dask"}
        Where the tuning trials run (:func:`core.ml.tuning.tune`); same result.

    Raises
    ------
    LookaheadError
        A feature changes when later bars are added, and ``allow_lookahead`` is off.
    """
    report = progress or (lambda _f, _m: None)
    names = list(features or available_features(prices.columns))
    report(0.02, f"Look-ahead check of {len(names)} features")
    lookahead, warnings = _screen(prices, names, horizon=horizon, allow_lookahead=allow_lookahead)
    report(0.05, f"Building dataset: {len(names)} features, horizon {horizon}")
    dataset = make_dataset(prices, names, horizon=horizon, label=label)
    train_ds, test_ds = time_split(dataset, test_fraction=test_fraction, embargo=horizon)
    params = dict(params)
    trials = 1
    if tune:

        def on_trial(number: int, value: float) -> None:
            report(
                0.1 + 0.6 * (number + 1) / n_trials,
                f"Optuna trial {number + 1}/{n_trials}: CV AUC {value:.4f}",
            )

        tuned = tune_model(
            train_ds,
            kind,
            n_trials=n_trials,
            seed=seed,
            storage=study_storage,
            study_name=study_name,
            callback=on_trial,
            fixed_params=params or None,
            executor=executor,
            resume=True,
            cancel=cancel,
        )
        params = {**tuned.best_params, **params}
        trials = tuned.n_trials
        report(
            0.72,
            f"Tuned: best CV AUC {tuned.best_value:.4f} over {tuned.n_trials} trials "
            f"({tuned.n_pruned} pruned early)",
        )
    report(0.75, "Fitting the final model")
    spec = ModelSpec(kind=kind, params=params, seed=seed)
    model = fit_model(spec, train_ds.X, train_ds.y)
    report(0.85, "Evaluating out of sample")
    evaluation = evaluate(model, test_ds.X, test_ds.y, threshold)
    importance = _importance(model, test_ds.X, test_ds.y, kind, seed)
    proba = pd.Series(model.predict_proba(test_ds.X)[:, 1], index=test_ds.X.index)
    positions = pd.Series(
        signal_positions(proba, threshold, allow_short=allow_short), index=proba.index
    )
    test_prices = prices.loc[test_ds.X.index[0] : test_ds.X.index[-1]]
    bt_spec = BacktestSpec(fees=fees, slippage=slippage)
    result = run_backtest(test_prices, positions.reindex(test_prices.index).fillna(0.0), bt_spec)
    bench = run_backtest(test_prices, pd.Series(1.0, index=test_prices.index), bt_spec)
    signal_metrics = {k: float(np.asarray(v).item()) for k, v in result.metrics.items()}
    warnings += implausibility_warnings(
        sharpe=signal_metrics.get("sharpe"), auc=evaluation.get("roc_auc")
    )
    return TrainingResult(
        model=model,
        spec=spec,
        features=names,
        evaluation=evaluation,
        importance=importance,
        proba=proba,
        signal_metrics=signal_metrics,
        equity=result.equity,
        benchmark=bench.equity,
        train_range=(train_ds.X.index[0].date(), train_ds.X.index[-1].date()),
        test_range=(test_ds.X.index[0].date(), test_ds.X.index[-1].date()),
        trials=trials,
        data_hash=data_hash(prices),
        warnings=tuple(warnings),
        lookahead=lookahead,
    )


__all__ = ["TrainingResult", "data_hash", "train_classifier"]
