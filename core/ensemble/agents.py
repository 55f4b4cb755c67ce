"""Agent profiles: a (strategy, params) pair per profile, tuned in sample by its own objective.

=============  =======================================  ==========================================
profile        candidates swept                         objective (higher is better)
=============  =======================================  ==========================================
conservative   vol-target trend, long-only MA crossover  ``sharpe - 2 * |max_drawdown|``
aggressive     MA crossover (short allowed), TS momentum ``total_return``
balanced       long-only MA crossover, Donchian          ``sharpe``
contrarian     mean reversion (z-score and RSI)          ``sharpe``
=============  =======================================  ==========================================

Every candidate grid is small and run by :func:`core.sweep.sweep` on the training
prices only, so the chosen parameters never see the out-of-sample period.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from core.ensemble._returns import bar_legs, position_returns
from core.ensemble.spec import CheckCancel, EnsembleSpec, Progress
from core.strategies import run_strategy, validate_params
from core.sweep import sweep

Objective = Callable[[pd.DataFrame], pd.Series]


@dataclass(frozen=True)
class _Candidate:
    strategy: str
    grid: Mapping[str, Sequence[Any]]
    fixed: Mapping[str, Any] = field(default_factory=dict)
    constraint: Callable[[dict[str, np.ndarray]], np.ndarray] | None = None


#: Fewest training bars :func:`tune_agents` accepts (its longest lookback plus a year).
MIN_TRAIN_BARS = 260


def _fast_below_slow(p: dict[str, np.ndarray]) -> np.ndarray:
    return p["fast"] < p["slow"]


def _conservative(table: pd.DataFrame) -> pd.Series:
    return table["sharpe"] - 2.0 * table["max_drawdown"].abs()


def _aggressive(table: pd.DataFrame) -> pd.Series:
    return table["total_return"]


def _sharpe(table: pd.DataFrame) -> pd.Series:
    return table["sharpe"]


OBJECTIVES: dict[str, tuple[str, Objective]] = {
    "conservative": ("sharpe - 2*|max_drawdown|", _conservative),
    "aggressive": ("total_return", _aggressive),
    "balanced": ("sharpe", _sharpe),
    "contrarian": ("sharpe", _sharpe),
}


def _candidates(profile: str, allow_short: bool) -> list[_Candidate]:
    if profile == "conservative":
        return [
            _Candidate(
                "vol_target_trend",
                {"trend_window": [50, 100, 150, 200], "target_vol": [0.08, 0.12]},
            ),
            _Candidate(
                "ma_crossover",
                {"fast": [10, 20, 50], "slow": [100, 150, 200]},
                {},
                _fast_below_slow,
            ),
        ]
    if profile == "aggressive":
        return [
            _Candidate(
                "ma_crossover",
                {"fast": [5, 10, 20], "slow": [30, 50, 100]},
                {"allow_short": allow_short},
                _fast_below_slow,
            ),
            _Candidate(
                "ts_momentum", {"lookback": [21, 63, 126, 252]}, {"allow_short": allow_short}
            ),
        ]
    if profile == "balanced":
        return [
            _Candidate(
                "ma_crossover",
                {"fast": [5, 10, 20, 50], "slow": [50, 100, 150, 200]},
                {},
                _fast_below_slow,
            ),
            _Candidate("donchian_breakout", {"window": [20, 55], "exit_window": [10, 20]}),
        ]
    if profile == "contrarian":
        return [
            _Candidate(
                "mean_reversion",
                {"window": [10, 20, 40], "entry": [1.5, 2.0], "exit": [0.0, 0.5]},
                {"indicator": "zscore"},
            ),
            _Candidate(
                "mean_reversion",
                {"window": [7, 14], "entry": [20.0, 25.0], "exit": [0.0, 5.0]},
                {"indicator": "rsi"},
            ),
        ]
    raise ValueError(f"unknown profile {profile!r}; choose one of {sorted(OBJECTIVES)}")


@dataclass(frozen=True, kw_only=True)
class Agent:
    """A tuned agent: one registered strategy with fixed parameters.

    Attributes
    ----------
    name : str
        Unique name (the profile name), used as the column name everywhere.
    profile : str
        Profile whose objective chose the parameters.
    strategy : str
        Name in :data:`core.strategies.STRATEGIES`.
    params : dict
        Parameters for :func:`core.strategies.run_strategy`.
    objective : str
        The in-sample objective, as a formula.
    in_sample : dict
        In-sample objective value and headline metrics of the chosen row.
    """

    name: str
    profile: str
    strategy: str
    params: dict[str, Any]
    objective: str = ""
    in_sample: dict[str, float] = field(default_factory=dict)

    def positions(self, prices: pd.DataFrame) -> pd.Series:
        """Causal target positions on ``prices`` (decided at each close)."""
        return run_strategy(self.strategy, prices, self.params).rename(self.name)

    def describe(self) -> str:
        """One line: ``"balanced: ma_crossover(fast=20, slow=100)"``."""
        args = ", ".join(f"{k}={v}" for k, v in self.params.items())
        return f"{self.name}: {self.strategy}({args})"


def _key(agent: Agent) -> tuple[str, str]:
    return agent.strategy, repr(sorted(agent.params.items()))


def _py(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value


def tune_agents(
    prices_train: pd.DataFrame,
    spec: EnsembleSpec | None = None,
    *,
    progress: Progress | None = None,
    cancel: CheckCancel | None = None,
) -> list[Agent]:
    """Tune one agent per profile of ``spec`` on ``prices_train`` only.

    Each profile sweeps its candidate grids with :func:`core.sweep.sweep` (costs
    from ``spec.backtest``) and keeps the row with the highest objective; NaN objectives
    (e.g. a strategy that never trades) rank last. A profile whose best row is already
    held by an earlier profile takes its next best row, so the agents differ.

    Parameters
    ----------
    prices_train : DataFrame
        Canonical price frame of the training period.
    spec : EnsembleSpec, optional
    progress : callable, optional
        ``progress(fraction, message)`` after each profile.
    cancel : callable, optional
        Called before each profile; it raises to stop the tuning.

    Returns
    -------
    list of Agent
        In the order of ``spec.profiles``.
    """
    spec = spec or EnsembleSpec()
    if len(prices_train) < MIN_TRAIN_BARS:
        raise ValueError(
            f"the agents need at least {MIN_TRAIN_BARS} training bars to tune on, "
            f"got {len(prices_train)}"
        )
    agents: list[Agent] = []
    taken: set[tuple[str, str]] = set()
    for done, profile in enumerate(spec.profiles):
        if cancel is not None:
            cancel()
        formula, objective = OBJECTIVES[profile]
        ranked: list[tuple[float, int, Agent]] = []
        for cand in _candidates(profile, spec.allow_short):
            result = sweep(
                cand.strategy,
                prices_train,
                cand.grid,
                constraints=cand.constraint,
                spec=spec.backtest,
                fixed=cand.fixed,
            )
            table = result.table
            scores = objective(table).to_numpy(dtype=np.float64)
            scores = np.where(np.isfinite(scores), scores, -np.inf)
            for i in range(len(table)):
                raw = {**cand.fixed, **{n: _py(table[n].iloc[i]) for n in result.param_names}}
                params = validate_params(cand.strategy, raw).model_dump()
                agent = Agent(
                    name=profile,
                    profile=profile,
                    strategy=cand.strategy,
                    params=params,
                    objective=formula,
                    in_sample={
                        "objective": float(scores[i]),
                        "sharpe": float(table["sharpe"].iloc[i]),
                        "total_return": float(table["total_return"].iloc[i]),
                        "max_drawdown": float(table["max_drawdown"].iloc[i]),
                        "combinations": float(result.combinations),
                    },
                )
                ranked.append((float(scores[i]), -len(ranked), agent))
        if not ranked:  # pragma: no cover - every profile has valid combinations
            raise ValueError(f"profile {profile!r}: no valid parameter combination")
        ranked.sort(key=lambda item: (item[0], item[1]), reverse=True)
        # a profile takes its best row that no earlier profile already holds
        chosen = next((a for _, _, a in ranked if _key(a) not in taken), ranked[0][2])
        taken.add(_key(chosen))
        agents.append(chosen)
        if progress is not None:
            progress((done + 1) / len(spec.profiles), f"agent {profile} tuned")
    return agents


def agent_positions(agents: Sequence[Agent], prices: pd.DataFrame) -> pd.DataFrame:
    """Causal target positions of every agent, one column per agent name.

    Row ``t`` uses bars ``0..t`` only (each strategy is causal), so computing on
    ``prices[: t + 1]`` gives the same row ``t``.
    """
    names = [a.name for a in agents]
    if len(set(names)) != len(names):
        raise ValueError(f"agent names must be unique, got {names}")
    return pd.DataFrame({a.name: a.positions(prices) for a in agents}, index=prices.index)


def agent_returns(positions: pd.DataFrame, prices: pd.DataFrame, cost: float) -> pd.DataFrame:
    """Net per-bar returns of each agent's positions (see :mod:`core.ensemble._returns`)."""
    gap, session = bar_legs(prices)
    values = position_returns(positions.to_numpy(dtype=np.float64), gap, session, cost)
    return pd.DataFrame(values, index=positions.index, columns=positions.columns)


