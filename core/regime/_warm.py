"""Refit machinery of the causal history: warm-started MAP EM, seeded cold restarts
aligned onto the previous states, re-standardization, and the warm-started DP mixture."""

from __future__ import annotations

import warnings as _warnings
from dataclasses import dataclass
from types import SimpleNamespace

import numpy as np

from ._em import KEEP_AFTER_SCREEN, MIN_COVAR, SCREEN_ITER, ZERO_VAR, hmm_init
from ._spec import RegimeSpec

_LOG_2PI = float(np.log(2.0 * np.pi))


@dataclass
class Params:
    """HMM parameters: start and transition probabilities, state means and covariances."""

    startprob: np.ndarray
    transmat: np.ndarray
    means: np.ndarray
    covars: np.ndarray


def warm_em(
    z: np.ndarray, p: Params, n_iter: int, tol: float
) -> tuple[Params, np.ndarray, int, float]:
    """MAP EM for a Gaussian HMM started at ``p``.

    Returns the parameters, the state posteriors and log-likelihood of the last E-step,
    and the number of iterations.

    Light priors keep a state that the window does not visit well defined: one
    pseudo-count per transition, and the mean / covariance of each state shrunk with the
    weight of one bar towards 0 / the identity (the features are standardized).
    """
    from hmmlearn import _hmmc  # C forward-backward kernels of hmmlearn

    k, d = p.means.shape
    eye = np.eye(d)
    prev = -np.inf
    gamma = np.full((len(z), k), 1.0 / k)
    it = 0
    for it in range(1, n_iter + 1):  # noqa: B007
        log_em = _log_pdf(z, p.means, p.covars)
        top = log_em.max(axis=1, keepdims=True)
        frame = np.exp(log_em - top)  # per-row factors cancel in the scaled recursions
        log_prob, fwd, scaling = _hmmc.forward_scaling(p.startprob, p.transmat, frame)
        log_prob += float(top.sum())
        bwd = _hmmc.backward_scaling(p.startprob, p.transmat, frame, scaling)
        gamma = fwd * bwd
        gamma /= gamma.sum(axis=1, keepdims=True)
        xi = _hmmc.compute_scaling_xi_sum(fwd, p.transmat, bwd, frame)
        occ = gamma.sum(axis=0)
        means = (gamma.T @ z) / (occ + 1.0)[:, None]
        # sum_t gamma_tk (z_t - m_k)(z_t - m_k)' = S2_k - m_k s1_k' - s1_k m_k' + occ_k m_k m_k'
        s1 = gamma.T @ z
        s2 = (gamma.T @ (z[:, :, None] * z[:, None, :]).reshape(len(z), d * d)).reshape(k, d, d)
        outer = np.einsum("ki,kj->kij", means, s1)
        scatter = s2 - outer - outer.transpose(0, 2, 1)
        scatter += occ[:, None, None] * np.einsum("ki,kj->kij", means, means)
        covars = (scatter + eye) / (occ + 1.0)[:, None, None] + MIN_COVAR * eye
        trans = xi + 1.0
        start = gamma[0] + 1.0 / k
        p = Params(start / start.sum(), trans / trans.sum(axis=1, keepdims=True), means, covars)
        if not (np.isfinite(log_prob) and np.isfinite(covars).all()):
            raise FloatingPointError("non-finite EM update")
        if log_prob - prev < tol:
            break
        prev = log_prob
    return p, gamma, it, float(log_prob)


def cold_em(
    z: np.ndarray, spec: RegimeSpec, k: int, features: tuple[str, ...]
) -> tuple[Params, np.ndarray, int, float] | None:
    """Seeded multi-restart EM (as :func:`fit_regimes`: screen, then the best two go on)."""
    screen = min(SCREEN_ITER, spec.n_iter)
    stage = []
    for r in range(spec.n_init):
        rng = np.random.default_rng([spec.seed, r, k])
        init = SimpleNamespace()
        hmm_init(init, k, features, rng, "full")
        p0 = Params(init.startprob_, init.transmat_, init.means_, init.covars_)
        try:
            stage.append((*warm_em(z, p0, screen, spec.tol), r))
        except (FloatingPointError, ValueError, np.linalg.LinAlgError):
            continue
    stage.sort(key=lambda c: (-c[3], c[4]))
    best = None
    for p, gamma, it, ll, _ in stage[:KEEP_AFTER_SCREEN]:
        try:
            p2, g2, it2, ll2 = warm_em(z, p, max(spec.n_iter - screen, 1), spec.tol)
        except (FloatingPointError, ValueError, np.linalg.LinAlgError):
            p2, g2, it2, ll2 = p, gamma, 0, ll
        if best is None or ll2 > best[3] + 1e-9:
            best = (p2, g2, it + it2, ll2)
    return best


