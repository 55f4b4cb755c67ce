"""Performance-triggered retraining: a champion/challenger state machine with rollback.

:class:`RetrainPolicy` says when the champion is unhealthy, how a challenger must win and
when a promotion is undone; :class:`RetrainController` applies it bar by bar through
``train_fn`` / ``evaluate_fn`` / ``compare_fn`` callables (ML models plug in there);
:func:`replay_policy` shows what a policy would have done over history with a fast
re-tuned MA-crossover model or a retrained classifier (:func:`model_factory`).

Names are imported from their submodule on first access (:mod:`core._lazy`).
"""

from typing import TYPE_CHECKING

from core._lazy import attach

if TYPE_CHECKING:
    from core.retrain._kinds import ReplayModel
    from core.retrain.policy import (
        CompareOutcome,
        ModelHandle,
        RetrainController,
        RetrainDecision,
        RetrainPolicy,
        abtest_compare_fn,
        metric_value,
    )
    from core.retrain.replay import (
        RuleModel,
        decisions_frame,
        ma_crossover_factory,
        model_factory,
        replay_model_name,
        replay_policy,
    )

__getattr__, __dir__ = attach(
    __name__,
    {
        "_kinds": ["ReplayModel"],
        "policy": [
            "CompareOutcome",
            "ModelHandle",
            "RetrainController",
            "RetrainDecision",
            "RetrainPolicy",
            "abtest_compare_fn",
            "metric_value",
        ],
        "replay": [
            "RuleModel",
            "decisions_frame",
            "ma_crossover_factory",
            "model_factory",
            "replay_model_name",
            "replay_policy",
        ],
    },
)

__all__ = [
    "CompareOutcome",
    "ModelHandle",
    "ReplayModel",
    "RetrainController",
    "RetrainDecision",
    "RetrainPolicy",
    "RuleModel",
    "abtest_compare_fn",
    "decisions_frame",
    "ma_crossover_factory",
    "metric_value",
    "model_factory",
    "replay_model_name",
    "replay_policy",
]
