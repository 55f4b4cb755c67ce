"""Numpy kernels for regime filtering: Gaussian log-densities, forward filter, smoother.

Everything here is pure array code (no pandas, no model objects) so that the batch
path, the online path and the oracle share one implementation of the recursion.
"""

from __future__ import annotations

import numpy as np

_LOG_2PI = float(np.log(2.0 * np.pi))


def _validate_chain(transmat: np.ndarray, startprob: np.ndarray, k: int) -> None:
    if transmat.shape != (k, k):
        raise ValueError(f"transmat must be ({k}, {k}), got {transmat.shape}")
    if startprob.shape != (k,):
        raise ValueError(f"startprob must be ({k},), got {startprob.shape}")
    if np.any(transmat < 0) or not np.allclose(transmat.sum(axis=1), 1.0, atol=1e-8):
        raise ValueError("transmat rows must be non-negative and sum to 1")
    if np.any(startprob < 0) or not np.isclose(startprob.sum(), 1.0, atol=1e-8):
        raise ValueError("startprob must be non-negative and sum to 1")


def filter_step(prior: np.ndarray, log_emission_row: np.ndarray) -> np.ndarray:
    """One Bayes update: posterior over states given the one-step prior and log p(x_t | s).

    Computed in log space so that no observation can underflow every state at once. A row
    that is NaN (missing bar) or impossible under every state leaves the prior unchanged.

    >>> filter_step(np.array([0.5, 0.5]), np.array([0.0, np.log(3.0)])).tolist()
    [0.25, 0.75]
    """
    if np.isnan(log_emission_row).any():
        return prior
    with np.errstate(divide="ignore"):
        log_post = np.log(prior) + log_emission_row
    top = log_post.max()
    if not np.isfinite(top):
        return prior
    post = np.exp(log_post - top)
    posterior: np.ndarray = post / post.sum()
    return posterior


def forward_filter(
    log_emission: np.ndarray, transmat: np.ndarray, startprob: np.ndarray
) -> np.ndarray:
    """Forward-filtered state probabilities ``P(s_t | x_1..x_t)`` of a hidden Markov chain.

    Parameters
    ----------
    log_emission : ndarray, shape (T, K)
        ``log p(x_t | s_t = k)``. A row containing NaN is a missing observation: the
        posterior for that bar is the one-step prediction.
    transmat : ndarray, shape (K, K)
        ``transmat[i, j] = P(s_t = j | s_{t-1} = i)``.
    startprob : ndarray, shape (K,)
        Prior over the state of the first row.

    Returns
    -------
    ndarray, shape (T, K)
        Row ``t`` uses rows ``0..t`` of ``log_emission`` only (causal); every row sums to 1.

    Examples
    --------
    With an uninformative first row the posterior is the prior; a sticky chain then
    carries evidence forward:

    >>> a = np.array([[0.9, 0.1], [0.1, 0.9]])
    >>> le = np.log(np.array([[1.0, 1.0], [1.0, 4.0], [1.0, 1.0]]))
    >>> forward_filter(le, a, np.array([0.5, 0.5])).round(4).tolist()
    [[0.5, 0.5], [0.2, 0.8], [0.26, 0.74]]
    """
    log_emission = np.asarray(log_emission, dtype=float)
    transmat = np.asarray(transmat, dtype=float)
    startprob = np.asarray(startprob, dtype=float)
    if log_emission.ndim != 2:
        raise ValueError(f"log_emission must be 2-D (T, K), got shape {log_emission.shape}")
    n, k = log_emission.shape
    _validate_chain(transmat, startprob, k)
    out = np.empty((n, k))
    prior = startprob
    for t in range(n):
        post = filter_step(prior, log_emission[t])
        out[t] = post
        prior = post @ transmat
    return out


def backward_smooth(
    log_emission: np.ndarray, transmat: np.ndarray, filtered: np.ndarray
) -> np.ndarray:
    """Smoothed probabilities ``P(s_t | x_1..x_T)`` from forward-filtered ones (hindsight).

    Uses every later observation, so it must never feed a trading decision.

    Parameters
    ----------
    log_emission : ndarray, shape (T, K)
        As for :func:`forward_filter` (NaN rows are missing observations).
    transmat : ndarray, shape (K, K)
        Transition matrix.
    filtered : ndarray, shape (T, K)
        Output of :func:`forward_filter` on the same inputs.
    """
    log_emission = np.where(np.isnan(log_emission).any(axis=1, keepdims=True), 0.0, log_emission)
    n, k = filtered.shape
    out = np.empty((n, k))
    out[-1] = filtered[-1]
    log_beta = np.zeros(k)
    for t in range(n - 2, -1, -1):
        x = log_emission[t + 1] + log_beta
        top = x.max()
        if not np.isfinite(top):  # impossible observation: carries no information
            x = log_beta
            top = x.max()
        beta = transmat @ np.exp(x - top)
        beta /= beta.sum()
        with np.errstate(divide="ignore"):
            log_beta = np.log(beta)
        g = filtered[t] * beta
        s = g.sum()
        out[t] = g / s if s > 0 else filtered[t]
    return out


def gaussian_log_pdf(x: np.ndarray, means: np.ndarray, covars: np.ndarray) -> np.ndarray:
    """Log-density of each row of ``x`` under each of K multivariate normals.

    Parameters
    ----------
    x : ndarray, shape (T, D)
        Observations; rows with NaN give NaN (missing).
    means : ndarray, shape (K, D)
    covars : ndarray, shape (K, D, D)
        Full covariance matrices (must be positive definite).

    Returns
    -------
    ndarray, shape (T, K)

    >>> float(gaussian_log_pdf(np.zeros((1, 1)), np.zeros((1, 1)), np.ones((1, 1, 1)))[0, 0])
    -0.9189385332046727
    """
    x = np.asarray(x, dtype=float)
    k, d = means.shape
    out = np.empty((x.shape[0], k))
    for j in range(k):
        chol = np.linalg.cholesky(covars[j])
        z = np.linalg.solve(chol, (x - means[j]).T)
        log_det = 2.0 * np.log(np.diag(chol)).sum()
        out[:, j] = -0.5 * (d * _LOG_2PI + log_det + (z * z).sum(axis=0))
    return out


def normalized_entropy(probs: np.ndarray) -> np.ndarray:
    """Shannon entropy of each row divided by ``log(n_columns)``: 0 = certain, 1 = uniform.

    >>> normalized_entropy(np.array([[1.0, 0, 0, 0], [0.25, 0.25, 0.25, 0.25]])).tolist()
    [0.0, 1.0]
    """
    p = np.clip(probs, 0.0, 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(p > 0, -p * np.log(p), 0.0)
    entropy: np.ndarray = np.clip(terms.sum(axis=1) / np.log(p.shape[1]), 0.0, 1.0)
    return entropy
