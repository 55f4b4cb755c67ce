"""The names of the models a replay can retrain (no imports: request models declare them)."""

from __future__ import annotations

from typing import Literal

ReplayModel = Literal["ma_crossover", "logistic", "random_forest", "xgboost"]
"""The models a replay can retrain: a re-tuned MA crossover or an ML classifier."""

__all__ = ["ReplayModel"]
