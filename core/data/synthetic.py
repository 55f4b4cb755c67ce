"""Seeded synthetic prices from a Markov chain over market regimes, with ground truth.

The generator is the known-answer source for regime detection: every bar carries the
regime that produced it, and :func:`regime_params` exposes the exact emission
parameters so an oracle filter can be built from them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

REGIMES: tuple[str, ...] = ("bull", "bear", "sideways", "volatile")
TRADING_DAYS = 252


@dataclass(frozen=True, kw_only=True)
class SyntheticSpec:
    """Parameters of the regime-switching generator.

    Drift and volatility are annualized; daily log returns are
    ``N(drift / 252, volatility / sqrt(252))``. Regimes switch as a Markov chain
    with mean duration ``mean_duration`` bars and an equal chance of moving to
    each other regime.
    """

    bars: int = 5000
    seed: int = 0
    mean_duration: float = 60.0
    drift: dict[str, float] = field(
        default_factory=lambda: {"bull": 0.20, "bear": -0.30, "sideways": 0.0, "volatile": 0.0}
    )
    volatility: dict[str, float] = field(
        default_factory=lambda: {"bull": 0.15, "bear": 0.35, "sideways": 0.10, "volatile": 0.45}
    )
    start_price: float = 100.0
    start_date: str = "2000-01-03"

    def __post_init__(self) -> None:
        if self.bars < 2:
            raise ValueError(f"bars must be >= 2, got {self.bars}")
        if self.mean_duration <= 1:
            raise ValueError(f"mean_duration must be > 1 bar, got {self.mean_duration}")
        for name in ("drift", "volatility"):
            missing = set(REGIMES) - set(getattr(self, name))
            if missing:
                raise ValueError(f"{name} lacks regimes {sorted(missing)}")
        if any(v <= 0 for v in self.volatility.values()):
            raise ValueError("every regime volatility must be > 0")


def transition_matrix(spec: SyntheticSpec) -> np.ndarray:
    """Return the K x K regime transition matrix implied by ``spec``.

    >>> m = transition_matrix(SyntheticSpec(mean_duration=60))
    >>> bool(np.allclose(m.sum(axis=1), 1.0)), round(float(m[0, 0]), 6)
    (True, 0.983333)
    """
    k = len(REGIMES)
    leave = 1.0 / spec.mean_duration
    mat = np.full((k, k), leave / (k - 1))
    np.fill_diagonal(mat, 1.0 - leave)
    return mat


def regime_params(spec: SyntheticSpec) -> tuple[np.ndarray, np.ndarray]:
    """Daily log-return mean and standard deviation per regime, in ``REGIMES`` order."""
    mu = np.array([spec.drift[r] / TRADING_DAYS for r in REGIMES])
    sd = np.array([spec.volatility[r] / np.sqrt(TRADING_DAYS) for r in REGIMES])
    return mu, sd


def generate(spec: SyntheticSpec | None = None) -> tuple[pd.DataFrame, pd.Series]:
    """Generate an OHLCV frame and the true regime label of every bar.

    Returns
    -------
    prices : DataFrame
        Canonical frame (business-day DatetimeIndex, float64 open/high/low/close/volume).
    regimes : Series
        The true regime name of each bar, same index.
    """
    spec = spec or SyntheticSpec()
    rng = np.random.default_rng(spec.seed)
    mat = transition_matrix(spec)
    k = len(REGIMES)
    states = np.empty(spec.bars, dtype=np.int64)
    states[0] = rng.integers(k)
    draws = rng.random(spec.bars)
    cum = np.cumsum(mat, axis=1)
    for t in range(1, spec.bars):
        states[t] = min(int(np.searchsorted(cum[states[t - 1]], draws[t])), k - 1)
    mu, sd = regime_params(spec)
    log_ret = rng.normal(mu[states], sd[states])
    close = spec.start_price * np.exp(np.cumsum(log_ret))
    prev_close = np.concatenate([[spec.start_price], close[:-1]])
    intraday = sd[states] * 0.5
    open_ = prev_close * np.exp(rng.normal(0.0, intraday * 0.3))
    high = np.maximum(open_, close) * np.exp(np.abs(rng.normal(0.0, intraday)))
    low = np.minimum(open_, close) * np.exp(-np.abs(rng.normal(0.0, intraday)))
    volume = np.round(1e6 * np.exp(rng.normal(0.0, 0.3, spec.bars)) * (1 + 5 * sd[states]))
    index = pd.bdate_range(spec.start_date, periods=spec.bars, name="date")
    prices = pd.DataFrame(
        {"open": open_, "high": high, "low": low, "close": close, "volume": volume},
        index=index,
        dtype="float64",
    )
    regimes = pd.Series(np.asarray(REGIMES)[states], index=index, name="regime")
    return prices, regimes


INTRADAY_TIMEFRAMES: dict[str, str] = {
    "1Min": "1min",
    "5Min": "5min",
    "15Min": "15min",
    "1Hour": "1h",
}
"""Alpaca timeframe names of the intraday generator and their pandas lengths."""


def session_bar_times(
    *, start: str | pd.Timestamp, days: int, timeframe: str = "1Min", calendar: str = "XNYS"
) -> pd.DatetimeIndex:
    """Right-labelled UTC-naive close times of every bar of ``days`` trading sessions.

    Sessions come from ``exchange_calendars`` (offline: holidays, early closes and daylight
    saving time included), starting with the first session on or after ``start``. A
    session of length L holds ``L // timeframe`` bars labelled ``open + k * timeframe``
    (:data:`core.feeds.base.LABEL_CONVENTION`: the 14:30-14:31 UTC minute is 14:31).

    >>> idx = session_bar_times(start="2024-01-02", days=1, timeframe="1Hour")
    >>> len(idx), str(idx[0]), str(idx[-1])
    (6, '2024-01-02 15:30:00', '2024-01-02 20:30:00')
    """
    import importlib

    xcals = importlib.import_module("exchange_calendars")  # untyped library
    if days < 1:
        raise ValueError(f"days must be >= 1, got {days}")
    if timeframe not in INTRADAY_TIMEFRAMES:
        raise ValueError(
            f"timeframe {timeframe!r} is not an intraday timeframe; use one of "
            f"{', '.join(INTRADAY_TIMEFRAMES)}"
        )
    step = pd.Timedelta(INTRADAY_TIMEFRAMES[timeframe])
    first = pd.Timestamp(start).normalize()
    cal = xcals.get_calendar(  # from a week before: the first day may not be a session
        calendar, start=first - pd.Timedelta(days=7), end=first + pd.Timedelta(days=2 * days + 14)
    )
    sessions = cal.sessions_window(cal.date_to_session(first, direction="next"), days)
    opens = cal.opens[sessions].dt.tz_convert(None)
    closes = cal.closes[sessions].dt.tz_convert(None)
    stamps = [
        pd.date_range(o + step, periods=int((c - o) // step), freq=step)
        for o, c in zip(opens, closes, strict=True)
    ]
    return pd.DatetimeIndex(np.concatenate([s.to_numpy() for s in stamps]), name="date").as_unit(
        "ns"
    )


def synthetic_intraday(
    symbols: list[str] | tuple[str, ...],
    *,
    start: str | pd.Timestamp = "2024-01-02",
    days: int = 5,
    timeframe: str = "1Min",
    seed: int = 0,
    drift: float = 0.05,
    volatility: float = 0.20,
    start_price: float = 100.0,
    correlation: float = 0.0,
    calendar: str = "XNYS",
) -> dict[str, pd.DataFrame]:
    """Seeded OHLCV intraday bars on exchange hours, with a known drift and volatility.

    Log returns of each bar (close to close, the overnight gap included as one bar) are
    ``N(drift / P, volatility / sqrt(P))`` with ``P`` the bars a year of the timeframe
    (:func:`core.data.frequency.periods_per_year_for`: 98,280 for 1Min), so the realized
    annualized volatility of a long sample is close to ``volatility``. Every symbol has
    the same timestamps (:func:`session_bar_times`); symbols share one common factor with
    weight ``correlation`` (their returns' correlation). Each bar opens at the previous
    close; high and low extend beyond open and close by half-normal draws of half a bar's
    volatility; volume is log-normal around 10,000 with a U-shaped intraday profile.

    Returns
    -------
    dict
        ``symbol -> canonical frame`` (index ``date``: UTC-naive close times; float64
        open, high, low, close, volume), in the order of ``symbols``.

    >>> bars = synthetic_intraday(["AAA", "BBB"], days=2, seed=1)
    >>> len(bars["AAA"]), str(bars["AAA"].index[0]), bool((bars["AAA"]["low"] > 0).all())
    (780, '2024-01-02 14:31:00', True)
    """
    from core.data.frequency import periods_per_year_for

    names = list(symbols)
    if not names or len(set(names)) != len(names):
        raise ValueError("symbols must be a non-empty list of distinct names")
    if volatility <= 0 or start_price <= 0:
        raise ValueError("volatility and start_price must be > 0")
    if not 0.0 <= correlation < 1.0:
        raise ValueError(f"correlation must lie in [0, 1), got {correlation}")
    index = session_bar_times(start=start, days=days, timeframe=timeframe, calendar=calendar)
    ppy = periods_per_year_for(INTRADAY_TIMEFRAMES[timeframe])
    n, k = len(index), len(names)
    rng = np.random.default_rng(seed)
    common = rng.standard_normal((n, 1))
    own = rng.standard_normal((n, k))
    shocks = np.sqrt(correlation) * common + np.sqrt(1.0 - correlation) * own
    sd = volatility / np.sqrt(ppy)
    log_ret = drift / ppy + sd * shocks
    close = start_price * np.exp(np.cumsum(log_ret, axis=0))
    open_ = np.vstack([np.full((1, k), start_price), close[:-1]])
    high = np.maximum(open_, close) * np.exp(np.abs(rng.normal(0.0, sd * 0.5, (n, k))))
    low = np.minimum(open_, close) * np.exp(-np.abs(rng.normal(0.0, sd * 0.5, (n, k))))
    minute = (index - index.normalize()).total_seconds().to_numpy() / 60.0
    day_start = pd.Series(minute).groupby(index.normalize().to_numpy()).transform("min").to_numpy()
    span = max(float(np.ptp(minute - day_start)), 1.0)
    u = (minute - day_start) / span  # 0 at the first bar of a session, 1 at the last
    profile = 1.0 + 2.0 * (2.0 * u - 1.0) ** 2
    volume = np.round(1e4 * profile[:, None] * np.exp(rng.normal(0.0, 0.3, (n, k))))
    return {
        name: pd.DataFrame(
            {
                "open": open_[:, j],
                "high": high[:, j],
                "low": low[:, j],
                "close": close[:, j],
                "volume": volume[:, j],
            },
            index=index,
            dtype="float64",
        )
        for j, name in enumerate(names)
    }
