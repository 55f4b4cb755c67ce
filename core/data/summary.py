"""Headline statistics of a price series, annualized by its bar interval (252 bars a year
daily, 98,280 for 1-minute bars: :mod:`core.data.frequency`)."""

from __future__ import annotations

import numpy as np
import pandas as pd


def summary_stats(frame: pd.DataFrame) -> dict[str, float | int | str]:
    """Bars, bar interval, dates, last close, total return, CAGR, volatility, drawdown, best
    and worst bar (``best_day``/``worst_day``: the best and worst one-bar move).

    >>> idx = pd.date_range("2020-01-01", periods=3, freq="D")
    >>> stats = summary_stats(pd.DataFrame({"close": [100.0, 110.0, 99.0]}, index=idx))
    >>> round(float(stats["total_return"]), 6), round(float(stats["max_drawdown"]), 6)
    (-0.01, -0.1)
    """
    from core.data.frequency import periods_per_year_for
    from core.data.loaders import interval_text

    close = frame["close"].to_numpy()
    log_ret = np.diff(np.log(close))
    interval = interval_text(frame.index)
    per_year = periods_per_year_for(interval)
    years = max(len(close) - 1, 1) / per_year
    running_max = np.maximum.accumulate(close)
    stats: dict[str, float | int | str] = {
        "bars": len(frame),
        "bar_interval": interval,
        "start": _stamp(frame.index[0], interval),
        "end": _stamp(frame.index[-1], interval),
        "last_close": float(close[-1]),
        "total_return": float(close[-1] / close[0] - 1),
        "cagr": float((close[-1] / close[0]) ** (1 / years) - 1),
        "annual_volatility": float(np.std(log_ret, ddof=1) * np.sqrt(per_year))
        if len(log_ret) > 1
        else float("nan"),
        "max_drawdown": float(np.min(close / running_max - 1)),
        "best_day": float(np.expm1(log_ret.max())) if len(log_ret) else float("nan"),
        "worst_day": float(np.expm1(log_ret.min())) if len(log_ret) else float("nan"),
    }
    if "volume" in frame:
        stats["avg_volume"] = float(frame["volume"].mean())
    return stats


def _stamp(ts: pd.Timestamp, interval: str) -> str:
    """The date of a daily bar; the UTC close time of an intraday one."""
    return ts.date().isoformat() if interval.endswith("D") else f"{ts:%Y-%m-%d %H:%M} UTC"


__all__ = ["summary_stats"]
