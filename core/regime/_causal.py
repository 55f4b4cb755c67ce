"""Causal regime history: periodic warm-started refits on past bars, forward-filtered.

A whole-sample fit (:func:`core.regime.fit_regimes`) estimates its parameters, its
standardization and its state names from every bar, so its "filtered" history is in
sample: bar ``t`` is scored by a model that has seen bars after ``t``. Here bar ``t`` is
scored only with parameters estimated on bars ``< t``:

* the first fit uses bars ``0 .. min_train_bars - 1`` (seeded multi-restart EM, as in
  :func:`fit_regimes`); it also fixes the feature standardization;
* every ``refit_every`` bars after that the model is re-estimated on the bars before the
  refit point (all of them: ``expanding``; the last ``window``: ``rolling``), warm-started
  from the previous parameters (a few EM iterations, so state identities carry over);
* the forward filter runs once through the series; its state carries across refits and
  each bar is filtered with the parameters in force at that bar;
* state names are re-derived at each refit from the training bars only, with hysteresis
  (see :func:`stable_state_labels`), so "bull" does not flip on a near tie.

Bars before the first fit have no causal estimate: their probabilities are NaN.
"""

from __future__ import annotations

import dataclasses
import warnings as _warnings

import numpy as np
import pandas as pd

from ._em import ZERO_VAR, Fit, fit_hmm, single_blas_thread, single_state
from ._features import extract_close, feature_matrix, log_returns
from ._fit import RegimeResult, bars_a_year, fit_regimes
from ._kernels import (
    backward_smooth,
    filter_step,
    forward_filter,
    gaussian_log_pdf,
    normalized_entropy,
)
from ._labels import label_matrix, label_transition, map_states_to_labels
from ._online import FilteredRegimeModel
from ._spec import LABELS, MIN_BARS, RegimeHistorySpec, RegimeSpec
from ._warm import (
    Params,
    align,
    cold_em,
    dpgmm_params,
    dpgmm_refit,
    dpgmm_warm,
    moments,
    restandardize,
    standardization,
    warm_em,
)

_VOL_HYSTERESIS = 0.10  # a state must be 10% more volatile to take a higher volatility tier
_MEAN_HYSTERESIS_SE = 0.5  # ... and half a standard error higher in mean to become "bull"


def stable_state_labels(
    means: np.ndarray, vols: np.ndarray, occupancy: np.ndarray, previous: dict[int, str] | None
) -> dict[int, str]:
    """:func:`map_states_to_labels` with hysteresis towards the previous naming.

    A state keeps its volatility tier (volatile > bear > calm) unless another state is
    more than 10% more volatile, and the "bull" state keeps its name unless another calm
    state's mean is higher by more than half a standard error (``vol / sqrt(bars)``).
    Without a previous naming this is :func:`map_states_to_labels` itself.

    >>> stable_state_labels(np.array([1e-3, 0.9e-3]), np.array([0.010, 0.0105]),
    ...                     np.array([500.0, 500.0]), {0: "volatile", 1: "bull"})
    {0: 'volatile', 1: 'bull'}
    """
    means = np.asarray(means, dtype=float)
    vols = np.asarray(vols, dtype=float)
    if previous is None or sorted(previous) != list(range(len(means))):
        return map_states_to_labels(means, vols)
    tier = {"volatile": 2, "bear": 1}
    bonus_v = np.array([(1 + _VOL_HYSTERESIS) ** tier.get(previous[i], 0) for i in previous])
    se = vols / np.sqrt(np.maximum(occupancy, 1.0))
    bonus_m = np.array(
        [_MEAN_HYSTERESIS_SE * se[i] if previous[i] == "bull" else 0.0 for i in previous]
    )
    return map_states_to_labels(means + bonus_m, vols * bonus_v)


