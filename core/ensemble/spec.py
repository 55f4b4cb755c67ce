"""Frozen configuration of the agent ensemble and its online selectors."""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from core.backtest.spec import BacktestSpec

SelectorName = Literal["ucb", "thompson", "exp3", "contextual"]
SELECTORS: tuple[str, ...] = ("ucb", "thompson", "exp3", "contextual")
ProfileName = Literal["conservative", "aggressive", "balanced", "contrarian"]
PROFILES: tuple[ProfileName, ...] = ("conservative", "aggressive", "balanced", "contrarian")

Progress = Callable[[float, str], None]
"""``progress(fraction, message)``: fraction in [0, 1], message for the user."""

CheckCancel = Callable[[], None]
"""Called between chunks of work; it raises to stop (e.g. ``CancelToken.check``)."""


class SelectorSpec(BaseModel):
    """Hyper-parameters shared by the online selectors (see :mod:`core.ensemble.selectors`).

    Scores are in annualized Sharpe units: an agent's shrunk mean reward over its standard
    deviation times ``sqrt(periods_per_year)``. Target weights are
    ``softmax(scores / temperature)``; the weights actually held move towards the target by
    ``smoothing`` per bar, ``w_t = (1 - smoothing) w_{t-1} + smoothing * target_t``, which
    is the turnover penalty (``smoothing=1`` jumps at once).

    Parameters
    ----------
    temperature : float
        Softmax temperature in Sharpe units: a Sharpe lead of ``temperature`` is an
        e-fold weight ratio.
    smoothing : float
        Step towards the target per bar (1 = no smoothing).
    discount : float
        Per-bar forgetting factor of the reward statistics (1 = never forget). The
        contextual selector discounts a regime's statistics only by that regime's
        probability mass, so a rare regime is not forgotten while it is absent.
    prior_bars : float
        Pseudo-observations at mean reward 0 (shrinks young estimates towards 0).
    ucb_c : float
        Width of the UCB1 exploration bonus, ``c * sqrt(2 ln N / n_i)`` in standard
        deviations of the per-bar reward (annualized like the score).
    thompson_draws : int
        Joint posterior draws per bar behind Thompson's ``P(best)`` weights.
    exp3_eta : float
        EXP3 learning rate per bar of standardized reward.
    exp3_gamma : float
        EXP3 uniform exploration share.
    feedback : {"full", "bandit"}
        ``"full"``: every agent's realized return updates its statistics (agents are
        strategies on observable prices, so all returns are known at each close).
        ``"bandit"``: only the arm the selector pulled is observed (EXP3 importance-weights
        it), the textbook bandit setting.
    periods_per_year : float
        Annualization of the scores.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    temperature: float = Field(0.5, gt=0.0)
    smoothing: float = Field(0.2, gt=0.0, le=1.0)
    discount: float = Field(0.995, gt=0.0, le=1.0)
    prior_bars: float = Field(20.0, ge=0.0)
    ucb_c: float = Field(1.0, ge=0.0)
    thompson_draws: int = Field(64, ge=1, le=10_000)
    exp3_eta: float = Field(0.05, gt=0.0)
    exp3_gamma: float = Field(0.05, ge=0.0, lt=1.0)
    feedback: Literal["full", "bandit"] = "full"
    periods_per_year: float = Field(252.0, gt=0.0)


class EnsembleSpec(BaseModel):
    """Everything :func:`core.ensemble.evaluate_ensemble` needs besides data and seed.

    Parameters
    ----------
    profiles : tuple of profile names
        Agents to tune (one per profile, see :mod:`core.ensemble.agents`).
    backtest : BacktestSpec
        Costs (``fees + slippage`` per unit of traded position) and bar frequency.
    selector : SelectorSpec
        Selector hyper-parameters.
    allow_short : bool
        Let the aggressive profile trade short.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    profiles: tuple[ProfileName, ...] = PROFILES
    backtest: BacktestSpec = BacktestSpec()
    selector: SelectorSpec = SelectorSpec()
    allow_short: bool = True

    @property
    def cost(self) -> float:
        """Cost per unit of traded position: ``fees + slippage``."""
        return self.backtest.fees + self.backtest.slippage
