"""Batch prediction: a registered model's probability per symbol per bar, stored as a run.

The probabilities come from the model's own features, computed by the training pipeline
on bars up to each bar only (:mod:`core.ml.batch`); they are saved as one run (kind
``predictions``, frame ``probabilities``) and, with ``out``, written to a CSV or Parquet
file.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from app.operations import Flag, Operation, register
from app.operations.fields import check_date_order
from core.serialize import json_safe

if TYPE_CHECKING:  # the frame is pandas; declaring the request needs none
    import pandas as pd

OUT_SUFFIXES = (".csv", ".parquet")
"""File types ``out`` may name (chosen by the suffix)."""

FRAME_COLUMNS = ("symbol", "date", "probability", "after_train_end")
"""Columns of the stored ``probabilities`` frame (one row per symbol and scored bar;
``after_train_end`` is True past the last date the model was trained on)."""


class PredictRequest(BaseModel):
    """Which registered model scores which symbols of a dataset, over which dates."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    model: int = Field(ge=1, description="Registered model version id (see registry list)")
    dataset: str = Field(default="ohlcv_daily", description="Dataset name")
    symbols: list[str] = Field(
        default_factory=list, max_length=500, description="Symbol to score (repeatable)"
    )
    all_symbols: bool = Field(default=False, description="Score every symbol of the dataset")
    start: date | None = Field(default=None, description="First date scored (YYYY-MM-DD)")
    end: date | None = Field(default=None, description="Last date scored (YYYY-MM-DD)")
    out: Path | None = Field(
        default=None,
        description="Also write the probabilities to this .csv or .parquet file (made absolute)",
    )

    @field_validator("out")
    @classmethod
    def _suffix(cls, value: Path | None) -> Path | None:
        if value is None:
            return None
        if value.suffix.lower() not in OUT_SUFFIXES:
            raise ValueError(
                f"the output file must end in .csv or .parquet, not {value.suffix or 'nothing'}"
            )
        return value.absolute()  # a job writes it from the worker's folder

    @model_validator(mode="after")
    def _check(self) -> PredictRequest:
        if self.symbols and self.all_symbols:
            raise ValueError("name symbols or choose all_symbols, not both")
        if not self.symbols and not self.all_symbols:
            raise ValueError("name at least one symbol, or choose all_symbols")
        if len(set(self.symbols)) != len(self.symbols):
            raise ValueError("each symbol may appear once")
        check_date_order(self.start, self.end)
        return self


@dataclass(frozen=True)
class PredictOutcome:
    """The probabilities (:data:`FRAME_COLUMNS`), the model that made them and the run."""

    run_id: int | None
    request: PredictRequest
    frame: pd.DataFrame
    model: dict[str, Any]
    out: str | None = None

    def per_symbol(self) -> dict[str, dict[str, Any]]:
        """Rows, first and last bar, mean and latest probability of each symbol."""
        out: dict[str, dict[str, Any]] = {}
        for symbol, rows in self.frame.groupby("symbol", sort=False, observed=True):
            p = rows["probability"]
            out[str(symbol)] = {
                "rows": len(rows),
                "first": str(rows["date"].iloc[0].date()) if len(rows) else None,
                "last": str(rows["date"].iloc[-1].date()) if len(rows) else None,
                "mean_probability": float(p.mean()) if len(rows) else None,
                "last_probability": float(p.iloc[-1]) if len(rows) else None,
            }
        return json_safe(out)


def predict_payload(outcome: PredictOutcome) -> dict[str, Any]:
    """The JSON payload: model, rows per symbol, the run and the file written (the
    probabilities themselves are in the run's ``probabilities`` frame and ``out``)."""
    return {
        "run_id": outcome.run_id,
        "model": outcome.model,
        "dataset": outcome.request.dataset,
        "rows": len(outcome.frame),
        "symbols": outcome.per_symbol(),
        "columns": list(FRAME_COLUMNS),
        "out": outcome.out,
    }


def _predict_text(outcome: PredictOutcome, payload: dict[str, Any]) -> str:
    m = payload["model"]
    lines = [
        f"model #{m['id']} {m['name']} v{m['version']} ({m['kind']}), {payload['rows']:,} rows"
    ]
    for symbol, s in payload["symbols"].items():
        last = s["last_probability"]
        lines.append(
            f"{symbol:>10}: {s['rows']:>6,} bars {s['first']}..{s['last']}  "
            f"last p(up)={'-' if last is None else f'{last:.4f}'}"
        )
    where = f"; wrote {payload['out']}" if payload["out"] else ""
    return "\n".join([*lines, f"saved as run {payload['run_id']}{where}"])


PREDICT = register(
    Operation(
        name="predict",
        feature="predict",
        summary=(
            "Batch prediction: a registered model's up-probability per symbol per bar "
            "(features up to each bar only), saved as a run; --out writes CSV or Parquet."
        ),
        request=PredictRequest,
        service="app.services.predict:run_predict",
        payload=predict_payload,
        text=_predict_text,
        flags={"symbols": Flag(name="--symbol"), "all_symbols": Flag(name="--all-symbols")},
        long_running=True,
    )
)

__all__ = [
    "FRAME_COLUMNS",
    "OUT_SUFFIXES",
    "PREDICT",
    "PredictOutcome",
    "PredictRequest",
    "predict_payload",
]
