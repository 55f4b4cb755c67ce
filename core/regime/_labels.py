"""Deterministic mapping of fitted states onto the four regime labels."""

from __future__ import annotations

import numpy as np

from ._spec import LABELS


def map_states_to_labels(means: np.ndarray, vols: np.ndarray) -> dict[int, str]:
    """Name each state from its mean log return and volatility (never from ground truth).

    Volatility is estimated far more precisely than drift: over ~1,000 bars at 35% annual
    volatility the standard error of the mean daily return (~0.09%) is as large as the
    gap between a -30% and a 0% annual drift. So volatility ranks the turbulent states
    and the mean only separates the calm ones:

    1. One state: ``sideways``.
    2. The ``h = max(1, round(K / 4))`` most volatile states are ``volatile``; if at
       least one state would remain, the next ``h`` most volatile are ``bear`` (markets
       fall with rising volatility; ``volatile`` is the extreme-volatility regime).
    3. The remaining calm states: the one with the highest mean is ``bull`` and the others
       ``sideways``; a single calm state is ``bull`` if its mean is > 0, else ``sideways``.

    Ties break by state index. K=4 gives one state per label; K=2 gives
    ``volatile`` + one calm state; for K>4 labels are shared.

    >>> map_states_to_labels(np.array([0.0008, -0.0012, 0.0, 0.0]),
    ...                      np.array([0.009, 0.022, 0.006, 0.028]))
    {0: 'bull', 1: 'bear', 2: 'sideways', 3: 'volatile'}
    """
    means = np.asarray(means, dtype=float)
    vols = np.asarray(vols, dtype=float)
    k = means.shape[0]
    if k == 1:
        return {0: "sideways"}
    by_vol = [int(i) for i in np.lexsort((np.arange(k), -vols))]  # most volatile first
    h = max(1, round(k / 4))
    mapping = dict.fromkeys(by_vol[:h], "volatile")
    calm = by_vol[h:]
    if len(calm) > h:
        mapping.update(dict.fromkeys(calm[:h], "bear"))
        calm = calm[h:]
    if len(calm) == 1:
        mapping[calm[0]] = "bull" if means[calm[0]] > 0 else "sideways"
    else:
        ranked = sorted(calm, key=lambda i: (-means[i], i))  # highest mean first
        mapping[ranked[0]] = "bull"
        mapping.update(dict.fromkeys(ranked[1:], "sideways"))
    return dict(sorted(mapping.items()))


def label_matrix(state_labels: dict[int, str]) -> np.ndarray:
    """One-hot ``(K, 4)`` matrix: state probabilities @ matrix = label probabilities."""
    mat = np.zeros((len(state_labels), len(LABELS)))
    for state, label in state_labels.items():
        mat[state, LABELS.index(label)] = 1.0
    return mat


def stationary_distribution(transmat: np.ndarray) -> np.ndarray:
    """Stationary distribution of a transition matrix (least squares; uniform if it fails).

    >>> stationary_distribution(np.array([[0.9, 0.1], [0.2, 0.8]])).round(4).tolist()
    [0.6667, 0.3333]
    """
    k = transmat.shape[0]
    system = np.vstack([transmat.T - np.eye(k), np.ones((1, k))])
    rhs = np.zeros(k + 1)
    rhs[-1] = 1.0
    pi, *_ = np.linalg.lstsq(system, rhs, rcond=None)
    pi = np.clip(pi, 0.0, None)
    return pi / pi.sum() if pi.sum() > 0 else np.full(k, 1.0 / k)


def label_transition(transmat: np.ndarray, state_labels: dict[int, str]) -> np.ndarray:
    """Collapse a state transition matrix to labels, weighting states by stationary mass.

    ``T[a, b] = sum_{i in a} pi_i sum_{j in b} A[i, j] / sum_{i in a} pi_i``. A label no
    state carries gets a NaN row (it is never the current label).
    """
    m = label_matrix(state_labels)
    pi = stationary_distribution(transmat)
    flows = (pi[:, None] * transmat) @ m  # (K, 4): mass flowing from each state into a label
    num = m.T @ flows  # (4, 4)
    den = m.T @ pi
    with np.errstate(invalid="ignore", divide="ignore"):
        out = num / den[:, None]
    # labels present but with ~zero stationary mass: fall back to an unweighted average
    for a in range(len(LABELS)):
        members = m[:, a] > 0
        if members.any() and not np.isfinite(out[a]).all():
            out[a] = (transmat[members] @ m).mean(axis=0)
        elif not members.any():
            out[a] = np.nan
    result: np.ndarray = out
    return result
