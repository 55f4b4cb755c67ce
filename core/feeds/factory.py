"""The feed (and the market clock) of a paper session's settings.

``config["feed"]``: ``replay`` (:class:`~core.feeds.replay.ReplayFeed`), ``simulated``
(:class:`~core.feeds.simulated.SimulatedFeed`) or ``alpaca``
(:class:`core.feeds.alpaca.AlpacaFeed`, imported only when asked for). Replay and
simulated feeds play the session's dataset; its bar interval must be the session's
``timeframe`` (refused with a sentence naming ``--timeframe`` otherwise).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, cast

import pandas as pd

from core.feeds.base import TIMEFRAMES, Feed, Timeframe
from core.feeds.clock import AlwaysOpenClock, CalendarClock, MarketClock, market_status_text
from core.feeds.replay import ReplayFeed, common_frames, utc_now

Frames = Callable[[str, str], pd.DataFrame]
"""``frames(dataset, symbol)``: the canonical price frame of one symbol."""


def market_clock(
    config: Mapping[str, Any], *, clock: Callable[[], datetime], offline: bool = False
) -> MarketClock:
    """The session's market clock: for live Alpaca bars traded on the Alpaca broker,
    Alpaca's own clock and calendar (:class:`~core.feeds.clock.AlpacaClock` on the
    trading API of the settings, keys as the broker's); for live bars on the simulator
    (or with ``offline``: e.g. a status line that must not call Alpaca), the NYSE
    calendar (``exchange_calendars``) on ``clock``; open around the clock for replayed
    and simulated data."""
    if config.get("feed") != "alpaca":
        return AlwaysOpenClock(clock=clock)
    if config.get("broker") == "alpaca" and not offline:
        return alpaca_clock()
    return CalendarClock(calendar="XNYS", clock=clock)


def alpaca_clock(*, timeout_s: float = 10.0) -> MarketClock:
    """Alpaca's market clock through alpaca-py's ``TradingClient`` (paper endpoint, URL
    override ``alpaca_trading_url``; keys from the environment or the secrets file:
    BrokerConfigError naming them when missing)."""
    from alpaca.trading.client import TradingClient

    from core.broker.alpaca import KEY_NAMES, SECRET_NAMES, _resolve_secret
    from core.broker.resilience import harden
    from core.config import get_settings
    from core.feeds.clock import AlpacaClock

    client = TradingClient(
        api_key=_resolve_secret(None, KEY_NAMES).get_secret_value(),
        secret_key=_resolve_secret(None, SECRET_NAMES).get_secret_value(),
        paper=True,
        url_override=get_settings().alpaca_trading_url,
    )
    harden(client, timeout_s)
    return AlpacaClock(client)


def timeframe_of(index: pd.DatetimeIndex) -> str | None:
    """The :data:`~core.feeds.base.TIMEFRAMES` name of a calendar's bar interval (None
    when it is none of them)."""
    from core.data.frequency import bar_interval

    interval = bar_interval(index)
    return next((name for name, step in TIMEFRAMES.items() if step == interval), None)


def dataset_frames(config: Mapping[str, Any], frames: Frames) -> dict[str, pd.DataFrame]:
    """The session's symbols' frames of its dataset on their common calendar, checked to
    have the session's timeframe (ValueError naming ``--timeframe``)."""
    loaded = common_frames({s: frames(config["dataset"], s) for s in config["symbols"]})
    index = next(iter(loaded.values())).index
    timeframe = str(config.get("timeframe", "1Day"))
    found = timeframe_of(index) if len(index) > 1 else None
    if found != timeframe:
        shown = found or "an interval that is none of " + ", ".join(TIMEFRAMES)
        raise ValueError(
            f"--timeframe {timeframe} does not match dataset {config['dataset']!r}, whose bars "
            f"are {shown}; pass --timeframe {found} or pick a dataset with {timeframe} bars"
            if found
            else f"--timeframe {timeframe} does not match dataset {config['dataset']!r}, whose "
            f"bars are {shown}"
        )
    return loaded


def make_feed(
    config: Mapping[str, Any],
    *,
    frames: Frames | Mapping[str, pd.DataFrame],
    clock: Callable[[], datetime] = utc_now,
    sleep: Callable[[float], None] | None = None,
    speed: float = 0.0,
    market: MarketClock | None = None,
    **alpaca: Any,
) -> Feed:
    """The feed of the session's settings (``feed``, ``timeframe``, ``dataset``,
    ``symbols``, ``train_bars``, ``data_feed``).

    ``frames`` loads a dataset's symbol (or is the frames already loaded); ``speed`` is
    the simulated feed's bars per second; ``market`` is the Alpaca feed's market clock
    (default :func:`market_clock` of the settings: the worker's and the feed's should be
    one, so both live on the same time); ``alpaca`` goes to the Alpaca feed's
    constructor (e.g. keys or URL overrides; by default it reads the settings).
    """
    kind = str(config.get("feed", "replay"))
    timeframe = cast(Timeframe, str(config.get("timeframe", "1Day")))
    if kind == "alpaca":
        try:
            module = importlib.import_module("core.feeds.alpaca")
        except ImportError as exc:
            raise ValueError(
                "--feed alpaca is not available in this build (core.feeds.alpaca is "
                "missing); use --feed simulated to trade a dataset on the wall clock"
            ) from exc
        return cast(
            Feed,
            module.AlpacaFeed(
                timeframe=timeframe,
                data_feed=str(config.get("data_feed", "iex")),
                clock=market if market is not None else market_clock(config, clock=clock),
                sleep=sleep,
                wall=clock,
                **alpaca,
            ),
        )
    if callable(frames):
        loaded = dataset_frames(config, frames)
    else:
        loaded = common_frames(frames)
    if kind == "replay":
        return ReplayFeed(loaded, timeframe=timeframe, clock=clock)
    if kind == "simulated":
        from core.feeds.simulated import SimulatedFeed

        if not speed > 0:
            raise ValueError(
                f"--speed must be above 0 bars per second with --feed simulated (the bars "
                f"are played on the wall clock); got {speed:g}"
            )
        return SimulatedFeed(
            loaded,
            timeframe=timeframe,
            speed=speed,
            warmup_bars=int(config["train_bars"]),
            clock=clock,
            sleep=sleep,
        )
    raise ValueError(f"--feed must be one of alpaca, simulated, replay; got {kind!r}")


__all__ = [
    "Frames",
    "MarketClock",
    "alpaca_clock",
    "dataset_frames",
    "make_feed",
    "market_clock",
    "market_status_text",
    "timeframe_of",
]
