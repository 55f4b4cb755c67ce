"""Headline statistics of a daily price series (252 bars a year)."""

from __future__ import annotations

import numpy as np
import pandas as pd


def summary_stats(frame: pd.DataFrame) -> dict[str, float | int | str]:
    """Bars, dates, last close, total return, CAGR, volatility, drawdown, best and worst day.

    >>> idx = pd.date_range("2020-01-01", periods=3, freq="D")
    >>> stats = summary_stats(pd.DataFrame({"close": [100.0, 110.0, 99.0]}, index=idx))
    >>> round(float(stats["total_return"]), 6), round(float(stats["max_drawdown"]), 6)
    (-0.01, -0.1)
    """
    close = frame["close"].to_numpy()
    log_ret = np.diff(np.log(close))
    years = max(len(close) - 1, 1) / 252
    running_max = np.maximum.accumulate(close)
    stats: dict[str, float | int | str] = {
        "bars": len(frame),
        "start": frame.index[0].date().isoformat(),
        "end": frame.index[-1].date().isoformat(),
        "last_close": float(close[-1]),
        "total_return": float(close[-1] / close[0] - 1),
        "cagr": float((close[-1] / close[0]) ** (1 / years) - 1),
        "annual_volatility": float(np.std(log_ret, ddof=1) * np.sqrt(252))
        if len(log_ret) > 1
        else float("nan"),
        "max_drawdown": float(np.min(close / running_max - 1)),
        "best_day": float(np.expm1(log_ret.max())) if len(log_ret) else float("nan"),
        "worst_day": float(np.expm1(log_ret.min())) if len(log_ret) else float("nan"),
    }
    if "volume" in frame:
        stats["avg_volume"] = float(frame["volume"].mean())
    return stats


__all__ = ["summary_stats"]
