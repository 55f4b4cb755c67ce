"""Walk-forward training of a classifier: fit on each fold's training window (purged of
rows whose labels reach into the test window), trade its signals on the test window.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from core.backtest._prices import as_price_frame
from core.backtest.spec import BacktestSpec
from core.cluster import ChunkCache
from core.ml.dataset import LabelKind, MLDataset, feature_frame, make_labels
from core.ml.evaluate import signal_positions
from core.ml.lookahead import LookaheadError, check_features
from core.ml.models import ModelSpec, fit_model
from core.ml.tuning import tune
from core.walkforward.chunks import run_folds, single_threaded
from core.walkforward.folds import CheckCancel, FoldWindow, Progress, WalkForwardSpec, fold_windows
from core.walkforward.result import (
    MODEL_TRIALS,
    RETUNE_TRIALS,
    WalkForwardResult,
    finish,
    oos_scores,
    sharpe,
    window_dates,
    window_returns,
)


def model_fold(
    w: FoldWindow,
    *,
    prices: pd.DataFrame,
    feats: pd.DataFrame,
    labels: pd.DataFrame,
    model_spec: ModelSpec,
    settings: dict[str, Any],
) -> dict[str, Any]:
    """One fold of :func:`walk_forward_model` (a chunk of :func:`core.cluster.map_chunks`).

    Fits (optionally re-tunes, serially on this worker) on the purged training rows and
    scores the test window; returns the fold ``row`` and the test ``returns``,
    ``positions`` and ``proba``.
    """
    out: dict[str, Any] = single_threaded(
        lambda: _model_fold(w, prices, feats, labels, model_spec, **settings)
    )
    return out


def _model_fold(
    w: FoldWindow,
    prices: pd.DataFrame,
    feats: pd.DataFrame,
    labels: pd.DataFrame,
    model_spec: ModelSpec,
    *,
    horizon: int,
    label: LabelKind,
    threshold: float,
    scale_by_confidence: bool,
    allow_short: bool,
    bt: BacktestSpec,
    retune: bool,
    n_trials: int,
    tune_splits: int,
) -> dict[str, Any]:
    valid_x = feats.notna().all(axis=1).to_numpy()
    has_y = labels["y"].notna().to_numpy()
    t1 = labels["t1"].to_numpy()
    t1_series = labels["t1"]
    y_all = labels["y"].to_numpy()
    index = prices.index
    in_train = np.zeros(len(prices), dtype=bool)
    in_train[w.train_start : w.train_end] = True
    candidates = in_train & valid_x & has_y
    keep = candidates & (t1_series < index[w.test_start]).to_numpy()
    train_pos = np.flatnonzero(keep)
    if train_pos.size < 20 or np.unique(y_all[train_pos]).size < 2:
        raise ValueError(
            f"fold {w.fold}: only {train_pos.size} usable training rows (features need "
            "their lookback); increase train_bars or drop long-lookback features"
        )
    fold_spec = model_spec
    if retune:
        ds = MLDataset(
            X=feats.iloc[train_pos],
            y=pd.Series(y_all[train_pos].astype(np.int64), index=index[train_pos]),
            t1=pd.Series(t1[train_pos], index=index[train_pos]),
            fwd_return=labels["fwd_return"].iloc[train_pos],
            feature_names=tuple(feats.columns),
            horizon=horizon,
            label=label,
        )
        tuned = tune(
            ds,
            model_spec.kind,
            n_trials=n_trials,
            seed=model_spec.seed,
            n_splits=tune_splits,
            study_name=f"wf-fold{w.fold}",
            executor="serial",  # inside this fold's chunk, one thread (a Dask worker's)
            n_jobs=1,
        )
        fold_spec = ModelSpec(
            kind=model_spec.kind,
            params={**model_spec.params, **tuned.best_params},
            seed=model_spec.seed,
        )
    model = fit_model(fold_spec, feats.iloc[train_pos], y_all[train_pos].astype(np.int64))

    def proba_on(lo: int, hi: int) -> np.ndarray:
        out = np.full(hi - lo, np.nan)
        ok = valid_x[lo:hi]
        if ok.any():
            out[ok] = model.predict_proba(feats.iloc[lo:hi].loc[ok])[:, 1]
        return out

    p_test = proba_on(w.test_start - 1, w.test_end)
    pos = signal_positions(
        p_test, threshold, scale_by_confidence=scale_by_confidence, allow_short=allow_short
    )
    rets = window_returns(prices, pos, w.test_start, w.test_end, bt)
    p_train = proba_on(w.train_start, w.train_end)
    is_pos = signal_positions(
        p_train, threshold, scale_by_confidence=scale_by_confidence, allow_short=allow_short
    )
    is_rets = window_returns(prices, is_pos, w.train_start + 1, w.train_end, bt)
    test = slice(w.test_start, w.test_end)
    test_rows = np.flatnonzero(valid_x[test] & has_y[test])
    row = {
        **window_dates(w, index),
        "params": fold_spec.resolved_params(),
        "n_train": int(train_pos.size),
        "n_purged": int(candidates.sum() - train_pos.size),
        "is_sharpe": sharpe(is_rets.to_numpy(), bt.periods_per_year),
        **oos_scores(rets, bt),
        "is_auc": _auc(y_all[train_pos], p_train[train_pos - w.train_start]),
        "oos_auc": _auc(y_all[w.test_start + test_rows], p_test[1:][test_rows]),
    }
    return {
        "row": row,
        "returns": rets,
        "positions": pd.Series(pos[1:], index=rets.index),
        "proba": pd.Series(p_test[1:], index=rets.index),
    }


def walk_forward_model(
    prices: pd.DataFrame,
    features: Sequence[str] | pd.DataFrame,
    model_spec: ModelSpec,
    spec: WalkForwardSpec,
    *,
    horizon: int = 5,
    label: LabelKind = "sign",
    pt_sl: tuple[float, float] = (1.0, 1.0),
    vol_window: int = 20,
    threshold: float = 0.5,
    scale_by_confidence: bool = True,
    allow_short: bool = False,
    backtest_spec: BacktestSpec | None = None,
    retune: bool = False,
    n_trials: int = 20,
    tune_splits: int = 3,
    allow_lookahead: bool = False,
    progress: Progress | None = None,
    cancel: CheckCancel | None = None,
    executor: str = "serial",
    cache: ChunkCache | None = None,
) -> WalkForwardResult:
    """Walk-forward training of a classifier and out-of-sample trading of its signals.

    The features first go through the look-ahead check
    (:func:`core.ml.lookahead.check_features`): a leaky feature raises
    :class:`~core.ml.lookahead.LookaheadError` naming it, unless ``allow_lookahead``
    (then the result carries a warning). Implausible out-of-sample results (Sharpe >= 4,
    AUC >= 0.9) are flagged in ``warnings``.

    Parameters
    ----------
    prices : DataFrame
        Canonical price frame.
    features : sequence of str, DataFrame or callable
        Registered feature names, a callable ``fn(prices) -> DataFrame`` (both checked
        exactly by recomputing on truncated prices), or a precomputed feature frame on
        the price index (screened for correlation with future returns, since a fixed
        frame cannot be recomputed).
    model_spec : ModelSpec
        Model kind, parameters and seed.
    spec : WalkForwardSpec
        Fold layout.
    horizon, label, pt_sl, vol_window
        Labelling, see :func:`core.ml.dataset.make_labels`.
    threshold, scale_by_confidence, allow_short
        Probability -> position, see :func:`core.ml.evaluate.signal_positions`.
    backtest_spec : BacktestSpec, optional
        Costs and capital.
    retune : bool
        Re-run :func:`core.ml.tuning.tune` (``n_trials``, purged CV with
        ``tune_splits`` folds) on every training window.
    allow_lookahead : bool
        Run even when the look-ahead check flags a feature (flagged in ``warnings``).
    progress : callable, optional
        ``progress(fraction, "fold k of n done")`` after each fold, and at the end.
    cancel : callable, optional
        Called before each fold (between completions on Dask); it raises to stop.
    executor : {"serial", "dask"}
        Where the folds run (:func:`core.cluster.map_chunks`); the result is the same.
    cache : ChunkCache, optional
        Folds already stored there are not recomputed (a resumed job); see
        :func:`core.walkforward.chunks.fold_cache`.

    Notes
    -----
    Training rows are those of the training window whose label end ``t1`` precedes the
    first test bar, which purges the last ``horizon`` rows whose labels reach into the
    test window. ``trials`` is 1 (or ``n_trials`` with ``retune``); the DSR then uses the
    null variance of the Sharpe estimator, ``1 / (T - 1)``, because tuning trials are
    scored by AUC, not Sharpe. Without a grid of alternatives the PBO is not defined and
    is None.
    """
    start = time.perf_counter()
    prices = as_price_frame(prices)
    bt = (backtest_spec or BacktestSpec()).for_index(prices.index)
    report = check_features(features, prices, horizon=horizon)
    notes: list[str] = []
    if report.leaky:
        if not allow_lookahead:
            raise LookaheadError(report)
        notes.append(
            "LOOK-AHEAD CHECK OVERRIDDEN (allow_lookahead): "
            f"{report.message()}; these results are not a valid out-of-sample test"
        )
    if isinstance(features, pd.DataFrame):
        feats = features.reindex(prices.index).astype("float64")
    elif callable(features):
        feats = features(prices).reindex(prices.index).astype("float64")
    else:
        feats = feature_frame(prices, list(features))
    labels = make_labels(
        prices["close"], horizon=horizon, label=label, pt_sl=pt_sl, vol_window=vol_window
    )
    has_y = labels["y"].notna().to_numpy()
    y_all = labels["y"].to_numpy()
    index = prices.index
    windows = fold_windows(len(prices), spec)
    shared = {
        "prices": prices,
        "feats": feats,
        "labels": labels,
        "model_spec": model_spec,
        "settings": {
            "horizon": horizon,
            "label": label,
            "threshold": threshold,
            "scale_by_confidence": scale_by_confidence,
            "allow_short": allow_short,
            "bt": bt,
            "retune": retune,
            "n_trials": n_trials,
            "tune_splits": tune_splits,
        },
    }
    done = run_folds(
        model_fold,
        windows,
        shared,
        progress=progress,
        cancel=cancel,
        executor=executor,
        cache=cache,
    )
    probas = [d["proba"] for d in done]
    oos_proba = pd.concat(probas).rename("proba")
    pos_in_index = index.get_indexer(oos_proba.index)
    labelled = has_y[pos_in_index]
    pooled_auc = _auc(y_all[pos_in_index][labelled], oos_proba.to_numpy()[labelled])
    out = finish(
        "model",
        done,
        bt,
        n_trials if retune else 1,
        start,
        oos_proba=oos_proba,
        oos_auc=None if not np.isfinite(pooled_auc) else pooled_auc,
        warnings=notes,
        lookahead=report.as_dict(),
        trial_counting=RETUNE_TRIALS if retune else MODEL_TRIALS,
    )
    if progress is not None:
        progress(1.0, "done")
    return out


def _auc(y: np.ndarray, proba: np.ndarray) -> float:
    ok = np.isfinite(proba)
    y, proba = y[ok], proba[ok]
    if y.size < 2 or np.unique(y).size < 2:
        return float("nan")
    return float(roc_auc_score(y.astype(np.int64), proba))


__all__ = ["model_fold", "walk_forward_model"]
