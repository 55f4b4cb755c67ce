"""Performance-triggered retraining: a champion/challenger state machine with rollback.

:class:`RetrainPolicy` says when the champion is unhealthy, how a challenger must win and
when a promotion is undone; :class:`RetrainController` applies it bar by bar through
``train_fn`` / ``evaluate_fn`` / ``compare_fn`` callables (ML models plug in there);
:func:`replay_policy` shows what a policy would have done over history with a fast
re-tuned MA-crossover model.
"""

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
    replay_policy,
)

__all__ = [
    "CompareOutcome",
    "ModelHandle",
    "RetrainController",
    "RetrainDecision",
    "RetrainPolicy",
    "RuleModel",
    "abtest_compare_fn",
    "decisions_frame",
    "ma_crossover_factory",
    "metric_value",
    "replay_policy",
]