def causal_regimes(
    prices: pd.DataFrame | pd.Series,
    spec: RegimeSpec | None = None,
    history: RegimeHistorySpec | None = None,
) -> RegimeResult:
    """Causal per-bar regime probabilities (see the module docstring).

    Parameters
    ----------
    prices : DataFrame or Series
        Needs a ``close`` column (or is the close).
    spec : RegimeSpec, optional
        The model (method, states, seed, features).
    history : RegimeHistorySpec, optional
        Cadence and window; ``mode="in-sample"`` delegates to :func:`fit_regimes`.

    Returns
    -------
    RegimeResult
        ``filtered`` / ``label`` are NaN before the first fit; ``refits`` lists every
        refit; ``model``, ``transition`` and ``states`` are those of the latest fit;
        ``smoothed`` (if requested) is HINDSIGHT with the latest parameters.

    Raises
    ------
    ValueError
        Fewer than ``min_train_bars + 1`` bars, or the errors of :func:`fit_regimes`.
    """
    spec = spec or RegimeSpec()
    history = history or RegimeHistorySpec()
    if not isinstance(spec, RegimeSpec) or not isinstance(history, RegimeHistorySpec):
        raise TypeError("spec must be a RegimeSpec and history a RegimeHistorySpec")
    if not history.causal:
        result = fit_regimes(prices, spec)
        return _with_history(result, history, first=0, refits=None)
    close_s = extract_close(prices)
    n = len(close_s)
    first = history.min_train_bars
    min_bars = max(MIN_BARS, 10 * spec.n_states)
    if first < min_bars:
        raise ValueError(
            f"min_train_bars={first} is below the {min_bars} bars a {spec.n_states}-state "
            "fit needs; raise min_train_bars or lower n_states"
        )
    if n <= first:
        raise ValueError(
            f"a causal regime history needs more than min_train_bars={first} bars (the "
            f"first fit) and got {n}; load a longer history, lower min_train_bars, or use "
            "the in-sample mode (sees the future)"
        )
    ret = log_returns(close_s.to_numpy())
    features = spec.resolved_features
    x = feature_matrix(ret, features, spec.vol_window)
    valid = np.isfinite(x).all(axis=1)
    train0 = valid.copy()
    train0[first:] = False
    notes: list[str] = []
    if not close_s.index.is_monotonic_increasing:
        notes.append("the index is not sorted ascending; bars were filtered in the given order")
    # standardization: fixed by the first training window (bars before `first`)
    center, scale = standardization(x[train0])
    constant = np.nanstd(ret[:first]) < ZERO_VAR
    z = (x - center) / scale
    cur_c, cur_s = center, scale  # the HMM re-standardizes at each refit; the DPGMM does not
    refit_points = list(range(first, n, history.refit_every))
    d = len(features)
    dp_model: object | None = None
    with single_blas_thread():
        fit0 = None
        if constant:
            notes.append("prices are constant over the first training window: one 'sideways' state")
        else:
            if spec.method == "dpgmm":
                try:
                    dp_model = dpgmm_warm(z[train0], spec)
                    dp0 = dpgmm_params(dp_model, z[train0])[0]
                    fit0 = Fit(
                        dp0.transmat,
                        dp0.startprob,
                        dp0.means,
                        dp0.covars,
                        True,
                        float("nan"),
                        "dpgmm",
                    )
                except (ValueError, np.linalg.LinAlgError, FloatingPointError) as exc:
                    notes.append(f"DPGMM fit failed ({exc}): falling back to the Gaussian HMM")
                    dp_model = None
            if fit0 is None:
                fit0 = fit_hmm(z[train0], spec, spec.n_states, ("full", "diag"), features, notes)
        fit0 = fit0 or single_state(d)
        covars0 = (
            fit0.covars if fit0.covars.ndim == 3 else np.stack([np.diag(c) for c in fit0.covars])
        )
        params = Params(fit0.startprob, fit0.transmat, fit0.means, covars0)
        k = params.means.shape[0]
        labels_prev: dict[int, str] | None = None
        probs = np.full((n, len(LABELS)), np.nan)
        post = params.startprob.copy()
        prior = params.startprob.copy()
        rows = []
        failures = 0
        colds = 0
        last_cold = (int(train0.sum()), first)
        for i, t in enumerate(refit_points):
            lo = 0 if history.mode == "expanding" else max(0, t - history.rolling_window)
            train = np.flatnonzero(valid[lo:t]) + lo
            iters = 0
            cold = False
            gamma = None
            if i > 0 and fit0.method != "single-state" and train.size > k:
                try:
                    with np.errstate(all="ignore"), _warnings.catch_warnings():
                        _warnings.simplefilter("ignore")
                        if dp_model is not None:
                            params, gamma, iters = dpgmm_refit(
                                dp_model, z[train], history.warm_iter
                            )
                        else:
                            # re-standardize on this window; move the parameters with it
                            new_c, new_s = standardization(x[train])
                            params = restandardize(params, cur_c, cur_s, new_c, new_s)
                            cur_c, cur_s = new_c, new_s
                            z = (x - cur_c) / cur_s
                            params, gamma, iters, _ll = warm_em(
                                z[train], params, history.warm_iter, spec.tol
                            )
                            if _cold_due(history, train.size, t, last_cold):
                                last_cold = (train.size, t)
                                restart = cold_em(z[train], spec, k, features)
                                if restart is not None:
                                    prev_mean, prev_vol, _ = moments(gamma, ret[train])
                                    params, gamma = align(
                                        restart[0], restart[1], prev_mean, prev_vol, ret[train]
                                    )
                                    iters += restart[2]
                                    cold = True
                                    colds += 1
                except (FloatingPointError, ValueError, np.linalg.LinAlgError):
                    failures += 1
                    gamma = None
            if gamma is None:  # first fit (or failed refit): posteriors on the window
                le = gaussian_log_pdf(z[train], params.means, params.covars)
                gamma = backward_smooth(
                    le, params.transmat, forward_filter(le, params.transmat, params.startprob)
                )
            mean, vol, occ = moments(gamma, ret[train])
            labels = stable_state_labels(mean, vol, occ, labels_prev)
            changed = labels_prev is not None and labels != labels_prev
            labels_prev = labels
            lmat = label_matrix(labels)
            end = refit_points[i + 1] if i + 1 < len(refit_points) else n
            if i == 0:  # run the filter through the first training window (not output)
                le0 = gaussian_log_pdf(z[:t], params.means, params.covars)
                for s in range(t):
                    post = filter_step(prior, le0[s])
                    prior = post @ params.transmat
            else:
                prior = post @ params.transmat
            le = gaussian_log_pdf(z[t:end], params.means, params.covars)
            for s in range(end - t):
                post = filter_step(prior, le[s])
                probs[t + s] = post @ lmat
                prior = post @ params.transmat
            rows.append(
                {
                    "refit_bar": t,
                    "date": close_s.index[t],
                    "train_bars": int(train.size),
                    "iterations": int(iters),
                    "labels_changed": bool(changed),
                    "restarted": cold,
                }
            )
    if failures:
        notes.append(
            f"{failures} of {len(refit_points) - 1} refits failed; the previous parameters "
            "were kept for those periods"
        )
    changes = sum(r["labels_changed"] for r in rows)
    if changes:
        notes.append(f"state names changed at {changes} of {len(rows)} refits (see refits)")
    final = Fit(
        transmat=params.transmat,
        startprob=params.startprob,
        means=params.means,
        covars=params.covars,
        converged=True,
        score=float("nan"),
        method=fit0.method,
    )
    assert labels_prev is not None
    assert gamma is not None  # set by every refit point, like labels_prev
    return _assemble_causal(
        close_s,
        ret,
        z,
        valid,
        cur_c,
        cur_s,
        final,
        spec,
        history,
        labels_prev,
        gamma,
        train,
        probs,
        notes,
        first,
        pd.DataFrame(rows),
    )


