"""The registered model in a paper session's loop (owner: the model-loop work of issue 13).

:func:`pipeline_for` builds a symbol's live decision pipeline from the session's settings:
the rule-agent ensemble by default, or an agent driven by a registered model version
(``config["model"]``). :func:`shadow_observers` gives the observers that run the
session's challenger in shadow and the live A/B test.

This first version only builds the ensemble; the model agent, the shadow challenger and
the live SPRT come next.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd
from sqlalchemy import Engine

from core.paper.observers import BarObserver
from core.pipeline import DecisionPipeline


def pipeline_for(
    frame: pd.DataFrame, config: Mapping[str, Any], *, symbol: str, engine: Engine | None
) -> DecisionPipeline:
    """A fresh, deterministic pipeline for ``symbol`` tuned on ``frame[:train_bars]``."""
    from core.pipeline import build_pipeline

    return build_pipeline(
        frame,
        train_bars=int(config["train_bars"]),
        selector=str(config.get("selector", "contextual")),
        seed=int(config.get("seed", 0)),
        symbol=symbol,
    )


def shadow_observers(config: Mapping[str, Any], *, engine: Engine) -> list[BarObserver]:
    """The observers of the session's challenger (none without one)."""
    return []


__all__ = ["pipeline_for", "shadow_observers"]
