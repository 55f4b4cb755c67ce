"""The retraining replay and the recorded decisions, for the pages, the CLI and jobs.

Loads the data, calls core (:func:`core.retrain.replay_policy` with a re-tuned moving-
average crossover or a retrained classifier) and records every decision in one
transaction (:class:`core.store.retrain.RetrainDecisionRepository`). A replay needs no
role: it writes only replay rows (``replay=True``), never a model's stage.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from app.operations import CancelToken, Progress
from app.operations.retrain import ReplayOutcome, ReplayRequest, decision_row
from app.services.data import load_prices
from app.services.db import get_engine
from core.store.db import session_scope
from core.store.retrain import RetrainDecisionRepository


def replay_retraining(
    request: ReplayRequest,
    *,
    progress: Progress | None = None,
    cancel: CancelToken | None = None,
    save: bool = True,
) -> ReplayOutcome:
    """Replay the policy over the symbol's history and record every decision.

    ``progress(fraction, message)`` follows the replayed bars; ``cancel`` is checked
    between chunks of bars. A cancelled replay raises :class:`app.operations.Cancelled`
    and records nothing.
    """
    from core.retrain import model_factory, replay_policy  # scipy, statsmodels: only here

    prices = load_prices(request.dataset, request.symbol)
    spec = request.spec()
    decisions = replay_policy(
        prices,
        request.policy(),
        model_factory=model_factory(request.model, spec=spec),
        spec=spec,
        progress=progress,
        cancel=None if cancel is None else cancel.check,
    )
    outcome = ReplayOutcome(request, [decision_row(d) for d in decisions])
    if save:
        with session_scope(get_engine()) as session:
            repository = RetrainDecisionRepository(session)
            for row in outcome.rows:
                repository.add(
                    model_name=outcome.name,
                    as_of=date.fromisoformat(row["as_of"]),
                    trigger=row["trigger"],
                    decision=row["decision"],
                    reason=row["reason"],
                    numbers={
                        **row["numbers"],
                        "champion": row["champion_id"],
                        "challenger": row["challenger_id"],
                    },
                    replay=True,
                )
    return outcome


def decision_history(limit: int = 500) -> list[dict[str, Any]]:
    """Recorded retraining decisions, newest first."""
    with session_scope(get_engine()) as session:
        return [
            {
                "id": r.id,
                "model": r.model_name,
                "as_of": r.as_of.isoformat(),
                "decision": r.decision,
                "trigger": r.trigger,
                "reason": r.reason,
                "replay": r.replay,
                "numbers": r.numbers,
            }
            for r in RetrainDecisionRepository(session).history(limit)
        ]
