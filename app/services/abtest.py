"""A/B comparison services: build each arm's daily returns, then test them together."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any, Literal

import pandas as pd
from pydantic import ConfigDict, Field, field_validator

from app.operations.costs import Costs
from app.services import research
from app.services import runs as run_store
from app.services.params import parse_value
from core.abtest import ComparisonResult, compare, min_sample_size_sharpe
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
            raise ValueError(f"arm {text!r}: use model:<version id> (see Models)") from None
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

    model_config = ConfigDict(frozen=True, extra="forbid")

    dataset: str = "ohlcv_daily"
    symbol: str = "SP500"
    arms: list[str] = Field(min_length=2, max_length=6)
    start: date | None = None
    end: date | None = None
    alpha: float = Field(default=0.05, gt=0, lt=0.5)
    correction: Literal["holm", "fdr_bh"] = "holm"
    n_boot: int = Field(default=2000, ge=200, le=20000)
    seed: int = 0

    @field_validator("arms")
    @classmethod
    def _parse(cls, value: list[str]) -> list[str]:
        for arm in value:
            parse_arm(arm)
        if len(set(value)) != len(value):
            raise ValueError("each arm must be different")
        return value


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


def arm_returns(request: CompareRequest, arm: str) -> pd.Series:
    """Daily returns of one arm."""
    kind, payload = parse_arm(arm)
    if kind == "model":
        return _model_returns(request, int(payload), arm)  # type: ignore[arg-type]
    if kind == "run":
        run = run_store.get_run(int(payload))  # type: ignore[arg-type]
        if run.kind != "backtest":
            raise ValueError(f"run {payload} is a {run.kind}; pick a saved backtest")
        return run_store.load_frame(run, "curves")["returns"].rename(arm)
    outcome = research.run_backtest(
        research.BacktestRequest(
            dataset=request.dataset,
            symbol=request.symbol,
            strategy=kind,
            params=payload,
            fees=request.fees,
            slippage=request.slippage,  # type: ignore[arg-type]
            start=request.start,
            end=request.end,
        ),
        save=False,
    )
    return outcome.returns.rename(arm)


def _model_returns(request: CompareRequest, version_id: int, arm: str) -> pd.Series:
    """Daily returns of a registered model's signal, on dates after its training data."""
    from app.services import ml
    from app.services.data import load_prices
    from core.backtest import run_backtest
    from core.backtest.spec import BacktestSpec
    from core.features import compute_features
    from core.ml import signal_positions

    version = next((v for v in ml.list_versions() if v.id == version_id), None)
    if version is None:
        raise LookupError(f"no model version with id {version_id}")
    model = ml.load_version(version_id)  # checksum verified
    prices = load_prices(request.dataset, request.symbol, start=request.start, end=request.end)
    features = compute_features(prices, version.features).dropna()
    features = features.loc[features.index > pd.Timestamp(version.train_end)]
    if len(features) < 30:
        raise ValueError(
            f"model {version.name} v{version.version} was trained up to {version.train_end}; "
            f"{request.dataset}/{request.symbol} has too few later bars to test it out of sample"
        )
    proba = pd.Series(model.predict_proba(features)[:, 1], index=features.index)
    window = prices.loc[features.index[0] :]
    positions = signal_positions(proba, 0.5).reindex(window.index).fillna(0.0)
    costs = BacktestSpec(fees=request.fees, slippage=request.slippage)
    return run_backtest(window, positions, costs).returns.rename(arm)


def sequential(outcome: CompareOutcome, *, delta_bps: float = 1.0) -> list[dict[str, Any]]:
    """Wald SPRT of the first arm against each other arm, in both directions, as a live
    shadow test would run it day by day (edge of ``delta_bps`` basis points a day)."""
    from core.abtest import SPRT

    delta = delta_bps / 1e4
    first, *others = list(outcome.returns.columns)
    rows = []
    for other in others:
        diff = (outcome.returns[other] - outcome.returns[first]).to_numpy()
        for better, sign in ((other, 1.0), (first, -1.0)):
            run = SPRT(delta=sign * delta).run(diff)
            rows.append(
                {
                    "claim": f"{better} beats the other by {delta_bps:g} bp/day",
                    "decision": run.decision,
                    "days_used": int(run.n_used),
                    "days_available": len(diff),
                }
            )
    return rows


def run_compare(request: CompareRequest, *, save: bool = True) -> CompareOutcome:
    """Build every arm, align on common days, and run :func:`core.abtest.compare`."""
    series = {arm: arm_returns(request, arm) for arm in request.arms}
    frame = pd.DataFrame(series).dropna()
    # The first bar of a backtest is the entry fill; compare from the second common day.
    frame = frame.iloc[1:]
    result = compare(
        {c: frame[c] for c in frame.columns},
        alpha=request.alpha,
        correction=request.correction,
        n_boot=request.n_boot,
        seed=request.seed,
    )
    run_id = None
    if save:
        run_id = run_store.save_run(
            kind="abtest",
            title=f"A/B {' vs '.join(request.arms)}",
            spec=request.model_dump(mode="json"),
            metrics={
                "verdict": result.verdict,
                "primary_test": result.primary_test,
                "n_obs": result.n_obs,
                "min_sample_size": result.min_sample_size,
            },
            frames={"returns": frame, "tests": result.to_frame().astype({"pair": "string"})},
        )
    return CompareOutcome(run_id, request, result, frame)


def summary_payload(outcome: CompareOutcome) -> dict[str, Any]:
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
        "sequential": sequential(outcome),
    }


def verdict_text(outcome: CompareOutcome) -> str:
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
