"""The ensemble as the workbench runs it: a train/test split by fraction, regime context
from the filtered HMM fitted on the training bars, and agent performance by regime."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from core.ensemble.agents import performance_by_regime
from core.ensemble.evaluate import EnsembleResult, _scaled, evaluate_ensemble
from core.ensemble.spec import CheckCancel, EnsembleSpec, Progress, SelectorName
from core.regime import LABELS, RegimeSpec, fit_regimes

MIN_OOS_BARS = 100
"""Fewest out-of-sample bars an ensemble evaluation accepts."""


@dataclass(frozen=True, kw_only=True)
class RegimeEnsemble:
    """An ensemble evaluation with its regime context.

    Attributes
    ----------
    result : EnsembleResult
    by_regime : DataFrame
        OOS annualized return and Sharpe of every agent in every filtered regime
        (:func:`core.ensemble.performance_by_regime`).
    regimes : Series
        Filtered regime (argmax of the forward-filtered probabilities) of each OOS bar.
    """

    result: EnsembleResult
    by_regime: pd.DataFrame
    regimes: pd.Series


def train_bars_for(n_bars: int, train_fraction: float) -> int:
    """Training bars of a split by fraction, refusing one that leaves too few OOS bars.

    >>> train_bars_for(1000, 0.5)
    500
    >>> train_bars_for(150, 0.5)
    Traceback (most recent call last):
    ...
    ValueError: 150 bars leave too few out-of-sample bars; use more data
    """
    train_bars = int(n_bars * train_fraction)
    if n_bars - train_bars < MIN_OOS_BARS:
        raise ValueError(f"{n_bars} bars leave too few out-of-sample bars; use more data")
    return train_bars


def evaluate_with_regimes(
    prices: pd.DataFrame,
    *,
    selector: SelectorName,
    train_fraction: float,
    seed: int = 0,
    spec: EnsembleSpec | None = None,
    progress: Progress | None = None,
    cancel: CheckCancel | None = None,
) -> RegimeEnsemble:
    """Walk-forward ensemble on ``prices`` with filtered-HMM regime context.

    The first ``train_fraction`` of the bars tune the agents and fit the regime model
    (seeded by ``seed``); its forward-filtered probabilities are the contextual selector's
    context and label each OOS bar for the per-regime table.

    Parameters
    ----------
    prices : DataFrame
    selector : {"ucb", "thompson", "exp3", "contextual"}
    train_fraction : float
        Share of the bars used for training (at least :data:`MIN_OOS_BARS` must remain).
    seed : int
    spec : EnsembleSpec, optional
        Costs and selector settings.
    progress : callable, optional
        ``progress(fraction, message)`` after the regime fit, each tuned agent and the end.
    cancel : callable, optional
        Called between those steps; it raises to stop.
    """
    train_bars = train_bars_for(len(prices), train_fraction)
    if cancel is not None:
        cancel()
    fitted = fit_regimes(prices.iloc[:train_bars], RegimeSpec(seed=seed))
    probs = fitted.model.fresh().filter(prices)[list(LABELS)]
    if progress is not None:
        progress(0.1, f"regime model fitted on {train_bars:,} training bars")
    result = evaluate_ensemble(
        prices,
        selector=selector,
        train_bars=train_bars,
        spec=spec,
        seed=seed,
        regime_probs=probs,
        progress=None if progress is None else _scaled(progress, 0.1, 1.0),
        cancel=cancel,
    )
    labels = probs.idxmax(axis=1).loc[result.returns.index]
    agent_cols = [a.name for a in result.agents]
    by_regime = performance_by_regime(result.returns[agent_cols], labels)
    return RegimeEnsemble(result=result, by_regime=by_regime, regimes=labels)


__all__ = ["MIN_OOS_BARS", "RegimeEnsemble", "evaluate_with_regimes", "train_bars_for"]
