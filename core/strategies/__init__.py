"""Strategies: pure functions from prices and typed params to target positions in [-1, 1]."""

from core.strategies.catalog import STRATEGIES, StrategyEntry, run_strategy, validate_params
from core.strategies.filters import REGIME_COLUMNS, confidence_scale, regime_filter
from core.strategies.single import (
    BuyAndHoldParams,
    DonchianParams,
    MACrossoverParams,
    MeanReversionParams,
    StrategyParams,
    TSMomentumParams,
    VolTargetTrendParams,
    buy_and_hold,
    donchian_breakout,
    ma_crossover,
    ma_crossover_positions,
    mean_reversion,
    ts_momentum,
    vol_target_trend,
)

__all__ = [
    "REGIME_COLUMNS",
    "STRATEGIES",
    "BuyAndHoldParams",
    "DonchianParams",
    "MACrossoverParams",
    "MeanReversionParams",
    "StrategyEntry",
    "StrategyParams",
    "TSMomentumParams",
    "VolTargetTrendParams",
    "buy_and_hold",
    "confidence_scale",
    "donchian_breakout",
    "ma_crossover",
    "ma_crossover_positions",
    "mean_reversion",
    "regime_filter",
    "run_strategy",
    "ts_momentum",
    "validate_params",
    "vol_target_trend",
]