def performance_by_regime(
    agent_returns: pd.DataFrame, regime_labels: pd.Series, periods_per_year: float = 252.0
) -> pd.DataFrame:
    """Annualized return and Sharpe of every agent in every regime.

    Parameters
    ----------
    agent_returns : DataFrame
        Per-bar returns, one column per agent.
    regime_labels : Series
        Label per bar (e.g. the argmax of filtered probabilities); aligned on the index,
        bars without a label are dropped.
    periods_per_year : float

    Returns
    -------
    DataFrame
        Tidy rows ``agent, regime, bars, ann_return, sharpe`` (``ann_return = mean * ppy``,
        ``sharpe = mean / std * sqrt(ppy)``, NaN for zero variance).
    """
    labels = regime_labels.reindex(agent_returns.index)
    rows = []
    for regime, idx in agent_returns.groupby(labels, sort=True).groups.items():
        block = agent_returns.loc[idx]
        for agent in agent_returns.columns:
            r = block[agent].to_numpy(dtype=np.float64)
            sd = float(np.std(r, ddof=1)) if r.size > 1 else math.nan
            mean = float(np.mean(r)) if r.size else math.nan
            rows.append(
                {
                    "agent": agent,
                    "regime": regime,
                    "bars": int(r.size),
                    "ann_return": mean * periods_per_year,
                    "sharpe": mean / sd * math.sqrt(periods_per_year) if sd > 0 else math.nan,
                }
            )
    return pd.DataFrame(rows, columns=["agent", "regime", "bars", "ann_return", "sharpe"])
