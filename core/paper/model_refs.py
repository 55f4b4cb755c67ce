"""Registry references of a paper session's models, and the model agent built from one.

``NAME:VERSION`` or ``NAME@champion`` (:func:`parse_model_ref`), resolved in the registry
(:func:`resolve_model_ref`), loaded once per process (:func:`load_version`), and turned
into a :class:`~core.pipeline.ModelPipeline` sized at the data's bar frequency
(:func:`model_pipeline`). Shared by :mod:`core.paper.model_loop` and
:mod:`core.paper.shadow`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pandas as pd
from sqlalchemy import Engine

if TYPE_CHECKING:
    from sklearn.pipeline import Pipeline
    from sqlalchemy.orm import Session

    from core.pipeline import ModelPipeline
    from core.registry import VersionRow

_REF = re.compile(r"^(?P<name>[A-Za-z0-9_-]{1,64})(?::(?P<version>[0-9]+)|@(?P<alias>champion))$")


@dataclass(frozen=True)
class ModelRef:
    """A registry reference: ``NAME:VERSION`` (``version`` set) or ``NAME@champion``."""

    name: str
    version: int | None = None

    @property
    def text(self) -> str:
        """The reference as written."""
        if self.version is None:
            return f"{self.name}@champion"
        return f"{self.name}:{self.version}"

    def __str__(self) -> str:
        return self.text


def parse_model_ref(text: str) -> ModelRef:
    """Parse ``"NAME:VERSION"`` or ``"NAME@champion"``.

    >>> parse_model_ref("alpha:3"), str(parse_model_ref(" alpha@champion"))
    (ModelRef(name='alpha', version=3), 'alpha@champion')
    >>> parse_model_ref("alpha")
    Traceback (most recent call last):
    ...
    ValueError: model reference 'alpha': write NAME:VERSION (e.g. alpha:3) or NAME@champion
    """
    match = _REF.match(str(text).strip())
    if match is None or (match["version"] is not None and int(match["version"]) < 1):
        raise ValueError(
            f"model reference {text!r}: write NAME:VERSION (e.g. alpha:3) or NAME@champion"
        )
    version = match["version"]
    return ModelRef(name=match["name"], version=int(version) if version is not None else None)


def resolve_model_ref(session: Session, ref: ModelRef | str) -> VersionRow:
    """The registry version a reference points to (LookupError with a sentence if none)."""
    from core.registry import ModelRegistry

    ref = parse_model_ref(ref) if isinstance(ref, str) else ref
    registry = ModelRegistry(session)
    if ref.version is None:
        champion = registry.champion(ref.name)
        if champion is None:
            raise LookupError(f"model {ref.name!r} has no champion (reference {ref.text})")
        return champion
    for row in registry.list(ref.name):
        if row.version == ref.version:
            return row
    raise LookupError(f"model {ref.name!r} has no version {ref.version} (reference {ref.text})")


_MODELS: dict[tuple[int, str], Pipeline] = {}
"""Loaded models by (version id, checksum): every symbol of a session shares one."""


def load_version(engine: Engine, ref: ModelRef | str) -> tuple[VersionRow, Pipeline]:
    """Resolve ``ref`` and load its model (checksum verified once per process)."""
    from core.registry import ModelRegistry
    from core.store.db import session_scope

    with session_scope(engine) as session:
        row = resolve_model_ref(session, ref)
        key = (row.id, row.checksum)
        if key not in _MODELS:
            _MODELS[key] = ModelRegistry(session).load(row.id)
    return row, _MODELS[key]


def periods_per_year(index: pd.Index) -> float:
    """Bars a year of a price index (252 for daily bars; 6.5 h x 252 intraday)."""
    if len(index) < 2:
        return 252.0
    try:
        from core.data.frequency import periods_per_year_of
    except ImportError:  # pragma: no cover - until the frequency module lands
        spacing = pd.Series(pd.DatetimeIndex(index)).diff().median()
        if spacing >= pd.Timedelta(hours=20):
            return 252.0
        return float(252 * pd.Timedelta(hours=6.5) / spacing)
    return float(periods_per_year_of(index))


def sizing_for(frame: pd.DataFrame, config: Mapping[str, Any], *, model: bool) -> Any:
    """The pipeline's sizing: annualized at the data's bar frequency; the model agent
    does not scale by regime confidence unless ``config["confidence_scaling"]``."""
    from core.pipeline import SizingSpec

    fields: dict[str, Any] = {"periods_per_year": periods_per_year(frame.index)}
    if model:
        fields["confidence_scaling"] = bool(config.get("confidence_scaling", False))
    for key in ("vol_target", "max_position"):
        if config.get(key) is not None:
            fields[key] = float(config[key])
    return SizingSpec(**fields)


def model_pipeline(
    frame: pd.DataFrame,
    config: Mapping[str, Any],
    row: VersionRow,
    model: Pipeline,
    *,
    symbol: str,
) -> ModelPipeline:
    """The model agent of ``row`` for ``symbol`` (regime model fitted on the training
    bars, like the ensemble's)."""
    from core.pipeline import ModelPipeline
    from core.regime import RegimeSpec, fit_regimes

    train = frame.iloc[: int(config["train_bars"])]
    spec = RegimeSpec(seed=int(config.get("seed", 0)), compute_smoothed=False)
    regimes = fit_regimes(train, spec)
    return ModelPipeline(
        model=model,
        label=f"model:{row.name} v{row.version}",
        sizing=sizing_for(frame, config, model=True),
        regime_model=regimes.model,
        threshold=float(config.get("model_threshold", 0.5)),
        allow_short=bool(config.get("allow_short", True)),
        symbol=symbol,
    )


__all__ = [
    "ModelRef",
    "load_version",
    "model_pipeline",
    "parse_model_ref",
    "periods_per_year",
    "resolve_model_ref",
    "sizing_for",
]
