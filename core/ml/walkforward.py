"""Walk-forward validation of rule strategies and ML models, with overfitting statistics.

Both entry points cut the bars into folds (:func:`fold_windows`): choose or fit on the
training window, then trade the following test window out of sample. Out-of-sample
returns are measured by the sweep's numpy engine (:func:`core.backtest.equity_curves`,
same :data:`core.backtest.EXECUTION` as every backtest) on the test bars only: the
position held on the first test bar is decided at the close of the last training bar,
and indicator warm-up comes from the training bars before the test window, so no
future bar is ever used. The test windows do not overlap, so their returns are stitched
in time order into one out-of-sample track.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, model_validator
from sklearn.metrics import roc_auc_score

from core.backtest import metrics as bt_metrics
from core.backtest._prices import as_price_frame
from core.backtest.spec import BacktestSpec
from core.backtest.sweep import Constraint, equity_curves, sweep
from core.ml.dataset import LabelKind, MLDataset, feature_frame, make_labels
from core.ml.evaluate import signal_positions
from core.ml.lookahead import LookaheadError, check_features, implausibility_warnings
from core.ml.models import ModelSpec, fit_model
from core.ml.overfit import deflated_sharpe_ratio, pbo_cscv
from core.strategies import run_strategy

Progress = Callable[[float, str], None]


class WalkForwardSpec(BaseModel):
    """How to cut bars into walk-forward folds (frozen).

    Parameters
    ----------
    mode : {"rolling", "anchored"}
        Rolling: the last ``train_bars`` bars before each test window. Anchored: every
        bar from the start (at least ``train_bars``).
    train_bars : int
        Training window (rolling) or the first training window (anchored).
    test_bars : int
        Bars per out-of-sample window.
    step_bars : int, optional
        Distance between consecutive test starts (default ``test_bars``); must be
        ``>= test_bars`` so test windows never overlap.
    folds : int, optional
        Keep only the most recent ``folds`` windows (error if fewer fit).

    >>> WalkForwardSpec(train_bars=500, test_bars=100).step
    100
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    mode: Literal["rolling", "anchored"] = "rolling"
    train_bars: int = Field(ge=20)
    test_bars: int = Field(ge=2)
    step_bars: int | None = Field(default=None, ge=1)
    folds: int | None = Field(default=None, ge=1)

    @model_validator(mode="after")
    def _no_overlap(self) -> WalkForwardSpec:
        if self.step_bars is not None and self.step_bars < self.test_bars:
            raise ValueError(
                f"step_bars ({self.step_bars}) must be >= test_bars ({self.test_bars}): "
                "overlapping test windows cannot be stitched into one out-of-sample track"
            )
        return self

    @property
    def step(self) -> int:
        """Bars between test starts."""
        return self.step_bars or self.test_bars


@dataclass(frozen=True)
class FoldWindow:
    """Integer bar positions of one fold (ends exclusive)."""

    fold: int
    train_start: int
    train_end: int
    test_start: int
    test_end: int


def fold_windows(n_bars: int, spec: WalkForwardSpec) -> list[FoldWindow]:
    """The folds of ``spec`` on ``n_bars`` bars; a trailing partial test window is unused.

    >>> [(w.train_start, w.test_start, w.test_end)
    ...  for w in fold_windows(100, WalkForwardSpec(train_bars=50, test_bars=20))]
    [(0, 50, 70), (20, 70, 90)]
    """
    starts = list(range(spec.train_bars, n_bars - spec.test_bars + 1, spec.step))
    if not starts:
        raise ValueError(
            f"{n_bars} bars are too few for train_bars={spec.train_bars} + "
            f"test_bars={spec.test_bars}"
        )
    if spec.folds is not None:
        if len(starts) < spec.folds:
            raise ValueError(
                f"only {len(starts)} folds fit in {n_bars} bars, {spec.folds} requested; "
                "shorten train_bars/test_bars/step_bars or use more data"
            )
        starts = starts[-spec.folds :]
    windows = []
    for k, lo in enumerate(starts):
        train_start = 0 if spec.mode == "anchored" else lo - spec.train_bars
        windows.append(FoldWindow(k, train_start, lo, lo, lo + spec.test_bars))
    return windows


