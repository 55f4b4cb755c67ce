"""The registered model in a paper session's loop.

:func:`pipeline_for` builds a symbol's live decision pipeline from the session's settings:
the rule-agent ensemble by default, or a :class:`~core.pipeline.ModelPipeline` driven by
a registered model version (``config["model"]``, a reference parsed by
:func:`parse_model_ref`). :func:`shadow_observers` gives the observer that runs the
session's challenger (``config["challenger"]``) in shadow against the live pipeline and
decides between them with a live SPRT (:mod:`core.paper.shadow`).

Both pipelines size with the bar frequency of the data (``periods_per_year`` from the
frame's timestamps).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import pandas as pd
from sqlalchemy import Engine

from core.paper.model_refs import (
    ModelRef,
    load_version,
    model_pipeline,
    parse_model_ref,
    resolve_model_ref,
    sizing_for,
)
from core.paper.observers import BarObserver

if TYPE_CHECKING:
    from core.pipeline import DecisionPipeline, ModelPipeline


def pipeline_for(
    frame: pd.DataFrame, config: Mapping[str, Any], *, symbol: str, engine: Engine | None
) -> DecisionPipeline | ModelPipeline:
    """A fresh, deterministic pipeline for ``symbol``.

    With ``config["model"]`` (a registry reference) the registered model's agent;
    without, the rule-agent ensemble tuned on ``frame[:train_bars]``. Either reads only
    the bars it is stepped with (the frame gives the training bars and the frequency).
    """
    from core.pipeline import build_pipeline

    ref = config.get("model")
    if ref:
        if engine is None:
            raise ValueError("a model agent needs the database engine to read the registry")
        row, model = load_version(engine, str(ref))
        return model_pipeline(frame, config, row, model, symbol=symbol)
    return build_pipeline(
        frame,
        train_bars=int(config["train_bars"]),
        selector=str(config.get("selector", "contextual")),
        seed=int(config.get("seed", 0)),
        symbol=symbol,
        sizing=sizing_for(frame, config, model=False),
    )


def shadow_observers(config: Mapping[str, Any], *, engine: Engine) -> list[BarObserver]:
    """The observers of the session's challenger (none without one)."""
    if not config.get("challenger"):
        return []
    from core.paper.shadow import ShadowChallenger

    return [ShadowChallenger(config, engine=engine)]


__all__ = [
    "ModelRef",
    "load_version",
    "model_pipeline",
    "parse_model_ref",
    "pipeline_for",
    "resolve_model_ref",
    "shadow_observers",
    "sizing_for",
]
