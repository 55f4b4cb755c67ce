"""Registry of vectorized, causal indicators computed on a canonical price frame.

>>> from core.features import compute_features, available_features
>>> "rsi_14" in available_features(["close"])
True
"""

from core.features import _catalog  # noqa: F401  (registers the built-in features)
from core.features._feature import (
    OHLCV,
    REGISTRY,
    Feature,
    MissingInputError,
    UnknownFeatureError,
    available_features,
    compute_features,
    get_feature,
    list_features,
    max_lookback,
    register,
)

__all__ = [
    "OHLCV",
    "REGISTRY",
    "Feature",
    "MissingInputError",
    "UnknownFeatureError",
    "available_features",
    "compute_features",
    "get_feature",
    "list_features",
    "max_lookback",
    "register",
]