@dataclass(frozen=True, kw_only=True)
class WalkForwardResult:
    """Per-fold table, stitched out-of-sample track and overfitting statistics.

    Attributes
    ----------
    kind : {"rule", "model"}
    folds : DataFrame
        One row per fold: ``fold, train_start, train_end, test_start, test_end``
        (timestamps, ends inclusive), ``params``, ``is_sharpe``, ``oos_sharpe``,
        ``oos_return`` and kind-specific columns (``is_metric``; ``n_train``,
        ``n_purged``, ``is_auc``, ``oos_auc``).
    oos_returns, oos_equity, oos_positions : Series
        Stitched test-window returns, equity (from ``init_cash``) and target positions.
    is_sharpe : float
        Mean in-sample Sharpe of the folds (annualized).
    oos_sharpe : float
        Annualized Sharpe of the stitched out-of-sample returns.
    oos_return : float
        Total stitched out-of-sample return.
    trials : int
        Configurations tried per selection: the RAW count of grid combinations (rules)
        or of tuning trials (models, 1 without tuning). Correlated grid points are not
        merged into an effective number: ``N`` in the expected maximum Sharpe is the raw
        count (conservative); the dispersion ``V[SR]`` is measured on the trials' own
        out-of-sample Sharpe ratios, so near-duplicate points shrink it. The eigenvalue
        effective number ``(sum l)^2 / sum l^2`` of the trials' return correlation
        matrix is reported for information as ``dsr["effective_trials"]``.
    deflated_sharpe : float
        DSR probability of the out-of-sample track given ``trials``.
    dsr : dict
        Full output of :func:`core.ml.overfit.deflated_sharpe_ratio`.
    pbo : float or None
        CSCV probability of backtest overfitting across the grid (rules only).
    pbo_detail : dict or None
        Full output of :func:`core.ml.overfit.pbo_cscv`.
    seconds : float
        Wall time.
    oos_auc : float or None
        Models: ROC AUC of the stitched out-of-sample probabilities.
    warnings : tuple of str
        Implausible results (Sharpe >= 4, AUC >= 0.9) and overridden look-ahead checks.
    lookahead : dict or None
        Models: the look-ahead check of the features (method, verdict, message).
    trial_counting : str
        How ``trials`` was counted (shown in outputs).
    """

    kind: str
    folds: pd.DataFrame
    oos_returns: pd.Series
    oos_equity: pd.Series
    oos_positions: pd.Series
    is_sharpe: float
    oos_sharpe: float
    oos_return: float
    trials: int
    deflated_sharpe: float
    dsr: dict[str, float]
    pbo: float | None
    pbo_detail: dict[str, Any] | None
    seconds: float
    oos_proba: pd.Series | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    oos_auc: float | None = None
    warnings: tuple[str, ...] = ()
    lookahead: dict[str, Any] | None = None
    trial_counting: str = ""

    def summary(self) -> dict[str, Any]:
        """Scalar results as a JSON-friendly dict."""
        return {
            "kind": self.kind,
            "folds": len(self.folds),
            "is_sharpe": self.is_sharpe,
            "oos_sharpe": self.oos_sharpe,
            "oos_return": self.oos_return,
            "oos_auc": self.oos_auc,
            "trials": self.trials,
            "trial_counting": self.trial_counting,
            "deflated_sharpe": self.deflated_sharpe,
            "pbo": self.pbo,
            "seconds": self.seconds,
            "warnings": list(self.warnings),
            "lookahead": self.lookahead,
        }


def _window_returns(
    prices: pd.DataFrame, positions: np.ndarray, lo: int, hi: int, spec: BacktestSpec
) -> pd.Series:
    """Returns of bars ``lo..hi-1`` for targets decided at bars ``lo-1..hi-1``.

    ``positions`` has ``hi - lo + 1`` entries (bar ``lo - 1`` first); the simulation
    starts flat with ``init_cash`` at the close of bar ``lo - 1``.
    """
    window = prices.iloc[lo - 1 : hi]
    frame = pd.DataFrame({"p": np.asarray(positions, dtype=np.float64)}, index=window.index)
    equity = equity_curves(window, frame, spec)["p"].to_numpy()
    return pd.Series(equity[1:] / equity[:-1] - 1.0, index=window.index[1:], name="returns")


def _sharpe(returns: np.ndarray, ppy: float) -> float:
    return float(bt_metrics.sharpe_ratio(np.asarray(returns), ppy)) if len(returns) > 1 else np.nan


