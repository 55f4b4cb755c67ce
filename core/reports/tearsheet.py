"""quantstats HTML tear sheets against a local benchmark series (never a ticker string)."""

from __future__ import annotations

import logging
import tempfile
import warnings
from pathlib import Path

import pandas as pd


class ReportError(ValueError):
    """The inputs cannot make a tear sheet."""


def _clean(returns: pd.Series, name: str) -> pd.Series:
    if not isinstance(returns, pd.Series):
        raise ReportError(f"{name} must be a pandas Series of periodic returns")
    if not isinstance(returns.index, pd.DatetimeIndex):
        raise ReportError(f"{name} needs a DatetimeIndex")
    series = returns.astype("float64").replace([float("inf"), float("-inf")], float("nan"))
    series = series.dropna()
    if len(series) < 20:
        raise ReportError(f"{name} has {len(series)} returns; a tear sheet needs at least 20")
    series.index = series.index.tz_localize(None) if series.index.tz else series.index
    return series.rename(name)


def tearsheet_html(
    returns: pd.Series,
    *,
    benchmark: pd.Series | None,
    title: str,
    periods_per_year: int | None = None,
) -> str:
    """Render a quantstats HTML tear sheet and return its text.

    Parameters
    ----------
    returns : Series
        Strategy returns per bar (simple, not log), DatetimeIndex.
    benchmark : Series or None
        Benchmark returns on the same calendar, as a local series. quantstats would
        download a ticker string, which offline silently yields an empty benchmark, so
        strings are refused.
    title : str
        Report title.
    periods_per_year : int, optional
        Bars a year quantstats annualizes with; by default the returns' bar interval
        (:func:`core.data.frequency.periods_per_year_of`: 252 daily, 98,280 for 1Min).
    """
    if isinstance(benchmark, str):
        raise ReportError("pass the benchmark as a returns Series, not a ticker string")
    strategy = _clean(returns, "Strategy")
    bench = _clean(benchmark, "Benchmark") if benchmark is not None else None
    if periods_per_year is None:
        from core.data.frequency import periods_per_year_of

        periods_per_year = round(periods_per_year_of(strategy.index))
    if bench is not None:
        common = strategy.index.intersection(bench.index)
        if len(common) < 20:
            raise ReportError("strategy and benchmark share fewer than 20 dates")
        strategy, bench = strategy.loc[common], bench.loc[common]
    logging.getLogger("matplotlib.font_manager").setLevel(logging.ERROR)
    import matplotlib

    matplotlib.use("Agg", force=True)
    import quantstats as qs

    with warnings.catch_warnings(), tempfile.TemporaryDirectory() as folder:
        warnings.simplefilter("ignore")
        out = Path(folder) / "report.html"
        qs.reports.html(
            strategy,
            benchmark=bench,
            title=title,
            output=str(out),
            periods_per_year=periods_per_year,
            download_filename="tearsheet.html",
        )
        return out.read_text(encoding="utf-8")