def align(
    new: Params, gamma: np.ndarray, old_means: np.ndarray, old_vols: np.ndarray, r: np.ndarray
) -> tuple[Params, np.ndarray]:
    """Permute a cold fit's states onto the previous ones (closest mean and log-vol)."""
    from scipy.optimize import linear_sum_assignment

    mean, vol, _ = moments(gamma, r)
    spread = max(float(np.std(r)), 1e-12)
    cost = ((mean[:, None] - old_means[None]) / spread) ** 2 + (
        np.log(np.maximum(vol[:, None], 1e-12)) - np.log(np.maximum(old_vols[None], 1e-12))
    ) ** 2
    rows, cols = linear_sum_assignment(cost)
    order = rows[np.argsort(cols)]  # new state that takes old slot j
    p = Params(
        new.startprob[order],
        new.transmat[np.ix_(order, order)],
        new.means[order],
        new.covars[order],
    )
    return p, gamma[:, order]


def _log_pdf(z: np.ndarray, means: np.ndarray, covars: np.ndarray) -> np.ndarray:
    """:func:`gaussian_log_pdf` for finite rows, batched over the states (faster)."""
    _k, d = means.shape
    chol = np.linalg.cholesky(covars)
    inv = np.linalg.inv(chol)
    w = np.einsum("kij,tkj->tki", inv, z[:, None, :] - means[None])
    log_det = 2.0 * np.log(np.diagonal(chol, axis1=1, axis2=2)).sum(axis=1)
    log_pdf: np.ndarray = -0.5 * (d * _LOG_2PI + log_det + (w * w).sum(axis=2))
    return log_pdf


def moments(weights: np.ndarray, r: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per state: weighted mean and volatility of the returns ``r``, and the occupancy."""
    occ = weights.sum(axis=0)
    safe = np.where(occ > 1e-9, occ, 1.0)
    mean = np.where(occ > 1e-9, weights.T @ r / safe, 0.0)
    var = np.where(occ > 1e-9, (weights * (r[:, None] - mean) ** 2).sum(axis=0) / safe, 0.0)
    return mean, np.sqrt(var), occ


def standardization(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard deviation (1 where constant) of the training rows."""
    scale = x.std(axis=0)
    return x.mean(axis=0), np.where(scale < ZERO_VAR, 1.0, scale)


def restandardize(
    p: Params, c0: np.ndarray, s0: np.ndarray, c1: np.ndarray, s1: np.ndarray
) -> Params:
    """Express Gaussian parameters fitted on ``(x - c0) / s0`` in ``(x - c1) / s1``."""
    a = s0 / s1
    means = p.means * a + (c0 - c1) / s1
    covars = p.covars * a[None, :, None] * a[None, None, :]
    return Params(p.startprob, p.transmat, means, covars)


def dpgmm_warm(z: np.ndarray, spec: RegimeSpec) -> object:
    """A warm-startable DP mixture fitted on the first window (seeded, one init)."""
    from sklearn.mixture import BayesianGaussianMixture

    bgm = BayesianGaussianMixture(
        n_components=spec.n_states,
        covariance_type="full",
        weight_concentration_prior_type="dirichlet_process",
        max_iter=spec.n_iter,
        n_init=1,
        reg_covar=MIN_COVAR,
        random_state=spec.seed,
        warm_start=True,
    )
    with _warnings.catch_warnings(), np.errstate(all="ignore"):
        _warnings.simplefilter("ignore")
        bgm.fit(z)
    return bgm


def dpgmm_refit(bgm: object, z: np.ndarray, n_iter: int) -> tuple[Params, np.ndarray, int]:
    """Continue the DP mixture on the new window for ``n_iter`` iterations; chain it by its
    hard assignments."""
    bgm.max_iter = n_iter  # type: ignore[attr-defined]
    bgm.fit(z)  # type: ignore[attr-defined]
    params, resp = dpgmm_params(bgm, z)
    return params, resp, int(bgm.n_iter_)  # type: ignore[attr-defined]


def dpgmm_params(bgm: object, z: np.ndarray) -> tuple[Params, np.ndarray]:
    """Mixture parameters, chained by the empirical transitions of hard assignments."""
    resp = bgm.predict_proba(z)  # type: ignore[attr-defined]
    hard = resp.argmax(axis=1)
    k = resp.shape[1]
    counts = np.full((k, k), 0.5)
    np.add.at(counts, (hard[:-1], hard[1:]), 1.0)
    weights = np.asarray(bgm.weights_, dtype=np.float64)  # type: ignore[attr-defined]
    params = Params(
        weights / weights.sum(),
        counts / counts.sum(axis=1, keepdims=True),
        np.asarray(bgm.means_, dtype=float),  # type: ignore[attr-defined]
        np.asarray(bgm.covariances_, dtype=float),  # type: ignore[attr-defined]
    )
    return params, resp