def _stitch(
    pieces: list[pd.Series], positions: list[pd.Series], spec: BacktestSpec
) -> tuple[pd.Series, pd.Series, pd.Series]:
    returns = pd.concat(pieces).rename("returns")
    if not returns.index.is_monotonic_increasing or not returns.index.is_unique:
        raise RuntimeError("out-of-sample windows overlap or are out of order")
    equity = (spec.init_cash * (1.0 + returns).cumprod()).rename("equity")
    return returns, equity, pd.concat(positions).rename("position")


def _finish(
    kind: str,
    rows: list[dict[str, Any]],
    pieces: list[pd.Series],
    positions: list[pd.Series],
    spec: BacktestSpec,
    trials: int,
    start: float,
    *,
    sr_estimates: np.ndarray | None = None,
    pbo: dict[str, Any] | None = None,
    oos_proba: pd.Series | None = None,
    oos_auc: float | None = None,
    warnings: Sequence[str] = (),
    lookahead: dict[str, Any] | None = None,
    trial_counting: str = "",
    effective_trials: float | None = None,
) -> WalkForwardResult:
    returns, equity, pos = _stitch(pieces, positions, spec)
    ppy = spec.periods_per_year
    dsr = deflated_sharpe_ratio(returns.to_numpy(), max(trials, 1), sr_estimates=sr_estimates)
    dsr["effective_trials"] = float(trials if effective_trials is None else effective_trials)
    folds = pd.DataFrame(rows)
    oos_sharpe = _sharpe(returns.to_numpy(), ppy)
    flags = [*warnings, *implausibility_warnings(sharpe=oos_sharpe, auc=oos_auc)]
    return WalkForwardResult(
        kind=kind,
        folds=folds,
        oos_returns=returns,
        oos_equity=equity,
        oos_positions=pos,
        is_sharpe=float(np.nanmean(folds["is_sharpe"]))
        if folds["is_sharpe"].notna().any()
        else np.nan,
        oos_sharpe=oos_sharpe,
        oos_return=float(equity.iloc[-1] / spec.init_cash - 1.0),
        trials=int(trials),
        deflated_sharpe=float(dsr["dsr"]),
        dsr=dsr,
        pbo=None if pbo is None else float(pbo["pbo"]),
        pbo_detail=pbo,
        seconds=time.perf_counter() - start,
        oos_proba=oos_proba,
        oos_auc=oos_auc,
        warnings=tuple(flags),
        lookahead=lookahead,
        trial_counting=trial_counting,
    )


RULE_TRIALS = (
    "raw count of grid combinations (correlated grid points are not merged; V[SR] is the "
    "variance of the combinations' own out-of-sample Sharpe ratios)"
)
MODEL_TRIALS = "1 model (no tuning; V[SR] = 1/(T-1), the null variance of the Sharpe estimator)"
RETUNE_TRIALS = (
    "raw count of tuning trials per fold (scored by AUC, so V[SR] = 1/(T-1), the null "
    "variance of the Sharpe estimator)"
)


def effective_trials(returns_matrix: np.ndarray) -> float:
    """Eigenvalue effective number of trials: ``(sum l)^2 / sum l^2`` of the correlations.

    ``N`` identical columns give 1; ``N`` uncorrelated ones about ``N``. Columns with zero
    variance are dropped. Reported for information; the DSR uses the raw count.

    >>> effective_trials(np.random.default_rng(0).normal(size=(5000, 4))) > 3.9
    True
    >>> x = np.random.default_rng(0).normal(size=(500, 1))
    >>> round(effective_trials(np.hstack([x, x, x])), 6)
    1.0
    """
    mat = np.asarray(returns_matrix, dtype=np.float64)
    mat = mat[:, mat.std(axis=0) > 0]
    if mat.shape[1] < 2:
        return float(mat.shape[1])
    eig = np.clip(np.linalg.eigvalsh(np.corrcoef(mat, rowvar=False)), 0.0, None)
    return float(eig.sum() ** 2 / (eig**2).sum())


