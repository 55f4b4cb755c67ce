"""Whole-window EM fits: seeded multi-restart Gaussian HMM and DP Gaussian mixture.

Both work in standardized feature space and return a :class:`Fit` (chain and emissions),
or None with the reason appended to ``notes``.
"""

from __future__ import annotations

import contextlib
import warnings as _warnings
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from ._spec import RegimeSpec

MIN_COVAR = 1e-3  # on standardized features: stops a state collapsing onto repeated values
ZERO_VAR = 1e-12
SCREEN_ITER = 15  # every restart runs this many EM iterations ...
KEEP_AFTER_SCREEN = 2  # ... and only the best few continue to n_iter


@dataclass(frozen=True)
class Fit:
    """Fitted chain and emissions in standardized feature space."""

    transmat: np.ndarray
    startprob: np.ndarray
    means: np.ndarray
    covars: np.ndarray
    converged: bool
    score: float
    method: str


@contextlib.contextmanager
def single_blas_thread() -> Iterator[None]:
    """Run EM with one BLAS thread: its matrices are tiny, and on a busy machine idle BLAS
    threads spinning for work made fits 2-8x slower. The previous limits are restored."""
    try:
        from threadpoolctl import threadpool_limits  # installed with scikit-learn
    except ImportError:  # pragma: no cover
        yield
        return
    with threadpool_limits(limits=1, user_api="blas"):
        yield


# ----- HMM -------------------------------------------------------------------------------
def _em_converged(history: list[float], tol: float) -> bool:
    # hmmlearn's monitor also reports "converged" when it merely ran out of iterations
    return len(history) >= 2 and (history[-1] - history[-2]) < tol


def hmm_init(
    model: object, k: int, features: tuple[str, ...], rng: np.random.Generator, cov_type: str
) -> None:
    """Spread-variance initialisation: states differ mostly in volatility, means near 0."""
    d = len(features)
    spread = np.exp(np.linspace(np.log(0.25), np.log(2.5), k) + rng.normal(0.0, 0.15, k))
    means = rng.normal(0.0, 0.15, (k, d))
    var = np.ones((k, d)) * 0.5
    for j, name in enumerate(features):
        if name == "log_return":
            var[:, j] = spread
        else:  # rolling vol: higher-variance states sit higher
            means[:, j] = np.linspace(-1.2, 1.2, k) + rng.normal(0.0, 0.1, k)
            var[:, j] = 0.4
    stay = rng.uniform(0.9, 0.98)
    model.startprob_ = np.full(k, 1.0 / k)  # type: ignore[attr-defined]
    model.transmat_ = np.full((k, k), (1 - stay) / (k - 1)) + np.eye(k) * (  # type: ignore[attr-defined]
        stay - (1 - stay) / (k - 1)
    )
    model.means_ = means  # type: ignore[attr-defined]
    model.covars_ = (  # type: ignore[attr-defined]
        var if cov_type == "diag" else np.stack([np.diag(v) for v in var])
    )


def _run_em(model: object, z: np.ndarray, failures: list[str], restart: int) -> float | None:
    """Run (or continue) EM; the log-likelihood, or None with the reason in ``failures``."""
    try:
        with _warnings.catch_warnings(), np.errstate(all="ignore"):
            _warnings.simplefilter("ignore")
            model.fit(z)  # type: ignore[attr-defined]
            score = float(model.score(z))  # type: ignore[attr-defined]
        arrays = [np.asarray(getattr(model, a)) for a in ("transmat_", "startprob_", "means_")]
        covars = np.asarray(model.covars_)  # type: ignore[attr-defined]
        if not (np.isfinite(score) and all(np.isfinite(a).all() for a in [*arrays, covars])):
            raise ValueError("non-finite parameters or log-likelihood")
        np.linalg.cholesky(covars)
    except (ValueError, np.linalg.LinAlgError, FloatingPointError) as exc:
        failures.append(f"restart {restart}: {exc}")
        return None
    return score


