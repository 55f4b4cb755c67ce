"""Data-quality checks of one bar: missing bars before it, an outlier return, a bad tick.

* ``gap_bars``: bars missing between the previous bar and this one: for daily bars, the
  trading sessions (XNYS) between their dates; for intraday bars, the bar intervals
  between them within the same day. A carried-forward bar (the feed filled it: open =
  high = low = close = the previous close, volume 0) counts as one missing bar.
* ``outlier_sigma``: ``|log return|`` of the bar over the standard deviation of the
  previous ``window`` log returns (NaN with fewer than 20 of them).
* ``bad_tick``: 1 when a price is missing or not positive, high < low, or the open or
  the close lies outside the bar's low-high range; else 0.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from core.monitoring.market import sessions_between

WINDOW = 100
MIN_RETURNS = 20
DAY = pd.Timedelta(days=1)


def _gap(prev_ts: pd.Timestamp, ts: pd.Timestamp, interval: pd.Timedelta) -> int:
    if interval >= DAY:
        return sessions_between(prev_ts, ts)
    if prev_ts.normalize() != ts.normalize():
        return 0
    steps: float = (ts - prev_ts) / interval
    return max(0, round(steps) - 1)


def _column(frame: pd.DataFrame, name: str, fallback: np.ndarray, n: int) -> np.ndarray:
    if name not in frame.columns:
        return fallback
    values: np.ndarray = frame[name].to_numpy(dtype=np.float64)
    return values[-n:]


def _bad_tick(o: float, h: float, lo: float, c: float) -> bool:
    if not all(math.isfinite(v) and v > 0 for v in (o, h, lo, c)):
        return True
    return h < lo or not (lo <= c <= h) or not (lo <= o <= h)


def bar_quality(
    frame: pd.DataFrame, *, interval: pd.Timedelta, window: int = WINDOW
) -> dict[str, float]:
    """The checks of the last bar of ``frame`` (a symbol's bars up to it; see the module
    docstring). ``interval`` is the session's bar length."""
    tail = frame.iloc[-(window + 2) :]
    closes = tail["close"].to_numpy(dtype=np.float64)
    o, h, lo = (_column(tail, c, closes, 1)[-1] for c in ("open", "high", "low"))
    c = float(closes[-1])
    out = {
        "gap_bars": 0.0,
        "outlier_sigma": float("nan"),
        "bad_tick": float(_bad_tick(float(o), float(h), float(lo), c)),
    }
    if len(closes) < 2:
        return out
    volume = _column(tail, "volume", np.array([np.nan]), 1)[-1]
    prev = float(closes[-2])
    carried = volume == 0 and o == h == lo == c == prev
    gap = _gap(pd.Timestamp(frame.index[-2]), pd.Timestamp(frame.index[-1]), interval)
    out["gap_bars"] = float(gap + int(carried))
    with np.errstate(divide="ignore", invalid="ignore"):
        rets = np.diff(np.log(closes))
    last, past = rets[-1], rets[:-1]
    past = past[np.isfinite(past)]
    if len(past) >= MIN_RETURNS and math.isfinite(last):
        sd = float(np.std(past, ddof=1))
        out["outlier_sigma"] = abs(float(last)) / sd if sd > 0 else float("nan")
    return out


__all__ = ["bar_quality"]
