"""Reopen a finished A/B comparison job's saved run as the outcome the A/B test page
renders (read back from ``job.result``, with no resampling)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from app.services.runs import get_run_of_kind, load_frame, stored_number

if TYPE_CHECKING:
    from app.services.abtest import CompareOutcome


def reopen_abtest(run_id: int, payload: dict[str, Any]) -> CompareOutcome:
    """A saved A/B comparison: the tests of the job's ``payload`` and the saved returns.

    The run keeps the common-day returns; the payload (the job's result) keeps every test
    row with its role and adjusted p-value, so nothing is resampled again.
    """
    from app.operations.abtest import CompareRequest
    from app.services.abtest import CompareOutcome
    from core.abtest.comparison import CompareSpec, ComparisonResult

    run = get_run_of_kind(run_id, "abtest")
    request = CompareRequest.model_validate(run.spec)
    returns = load_frame(run, "returns")
    floats = ("statistic", "p_value", "p_adjusted", "estimate")
    rows = [
        {**row, **{k: stored_number(row.get(k)) for k in floats}}
        for row in payload.get("tests", [])
    ]
    result = ComparisonResult(
        names=tuple(str(c) for c in returns.columns),
        tests=rows,  # type: ignore[arg-type]  # validated into ComparisonRow
        adjusted_p_values=[stored_number(p) for p in payload.get("adjusted_p_values", [])],
        verdict=str(payload["verdict"]),
        primary_test=str(payload["primary_test"]),
        decision_rule=str(payload.get("decision_rule", "")),
        min_sample_size=payload.get("min_sample_size"),
        n_obs=int(payload["n_obs"]),
        start=str(returns.index[0].date()) if len(returns) else None,
        end=str(returns.index[-1].date()) if len(returns) else None,
        spec=CompareSpec(
            alpha=request.alpha,
            correction=request.correction,
            n_boot=request.n_boot,
            seed=request.seed,
        ),
    )
    return CompareOutcome(run_id, request, result, returns)
