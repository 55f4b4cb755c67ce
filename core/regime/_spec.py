"""Regime-detection configuration (the model and how its history is estimated) and the labels."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, model_validator

LABELS: tuple[str, ...] = ("bull", "bear", "sideways", "volatile")

FeatureName = Literal["log_return", "rolling_vol"]
HistoryMode = Literal["expanding", "rolling", "in-sample"]

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


class RegimeHistorySpec(BaseModel, frozen=True, extra="forbid"):
    """How the per-bar regime history is estimated.

    Parameters
    ----------
    mode : {"expanding", "rolling", "in-sample"}
        ``expanding`` (default): refit on every bar before the refit point. ``rolling``:
        on the last ``window`` bars before it. ``in-sample``: one fit on the whole series
        (:func:`fit_regimes`); it SEES THE FUTURE and is for after-the-fact analysis only.
    refit_every : int
        Bars between refits (21 = about a month of daily bars).
    min_train_bars : int
        Bars of the first fit; earlier bars get no probabilities.
    window : int, optional
        Training bars per refit in ``rolling`` mode (default 1000).
    warm_iter : int
        EM iterations per warm-started refit (the next refit continues from there).
    """

    mode: HistoryMode = "expanding"
    refit_every: int = Field(21, ge=1, le=2520)
    min_train_bars: int = Field(252, ge=MIN_BARS, le=100_000)
    window: int | None = Field(None, ge=MIN_BARS, le=100_000)
    warm_iter: int = Field(10, ge=1, le=1000)

    @model_validator(mode="after")
    def _check(self) -> RegimeHistorySpec:
        if self.window is not None and self.mode != "rolling":
            raise ValueError("window applies only to mode='rolling'")
        return self

    @property
    def causal(self) -> bool:
        """False only for the whole-sample (in-sample) fit."""
        return self.mode != "in-sample"

    @property
    def rolling_window(self) -> int:
        """Training bars per rolling refit."""
        return self.window or max(1000, self.min_train_bars)

    def describe(self) -> str:
        """One line for a UI, CLI or report."""
        if not self.causal:
            return (
                "in-sample: one fit on the whole series (SEES THE FUTURE; analysis only, "
                "not a tradable history)"
            )
        train = (
            "all earlier bars" if self.mode == "expanding" else f"the last {self.rolling_window}"
        )
        return (
            f"causal, {self.mode}: refit every {self.refit_every} bars on {train} "
            f"(first fit on {self.min_train_bars} bars), warm-started, forward-filtered; "
            "bar t uses parameters estimated on bars before t only"
        )
