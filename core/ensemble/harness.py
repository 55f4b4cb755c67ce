"""A planted-regime harness: agents built to win in one regime each (known answer).

Regimes and prices come from :func:`core.data.synthetic.generate`. Agent ``k`` earns a
planted mean return ``+edge`` per bar while the market is in regime ``k`` and ``-penalty``
elsewhere, plus independent Gaussian noise, so the equal-weight blend averages the edges
away while a selector that knows the regime can collect them. The regime is never given to
the selectors: the contextual one sees only filtered probabilities from an HMM fitted on
the harness prices' training bars.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from core.data.synthetic import REGIMES, SyntheticSpec, generate
from core.regime import RegimeSpec, fit_regimes


@dataclass(frozen=True, kw_only=True)
class PlantedHarness:
    """Synthetic market, its true regimes, agent return streams and filtered probabilities.

    Attributes
    ----------
    prices : DataFrame
    true_regimes : Series
    agent_returns : DataFrame
        One column per regime-specialist agent, ``"<regime>_specialist"``.
    regime_probs : DataFrame
        Filtered probabilities from an HMM fitted on the first ``train_bars`` bars only.
    train_bars : int
    """

    prices: pd.DataFrame
    true_regimes: pd.Series
    agent_returns: pd.DataFrame
    regime_probs: pd.DataFrame
    train_bars: int


def planted_regime_harness(
    *,
    bars: int = 3000,
    train_bars: int = 1000,
    seed: int = 0,
    edge: float = 0.0015,
    penalty: float = 0.0005,
    noise: float = 0.01,
) -> PlantedHarness:
    """Build the harness (deterministic for a seed).

    Parameters
    ----------
    bars, train_bars : int
        Length and training prefix (the regime model is fitted on the prefix only).
    seed : int
    edge : float
        Mean per-bar return of an agent in its own regime.
    penalty : float
        Mean per-bar loss of an agent in every other regime.
    noise : float
        Standard deviation of each agent's independent per-bar noise.
    """
    prices, regimes = generate(SyntheticSpec(bars=bars, seed=seed))
    rng = np.random.default_rng([seed, 7])
    codes = pd.Categorical(regimes, categories=list(REGIMES)).codes
    means = np.where(np.arange(len(REGIMES))[None, :] == codes[:, None], edge, -penalty)
    streams = means + noise * rng.standard_normal(means.shape)
    frame = pd.DataFrame(streams, index=prices.index, columns=[f"{r}_specialist" for r in REGIMES])
    fit = fit_regimes(prices.iloc[:train_bars], RegimeSpec(seed=seed, compute_smoothed=False))
    probs = fit.model.fresh().filter(prices)
    return PlantedHarness(
        prices=prices,
        true_regimes=regimes,
        agent_returns=frame,
        regime_probs=probs,
        train_bars=train_bars,
    )
