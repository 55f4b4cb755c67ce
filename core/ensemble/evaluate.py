"""Walk-forward evaluation of an online selector over tuned agents.

Execution convention (:data:`ENSEMBLE_EXECUTION`): the selector's weights decided at the
close of bar t are combined with the agents' targets of that close into one net target
position, filled at the open of bar t+1 (its close without an ``open``) and charged
``fees + slippage`` per unit of net position traded. Agents are tuned on the first
``train_bars`` bars only; the selector starts fresh at bar ``train_bars`` and learns from
each agent's realized return once its bar has closed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from core.backtest import metrics as m
from core.ensemble._returns import bar_legs, position_returns
from core.ensemble.agents import Agent, agent_positions, agent_returns, tune_agents
from core.ensemble.selectors import OnlineRun, make_selector, run_online
from core.ensemble.spec import SELECTORS, CheckCancel, EnsembleSpec, Progress, SelectorName
from core.regime import LABELS, RegimeSpec, fit_regimes

ENSEMBLE_EXECUTION = (
    "weights decided at close t x agents' targets at close t = net target, filled at bar "
    "t+1's open (close without open); fees + slippage charged per unit of net position traded"
)


@dataclass(frozen=True, kw_only=True)
class EnsembleResult:
    """Out-of-sample ensemble against its agents.

    Attributes
    ----------
    selector : str
    returns : DataFrame
        OOS per-bar returns: ``ensemble``, ``equal_weight``, ``best_single`` and each agent.
    weights : DataFrame
        Selector weights per OOS bar, indexed by the bar they apply to (decided at the
        previous close).
    positions : Series
        Net target position of the ensemble, indexed like ``weights`` (NaN for streams).
    regret_curve : Series
        Cumulative ``best agent return - ensemble return`` (the best agent in hindsight
        over the OOS period, by total return).
    explanations : Series
        The selector's explanation at each OOS close.
    switch_log : list of dict
        ``{date, from, to, explanation}`` whenever the top-weighted agent changes.
    agents : list of Agent
        The tuned agents (empty for return streams).
    best_agent : str
        Best single agent in hindsight by OOS Sharpe.
    ensemble_sharpe, best_single_sharpe, equal_weight_sharpe : float
        Annualized OOS Sharpe ratios.
    regret : float
        Final cumulative regret.
    switches : int
        Number of changes of the top-weighted agent.
    turnover : float
        Mean absolute change of the net position (or of the weights) per bar.
    train_bars : int
    execution : str
    """

    selector: str
    returns: pd.DataFrame
    weights: pd.DataFrame
    positions: pd.Series
    regret_curve: pd.Series
    explanations: pd.Series
    switch_log: list[dict[str, Any]]
    agents: list[Agent] = field(default_factory=list)
    best_agent: str
    ensemble_sharpe: float
    best_single_sharpe: float
    equal_weight_sharpe: float
    regret: float
    switches: int
    turnover: float
    train_bars: int
    execution: str = ENSEMBLE_EXECUTION

    def summary(self) -> dict[str, Any]:
        """JSON-ready headline numbers."""
        return {
            "selector": self.selector,
            "ensemble_sharpe": self.ensemble_sharpe,
            "best_single_sharpe": self.best_single_sharpe,
            "equal_weight_sharpe": self.equal_weight_sharpe,
            "best_agent": self.best_agent,
            "regret": self.regret,
            "switches": self.switches,
            "turnover": self.turnover,
            "oos_bars": len(self.returns),
            "train_bars": self.train_bars,
            "agents": [a.describe() for a in self.agents],
        }


def _sharpe(r: np.ndarray, ppy: float) -> float:
    return float(m.sharpe_ratio(r, ppy))


def _regime_contexts(
    prices: pd.DataFrame,
    train_bars: int,
    regime_probs: pd.DataFrame | None,
    seed: int,
) -> np.ndarray:
    """Filtered regime probabilities for every bar (fitted on the training bars only)."""
    if regime_probs is None:
        fit = fit_regimes(prices.iloc[:train_bars], RegimeSpec(seed=seed, compute_smoothed=False))
        regime_probs = fit.model.fresh().filter(prices)
    probs = regime_probs.reindex(index=prices.index, columns=list(LABELS))
    values: np.ndarray = probs.to_numpy(dtype=np.float64, copy=True)
    bad = ~np.isfinite(values).all(axis=1)
    values[bad] = 1.0 / len(LABELS)
    return values


def _switch_log(
    index: pd.Index, names: Sequence[str], chosen: np.ndarray, explanations: Sequence[str]
) -> list[dict[str, Any]]:
    """A row whenever the top-weighted agent changes (``date`` = bar the new weights apply to)."""
    log = []
    for i in range(1, len(index)):
        if chosen[i] != chosen[i - 1]:
            log.append(
                {
                    "date": index[i],
                    "from": names[chosen[i - 1]],
                    "to": names[chosen[i]],
                    "explanation": explanations[i],
                }
            )
    return log


def _assemble(
    *,
    selector: str,
    index: pd.Index,
    names: Sequence[str],
    agent_rets: np.ndarray,
    ensemble: np.ndarray,
    equal: np.ndarray,
    run: OnlineRun,
    positions: np.ndarray,
    turnover: float,
    agents: list[Agent],
    train_bars: int,
    ppy: float,
) -> EnsembleResult:
    """Shared result: ``agent_rets``, ``ensemble``, ``equal`` are OOS rows; ``run`` has one
    more row (its last decision applies to a bar not in the data)."""
    sharpes = np.array([_sharpe(agent_rets[:, j], ppy) for j in range(len(names))])
    ranked = np.where(np.isfinite(sharpes), sharpes, -np.inf)
    best = int(np.argmax(ranked))
    by_total = int(np.argmax(agent_rets.sum(axis=0)))
    regret = np.cumsum(agent_rets[:, by_total] - ensemble)
    frame = pd.DataFrame(agent_rets, index=index, columns=list(names))
    frame.insert(0, "best_single", agent_rets[:, best])
    frame.insert(0, "equal_weight", equal)
    frame.insert(0, "ensemble", ensemble)
    dec_index = index  # a decision at close t-1 is labelled by the bar t it applies to
    switch_log = _switch_log(dec_index, names, run.chosen[:-1], run.explanations[:-1])
    weights = pd.DataFrame(run.weights[:-1], index=dec_index, columns=list(names))
    return EnsembleResult(
        selector=selector,
        returns=frame,
        weights=weights,
        positions=pd.Series(positions, index=dec_index, name="ensemble_position"),
        regret_curve=pd.Series(regret, index=index, name="regret"),
        explanations=pd.Series(run.explanations[:-1], index=dec_index, name="explanation"),
        switch_log=switch_log,
        agents=agents,
        best_agent=names[best],
        ensemble_sharpe=_sharpe(ensemble, ppy),
        best_single_sharpe=float(sharpes[best]),
        equal_weight_sharpe=_sharpe(equal, ppy),
        regret=float(regret[-1]) if regret.size else 0.0,
        switches=len(switch_log),
        turnover=turnover,
        train_bars=train_bars,
    )


def evaluate_positions(
    prices: pd.DataFrame,
    positions: pd.DataFrame,
    *,
    selector: SelectorName = "contextual",
    train_bars: int,
    spec: EnsembleSpec | None = None,
    seed: int = 0,
    regime_probs: pd.DataFrame | None = None,
    agents: list[Agent] | None = None,
) -> EnsembleResult:
    """Run ``selector`` online over given agent positions from bar ``train_bars`` on.

    The ensemble holds the net position ``sum_i w_i * pos_i`` (netting saves costs); the
    equal-weight benchmark holds ``mean_i pos_i``; every return uses the same convention
    (:data:`ENSEMBLE_EXECUTION`). See :func:`evaluate_ensemble` for the parameters.
    """
    spec = spec or EnsembleSpec()
    _check(selector, train_bars, len(prices))
    names = list(positions.columns)
    pos = positions.reindex(prices.index).fillna(0.0).to_numpy(dtype=np.float64)
    gap, session = bar_legs(prices)
    rets = position_returns(pos, gap, session, spec.cost)
    contexts = (
        _regime_contexts(prices, train_bars, regime_probs, seed)
        if selector == "contextual"
        else None
    )
    sel = make_selector(selector, names, spec.selector, seed=seed)
    start = train_bars - 1  # first decision at the last training close
    run = run_online(sel, rets, contexts, start=start)
    net = np.einsum("tk,tk->t", run.weights, pos[start:])
    full_net = np.concatenate([np.zeros(start), net])
    ensemble = position_returns(full_net, gap, session, spec.cost)[train_bars:]
    equal_pos = np.concatenate([np.zeros(start), pos[start:].mean(axis=1)])
    equal = position_returns(equal_pos, gap, session, spec.cost)[train_bars:]
    # positions decided at t-1 drive bar t's session; agent returns from train_bars on
    return _assemble(
        selector=selector,
        index=prices.index[train_bars:],
        names=names,
        agent_rets=rets[train_bars:],
        ensemble=ensemble,
        equal=equal,
        run=run,
        positions=net[:-1],
        turnover=float(np.mean(np.abs(np.diff(net)))) if net.size > 1 else 0.0,
        agents=agents or [],
        train_bars=train_bars,
        ppy=spec.backtest.periods_per_year,
    )


def evaluate_streams(
    agent_returns_frame: pd.DataFrame,
    *,
    selector: SelectorName = "contextual",
    train_bars: int,
    spec: EnsembleSpec | None = None,
    seed: int = 0,
    regime_probs: pd.DataFrame | None = None,
) -> EnsembleResult:
    """Run ``selector`` over bare agent return streams (no prices, e.g. a test harness).

    The ensemble return of bar t+1 is ``sum_i w_i(t) * r_i(t+1)`` minus ``fees + slippage``
    times ``sum_i |w_i(t) - w_i(t-1)|`` (weights traded as sleeves). ``regime_probs`` is
    required for the contextual selector.
    """
    spec = spec or EnsembleSpec()
    _check(selector, train_bars, len(agent_returns_frame))
    if selector == "contextual" and regime_probs is None:
        raise ValueError("the contextual selector needs regime_probs for return streams")
    names = list(agent_returns_frame.columns)
    rets = agent_returns_frame.to_numpy(dtype=np.float64)
    contexts = None
    if selector == "contextual" and regime_probs is not None:
        probs = regime_probs.reindex(index=agent_returns_frame.index, columns=list(LABELS))
        contexts = probs.fillna(1.0 / len(LABELS)).to_numpy(dtype=np.float64)
    sel = make_selector(selector, names, spec.selector, seed=seed)
    start = train_bars - 1
    run = run_online(sel, rets, contexts, start=start)
    w = run.weights[:-1]  # decided at closes start..T-2, applied to bars train_bars..T-1
    traded = np.abs(np.diff(np.vstack([np.full((1, len(names)), 1.0 / len(names)), w]), axis=0))
    oos = rets[train_bars:]
    ensemble = np.einsum("tk,tk->t", w, oos) - spec.cost * traded.sum(axis=1)
    equal = oos.mean(axis=1)
    return _assemble(
        selector=selector,
        index=agent_returns_frame.index[train_bars:],
        names=names,
        agent_rets=oos,
        ensemble=ensemble,
        equal=equal,
        run=run,
        positions=np.full(len(oos), np.nan),
        turnover=float(traded.sum(axis=1).mean()),
        agents=[],
        train_bars=train_bars,
        ppy=spec.backtest.periods_per_year,
    )


def _check(selector: str, train_bars: int, n_bars: int) -> None:
    if selector not in SELECTORS:
        raise ValueError(f"unknown selector {selector!r}; choose one of {list(SELECTORS)}")
    if not 1 <= train_bars < n_bars - 1:
        raise ValueError(f"train_bars must be in [1, {n_bars - 2}], got {train_bars}")


def evaluate_ensemble(
    prices: pd.DataFrame,
    *,
    selector: SelectorName = "contextual",
    train_bars: int,
    spec: EnsembleSpec | None = None,
    seed: int = 0,
    regime_probs: pd.DataFrame | None = None,
    progress: Progress | None = None,
    cancel: CheckCancel | None = None,
) -> EnsembleResult:
    """Walk-forward ensemble: tune agents in sample, then select online out of sample.

    Parameters
    ----------
    prices : DataFrame
        Canonical price frame (``close``; fills at ``open`` when present).
    selector : {"ucb", "thompson", "exp3", "contextual"}
    train_bars : int
        Agents are tuned (and, for the contextual selector, the regime model fitted) on
        bars ``0 .. train_bars - 1``; everything reported is on the bars after.
    spec : EnsembleSpec, optional
    seed : int
        Seeds the selector's draws and the regime fit.
    regime_probs : DataFrame, optional
        Filtered (causal) regime probabilities with ``LABELS`` columns for the contextual
        selector; fitted on the training bars and filtered forward when omitted.
    progress : callable, optional
        ``progress(fraction, message)`` after each tuned agent (up to 0.9) and at the end.
    cancel : callable, optional
        Called before each agent is tuned and before the online run; it raises to stop.

    Returns
    -------
    EnsembleResult
        Ensemble vs the best single agent in hindsight and vs equal weights, OOS.
    """
    spec = spec or EnsembleSpec()
    _check(selector, train_bars, len(prices))
    tuning = None if progress is None else _scaled(progress, 0.0, 0.9)
    agents = tune_agents(prices.iloc[:train_bars], spec, progress=tuning, cancel=cancel)
    if cancel is not None:
        cancel()
    positions = agent_positions(agents, prices)
    result = evaluate_positions(
        prices,
        positions,
        selector=selector,
        train_bars=train_bars,
        spec=spec,
        seed=seed,
        regime_probs=regime_probs,
        agents=agents,
    )
    if progress is not None:
        progress(1.0, f"{selector} selector run over {len(result.returns):,} bars")
    return result


def _scaled(progress: Progress, low: float, high: float) -> Progress:
    """``progress`` with its fractions mapped onto ``[low, high]``."""

    def report(fraction: float, message: str) -> None:
        progress(low + (high - low) * fraction, message)

    return report


__all__ = [
    "ENSEMBLE_EXECUTION",
    "EnsembleResult",
    "agent_returns",
    "evaluate_ensemble",
    "evaluate_positions",
    "evaluate_streams",
]
