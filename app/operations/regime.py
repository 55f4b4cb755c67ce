"""Regime operations: fit a causal regime history, evaluate the detector on synthetic data."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from app.operations import Operation, register
from app.operations.errors import RuleError

Method = Literal["hmm", "dpgmm"]
Mode = Literal["expanding", "rolling", "in-sample"]


class _RegimeHistory(BaseModel):
    """How the per-bar history is estimated (causal unless in-sample)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    method: Method = Field(title="Method", default="hmm", description="hmm or dpgmm")
    seed: int = Field(
        title="Seed", default=0, ge=0, le=2**32 - 1, description="Random seed of the fit"
    )
    history: Mode = Field(
        title="History",
        default="expanding",
        description="expanding or rolling: causal refits (default); in-sample: one "
        "whole-series fit that sees the future",
    )
    refit_every: int = Field(
        title="Refit every (bars)", default=21, ge=1, le=2520, description="Bars between refits"
    )


class RegimeFitRequest(_RegimeHistory):
    """A regime history of a stored dataset/symbol or of a CSV/Parquet file."""

    dataset: str | None = Field(title="Dataset", default=None, description="Dataset name")
    symbol: str | None = Field(title="Symbol", default=None, description="Symbol in the dataset")
    n_iter: int = Field(
        title="EM iterations",
        default=100,
        ge=10,
        le=5000,
        description="EM iterations per restart of each full fit (raise it when a fit does "
        "not converge)",
    )
    file: Path | None = Field(
        title="File", default=None, description="CSV/Parquet file with date and close"
    )

    @model_validator(mode="after")
    def _one_source(self) -> RegimeFitRequest:
        if (self.file is None) == (self.dataset is None or self.symbol is None):
            raise RuleError("give either a file or both a dataset and a symbol", "file")
        return self


class RegimeEvalRequest(_RegimeHistory):
    """Detector accuracy and lag against the Bayes-optimal oracle on a synthetic series."""

    seed: int = Field(
        title="Seed", default=1, ge=0, le=2**32 - 1, description="Generator and fit seed"
    )
    bars: int = Field(
        title="Bars",
        default=5000,
        ge=300,
        le=100_000,
        description="Series length (the causal history's first fit uses 252 bars and "
        "at least 48 more are scored)",
    )


def fit_payload(outcome: Any) -> dict[str, Any]:
    """The JSON payload of a regime history: current regime, counts, transition, caveats."""
    frame, result = outcome.result.to_frame(), outcome.result
    label, confidence, when = outcome.current
    return {
        "bars": len(frame),
        "method": result.method,
        "current": {"date": when.date().isoformat(), "label": label, "confidence": confidence},
        "label_counts": frame["label"].value_counts().to_dict(),
        "transition": result.transition.round(6).to_dict(),
        "warnings": result.warnings,
        "history_mode": result.history_mode,
        "history": result.history,
        "refit_every": None
        if result.history_mode == "in-sample" or outcome.history is None
        else outcome.history.refit_every,
        "first_bar_with_probabilities": result.first_bar,
        "probabilities": (
            "forward-filtered; IN-SAMPLE parameters (they saw later bars)"
            if result.history_mode == "in-sample"
            else "forward-filtered with parameters estimated on earlier bars only (causal)"
        )
        + "; no smoothed values are written",
    }


def _eval_text(_report: Any, r: dict[str, Any]) -> str:
    return (
        f"{r['method']} seed {r['seed']}, {r['bars']} bars ({r['scored_bars']} scored)\n"
        f"  history: {r['history']}\n"
        f"  filtered accuracy {r['accuracy']:.3f}   oracle {r['oracle_accuracy']:.3f}\n"
        f"  smoothed accuracy {r['smoothed_accuracy']:.3f}   oracle "
        f"{r['oracle_smoothed_accuracy']:.3f} (hindsight, not tradable)\n"
        f"  median lag {r['median_detection_lag_bars']} bars   oracle {r['oracle_median_lag_bars']}"
    )


REGIME_FIT = register(
    Operation(
        name="regime fit",
        feature="regime",
        summary="Build the regime history and write the filtered probabilities and label of "
        "every bar. Causal by default: bar t is filtered with parameters estimated on "
        "earlier bars only.",
        request=RegimeFitRequest,
        service="app.services.regime:run_fit",
        payload=fit_payload,
    )
)
REGIME_EVAL = register(
    Operation(
        name="regime eval",
        feature="regime",
        summary="Detector accuracy and lag against the Bayes-optimal oracle on synthetic data.",
        request=RegimeEvalRequest,
        service="app.services.regime:run_eval",
        payload=dict,
        text=_eval_text,
    )
)

__all__ = ["REGIME_EVAL", "REGIME_FIT", "RegimeEvalRequest", "RegimeFitRequest", "fit_payload"]
