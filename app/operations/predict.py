"""Predictions of a registered model: over a history (a stored run) or at one bar (online).

``predict``: the probability per symbol per bar, from the model's own features computed
by the training pipeline on bars up to each bar only (:mod:`core.ml.batch`), saved as one
run (kind ``predictions``, frame ``probabilities``) and, with ``out``, written to a CSV or
Parquet file.

``predict-one`` and ``predict-batch``: the probability at one bar (the latest, or the last
on or before ``as_of``) for one symbol or many, answered at once and stored nowhere
(:mod:`app.services.predict_online`); the same numbers as ``predict`` for that bar.
``predict-one`` may instead score a feature row the caller sends.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from app.operations import Flag, Operation, register
from app.operations.errors import RuleError
from app.operations.fields import ROW_ID_MAX, UniqueSymbols, check_date_order
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

    model: int = Field(
        title="Model",
        ge=1,
        le=ROW_ID_MAX,
        description="Registered model version id (see registry list)",
    )
    dataset: str = Field(title="Dataset", default="ohlcv_daily", description="Dataset name")
    symbols: list[str] = Field(
        title="Symbols",
        default_factory=list,
        max_length=500,
        description="Symbol to score (repeatable)",
    )
    all_symbols: bool = Field(
        title="All symbols", default=False, description="Score every symbol of the dataset"
    )
    start: date | None = Field(
        title="First date", default=None, description="First date scored (YYYY-MM-DD)"
    )
    end: date | None = Field(
        title="Last date", default=None, description="Last date scored (YYYY-MM-DD)"
    )
    out: Path | None = Field(
        title="Output file",
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
            raise RuleError("name symbols or choose all_symbols, not both", "symbols")
        if not self.symbols and not self.all_symbols:
            raise RuleError("name at least one symbol, or choose all_symbols", "symbols")
        if len(set(self.symbols)) != len(self.symbols):
            raise RuleError("each symbol may appear once", "symbols")
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


BATCH_MAX = 500
"""Most symbols one ``predict-batch`` request scores."""


class _AtOneBar(BaseModel):
    """Which registered model, on which dataset, at which bar."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    model: int | str = Field(
        title="Model",
        description="Registered model: a version id (e.g. 3), NAME:VERSION or NAME@champion",
    )
    dataset: str = Field(
        title="Dataset", default="ohlcv_daily", max_length=64, description="Dataset name"
    )
    as_of: date | None = Field(
        title="As of",
        default=None,
        ge=date(1900, 1, 1),
        le=date(2200, 12, 31),
        description="Score the last bar on or before this date (YYYY-MM-DD), from bars up "
        "to it only; default the latest bar",
    )

    @field_validator("dataset")
    @classmethod
    def _dataset(cls, value: str) -> str:
        from core.data.catalog import dataset_names

        if value not in (names := dataset_names(include_online=True)):
            raise ValueError(f"unknown dataset {value!r}; choose one of {', '.join(names)}")
        return value

    @field_validator("model")
    @classmethod
    def _model(cls, value: int | str) -> int | str:
        if isinstance(value, str) and value.strip().isdigit():
            value = int(value.strip())
        if isinstance(value, int):
            if not 1 <= value <= ROW_ID_MAX:
                raise ValueError(f"a model version id is at least 1 (and below 2^63), not {value}")
            return value
        from core.paper.model_refs import parse_model_ref  # pandas: on first validation

        return parse_model_ref(value).text


class PredictOneRequest(_AtOneBar):
    """One symbol's up-probability at one bar, or of a feature row the caller sends."""

    symbol: str = Field(
        title="Symbol", min_length=1, max_length=64, description="Symbol, e.g. SP500"
    )
    features: dict[str, float] | None = Field(
        title="Features",
        default=None,
        max_length=500,
        description="Score these feature values (the model's features by name, each once) "
        "instead of the symbol's prices",
    )

    def feature_row(self, names: Sequence[str]) -> list[float]:
        """``features`` in the model's column order ``names``; ValueError ``features: ...``
        naming the unknown and the missing ones."""
        sent = self.features or {}
        unknown = sorted(set(sent) - set(names))
        missing = [n for n in names if n not in sent]
        if unknown or missing:
            parts = [f"unknown {', '.join(unknown)}"] * bool(unknown)
            parts += [f"missing {', '.join(missing)}"] * bool(missing)
            uses = ", ".join(names)
            raise ValueError(f"features: {'; '.join(parts)} (the model uses {uses})")
        return [float(sent[n]) for n in names]

    @model_validator(mode="after")
    def _check(self) -> PredictOneRequest:
        if self.features is not None:
            if self.as_of is not None:
                raise RuleError(
                    "as_of picks a bar of prices; leave it out when sending features", "as_of"
                )
            if bad := sorted(k for k, v in self.features.items() if not math.isfinite(v)):
                raise ValueError(f"features must be finite numbers; not {', '.join(bad)}")
        return self


