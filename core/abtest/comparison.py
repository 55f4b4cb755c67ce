"""Compare two or more strategies on the same days: every pair, every test, one verdict."""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping
from typing import Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field
from statsmodels.stats.multitest import multipletests

from core.abtest._data import TRADING_DAYS, align_frame
from core.abtest.bootstrap import (
    bootstrap_max_drawdown_difference,
    bootstrap_sharpe_difference,
    bootstrap_win_rate_difference,
)
from core.abtest.paired import paired_tests, sharpe_difference_jkm
from core.abtest.power import min_sample_size
from core.abtest.results import TestResult

Correction = Literal["holm", "fdr_bh"]

_MAX_YEARS = 100
"""Beyond this many years of data, "more days needed" is reported as no difference."""


class CompareSpec(BaseModel):
    """Settings of :func:`compare` (frozen; build it from a form, pass ``**spec.model_dump()``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    alpha: float = Field(0.05, gt=0.0, lt=0.5)
    correction: Correction = "holm"
    n_boot: int = Field(2000, ge=100, le=100_000)
    seed: int | None = 0
    mean_block: float | None = Field(None, ge=1.0)
    power: float = Field(0.8, gt=0.5, lt=1.0)
    periods_per_year: float = Field(TRADING_DAYS, gt=0.0)


class ComparisonRow(BaseModel):
    """One test of one pair; estimates are ``metric(first) - metric(second)``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    pair: tuple[str, str]
    test: str
    statistic: float
    p_value: float
    p_adjusted: float
    significant: bool
    favours: str | None
    estimate: float
    ci_low: float | None
    ci_high: float | None
    unit: str


class ComparisonResult(BaseModel):
    """Every pairwise test, the multiplicity-adjusted p-values and a verdict in words.

    ``adjusted_p_values[i]`` belongs to ``tests[i]``. ``min_sample_size`` is the number
    of days a paired t-test would need for the desired power at the observed mean
    difference of the most promising pair (None when a pair differs significantly or
    the differences are exactly zero).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    names: tuple[str, ...]
    tests: list[ComparisonRow]
    adjusted_p_values: list[float]
    verdict: str
    min_sample_size: int | None
    n_obs: int
    start: str | None = None
    end: str | None = None
    spec: CompareSpec

    def to_frame(self) -> pd.DataFrame:
        """The test rows as a DataFrame (one row per pair and test)."""
        rows = [row.model_dump() for row in self.tests]
        frame = pd.DataFrame(rows)
        if not frame.empty:
            frame["pair"] = [f"{a} vs {b}" for a, b in frame["pair"]]
        return frame


def _pair_results(
    a: pd.Series, b: pd.Series, spec: CompareSpec, pair_seed: int | None
) -> list[TestResult]:
    boot = {
        "alpha": spec.alpha,
        "n_boot": spec.n_boot,
        "mean_block": spec.mean_block,
        "seed": pair_seed,
    }
    return [
        *paired_tests(a, b, alpha=spec.alpha, periods_per_year=spec.periods_per_year),
        sharpe_difference_jkm(a, b, alpha=spec.alpha, periods_per_year=spec.periods_per_year),
        bootstrap_sharpe_difference(a, b, periods_per_year=spec.periods_per_year, **boot),
        bootstrap_max_drawdown_difference(a, b, **boot),
        bootstrap_win_rate_difference(a, b, **boot),
    ]


def _adjust(p_values: np.ndarray, method: str) -> np.ndarray:
    """Adjust the finite p-values together; NaN stays NaN."""
    adjusted = np.full(p_values.shape, np.nan)
    finite = np.isfinite(p_values)
    if finite.any():
        adjusted[finite] = multipletests(p_values[finite], method=method)[1]
    return adjusted


def _format_p(p: float) -> str:
    return f"{p:.2g}" if p >= 0.001 else f"{p:.1e}"


def _pair_verdict(pair: tuple[str, str], rows: list[ComparisonRow]) -> str | None:
    significant = [r for r in rows if r.significant and r.favours is not None]
    if not significant:
        return None
    winners = {r.favours for r in significant}
    if len(winners) == 1:
        winner = significant[0].favours
        loser = pair[1] if winner == pair[0] else pair[0]
        best = min(significant, key=lambda r: r.p_adjusted)
        return (
            f"{winner} better than {loser} (p={_format_p(best.p_adjusted)} adjusted, {best.test})"
        )
    parts = []
    for name in pair:
        tests = [r for r in significant if r.favours == name]
        if tests:
            listed = ", ".join(f"{r.test} p={_format_p(r.p_adjusted)}" for r in tests)
            parts.append(f"{name} better on {listed}")
    return "mixed: " + "; ".join(parts) + " (adjusted)"


def _needed_days(
    frame: pd.DataFrame, pairs: list[tuple[str, str]], spec: CompareSpec
) -> int | None:
    """Fewest days any pair's observed mean difference needs for ``spec.power``."""
    needed: list[int] = []
    for first, second in pairs:
        diff = (frame[first] - frame[second]).to_numpy()
        mean, sd = float(diff.mean()), float(diff.std(ddof=1))
        if mean == 0.0 or not sd > 0.0:
            continue
        needed.append(min_sample_size(mean, sd, alpha=spec.alpha, power=spec.power))
    return min(needed) if needed else None


