"""Registry of named strategies and a validating entry point."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import pandas as pd
from pydantic import ValidationError

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
    mean_reversion,
    ts_momentum,
    vol_target_trend,
)


class StrategyEntry(NamedTuple):
    """One registered strategy."""

    params_model: type[StrategyParams]
    function: Callable[..., pd.Series]
    description: str


STRATEGIES: dict[str, StrategyEntry] = {
    "buy_and_hold": StrategyEntry(BuyAndHoldParams, buy_and_hold, "Fully long on every bar."),
    "ma_crossover": StrategyEntry(
        MACrossoverParams, ma_crossover, "Long while SMA(fast) > SMA(slow); optional short."
    ),
    "donchian_breakout": StrategyEntry(
        DonchianParams, donchian_breakout, "Channel breakout with a shorter exit channel."
    ),
    "mean_reversion": StrategyEntry(
        MeanReversionParams, mean_reversion, "Fade z-score or RSI extremes; exit near the mean."
    ),
    "ts_momentum": StrategyEntry(
        TSMomentumParams, ts_momentum, "Sign of the past lookback return (time-series momentum)."
    ),
    "vol_target_trend": StrategyEntry(
        VolTargetTrendParams,
        vol_target_trend,
        "Trend filter sized to a volatility target, capped at max leverage.",
    ),
}


def _format_errors(err: ValidationError) -> str:
    parts = []
    for item in err.errors():
        loc = ".".join(str(x) for x in item["loc"]) or "params"
        msg = str(item["msg"]).removeprefix("Value error, ")
        parts.append(f"{loc}: {msg}")
    return "; ".join(parts)


def validate_params(name: str, params: Mapping[str, Any] | StrategyParams | None) -> StrategyParams:
    """Build the params model of strategy ``name``; raise ValueError with a readable message.

    >>> validate_params("ma_crossover", {"fast": 5, "slow": 20}).fast
    5
    """
    if name not in STRATEGIES:
        raise ValueError(f"unknown strategy {name!r}; choose one of {sorted(STRATEGIES)}")
    model = STRATEGIES[name].params_model
    if isinstance(params, model):
        return params
    if isinstance(params, StrategyParams):
        params = params.model_dump()
    try:
        return model.model_validate(dict(params or {}))
    except ValidationError as err:
        raise ValueError(f"invalid parameters for {name}: {_format_errors(err)}") from None


def run_strategy(
    name: str, prices: pd.DataFrame, params: Mapping[str, Any] | StrategyParams | None = None
) -> pd.Series:
    """Validate ``params`` and return strategy ``name``'s target positions on ``prices``."""
    model = validate_params(name, params)
    return STRATEGIES[name].function(prices, model)