def fit_hmm(
    z: np.ndarray,
    spec: RegimeSpec,
    k: int,
    cov_types: tuple[str, ...],
    features: tuple[str, ...],
    notes: list[str],
) -> Fit | None:
    """Best-of-``n_init`` Gaussian HMM; tries each covariance type in turn, None if all fail."""
    from hmmlearn.hmm import GaussianHMM

    screen = min(SCREEN_ITER, spec.n_iter)
    for cov_type in cov_types:
        failures: list[str] = []
        stage: list[tuple[float, int, GaussianHMM]] = []
        for r in range(spec.n_init):
            rng = np.random.default_rng([spec.seed, r, k])
            model = GaussianHMM(
                n_components=k,
                covariance_type=cov_type,
                n_iter=screen,
                tol=spec.tol,
                min_covar=MIN_COVAR,
                random_state=int(rng.integers(2**31 - 1)),
                params="stmc",
                init_params="",
            )
            hmm_init(model, k, features, rng, cov_type)
            score = _run_em(model, z, failures, r)
            if score is not None:
                stage.append((score, r, model))
        # only the most promising restarts run to convergence (ties -> lower restart index)
        stage.sort(key=lambda c: (-c[0], c[1]))
        best: tuple[float, int, GaussianHMM] | None = None
        for score, r, model in stage[:KEEP_AFTER_SCREEN]:
            if spec.n_iter > screen and not _em_converged(model.monitor_.history, spec.tol):
                model.n_iter = spec.n_iter - screen
                model.monitor_.n_iter = model.n_iter  # the monitor keeps its own copy
                score = _run_em(model, z, failures, r)
                if score is None:
                    continue
            if best is None or score > best[0] + 1e-9:
                best = (score, r, model)
        if failures:
            notes.append(
                f"{len(failures)} of {spec.n_init} HMM restarts ({cov_type} covariance, "
                f"{k} states) failed, e.g. {failures[0]}"
            )
        if best is not None:
            score, _, model = best
            startprob = np.clip(model.startprob_, 0, None)
            transmat = np.clip(model.transmat_, 0, None)
            # a state never visited in training leaves a zero row: make it absorbing-safe
            bad = transmat.sum(axis=1) <= 0
            transmat[bad] = 1.0 / k
            return Fit(
                transmat=transmat / transmat.sum(axis=1, keepdims=True),
                startprob=startprob / startprob.sum(),
                means=np.asarray(model.means_, dtype=float),
                covars=np.asarray(model.covars_, dtype=float),
                converged=_em_converged(model.monitor_.history, spec.tol),
                score=score,
                method="hmm" if k == spec.n_states else f"hmm-{k}state",
            )
        notes.append(f"HMM with {cov_type} covariance failed on every restart")
    return None


# ----- DPGMM -----------------------------------------------------------------------------
def fit_dpgmm(z: np.ndarray, spec: RegimeSpec, notes: list[str]) -> Fit | None:
    """Dirichlet-process Gaussian mixture plus an empirical transition matrix.

    The mixture has no time structure, so its components are chained afterwards: the
    transition matrix counts consecutive hard (argmax) component assignments over the
    training sample (plus a 0.5 pseudo-count per cell). Components that win no bar are
    pruned (the DP's way of choosing the number of regimes).
    """
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.mixture import BayesianGaussianMixture

    k = spec.n_states
    try:
        with _warnings.catch_warnings(), np.errstate(all="ignore"):
            _warnings.simplefilter("ignore", ConvergenceWarning)
            bgm = BayesianGaussianMixture(
                n_components=k,
                covariance_type="full",
                weight_concentration_prior_type="dirichlet_process",
                max_iter=spec.n_iter,
                n_init=spec.n_init,
                reg_covar=MIN_COVAR,
                random_state=spec.seed,
            )
            bgm.fit(z)
            hard = bgm.predict(z)
    except (ValueError, np.linalg.LinAlgError, FloatingPointError) as exc:
        notes.append(f"DPGMM fit failed: {exc}")
        return None
    counts = np.bincount(hard, minlength=k)
    active = np.flatnonzero(counts > 0)
    if active.size < k:
        notes.append(f"DPGMM kept {active.size} of {k} components (the others won no bar)")
    remap = np.full(k, -1)
    remap[active] = np.arange(active.size)
    h = remap[hard]
    m = active.size
    trans_counts = np.full((m, m), 0.5)
    np.add.at(trans_counts, (h[:-1], h[1:]), 1.0)
    weights = bgm.weights_[active]
    return Fit(
        transmat=trans_counts / trans_counts.sum(axis=1, keepdims=True),
        startprob=weights / weights.sum(),
        means=np.asarray(bgm.means_[active], dtype=float),
        covars=np.asarray(bgm.covariances_[active], dtype=float),
        converged=bool(bgm.converged_),
        score=float(bgm.lower_bound_),
        method="dpgmm",
    )


def single_state(d: int) -> Fit:
    """One ``sideways`` state: the last fallback (and the model of constant prices)."""
    return Fit(
        transmat=np.ones((1, 1)),
        startprob=np.ones(1),
        means=np.zeros((1, d)),
        covars=np.eye(d)[None],
        converged=False,
        score=float("nan"),
        method="single-state",
    )
