"""A/B comparison services: build each arm's daily returns, then test them together."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from app.operations import CancelToken, Progress
from app.operations.abtest import CompareRequest
from app.services import runs as run_store
from app.services.abtest_arms import arm_label, arm_labels, arm_returns
from core.abtest import ComparisonResult, compare, min_sample_size_sharpe
from core.abtest.sequential import shadow_tests

_RUN_METRICS = ("verdict", "primary_test", "n_obs", "min_sample_size")  # a saved run keeps
__all__ = [
    "CompareOutcome",
    "arm_label",
    "arm_labels",
    "arm_returns",
    "days_needed",
    "run_compare",
    "sequential",
]


@dataclass(frozen=True)
class CompareOutcome:
    """Test results, the returns compared, and the saved run id."""

    run_id: int | None
    request: CompareRequest
    result: ComparisonResult
    returns: pd.DataFrame

    @property
    def equity(self) -> pd.DataFrame:
        """Growth of 1 for each arm over the common days."""
        return (1 + self.returns).cumprod()


def sequential(outcome: CompareOutcome, *, delta_bps: float = 1.0) -> list[dict[str, Any]]:
    """Wald SPRT of the first arm against each other arm, in both directions
    (:func:`core.abtest.sequential.shadow_tests`)."""
    return shadow_tests(outcome.returns, delta_bps=delta_bps)


def run_compare(
    request: CompareRequest,
    *,
    save: bool = True,
    progress: Progress | None = None,
    cancel: CancelToken | None = None,
) -> CompareOutcome:
    """Build every arm, align on common days, and run :func:`core.abtest.compare`.

    Arms are named by :func:`arm_labels` in the tests, the verdict, the curves and the
    saved run (a model as "momentum_lr v2", not "model:2").
    ``progress`` follows the arms (to 0.2) then the bootstrap resamples (to 0.95);
    ``cancel`` is checked between arms and chunks of resamples (Cancelled, nothing saved).
    """
    report, check = progress or (lambda _f, _m: None), (cancel or CancelToken()).check
    series = {}
    labels = arm_labels(request.arms)
    for k, (arm, label) in enumerate(zip(request.arms, labels, strict=True), start=1):
        check()
        series[label] = arm_returns(request, arm)
        report(0.2 * k / len(request.arms), f"arm {k}/{len(request.arms)} built: {label}")
    # The first bar of a backtest is the entry fill; compare from the second common day.
    frame = pd.DataFrame(series).dropna().iloc[1:]
    result = compare(
        {c: frame[c] for c in frame.columns},
        alpha=request.alpha,
        correction=request.correction,
        n_boot=request.n_boot,
        seed=request.seed,
        progress=lambda f, m: report(0.2 + 0.75 * f, m),
        check=check,
    )
    run_id = None
    if save:
        run_id = run_store.save_run(
            kind="abtest",
            title=f"A/B {' vs '.join(labels)}",
            spec=request.model_dump(mode="json"),
            metrics={k: getattr(result, k) for k in _RUN_METRICS},
            frames={"returns": frame, "tests": result.to_frame().astype({"pair": "string"})},
        )
    report(1.0, result.verdict if run_id is None else f"saved as run {run_id}")
    return CompareOutcome(run_id, request, result, frame)


def days_needed(
    sharpe_difference: float, *, sharpe_b: float, correlation: float, alpha: float, power: float
) -> int:
    """Sample-size calculator: trading days to detect an annualized Sharpe difference."""
    if sharpe_difference == 0:
        raise ValueError("Sharpe difference must be non-zero")
    if not -0.99 <= correlation <= 0.99:
        raise ValueError("correlation must be between -0.99 and 0.99")
    return min_sample_size_sharpe(
        sharpe_difference, sharpe_b=sharpe_b, correlation=correlation, alpha=alpha, power=power
    )
