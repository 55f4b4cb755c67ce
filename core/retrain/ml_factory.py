"""A trainable ML signal for the retraining policy (same interface as the rule models)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import pandas as pd


@dataclass(frozen=True, kw_only=True)
class MLSignalModel:
    """A classifier trained on one window, trading its probability through a threshold.

    ``positions`` scores causal features on every bar it is given; the retraining
    controller only evaluates it on bars after the window it was trained on.
    """

    strategy: str
    params: dict[str, object]
    model: Any = field(repr=False)
    features: tuple[str, ...]
    threshold: float = 0.5

    def positions(self, prices: pd.DataFrame) -> pd.Series:
        """Target positions from the model's up-move probability (long only)."""
        from core.features import compute_features
        from core.ml import signal_positions

        frame = compute_features(prices, list(self.features)).dropna()
        proba = pd.Series(self.model.predict_proba(frame)[:, 1], index=frame.index)
        signal = cast(pd.Series, signal_positions(proba, self.threshold))  # Series in, Series out
        return signal.reindex(prices.index).fillna(0.0)


def ml_signal_factory(
    kind: str = "logistic",
    *,
    horizon: int = 5,
    features: Sequence[str] | None = None,
    seed: int = 0,
) -> Callable[[pd.DataFrame], MLSignalModel]:
    """Train ``kind`` on each training window (labels never reach past the window)."""
    from core.features import available_features
    from core.ml import ModelSpec, fit_model, make_dataset

    def train(prices_train: pd.DataFrame) -> MLSignalModel:
        names = list(features or available_features(prices_train.columns))
        dataset = make_dataset(prices_train, names, horizon=horizon)
        model = fit_model(ModelSpec(kind=kind, seed=seed), dataset.X, dataset.y)
        end = prices_train.index[-1].date().isoformat()
        return MLSignalModel(
            strategy=kind, params={"h": horizon, "to": end}, model=model, features=tuple(names)
        )

    return train
