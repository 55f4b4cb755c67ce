"""Fit a regime model (Gaussian HMM or DP Gaussian mixture) and filter it causally."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ._em import ZERO_VAR, Fit, fit_dpgmm, fit_hmm, single_blas_thread, single_state
from ._features import extract_close, feature_matrix, log_returns
from ._kernels import backward_smooth, forward_filter, gaussian_log_pdf, normalized_entropy
from ._labels import label_transition, map_states_to_labels
from ._online import FilteredRegimeModel
from ._spec import LABELS, MIN_BARS, RegimeSpec


def bars_a_year(index: pd.Index) -> float:
    """Bars a year of the fitted series (:func:`core.data.frequency.periods_per_year_of`:
    252 daily, 98,280 for 1-minute bars), used to annualize the states' moments; 252 when
    the index holds no readable interval (not timestamps, or fewer than two bars)."""
    from core.data.frequency import TRADING_DAYS, periods_per_year_of

    if not isinstance(index, pd.DatetimeIndex) or len(index) < 2:
        return float(TRADING_DAYS)
    return periods_per_year_of(index)


IN_SAMPLE_NOTE = (
    "in-sample: one fit on the whole series (SEES THE FUTURE; analysis only, not a "
    "tradable history)"
)


@dataclass(frozen=True)
class RegimeResult:
    """Per-bar regime probabilities and the fitted model behind them.

    Attributes
    ----------
    filtered : DataFrame
        Columns ``LABELS``: forward-filtered ``P(label_t | bars 0..t)``. Causal; this is
        what a strategy may trade on. Rows sum to 1.
    smoothed : DataFrame or None
        HINDSIGHT ``P(label_t | all bars)`` (forward-backward). Uses future bars: for
        after-the-fact analysis only, never for signals. ``attrs["hindsight"]`` is True.
    entropy : Series
        Entropy of the filtered row divided by ``log 4`` (0 certain .. 1 uniform).
    confidence : Series
        Largest filtered probability.
    label : Series
        Argmax of the filtered row (ties -> first in ``LABELS``).
    transition : DataFrame
        Fitted label-to-label transition matrix (states sharing a label are pooled by their
        stationary mass; a label no state carries has a NaN row).
    state_labels : dict[int, str]
        Label of each fitted state (see :func:`map_states_to_labels`).
    method : str
        Model actually used: ``"hmm"``, ``"dpgmm"`` or a fallback (see ``warnings``).
    warnings : list[str]
        Everything that did not go to plan (non-convergence, fallbacks, degenerate data).
    converged : bool
        Whether the chosen fit converged within ``n_iter``.
    states : DataFrame
        Per state: label, daily mean log return, daily volatility, occupancy.
    log_likelihood : float
        Log-likelihood (HMM) or variational lower bound (DPGMM) of the chosen fit.
    model : FilteredRegimeModel
        Fitted parameters with a reset filter, for :meth:`FilteredRegimeModel.update`.
    history : str
        How the per-bar history was estimated (cadence and mode), for display.
    history_mode : {"in-sample", "expanding", "rolling"}
        ``in-sample`` (this function): parameters from the whole series, so the history
        sees the future. The causal modes come from :func:`core.regime.causal_regimes`.
    first_bar : int
        First bar with probabilities (earlier bars are NaN: before the first causal fit).
    refits : DataFrame or None
        Causal modes: one row per refit (bar, date, training bars, EM iterations,
        whether state names changed).
    """

    filtered: pd.DataFrame
    smoothed: pd.DataFrame | None
    entropy: pd.Series
    confidence: pd.Series
    label: pd.Series
    transition: pd.DataFrame
    state_labels: dict[int, str]
    method: str
    warnings: list[str]
    converged: bool
    states: pd.DataFrame
    log_likelihood: float
    model: FilteredRegimeModel
    history: str = IN_SAMPLE_NOTE
    history_mode: str = "in-sample"
    first_bar: int = 0
    refits: pd.DataFrame | None = None

    def to_frame(self) -> pd.DataFrame:
        """Per bar: ``p_bull .. p_volatile`` (filtered), ``entropy``, ``confidence``, ``label``."""
        frame = self.filtered.add_prefix("p_")
        frame["entropy"] = self.entropy
        frame["confidence"] = self.confidence
        frame["label"] = self.label
        return frame


def fit_regimes(prices: pd.DataFrame | pd.Series, spec: RegimeSpec | None = None) -> RegimeResult:
    """Fit a regime model on the whole of ``prices`` (an IN-SAMPLE history, see below).

    The fit (standardization, EM, label mapping) uses the whole sample, so although the
    per-bar ``filtered`` probabilities are a forward recursion, the parameters behind
    bar ``t`` have seen later bars: this history is IN SAMPLE. Use it to fit a model on a
    training window, or for analysis; for a causal history use
    :func:`core.regime.causal_regimes` (the default of the page and the CLI). Fallbacks, in
    order, each recorded in ``warnings``: DPGMM -> HMM;
    full -> diagonal covariance; K states -> 2 states; -> a single ``sideways`` state
    (also used at once for constant prices).

    Parameters
    ----------
    prices : DataFrame or Series
        Needs a ``close`` column (a close-only frame or a close Series is enough).
    spec : RegimeSpec, optional

    Raises
    ------
    ValueError
        Too few bars (fewer than ``max(50, 10 * n_states)`` valid closes), no close
        column, or non-positive prices.
    """
    spec = spec or RegimeSpec()
    if not isinstance(spec, RegimeSpec):
        raise TypeError(f"spec must be a RegimeSpec, got {type(spec).__name__}")
    close_s = extract_close(prices)
    close = close_s.to_numpy()
    ret = log_returns(close)
    n_ret = int(np.isfinite(ret).sum())
    min_bars = max(MIN_BARS, 10 * spec.n_states)
    if n_ret + 1 < min_bars:
        raise ValueError(
            f"fit_regimes needs at least {min_bars} bars with a valid close for "
            f"{spec.n_states} states (>= {MIN_BARS}, and 10 per state); got {len(close)} rows "
            f"with {n_ret} usable log returns. Load a longer history or lower n_states."
        )
    notes: list[str] = []
    if not close_s.index.is_monotonic_increasing:
        notes.append("the index is not sorted ascending; bars were filtered in the given order")
    features = spec.resolved_features
    x = feature_matrix(ret, features, spec.vol_window)
    valid = np.isfinite(x).all(axis=1)
    center = x[valid].mean(axis=0)
    scale = x[valid].std(axis=0)
    fit: Fit | None
    if np.nanstd(ret) < ZERO_VAR:
        notes.append(
            "prices are constant (log returns have zero variance): no regimes can be "
            "identified; every bar is labelled 'sideways' with probability 1"
        )
        fit = single_state(len(features))
        scale = np.ones_like(scale)
    else:
        scale = np.where(scale < ZERO_VAR, 1.0, scale)
        zv = (x[valid] - center) / scale
        fit = None
        with single_blas_thread():
            if spec.method == "dpgmm":
                fit = fit_dpgmm(zv, spec, notes)
                if fit is None:
                    notes.append("falling back from the DPGMM to the Gaussian HMM")
            if fit is None:
                fit = fit_hmm(zv, spec, spec.n_states, ("full", "diag"), features, notes)
            if fit is None and spec.n_states > 2:
                notes.append("falling back to a 2-state diagonal-covariance HMM")
                fit = fit_hmm(zv, spec, 2, ("diag",), features, notes)
        if fit is None:
            notes.append("every model failed: falling back to a single 'sideways' state")
            fit = single_state(len(features))
        elif not fit.converged:
            notes.append(
                f"{fit.method} did not converge within n_iter={spec.n_iter} EM iterations "
                f"(tol={spec.tol}); the best restart is used: raise the EM iterations "
                "for a converged fit"
            )
    return _assemble(close_s, ret, x, valid, center, scale, fit, spec, notes)


def _assemble(
    close_s: pd.Series,
    ret: np.ndarray,
    x: np.ndarray,
    valid: np.ndarray,
    center: np.ndarray,
    scale: np.ndarray,
    fit: Fit,
    spec: RegimeSpec,
    notes: list[str],
) -> RegimeResult:
    index = close_s.index
    log_em = gaussian_log_pdf((x - center) / scale, fit.means, fit.covars)
    state_filt = forward_filter(log_em, fit.transmat, fit.startprob)
    state_smooth = backward_smooth(log_em, fit.transmat, state_filt)
    # label each state by the (hindsight-weighted) moments of the raw returns it explains
    w = state_smooth[valid]
    r = ret[valid]
    occ = w.sum(axis=0)
    safe = np.where(occ > 1e-9, occ, 1.0)
    mean = np.where(occ > 1e-9, w.T @ r / safe, 0.0)
    var = np.where(occ > 1e-9, (w * (r[:, None] - mean) ** 2).sum(axis=0) / safe, 0.0)
    vol = np.sqrt(var)
    state_labels = map_states_to_labels(mean, vol)
    model = FilteredRegimeModel(
        transmat=fit.transmat,
        startprob=fit.startprob,
        means=fit.means,
        covars=fit.covars,
        center=center,
        scale=scale,
        features=spec.resolved_features,
        vol_window=spec.vol_window,
        state_labels=state_labels,
    )
    cols = list(LABELS)
    filtered = pd.DataFrame(state_filt @ model.labels_matrix, index=index, columns=cols)
    smoothed = None
    if spec.compute_smoothed:
        smoothed = pd.DataFrame(state_smooth @ model.labels_matrix, index=index, columns=cols)
        smoothed.attrs["hindsight"] = True
    probs = filtered.to_numpy()
    states = pd.DataFrame(
        {
            "label": [state_labels[i] for i in range(len(mean))],
            "mean_return": mean,
            "volatility": vol,
            "ann_return": mean * bars_a_year(index),
            "ann_volatility": vol * np.sqrt(bars_a_year(index)),
            "occupancy": occ / max(occ.sum(), 1e-300),
        },
        index=pd.RangeIndex(len(mean), name="state"),
    )
    return RegimeResult(
        filtered=filtered,
        smoothed=smoothed,
        entropy=pd.Series(normalized_entropy(probs), index=index, name="entropy"),
        confidence=pd.Series(probs.max(axis=1), index=index, name="confidence"),
        label=pd.Series(np.asarray(LABELS)[probs.argmax(axis=1)], index=index, name="label"),
        transition=pd.DataFrame(
            label_transition(fit.transmat, state_labels), index=cols, columns=cols
        ),
        state_labels=state_labels,
        method=fit.method,
        warnings=notes,
        converged=fit.converged,
        states=states,
        log_likelihood=fit.score,
        model=model,
    )
