"""A/B comparison: its request, the arm syntax, and the descriptor with its payload."""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from app.operations import Flag, Operation, register
from app.operations.costs import Costs
from app.operations.fields import check_date_order
from app.operations.params import parse_value
from core.serialize import json_safe


def parse_arm(text: str) -> tuple[str, dict[str, Any] | int]:
    """Parse an arm: ``run:<id>`` (saved backtest) or ``strategy[:k=v,k=v]``.

    >>> parse_arm("ma_crossover:fast=20,slow=100")
    ('ma_crossover', {'fast': 20, 'slow': 100})
    >>> parse_arm("run:7")
    ('run', 7)
    """
    text = text.strip()
    if text.startswith("model:"):
        try:
            return "model", int(text.removeprefix("model:"))
        except ValueError:
            raise ValueError(
                f"arm {text!r}: use model:<version id> (see the Model registry page)"
            ) from None
    if text.startswith("run:"):
        try:
            return "run", int(text.removeprefix("run:"))
        except ValueError:
            raise ValueError(f"arm {text!r}: use run:<id> with a numeric id") from None
    name, _, rest = text.partition(":")
    params: dict[str, Any] = {}
    for pair in filter(None, (p.strip() for p in rest.split(","))):
        if "=" not in pair:
            raise ValueError(f"arm {text!r}: parameter {pair!r} must look like name=value")
        key, value = pair.split("=", 1)
        params[key.strip()] = parse_value(value.strip())
    if not name:
        raise ValueError(f"arm {text!r}: start with a strategy name, e.g. ma_crossover:fast=20")
    return name, params


class CompareRequest(Costs):
    """Two or more arms on the same dataset, symbol, costs and period."""

    dataset: str = Field(title="Dataset", default="ohlcv_daily", description="Dataset name")
    symbol: str = Field(title="Symbol", default="SP500", description="Symbol in the dataset")
    arms: list[str] = Field(
        title="Arms",
        min_length=2,
        max_length=6,
        description="Arms: strategy[:k=v,...], run:<id> (saved backtest) or model:<version id>",
    )
    start: date | None = Field(
        title="First date", default=None, description="First date (YYYY-MM-DD)"
    )
    end: date | None = Field(title="Last date", default=None, description="Last date (YYYY-MM-DD)")
    alpha: float = Field(
        title="Significance level α",
        default=0.05,
        gt=0,
        lt=0.5,
        description="Significance level of the primary test",
    )
    correction: Literal["holm", "fdr_bh"] = Field(
        title="Correction", default="holm", description="Adjustment across pairs: holm or fdr_bh"
    )
    n_boot: int = Field(
        title="Bootstrap resamples",
        default=2000,
        ge=200,
        le=20000,
        description="Bootstrap resamples (secondary tests)",
    )
    seed: int = Field(
        title="Seed", default=0, ge=0, le=2**32 - 1, description="Random seed of the bootstrap"
    )

    @field_validator("arms")
    @classmethod
    def _parse(cls, value: list[str]) -> list[str]:
        for arm in value:
            parse_arm(arm)
        if len(set(value)) != len(value):
            raise ValueError("each arm must be different")
        return value

    @model_validator(mode="after")
    def _period(self) -> CompareRequest:
        check_date_order(self.start, self.end)
        return self


def _shadow_tests(returns: Any) -> list[dict[str, object]]:
    from core.abtest.sequential import shadow_tests  # scipy/statsmodels: only with a result

    return shadow_tests(returns)


def summary_payload(outcome: Any) -> dict[str, Any]:
    """The CLI/JSON form: verdict, the deciding test and rule, tests (each with its role),
    adjusted p-values and the minimum sample size."""

    tests = [json_safe(row.model_dump()) for row in outcome.result.tests]
    primary = outcome.result.primary_rows()
    return {
        "verdict": outcome.result.verdict,
        "primary_test": outcome.result.primary_test,
        "decision_rule": outcome.result.decision_rule,
        "primary": [json_safe(row.model_dump()) for row in primary],
        "tests": tests,
        "adjusted_p_values": json_safe(outcome.result.adjusted_p_values),
        "min_sample_size": outcome.result.min_sample_size,
        "n_obs": outcome.result.n_obs,
        "arms": list(outcome.request.arms),
        "run_id": outcome.run_id,
        "sequential": _shadow_tests(outcome.returns),
    }


def verdict_text(outcome: Any) -> str:
    """The plain-text report: verdict, decided-by line, primary then secondary tests."""
    result = outcome.result
    frame = result.to_frame()
    cols = ["pair", "test", "estimate", "ci_low", "ci_high", "p_value", "p_adjusted", "favours"]
    primary = frame[frame["role"] == "primary"]
    secondary = frame[frame["role"] == "secondary"]
    lines = [
        f"verdict: {result.verdict}",
        f"decided by: {result.primary_test} ({result.decision_rule})",
        "",
        "primary test (decides):",
        primary[[*cols, "note"]].to_string(index=False),
    ]
    if not secondary.empty:
        lines += [
            "",
            "secondary tests (shown for information, never decide; p adjusted across pairs):",
            secondary[[*cols, "note"]].to_string(index=False),
        ]
    return "\n".join(lines)


ABTEST = register(
    Operation(
        name="abtest",
        feature="abtest",
        summary=(
            "Statistical A/B comparison of strategies or saved runs on the same data. One "
            "primary test decides (HAC paired t-test of daily returns, adjusted across pairs); "
            "the other tests are shown as secondary."
        ),
        request=CompareRequest,
        service="app.services.abtest:run_compare",
        payload=summary_payload,
        text=lambda outcome, _payload: verdict_text(outcome),
        flags={"arms": Flag(name="--a/--b/--arm", hidden=True)},
        long_running=True,
    )
)

__all__ = ["ABTEST", "CompareRequest", "parse_arm", "summary_payload", "verdict_text"]
