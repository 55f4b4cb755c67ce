"""Known-answer evaluation against the synthetic regime generator and its exact oracle."""

from __future__ import annotations

import numpy as np
import pandas as pd

from core.data.synthetic import REGIMES, SyntheticSpec, generate, regime_params, transition_matrix

from ._causal import causal_regimes
from ._features import extract_close, log_returns
from ._fit import fit_regimes
from ._kernels import backward_smooth, forward_filter
from ._spec import LABELS, RegimeHistorySpec, RegimeSpec

if tuple(REGIMES) != LABELS:  # pragma: no cover - guards the column order contract
    raise ImportError(f"synthetic REGIMES {REGIMES} must equal regime LABELS {LABELS}")


def oracle_filter(
    prices: pd.DataFrame | pd.Series, spec: SyntheticSpec
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Bayes-optimal regime probabilities using the generator's TRUE parameters.

    The first bar's return is taken against ``spec.start_price`` (as generated) and the
    first state is uniform, as in :func:`core.data.synthetic.generate`.

    Returns
    -------
    filtered : DataFrame
        ``P(regime_t | bars 0..t)``: the best any causal detector can do on average.
    smoothed : DataFrame
        HINDSIGHT ``P(regime_t | all bars)``.
    """
    close = extract_close(prices).to_numpy()
    ret = log_returns(np.concatenate([[spec.start_price], close]))[1:]
    mu, sd = regime_params(spec)
    with np.errstate(invalid="ignore"):
        log_em = -0.5 * (((ret[:, None] - mu) / sd) ** 2) - np.log(sd) - 0.5 * np.log(2 * np.pi)
    transmat = transition_matrix(spec)
    start = np.full(len(REGIMES), 1.0 / len(REGIMES))
    filt = forward_filter(log_em, transmat, start)
    smooth = backward_smooth(log_em, transmat, filt)
    cols = list(LABELS)
    smoothed = pd.DataFrame(smooth, index=prices.index, columns=cols)
    smoothed.attrs["hindsight"] = True
    return pd.DataFrame(filt, index=prices.index, columns=cols), smoothed


def detection_lags(true: pd.Series | np.ndarray, predicted: pd.Series | np.ndarray) -> np.ndarray:
    """Bars from each true regime switch until the predicted label first equals the new regime.

    For a switch at bar ``s`` into regime ``L`` lasting until bar ``e`` (exclusive), the lag
    is the smallest ``k >= 0`` with ``predicted[s + k] == L`` and ``s + k < e`` (0 if the
    detector already said ``L``). A switch whose regime ends before the detector names it is
    a miss and gets ``inf`` (so a median counts it as slower than every detection); the
    last regime, if still undetected when the series ends, is censored by the data and
    skipped. The first bar is not a switch.

    >>> detection_lags(np.array(list("aabbbbcca")), np.array(list("aaabbbaab"))).tolist()
    [1.0, inf]
    """
    t = np.asarray(true)
    p = np.asarray(predicted)
    if t.shape != p.shape or t.ndim != 1:
        raise ValueError(f"true and predicted must be 1-D and equally long: {t.shape} vs {p.shape}")
    n = t.shape[0]
    switches = np.flatnonzero(t[1:] != t[:-1]) + 1
    ends = np.append(switches[1:], n) if switches.size else switches
    lags: list[float] = []
    for s, e in zip(switches, ends, strict=True):
        hits = np.flatnonzero(p[s:e] == t[s])
        if hits.size:
            lags.append(float(hits[0]))
        elif e < n:
            lags.append(float("inf"))
    return np.asarray(lags, dtype=float)


def _argmax_labels(probs: pd.DataFrame) -> np.ndarray:
    labels: np.ndarray = np.asarray(LABELS)[probs.to_numpy().argmax(axis=1)]
    return labels


def evaluate_synthetic(
    *,
    seed: int,
    method: str = "hmm",
    bars: int = 5000,
    spec: RegimeSpec | None = None,
    history: RegimeHistorySpec | None = None,
) -> dict[str, float | str | int]:
    """Score a detector against the truth and the exact oracle on one synthetic series.

    The detector (``RegimeSpec(method=method, seed=seed)`` unless ``spec`` is given) is
    fitted on the whole series (``history=None`` or mode ``in-sample``), or causally with
    :func:`causal_regimes`; then every score covers only the bars that have a causal
    estimate (from ``min_train_bars`` on), the oracle's too. Accuracy compares the
    filtered argmax labels (states named by :func:`map_states_to_labels`, never by
    peeking at the truth) with the true regimes.

    Returns
    -------
    dict
        ``accuracy``, ``oracle_accuracy`` (filtered), ``smoothed_accuracy`` (detector,
        hindsight), ``median_detection_lag_bars``, ``oracle_median_lag_bars`` (see
        :func:`detection_lags`; ``inf`` if most switches are missed), ``method``, ``bars``.
    """
    syn = SyntheticSpec(bars=bars, seed=seed)
    prices, truth = generate(syn)
    spec = spec or RegimeSpec(method=method, seed=seed)
    if history is None:
        result = fit_regimes(prices, spec)
    else:
        result = causal_regimes(prices, spec, history)
    oracle_filt, oracle_smooth = oracle_filter(prices, syn)
    keep = slice(result.first_bar, None)
    truth_arr = truth.to_numpy()[keep]
    oracle_labels = _argmax_labels(oracle_filt.iloc[keep])
    oracle_smooth = oracle_smooth.iloc[keep]
    smoothed = result.smoothed if result.smoothed is not None else result.filtered
    smoothed = smoothed.iloc[keep]
    result_label = result.label.iloc[keep]
    return {
        "accuracy": float(np.mean(result_label.to_numpy() == truth_arr)),
        "oracle_accuracy": float(np.mean(oracle_labels == truth_arr)),
        "smoothed_accuracy": float(np.mean(_argmax_labels(smoothed) == truth_arr)),
        "oracle_smoothed_accuracy": float(np.mean(_argmax_labels(oracle_smooth) == truth_arr)),
        "median_detection_lag_bars": float(
            np.median(detection_lags(truth_arr, result_label.to_numpy()))
        ),
        "oracle_median_lag_bars": float(np.median(detection_lags(truth_arr, oracle_labels))),
        "method": spec.method,
        "bars": int(bars),
        "scored_bars": len(truth_arr),
        "history": result.history,
    }