def compare(
    returns: Mapping[str, pd.Series],
    *,
    alpha: float = 0.05,
    correction: Correction = "holm",
    n_boot: int = 2000,
    seed: int | None = 0,
    mean_block: float | None = None,
    power: float = 0.8,
    periods_per_year: float = TRADING_DAYS,
) -> ComparisonResult:
    """Compare strategies' daily returns over their common days.

    For every pair ``(first, second)`` in the order given, runs the paired t-test,
    Wilcoxon signed-rank, the Jobson-Korkie-Memmel Sharpe test and stationary-bootstrap
    tests of the Sharpe, max-drawdown and win-rate differences; then adjusts all of
    these p-values together (across tests and pairs) with Holm (family-wise error) or
    Benjamini-Hochberg (``"fdr_bh"``, false discovery rate).

    The verdict is, per pair with a significant adjusted test, "X better than Y (p=...
    adjusted, test)" or "mixed: ..." when tests disagree; otherwise "not enough data:
    about N more days needed" when the observed mean difference would need N more days
    for a paired t-test at ``power`` (and at most 100 years), else "no significant
    difference".

    Parameters
    ----------
    returns : dict of str to pandas.Series
        At least two strategies' daily simple returns; inner-joined on dates, days with
        any NaN dropped. At least 20 common days are required.
    alpha : float
        Significance level applied to the adjusted p-values.
    correction : {"holm", "fdr_bh"}
        Multiple-testing correction.
    n_boot, seed, mean_block : int, int, float
        Stationary bootstrap settings (``mean_block`` default ``~ n ** (1/3)``).
    power : float
        Power used for the "more days needed" estimate.
    periods_per_year : float
        Bars per year for annualization.

    Returns
    -------
    ComparisonResult
    """
    spec = CompareSpec(
        alpha=alpha,
        correction=correction,
        n_boot=n_boot,
        seed=seed,
        mean_block=mean_block,
        power=power,
        periods_per_year=periods_per_year,
    )
    frame = align_frame(returns)
    names = tuple(frame.columns)
    pairs = list(itertools.combinations(names, 2))
    raw: list[tuple[tuple[str, str], TestResult]] = []
    for k, (first, second) in enumerate(pairs):
        pair_seed = None if spec.seed is None else spec.seed + k
        for res in _pair_results(frame[first], frame[second], spec, pair_seed):
            raw.append(((first, second), res))

    p_raw = np.array([res.p_value for _, res in raw], dtype=np.float64)
    p_adj = _adjust(p_raw, spec.correction)
    rows: list[ComparisonRow] = []
    for ((first, second), res), adjusted in zip(raw, p_adj, strict=True):
        significant = bool(np.isfinite(adjusted) and adjusted < spec.alpha)
        direction = res.estimate
        if res.name.startswith("Wilcoxon") and res.favours is not None:
            direction = 1.0 if res.favours == "A" else -1.0
        favours = None
        if significant and direction != 0 and math.isfinite(direction):
            favours = first if direction > 0 else second
        rows.append(
            ComparisonRow(
                pair=(first, second),
                test=res.name,
                statistic=res.statistic,
                p_value=res.p_value,
                p_adjusted=float(adjusted),
                significant=significant,
                favours=favours,
                estimate=res.estimate,
                ci_low=res.ci_low,
                ci_high=res.ci_high,
                unit=res.unit,
            )
        )

    verdicts = [
        v for pair in pairs if (v := _pair_verdict(pair, [r for r in rows if r.pair == pair]))
    ]
    n_obs = len(frame)
    needed = None
    if verdicts:
        verdict = "; ".join(verdicts)
    else:
        needed = _needed_days(frame, pairs, spec)
        if needed is not None and needed > _MAX_YEARS * spec.periods_per_year:
            verdict = (
                f"no significant difference (at the observed mean difference, {spec.power:.0%} "
                f"power would need over {_MAX_YEARS} years of data)"
            )
        elif needed is not None and needed > n_obs:
            more = needed - n_obs
            years = more / spec.periods_per_year
            verdict = (
                f"not enough data: about {more:,} more days needed "
                f"(~{years:.1f} years; {needed:,} in all for {spec.power:.0%} power "
                "at the observed mean difference)"
            )
        else:
            verdict = "no significant difference"
    index = frame.index
    is_dates = isinstance(index, pd.DatetimeIndex)
    return ComparisonResult(
        names=names,
        tests=rows,
        adjusted_p_values=[float(p) for p in p_adj],
        verdict=verdict,
        min_sample_size=needed,
        n_obs=n_obs,
        start=str(index[0].date()) if is_dates else None,
        end=str(index[-1].date()) if is_dates else None,
        spec=spec,
    )
