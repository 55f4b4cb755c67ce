"""Fit a regime model (Gaussian HMM or DP Gaussian mixture) and filter it causally."""

from __future__ import annotations

import warnings as _warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ._features import extract_close, feature_matrix, log_returns
from ._kernels import backward_smooth, forward_filter, normalized_entropy
from ._labels import label_transition, map_states_to_labels
from ._online import FilteredRegimeModel
from ._spec import LABELS, MIN_BARS, RegimeSpec

_MIN_COVAR = 1e-3  # on standardized features: stops a state collapsing onto repeated values
_ZERO_VAR = 1e-12


@dataclass(frozen=True)
class _Fit:
    """Fitted chain and emissions in standardized feature space."""

    transmat: np.ndarray
    startprob: np.ndarray
    means: np.ndarray
    covars: np.ndarray
    converged: bool
    score: float
    method: str
    notes: list[str] = field(default_factory=list)


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

    def to_frame(self) -> pd.DataFrame:
        """Per bar: ``p_bull .. p_volatile`` (filtered), ``entropy``, ``confidence``, ``label``."""
        frame = self.filtered.add_prefix("p_")
        frame["entropy"] = self.entropy
        frame["confidence"] = self.confidence
        frame["label"] = self.label
        return frame


# ----- HMM -------------------------------------------------------------------------------
def _em_converged(history: list[float], tol: float) -> bool:
    # hmmlearn's monitor also reports "converged" when it merely ran out of iterations
    return len(history) >= 2 and (history[-1] - history[-2]) < tol


def _hmm_init(
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


def _fit_hmm(
    z: np.ndarray, spec: RegimeSpec, k: int, cov_types: tuple[str, ...], features: tuple[str, ...]
) -> _Fit | None:
    from hmmlearn.hmm import GaussianHMM

    notes: list[str] = []
    for cov_type in cov_types:
        best: tuple[float, int, GaussianHMM] | None = None
        failures: list[str] = []
        for r in range(spec.n_init):
            rng = np.random.default_rng([spec.seed, r, k])
            model = GaussianHMM(
                n_components=k,
                covariance_type=cov_type,
                n_iter=spec.n_iter,
                tol=spec.tol,
                min_covar=_MIN_COVAR,
                random_state=int(rng.integers(2**31 - 1)),
                params="stmc",
                init_params="",
            )
            _hmm_init(model, k, features, rng, cov_type)
            try:
                with _warnings.catch_warnings(), np.errstate(all="ignore"):
                    _warnings.simplefilter("ignore")
                    model.fit(z)
                    score = float(model.score(z))
                covars = np.asarray(model.covars_)
                params_ok = all(
                    np.isfinite(a).all()
                    for a in (model.transmat_, model.startprob_, model.means_, covars)
                )
                if not (np.isfinite(score) and params_ok):
                    raise ValueError("non-finite parameters or log-likelihood")
                np.linalg.cholesky(covars)
            except (ValueError, np.linalg.LinAlgError, FloatingPointError) as exc:
                failures.append(f"restart {r}: {exc}")
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
            return _Fit(
                transmat=transmat / transmat.sum(axis=1, keepdims=True),
                startprob=startprob / startprob.sum(),
                means=np.asarray(model.means_, dtype=float),
                covars=np.asarray(model.covars_, dtype=float),
                converged=_em_converged(model.monitor_.history, spec.tol),
                score=score,
                method="hmm" if (k == spec.n_states and cov_type == cov_types[0]) else "",
                notes=notes,
            )
    return _Fit(
        transmat=np.eye(1), startprob=np.ones(1), means=np.zeros((1, 1)),
        covars=np.ones((1, 1, 1)), converged=False, score=np.nan, method="", notes=notes,
    ) if False else _failed(notes)


def _failed(notes: list[str]) -> None:
    _FAILED_NOTES.extend(notes)
    return None


_FAILED_NOTES: list[str] = []