def _cold_due(history: RegimeHistorySpec, train_size: int, t: int, last: tuple[int, int]) -> bool:
    """Restart check: the window grew 1.5x (expanding) or half a window passed (rolling)."""
    if history.mode == "expanding":
        return train_size >= 1.5 * last[0]
    return t - last[1] >= history.rolling_window // 2


def _assemble_causal(
    close_s: pd.Series,
    ret: np.ndarray,
    z: np.ndarray,
    valid: np.ndarray,
    center: np.ndarray,
    scale: np.ndarray,
    fit: Fit,
    spec: RegimeSpec,
    history: RegimeHistorySpec,
    state_labels: dict[int, str],
    gamma: np.ndarray,
    train: np.ndarray,
    probs: np.ndarray,
    notes: list[str],
    first: int,
    refits: pd.DataFrame,
) -> RegimeResult:
    index = close_s.index
    cols = list(LABELS)
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
    filtered = pd.DataFrame(probs, index=index, columns=cols)
    smoothed = None
    if spec.compute_smoothed:
        le = gaussian_log_pdf(z, fit.means, fit.covars)
        filt = forward_filter(le, fit.transmat, fit.startprob)
        smoothed = pd.DataFrame(
            backward_smooth(le, fit.transmat, filt) @ model.labels_matrix, index=index, columns=cols
        )
        smoothed.attrs["hindsight"] = True
    mean, vol, occ = moments(gamma, ret[train])
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
    have = np.isfinite(probs).all(axis=1)
    label = pd.Series(np.full(len(index), np.nan, dtype=object), index=index, name="label")
    label[have] = np.asarray(LABELS)[probs[have].argmax(axis=1)]
    entropy = np.full(len(index), np.nan)
    entropy[have] = normalized_entropy(probs[have])
    confidence = np.full(len(index), np.nan)
    confidence[have] = probs[have].max(axis=1)
    result = RegimeResult(
        filtered=filtered,
        smoothed=smoothed,
        entropy=pd.Series(entropy, index=index, name="entropy"),
        confidence=pd.Series(confidence, index=index, name="confidence"),
        label=label,
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
    return _with_history(result, history, first=first, refits=refits)


def _with_history(
    result: RegimeResult, history: RegimeHistorySpec, *, first: int, refits: pd.DataFrame | None
) -> RegimeResult:
    return dataclasses.replace(
        result,
        history=history.describe(),
        history_mode=history.mode,
        first_bar=first,
        refits=refits,
    )


__all__ = ["causal_regimes", "stable_state_labels"]