class PredictBatchRequest(_AtOneBar):
    """Many symbols' up-probabilities at one bar each."""

    symbols: UniqueSymbols = Field(
        title="Symbols",
        min_length=1,
        max_length=BATCH_MAX,
        description="Symbol to score (repeatable)",
    )


class ModelInfo(BaseModel):
    """The registered version that made a prediction."""

    id: int
    name: str
    version: int
    stage: str

    @classmethod
    def of(cls, version: Any) -> ModelInfo:
        """Of a registry row (:class:`core.registry.VersionRow`)."""
        return cls(id=version.id, name=version.name, version=version.version, stage=version.stage)


class Prediction(BaseModel):
    """One symbol's probability at one bar (``error`` says why there is none)."""

    symbol: str
    as_of: str | None = Field(
        title="As of",
        description="The bar scored: YYYY-MM-DD for daily bars, an ISO timestamp for "
        "intraday ones (null for a feature row sent)",
    )
    probability: float | None = Field(description="P(up) at that bar")
    error: str | None = None


class OnePrediction(Prediction):
    """:class:`Prediction` with the model, dataset and the model's decision threshold."""

    model: ModelInfo
    dataset: str
    threshold: float | None = Field(
        title="Threshold",
        description="Up-probability above which the model's training run went long",
    )


class BatchPredictions(BaseModel):
    """Each symbol's :class:`Prediction`, in the order asked, with the model."""

    model: ModelInfo
    dataset: str
    threshold: float | None
    predictions: list[Prediction]


def _model_text(m: ModelInfo) -> str:
    return f"model #{m.id} {m.name} v{m.version}"


def _one_text(result: OnePrediction, _payload: dict[str, Any]) -> str:
    where = result.as_of or "the features sent"
    p = "-" if result.probability is None else f"{result.probability:.4f}"
    return f"{_model_text(result.model)}: {result.symbol} at {where}: p(up)={p}"


def _batch_text(result: BatchPredictions, _payload: dict[str, Any]) -> str:
    rows = [
        f"{p.symbol:>10}: {p.as_of}  p(up)={p.probability:.4f}"
        if p.probability is not None
        else f"{p.symbol:>10}: {p.error}"
        for p in result.predictions
    ]
    return "\n".join([_model_text(result.model), *rows])


def _dumped(result: BaseModel) -> dict[str, Any]:
    return result.model_dump(mode="json")


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

PREDICT_ONE = register(
    Operation(
        name="predict-one",
        feature="predict",
        summary=(
            "One symbol's up-probability at its latest bar (or the last on or before "
            "--as-of, from bars up to it only), from a registered model; stores nothing."
        ),
        request=PredictOneRequest,
        service="app.services.predict_online:predict_one",
        payload=_dumped,
        text=_one_text,
        flags={"features": Flag(hidden=True)},
    )
)
PREDICT_BATCH = register(
    Operation(
        name="predict-batch",
        feature="predict",
        summary=(
            "Many symbols' up-probabilities at one bar each (as predict-one), "
            f"up to {BATCH_MAX} symbols; stores nothing."
        ),
        request=PredictBatchRequest,
        service="app.services.predict_online:predict_batch",
        payload=_dumped,
        text=_batch_text,
        flags={"symbols": Flag(name="--symbol")},
    )
)

__all__ = [
    "BATCH_MAX",
    "FRAME_COLUMNS",
    "OUT_SUFFIXES",
    "PREDICT",
    "PREDICT_BATCH",
    "PREDICT_ONE",
    "BatchPredictions",
    "ModelInfo",
    "OnePrediction",
    "PredictBatchRequest",
    "PredictOneRequest",
    "PredictOutcome",
    "PredictRequest",
    "Prediction",
    "predict_payload",
]
