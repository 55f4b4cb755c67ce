"""The live parts of a paper run: its feed, market clock and bar observers.

The observers are the model loop's (shadow challenger, live A/B test:
:func:`core.paper.model_loop.shadow_observers`) and monitoring's (model metrics, drift,
data quality: :func:`core.monitoring.live.monitor_observers`), then live retraining
(:func:`core.retrain.live.retrain_observers`, after monitoring: its drift trigger reads the
bar's drift figures); core.paper never imports core.monitoring, so they meet here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pandas as pd
from sqlalchemy import Engine

from core.feeds.base import Feed
from core.feeds.clock import MarketClock
from core.feeds.factory import make_feed, market_clock
from core.paper.observers import BarObserver


@dataclass(frozen=True)
class LiveParts:
    """What a worker gets beside its prices and broker."""

    feed: Feed
    market_clock: MarketClock
    observers: list[BarObserver]


def live_parts(
    config: Mapping[str, Any],
    prices: Mapping[str, pd.DataFrame],
    *,
    engine: Engine,
    speed: float,
    clock: Callable[[], datetime],
    sleep: Callable[[float], None],
) -> LiveParts:
    """The session's feed (ValueError naming the option when it cannot be made), its
    market clock and every observer of its bars."""
    from core.monitoring.live import monitor_observers
    from core.paper import model_loop
    from core.paper.monitor_live import LatencyObserver
    from core.retrain.live import retrain_observers

    market = market_clock(config, clock=clock)  # the worker's and the feed's
    feed = make_feed(config, frames=prices, clock=clock, sleep=sleep, speed=speed, market=market)
    observers = [
        *model_loop.shadow_observers(config, engine=engine),
        *monitor_observers(config, engine=engine),
        *retrain_observers(config, engine=engine),  # reads the bar's drift from monitoring
        LatencyObserver(),  # the monitor page's feed latency
    ]
    return LiveParts(feed, market, observers)


__all__ = ["LiveParts", "live_parts"]
