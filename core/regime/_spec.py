"""Regime-detection configuration and the fixed label vocabulary."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, model_validator

LABELS: tuple[str, ...] = ("bull", "bear", "sideways", "volatile")

FeatureName = Literal["log_return", "rolling_vol"]

MIN_BARS = 50
"""Fewest bars :func:`fit_regimes` accepts (also at least 10 per state)."""


class RegimeSpec(BaseModel, frozen=True, extra="forbid"):
    """How to fit a regime model.

    Parameters
    ----------
    method : {"hmm", "dpgmm"}
        ``"hmm"``: Gaussian hidden Markov model (hmmlearn), filtered by its own forward pass.
        ``"dpgmm"``: Dirichlet-process Bayesian Gaussian mixture (scikit-learn); its per-bar
        likelihoods are chained by a forward recursion over an empirical transition matrix.
    n_states : int
        Hidden states (HMM) or truncation level (DPGMM), 2..8. States are mapped onto the
        four ``LABELS``; several states may share a label.
    seed : int
        Seeds every restart and initialisation.
    n_iter : int
        EM / variational iterations per restart.
    n_init : int
        Seeded restarts. HMM: each runs 15 EM iterations, the best two continue to
        ``n_iter`` and the higher log-likelihood wins. DPGMM: scikit-learn's ``n_init``
        (highest lower bound wins).
    tol : float
        HMM convergence tolerance on the gain in total log-likelihood per EM iteration
        (hmmlearn's convention and default). The DPGMM uses scikit-learn's default.
    features : tuple of {"log_return", "rolling_vol"} or None
        Standardized per-bar features. ``None`` picks the method default: ``("log_return",)``
        for the HMM (the regime generator's own model class; lagging rolling features only
        delay detection) and ``("rolling_vol",)`` for the DPGMM: a mixture has no time
        structure, so on raw returns it splits large up-days from large down-days instead
        of finding regimes, and its empirical transitions need a persistent feature.
    vol_window : int
        Bars in the trailing root-mean-square of log returns behind ``rolling_vol``
        (its logarithm is the feature).
    compute_smoothed : bool
        Also return hindsight (forward-backward) probabilities for after-the-fact analysis.
    """

    method: Literal["hmm", "dpgmm"] = "hmm"
    n_states: int = Field(4, ge=2, le=8)
    seed: int = Field(0, ge=0, le=2**31 - 1)
    n_iter: int = Field(100, ge=1, le=10_000)
    n_init: int = Field(6, ge=1, le=50)
    tol: float = Field(1e-2, gt=0, le=10.0)
    features: tuple[FeatureName, ...] | None = None
    vol_window: int = Field(10, ge=2, le=250)
    compute_smoothed: bool = True

    @model_validator(mode="after")
    def _check_features(self) -> RegimeSpec:
        if self.features is not None:
            if not self.features:
                raise ValueError("features must name at least one feature (or be None)")
            if len(set(self.features)) != len(self.features):
                raise ValueError(f"features has duplicates: {self.features}")
        return self

    @property
    def resolved_features(self) -> tuple[FeatureName, ...]:
        """The features actually used (method default when ``features`` is None)."""
        if self.features is not None:
            return self.features
        return ("log_return",) if self.method == "hmm" else ("rolling_vol",)
