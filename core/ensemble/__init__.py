"""Strategy ensemble: tuned agent profiles and online bandit meta-selectors.

* :mod:`~core.ensemble.agents`: conservative / aggressive / balanced / contrarian agents,
  each a (strategy, params) pair tuned in sample by its own objective with a sweep.
* :mod:`~core.ensemble.selectors`: UCB1, Thompson sampling, EXP3 and a regime-conditioned
  (contextual) UCB, learning bar by bar from realized rewards, with softmax blending and
  smoothed (turnover-penalized) weights.
* :mod:`~core.ensemble.evaluate`: walk-forward evaluation against the best single agent in
  hindsight and equal weights, with regret and switch explanations.
* :mod:`~core.ensemble.regimes`: the workbench's run: a split by fraction, filtered-HMM
  regime context and agent performance by regime.
* :mod:`~core.ensemble.harness`: a planted-regime known-answer harness.
* :func:`position_returns` / :func:`bar_legs`: the per-bar return model shared with the
  decision pipeline and the retraining replay (fill at t+1's open, costs on |change|).

Names are imported from their submodule on first access (:mod:`core._lazy`), so the
light specs (``core.ensemble.spec``) cost no pandas.
"""

from typing import TYPE_CHECKING

from core._lazy import attach

if TYPE_CHECKING:
    from core.ensemble._returns import bar_legs, position_returns, step_return
    from core.ensemble.agents import (
        OBJECTIVES,
        Agent,
        agent_positions,
        agent_returns,
        performance_by_regime,
        tune_agents,
    )
    from core.ensemble.evaluate import (
        ENSEMBLE_EXECUTION,
        EnsembleResult,
        evaluate_ensemble,
        evaluate_positions,
        evaluate_streams,
    )
    from core.ensemble.harness import PlantedHarness, planted_regime_harness
    from core.ensemble.regimes import (
        MIN_OOS_BARS,
        RegimeEnsemble,
        evaluate_with_regimes,
        train_bars_for,
    )
    from core.ensemble.selectors import (
        SELECTOR_CLASSES,
        ContextualSelector,
        EXP3Selector,
        OnlineRun,
        Selector,
        SelectorStep,
        ThompsonSelector,
        UCB1Selector,
        make_selector,
        run_online,
        smooth_weights,
        softmax,
    )
    from core.ensemble.spec import (
        PROFILES,
        SELECTORS,
        CheckCancel,
        EnsembleSpec,
        Progress,
        SelectorName,
        SelectorSpec,
    )

__getattr__, __dir__ = attach(
    __name__,
    {
        "_returns": ["bar_legs", "position_returns", "step_return"],
        "agents": [
            "OBJECTIVES",
            "Agent",
            "agent_positions",
            "agent_returns",
            "performance_by_regime",
            "tune_agents",
        ],
        "evaluate": [
            "ENSEMBLE_EXECUTION",
            "EnsembleResult",
            "evaluate_ensemble",
            "evaluate_positions",
            "evaluate_streams",
        ],
        "harness": ["PlantedHarness", "planted_regime_harness"],
        "regimes": ["MIN_OOS_BARS", "RegimeEnsemble", "evaluate_with_regimes", "train_bars_for"],
        "selectors": [
            "SELECTOR_CLASSES",
            "ContextualSelector",
            "EXP3Selector",
            "OnlineRun",
            "Selector",
            "SelectorStep",
            "ThompsonSelector",
            "UCB1Selector",
            "make_selector",
            "run_online",
            "smooth_weights",
            "softmax",
        ],
        "spec": [
            "PROFILES",
            "SELECTORS",
            "CheckCancel",
            "EnsembleSpec",
            "Progress",
            "SelectorName",
            "SelectorSpec",
        ],
    },
)

__all__ = [
    "ENSEMBLE_EXECUTION",
    "MIN_OOS_BARS",
    "OBJECTIVES",
    "PROFILES",
    "SELECTORS",
    "SELECTOR_CLASSES",
    "Agent",
    "CheckCancel",
    "ContextualSelector",
    "EXP3Selector",
    "EnsembleResult",
    "EnsembleSpec",
    "OnlineRun",
    "PlantedHarness",
    "Progress",
    "RegimeEnsemble",
    "Selector",
    "SelectorName",
    "SelectorSpec",
    "SelectorStep",
    "ThompsonSelector",
    "UCB1Selector",
    "agent_positions",
    "agent_returns",
    "bar_legs",
    "evaluate_ensemble",
    "evaluate_positions",
    "evaluate_streams",
    "evaluate_with_regimes",
    "make_selector",
    "performance_by_regime",
    "planted_regime_harness",
    "position_returns",
    "run_online",
    "smooth_weights",
    "softmax",
    "step_return",
    "train_bars_for",
    "tune_agents",
]
