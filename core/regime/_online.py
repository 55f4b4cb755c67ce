"""Fitted regime model with the forward-recursion state, usable bar by bar."""

from __future__ import annotations

import copy
import math
from collections import deque
from collections.abc import Mapping
from numbers import Real
from typing import cast

import numpy as np
import pandas as pd

from ._features import extract_close, feature_matrix, log_returns, rolling_log_vol
from ._kernels import backward_smooth, filter_step, forward_filter, gaussian_log_pdf
from ._labels import label_matrix
from ._spec import LABELS


class FilteredRegimeModel:
    """Frozen fitted parameters plus the causal forward-filter state.

    Parameters are in standardized feature space: a raw feature row ``x`` is scored as
    ``(x - center) / scale`` under Gaussian state ``k`` with ``means[k]``, ``covars[k]``.
    :meth:`update` costs O(K^2 + K D^2) per bar and uses nothing after the bar it is given.

    Parameters
    ----------
    transmat : ndarray (K, K)
    startprob : ndarray (K,)
    means : ndarray (K, D)
    covars : ndarray (K, D, D)
    center, scale : ndarray (D,)
        Standardization fitted on the training sample (fixed afterwards).
    features : tuple of str
    vol_window : int
    state_labels : dict[int, str]
    """

    def __init__(
        self,
        *,
        transmat: np.ndarray,
        startprob: np.ndarray,
        means: np.ndarray,
        covars: np.ndarray,
        center: np.ndarray,
        scale: np.ndarray,
        features: tuple[str, ...],
        vol_window: int,
        state_labels: dict[int, str],
    ) -> None:
        self.transmat = np.array(transmat, dtype=float)
        self.startprob = np.array(startprob, dtype=float)
        self.means = np.atleast_2d(np.array(means, dtype=float))
        self.covars = np.array(covars, dtype=float)
        self.center = np.array(center, dtype=float)
        self.scale = np.array(scale, dtype=float)
        self.features = tuple(features)
        self.vol_window = int(vol_window)
        self.state_labels = dict(state_labels)
        k, d = self.means.shape
        if self.covars.shape != (k, d, d):
            raise ValueError(f"covars must be ({k}, {d}, {d}), got {self.covars.shape}")
        if self.center.shape != (d,) or self.scale.shape != (d,) or len(self.features) != d:
            raise ValueError("center, scale and features must all have one entry per feature")
        if np.any(self.scale <= 0):
            raise ValueError("scale must be > 0")
        if sorted(self.state_labels) != list(range(k)):
            raise ValueError("state_labels must name every state 0..K-1")
        forward_filter(np.zeros((1, k)), self.transmat, self.startprob)  # validates the chain
        self.labels_matrix = label_matrix(self.state_labels)
        # precomputed for the O(K D^2) per-bar emission
        chol = np.linalg.cholesky(self.covars)
        self._chol_inv = np.linalg.inv(chol)
        self._log_norm = -0.5 * (
            d * math.log(2 * math.pi) + 2.0 * np.log(np.diagonal(chol, axis1=1, axis2=2)).sum(1)
        )
        self.reset()

    @property
    def n_states(self) -> int:
        """Number of hidden states K."""
        k: int = self.means.shape[0]
        return k

    def reset(self) -> None:
        """Forget all bars: the next bar is scored against ``startprob``."""
        self._prior = self.startprob.copy()
        self.state_probs = self.startprob.copy()
        self._prev_close = math.nan
        self._window: deque[float] = deque([math.nan] * self.vol_window, maxlen=self.vol_window)

    def fresh(self) -> FilteredRegimeModel:
        """A reset copy (the fitted parameters are shared read-only)."""
        clone = copy.copy(self)
        clone.reset()
        return clone

    # ----- per bar -------------------------------------------------------------------
    def _feature_row(self, log_return: float) -> np.ndarray:
        self._window.append(log_return)
        if not math.isfinite(log_return):
            return np.full(len(self.features), np.nan)
        row = []
        for name in self.features:
            if name == "log_return":
                row.append(log_return)
            else:
                row.append(float(rolling_log_vol(np.fromiter(self._window, float))))
        return np.asarray(row)

    def update(self, obs: float | Mapping[str, float] | pd.Series) -> np.ndarray:
        """Absorb one bar and return its filtered label probabilities (``LABELS`` order).

        Parameters
        ----------
        obs : float or mapping with ``"close"``
            A float is the bar's log return (NaN = missing bar). A mapping / Series is a
            bar; its log return is taken against the previous bar's close (the first bar
            after :meth:`reset` has none and leaves the prior unchanged, as in batch).
        """
        if isinstance(obs, Real):
            log_return = float(obs)
        else:
            close = float(cast("Mapping[str, float] | pd.Series", obs)["close"])
            if not close > 0 and math.isfinite(close):
                raise ValueError(f"close must be > 0, got {close}")
            log_return = math.log(close / self._prev_close) if close > 0 else math.nan
            self._prev_close = close if math.isfinite(close) else math.nan
            if not math.isfinite(log_return):
                log_return = math.nan
        z = (self._feature_row(log_return) - self.center) / self.scale
        if np.isnan(z).any():
            log_em = np.full(self.n_states, np.nan)
        else:
            w = np.einsum("kij,kj->ki", self._chol_inv, z - self.means)
            log_em = self._log_norm - 0.5 * np.einsum("ki,ki->k", w, w)
        post = filter_step(self._prior, log_em)
        self.state_probs = post
        self._prior = post @ self.transmat
        label_probs: np.ndarray = post @ self.labels_matrix
        return label_probs

    # ----- batch ---------------------------------------------------------------------
    def log_emission(self, prices: pd.DataFrame | pd.Series) -> np.ndarray:
        """``log p(features_t | state)`` for every bar, shape (T, K); NaN rows are missing."""
        close = extract_close(prices).to_numpy()
        x = feature_matrix(log_returns(close), self.features, self.vol_window)
        z = (x - self.center) / self.scale
        return gaussian_log_pdf(z, self.means, self.covars)

    def filter_states(self, prices: pd.DataFrame | pd.Series) -> np.ndarray:
        """Forward-filtered state probabilities (T, K) for ``prices`` from a fresh start."""
        return forward_filter(self.log_emission(prices), self.transmat, self.startprob)

    def filter(self, prices: pd.DataFrame | pd.Series) -> pd.DataFrame:
        """Causal label probabilities for ``prices`` with the fixed fitted parameters."""
        probs = self.filter_states(prices) @ self.labels_matrix
        return pd.DataFrame(probs, index=prices.index, columns=list(LABELS))

    def smooth(self, prices: pd.DataFrame | pd.Series) -> pd.DataFrame:
        """HINDSIGHT label probabilities (forward-backward: row t uses bars after t)."""
        log_em = self.log_emission(prices)
        filt = forward_filter(log_em, self.transmat, self.startprob)
        probs = backward_smooth(log_em, self.transmat, filt) @ self.labels_matrix
        frame = pd.DataFrame(probs, index=prices.index, columns=list(LABELS))
        frame.attrs["hindsight"] = True
        return frame

    def warm_up(self, prices: pd.DataFrame | pd.Series) -> pd.DataFrame:
        """Reset, run ``prices`` through the filter and keep the state for live updates."""
        self.reset()
        close = extract_close(prices).to_numpy()
        probs = np.empty((close.shape[0], len(LABELS)))
        for t, c in enumerate(close):
            probs[t] = self.update({"close": c})
        return pd.DataFrame(probs, index=prices.index, columns=list(LABELS))