def _py(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value


def _typed_params(params: dict[str, Any], table: pd.DataFrame) -> dict[str, Any]:
    """Restore integer params that a mixed-dtype row turned into floats."""
    out = dict(params)
    for name, value in params.items():
        if name in table.columns and pd.api.types.is_integer_dtype(table[name]):
            out[name] = int(value)
    return out


def grid_returns(
    prices: pd.DataFrame,
    strategy: str,
    combos: pd.DataFrame,
    fixed: Mapping[str, Any],
    spec: BacktestSpec,
) -> pd.DataFrame:
    """Per-bar returns (T x N) of every parameter combination over the whole sample."""
    cols = {}
    for i, row in enumerate(combos.itertuples(index=False)):
        params = {**fixed, **{n: _py(v) for n, v in zip(combos.columns, row, strict=True)}}
        cols[i] = run_strategy(strategy, prices, params).to_numpy(dtype=np.float64)
    equity = equity_curves(prices, pd.DataFrame(cols, index=prices.index), spec).to_numpy()
    rets = np.empty_like(equity)
    rets[0] = equity[0] / spec.init_cash - 1.0
    rets[1:] = equity[1:] / equity[:-1] - 1.0
    return pd.DataFrame(rets, index=prices.index)


def walk_forward_rule(
    prices: pd.DataFrame,
    strategy: str,
    grid: Mapping[str, Sequence[Any] | np.ndarray],
    spec: WalkForwardSpec,
    backtest_spec: BacktestSpec | None = None,
    metric: str = "sharpe",
    *,
    constraints: Constraint | Sequence[Constraint] | None = None,
    fixed: Mapping[str, Any] | None = None,
    pbo_splits: int = 16,
    progress: Progress | None = None,
) -> WalkForwardResult:
    """Walk-forward optimization of a registered rule strategy.

    On each fold the parameters maximizing ``metric`` on the training window are chosen
    by :func:`core.backtest.sweep.sweep` and traded on the test window.

    Parameters
    ----------
    prices : DataFrame
        Canonical price frame.
    strategy : str
        Name in :data:`core.strategies.STRATEGIES`.
    grid : mapping
        Parameter axes, as for :func:`core.backtest.sweep.sweep`.
    spec : WalkForwardSpec
        Fold layout.
    backtest_spec : BacktestSpec, optional
        Costs and capital.
    metric : str
        In-sample selection metric (a :data:`core.backtest.METRICS` name).
    constraints, fixed
        Passed to :func:`core.backtest.sweep.sweep`.
    pbo_splits : int
        CSCV blocks for the PBO over the grid (reduced automatically on short samples).
    progress : callable, optional
        ``progress(fraction, message)``.

    Notes
    -----
    ``trials`` is the raw number of grid combinations. The DSR uses the dispersion of the
    per-period Sharpe ratios of all combinations over the out-of-sample span; the PBO is
    CSCV over those combinations' returns on the same span.
    """
    start = time.perf_counter()
    bt = backtest_spec or BacktestSpec()
    prices = as_price_frame(prices)
    fixed = dict(fixed or {})
    windows = fold_windows(len(prices), spec)
    rows, pieces, positions = [], [], []
    combos: pd.DataFrame | None = None
    index = prices.index
    for w in windows:
        train = prices.iloc[w.train_start : w.train_end]
        result = sweep(strategy, train, grid, constraints, bt, metric, fixed=fixed)
        if result.combinations == 0:
            raise ValueError("the grid has no valid parameter combination")
        combos = result.table[list(result.param_names)] if combos is None else combos
        best = result.best(metric)
        params = _typed_params(result.best_params(metric), result.table)
        history = prices.iloc[w.train_start : w.test_end]
        pos = run_strategy(strategy, history, params).to_numpy(dtype=np.float64)
        pos = pos[w.test_start - 1 - w.train_start :]
        rets = _window_returns(prices, pos, w.test_start, w.test_end, bt)
        pieces.append(rets)
        positions.append(pd.Series(pos[1:], index=rets.index))
        rows.append(
            {
                "fold": w.fold,
                "train_start": index[w.train_start],
                "train_end": index[w.train_end - 1],
                "test_start": index[w.test_start],
                "test_end": index[w.test_end - 1],
                "params": params,
                "is_metric": float(best[metric]),
                "is_sharpe": float(best["sharpe"]),
                "oos_sharpe": _sharpe(rets.to_numpy(), bt.periods_per_year),
                "oos_return": float(np.prod(1.0 + rets.to_numpy()) - 1.0),
            }
        )
        if progress is not None:
            progress((w.fold + 1) / (len(windows) + 1), f"fold {w.fold + 1}/{len(windows)}")
    assert combos is not None
    span = slice(windows[0].test_start, windows[-1].test_end)
    matrix = grid_returns(prices, strategy, combos, fixed, bt).iloc[span].to_numpy()
    sr_estimates = None
    pbo = None
    if matrix.shape[1] >= 2:
        std = matrix.std(axis=0, ddof=1)
        sr_estimates = np.where(std > 0, matrix.mean(axis=0) / np.where(std > 0, std, 1), 0.0)
        splits = pbo_splits
        while splits > 2 and matrix.shape[0] // splits < 20:
            splits -= 2
        pbo = pbo_cscv(matrix, n_splits=splits)
    out = _finish(
        "rule",
        rows,
        pieces,
        positions,
        bt,
        len(combos),
        start,
        sr_estimates=sr_estimates,
        pbo=pbo,
        trial_counting=RULE_TRIALS,
        effective_trials=effective_trials(matrix),
    )
    if progress is not None:
        progress(1.0, "done")
    return out


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
        ``progress(fraction, message)``.

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
    bt = backtest_spec or BacktestSpec()
    prices = as_price_frame(prices)
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
    valid_x = feats.notna().all(axis=1).to_numpy()
    has_y = labels["y"].notna().to_numpy()
    t1 = labels["t1"].to_numpy()
    t1_series = labels["t1"]
    y_all = labels["y"].to_numpy()
    index = prices.index
    windows = fold_windows(len(prices), spec)
    rows, pieces, positions, probas = [], [], [], []
    total_steps = len(windows) + 1
    for w in windows:
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
            from core.ml.tuning import tune

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
            )
            fold_spec = ModelSpec(
                kind=model_spec.kind,
                params={**model_spec.params, **tuned.best_params},
                seed=model_spec.seed,
            )
        model = fit_model(fold_spec, feats.iloc[train_pos], y_all[train_pos].astype(np.int64))

        def proba_on(lo: int, hi: int, model: Any = model) -> np.ndarray:
            out = np.full(hi - lo, np.nan)
            ok = valid_x[lo:hi]
            if ok.any():
                out[ok] = model.predict_proba(feats.iloc[lo:hi].loc[ok])[:, 1]
            return out

        p_test = proba_on(w.test_start - 1, w.test_end)
        pos = signal_positions(
            p_test, threshold, scale_by_confidence=scale_by_confidence, allow_short=allow_short
        )
        rets = _window_returns(prices, pos, w.test_start, w.test_end, bt)
        pieces.append(rets)
        positions.append(pd.Series(pos[1:], index=rets.index))
        probas.append(pd.Series(p_test[1:], index=rets.index))
        p_train = proba_on(w.train_start, w.train_end)
        is_pos = signal_positions(
            p_train, threshold, scale_by_confidence=scale_by_confidence, allow_short=allow_short
        )
        is_rets = _window_returns(prices, is_pos, w.train_start + 1, w.train_end, bt)
        test_rows = np.flatnonzero(
            valid_x[w.test_start : w.test_end] & has_y[w.test_start : w.test_end]
        )
        rows.append(
            {
                "fold": w.fold,
                "train_start": index[w.train_start],
                "train_end": index[w.train_end - 1],
                "test_start": index[w.test_start],
                "test_end": index[w.test_end - 1],
                "params": fold_spec.resolved_params(),
                "n_train": int(train_pos.size),
                "n_purged": int(candidates.sum() - train_pos.size),
                "is_sharpe": _sharpe(is_rets.to_numpy(), bt.periods_per_year),
                "oos_sharpe": _sharpe(rets.to_numpy(), bt.periods_per_year),
                "oos_return": float(np.prod(1.0 + rets.to_numpy()) - 1.0),
                "is_auc": _auc(y_all[train_pos], p_train[train_pos - w.train_start]),
                "oos_auc": _auc(y_all[w.test_start + test_rows], p_test[1:][test_rows]),
            }
        )
        if progress is not None:
            progress((w.fold + 1) / total_steps, f"fold {w.fold + 1}/{len(windows)}")
    oos_proba = pd.concat(probas).rename("proba")
    pos_in_index = index.get_indexer(oos_proba.index)
    labelled = has_y[pos_in_index]
    pooled_auc = _auc(y_all[pos_in_index][labelled], oos_proba.to_numpy()[labelled])
    out = _finish(
        "model",
        rows,
        pieces,
        positions,
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


__all__ = [
    "FoldWindow",
    "Progress",
    "WalkForwardResult",
    "WalkForwardSpec",
    "effective_trials",
    "fold_windows",
    "grid_returns",
    "walk_forward_model",
    "walk_forward_rule",
]
