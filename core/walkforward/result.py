"""The result of a walk-forward: per-fold table, stitched out-of-sample track, DSR and PBO.

Out-of-sample returns are measured by the sweep's numpy engine
(:func:`core.backtest.equity_curves`, same :data:`core.backtest.EXECUTION` as every
backtest) on the test bars only. The test windows do not overlap, so their returns are
stitched in time order into one out-of-sample track.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from core.backtest import metrics as bt_metrics
from core.backtest.spec import BacktestSpec
from core.ml.lookahead import implausibility_warnings
from core.sweep import equity_curves
from core.walkforward.folds import FoldWindow
from core.walkforward.overfit import deflated_sharpe_ratio


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
        Full output of :func:`core.walkforward.overfit.deflated_sharpe_ratio`.
    pbo : float or None
        CSCV probability of backtest overfitting across the grid (rules only).
    pbo_detail : dict or None
        Full output of :func:`core.walkforward.overfit.pbo_cscv`.
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


def window_returns(
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


def sharpe(returns: np.ndarray, ppy: float) -> float:
    """Annualized Sharpe of ``returns`` (NaN for fewer than two)."""
    return float(bt_metrics.sharpe_ratio(np.asarray(returns), ppy)) if len(returns) > 1 else np.nan


def window_dates(w: FoldWindow, index: pd.Index) -> dict[str, Any]:
    """A fold row's first columns: the fold and the first and last dates of its windows."""
    return {
        "fold": w.fold,
        "train_start": index[w.train_start],
        "train_end": index[w.train_end - 1],
        "test_start": index[w.test_start],
        "test_end": index[w.test_end - 1],
    }


def oos_scores(returns: pd.Series, spec: BacktestSpec) -> dict[str, float]:
    """A fold row's ``oos_sharpe`` and compounded ``oos_return`` of its test ``returns``."""
    values = returns.to_numpy()
    return {
        "oos_sharpe": sharpe(values, spec.periods_per_year),
        "oos_return": float(np.prod(1.0 + values) - 1.0),
    }


def _stitch(
    pieces: list[pd.Series], positions: list[pd.Series], spec: BacktestSpec
) -> tuple[pd.Series, pd.Series, pd.Series]:
    returns = pd.concat(pieces).rename("returns")
    if not returns.index.is_monotonic_increasing or not returns.index.is_unique:
        raise RuntimeError("out-of-sample windows overlap or are out of order")
    equity = (spec.init_cash * (1.0 + returns).cumprod()).rename("equity")
    return returns, equity, pd.concat(positions).rename("position")


def finish(
    kind: str,
    done: Sequence[Mapping[str, Any]],
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
    """Stitch the folds' test windows and compute the DSR and the summary numbers.

    ``done`` holds each fold's result in fold order: its ``row``, test-window ``returns``
    and ``positions``.
    """
    pieces = [d["returns"] for d in done]
    returns, equity, pos = _stitch(pieces, [d["positions"] for d in done], spec)
    ppy = spec.periods_per_year
    dsr = deflated_sharpe_ratio(returns.to_numpy(), max(trials, 1), sr_estimates=sr_estimates)
    dsr["effective_trials"] = float(trials if effective_trials is None else effective_trials)
    folds = pd.DataFrame([d["row"] for d in done])
    oos_sharpe = sharpe(returns.to_numpy(), ppy)
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


__all__ = [
    "MODEL_TRIALS",
    "RETUNE_TRIALS",
    "RULE_TRIALS",
    "WalkForwardResult",
    "effective_trials",
    "finish",
    "oos_scores",
    "sharpe",
    "window_dates",
    "window_returns",
]
