"""Compare two or more strategies on the same days: one primary test decides, others inform.

The verdict rests on ONE pre-declared test, :data:`core.abtest.primary.PRIMARY_TEST` (a
paired t-test of daily returns with a Newey-West HAC standard error), whose p-values are
adjusted across pairs (Holm by default). Secondary tests (i.i.d. t-test, Wilcoxon, JKM,
bootstrap Sharpe, max drawdown, win rate on shared market days) are computed and shown,
never used for the verdict.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Mapping
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from core.abtest._data import TRADING_DAYS, align_frame
from core.abtest.bootstrap import (
    ChunkDone,
    bootstrap_max_drawdown_difference,
    bootstrap_sharpe_difference,
    bootstrap_win_rate_difference,
)
from core.abtest.paired import paired_tests, sharpe_difference_jkm
from core.abtest.power import min_sample_size
from core.abtest.primary import (
    PRIMARY_RULE,
    PRIMARY_TEST,
    ZERO_TOL,
    hac_standard_error,
    hac_t_test,
    newey_west_lags,
    zero_noise,
)
from core.abtest.results import TestResult

Correction = Literal["holm", "fdr_bh"]
Role = Literal["primary", "secondary"]
Progress = Callable[[float, str], None]
"""``progress(fraction, message)``: fraction in [0, 1], message for the user."""
CheckCancel = Callable[[], None]
"""Called between chunks of work; it raises (e.g. a cancellation) to stop."""

BOOTSTRAP_TESTS = 3
"""Secondary bootstrap tests per pair (Sharpe, max drawdown, win rate)."""

CORRECTION_LABELS: dict[str, str] = {"holm": "Holm", "fdr_bh": "Benjamini-Hochberg"}

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
    zero_tol: float = Field(ZERO_TOL, ge=0.0, le=1e-6)
    secondary: bool = True


class ComparisonRow(BaseModel):
    """One test of one pair; estimates are ``metric(first) - metric(second)``.

    ``role`` is ``"primary"`` for the one test that decides the verdict and
    ``"secondary"`` for tests shown for information only.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    pair: tuple[str, str]
    test: str
    role: Role = "secondary"
    statistic: float
    p_value: float
    p_adjusted: float
    significant: bool
    favours: str | None
    estimate: float
    ci_low: float | None
    ci_high: float | None
    unit: str
    note: str = ""


class ComparisonResult(BaseModel):
    """Every pairwise test, the multiplicity-adjusted p-values and a verdict in words.

    ``adjusted_p_values[i]`` belongs to ``tests[i]``: each test's p-values are adjusted
    across the pairs (the primary test's adjusted p-values decide; a secondary test's
    are for reading only). ``primary_test`` names the deciding test and
    ``decision_rule`` states the rule. ``min_sample_size`` is the number of days the
    primary test would need for the desired power at the observed mean difference of
    the most promising pair (None when a pair differs significantly or the differences
    are zero).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    names: tuple[str, ...]
    tests: list[ComparisonRow]
    adjusted_p_values: list[float]
    verdict: str
    primary_test: str = PRIMARY_TEST
    decision_rule: str = ""
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

    def primary_rows(self) -> list[ComparisonRow]:
        """The rows of the deciding test, one per pair."""
        return [row for row in self.tests if row.role == "primary"]


def _pair_results(
    a: pd.Series,
    b: pd.Series,
    spec: CompareSpec,
    pair_seed: int | None,
    on_chunk: Callable[[int], ChunkDone | None] | None = None,
) -> list[TestResult]:
    """The primary test first, then (when ``spec.secondary``) the secondary tests;
    ``on_chunk(j)`` gives the chunk callback of the ``j``-th bootstrap test."""
    primary = hac_t_test(
        a, b, alpha=spec.alpha, periods_per_year=spec.periods_per_year, zero_tol=spec.zero_tol
    )
    if not spec.secondary:
        return [primary]

    def hook(j: int) -> ChunkDone | None:
        return None if on_chunk is None else on_chunk(j)

    boot: dict[str, Any] = {
        "alpha": spec.alpha,
        "n_boot": spec.n_boot,
        "mean_block": spec.mean_block,
        "seed": pair_seed,
    }
    return [
        primary,
        *paired_tests(
            a, b, alpha=spec.alpha, periods_per_year=spec.periods_per_year, zero_tol=spec.zero_tol
        ),
        sharpe_difference_jkm(a, b, alpha=spec.alpha, periods_per_year=spec.periods_per_year),
        bootstrap_sharpe_difference(
            a, b, periods_per_year=spec.periods_per_year, on_chunk=hook(0), **boot
        ),
        bootstrap_max_drawdown_difference(a, b, on_chunk=hook(1), **boot),
        bootstrap_win_rate_difference(a, b, on_chunk=hook(2), **boot),
    ]


def holm_adjust(p_values: np.ndarray) -> np.ndarray:
    """Holm (1979) step-down adjusted p-values (family-wise error control).

    Sorted ascending, ``p_(i)`` becomes ``max_{j <= i} min(1, (m - j + 1) p_(j))``.

    >>> holm_adjust(np.array([0.01, 0.04, 0.03, 0.005])).round(4).tolist()
    [0.03, 0.06, 0.06, 0.02]
    """
    p = np.asarray(p_values, dtype=np.float64)
    m = p.size
    order = np.argsort(p, kind="stable")
    scaled = np.minimum(1.0, (m - np.arange(m)) * p[order])
    out = np.empty(m)
    out[order] = np.maximum.accumulate(scaled)
    return out


def bh_adjust(p_values: np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg (1995) step-up adjusted p-values (false discovery rate).

    Sorted ascending, ``p_(i)`` becomes ``min_{j >= i} min(1, m p_(j) / j)``.

    >>> bh_adjust(np.array([0.01, 0.04, 0.03, 0.005])).round(4).tolist()
    [0.02, 0.04, 0.04, 0.02]
    """
    p = np.asarray(p_values, dtype=np.float64)
    m = p.size
    order = np.argsort(p, kind="stable")
    scaled = p[order] * m / np.arange(1, m + 1)
    out = np.empty(m)
    out[order] = np.minimum(1.0, np.minimum.accumulate(scaled[::-1])[::-1])
    return out


_ADJUSTERS = {"holm": holm_adjust, "fdr_bh": bh_adjust}


def _adjust(p_values: np.ndarray, method: str) -> np.ndarray:
    """Adjust the finite p-values together with ``method`` ("holm" or "fdr_bh"); NaN stays."""
    adjusted = np.full(p_values.shape, np.nan)
    finite = np.isfinite(p_values)
    if finite.any():
        adjusted[finite] = _ADJUSTERS[method](p_values[finite])
    return adjusted


def adjust_within_tests(tests: list[str], p_values: np.ndarray, method: str) -> np.ndarray:
    """Adjust each test's p-values across the pairs, separately for every test name.

    The primary test's family is its one p-value per pair; secondary tests never enter
    it, so adding or removing them cannot change the verdict.
    """
    p_values = np.asarray(p_values, dtype=np.float64)
    adjusted = np.full(p_values.shape, np.nan)
    names = np.asarray(tests, dtype=object)
    for name in dict.fromkeys(tests):
        mask = names == name
        adjusted[mask] = _adjust(p_values[mask], method)
    return adjusted


def format_p_value(p: float | None) -> str:
    """A p-value as the verdict and the tables show it: two significant digits, in
    scientific notation below 0.001, an en dash when undefined.

    >>> format_p_value(0.66855), format_p_value(0.0123), format_p_value(3.14e-5)
    ('0.67', '0.012', '3.1e-05')
    """
    if p is None or not math.isfinite(p):
        return "–"
    return f"{p:.2g}" if p >= 0.001 else f"{p:.1e}"


def _decided_by(correction: str, p_adjusted: float, alpha: float, *, smallest: bool) -> str:
    label = CORRECTION_LABELS.get(correction, correction)
    what = f"smallest {label}-adjusted p" if smallest else f"{label}-adjusted p"
    sign = "<" if p_adjusted < alpha else ">="
    return f"decided by {PRIMARY_TEST}: {what}={format_p_value(p_adjusted)} {sign} alpha={alpha:g}"


def primary_verdict(rows: list[ComparisonRow], *, alpha: float, correction: str) -> str | None:
    """The verdict clause from the primary rows (one per pair); None when none is significant.

    >>> row = ComparisonRow(pair=("A", "B"), test=PRIMARY_TEST, role="primary", statistic=-3.0,
    ...     p_value=0.003, p_adjusted=0.006, significant=True, favours="B", estimate=-1e-3,
    ...     ci_low=None, ci_high=None, unit="")
    >>> primary_verdict([row], alpha=0.05, correction="holm")
    'B better than A (decided by HAC paired t-test: Holm-adjusted p=0.006 < alpha=0.05)'
    """
    clauses = []
    for row in rows:
        if row.role != "primary" or not row.significant or row.favours is None:
            continue
        winner = row.favours
        loser = row.pair[1] if winner == row.pair[0] else row.pair[0]
        decided = _decided_by(correction, row.p_adjusted, alpha, smallest=False)
        clauses.append(f"{winner} better than {loser} ({decided})")
    if not clauses:
        return None
    if len(clauses) < len([r for r in rows if r.role == "primary"]):
        clauses.append("other pairs: no significant difference")
    return "; ".join(clauses)


def _needed_days(
    frame: pd.DataFrame, pairs: list[tuple[str, str]], spec: CompareSpec
) -> int | None:
    """Fewest days any pair's observed mean difference needs for ``spec.power`` under the
    primary test (its HAC long-run standard deviation, ``se * sqrt(n)``)."""
    needed: list[int] = []
    for first, second in pairs:
        diff = zero_noise((frame[first] - frame[second]).to_numpy(), spec.zero_tol)
        mean = float(diff.mean())
        sd = float(hac_standard_error(diff, newey_west_lags(diff.size))) * math.sqrt(diff.size)
        if mean == 0.0 or not sd > 0.0:
            continue
        needed.append(min_sample_size(mean, sd, alpha=spec.alpha, power=spec.power))
    return min(needed) if needed else None


def _no_difference_verdict(
    rows: list[ComparisonRow], needed: int | None, n_obs: int, spec: CompareSpec
) -> str:
    p_min = min((r.p_adjusted for r in rows if math.isfinite(r.p_adjusted)), default=1.0)
    decided = _decided_by(spec.correction, p_min, spec.alpha, smallest=len(rows) > 1)
    verdict = f"no significant difference ({decided})"
    if needed is not None and needed > _MAX_YEARS * spec.periods_per_year:
        verdict += (
            f"; at the observed mean difference, {spec.power:.0%} power would need over "
            f"{_MAX_YEARS} years of data"
        )
    elif needed is not None and needed > n_obs:
        more = needed - n_obs
        verdict += (
            f"; not enough data: about {more:,} more days needed "
            f"(~{more / spec.periods_per_year:.1f} years; {needed:,} in all for "
            f"{spec.power:.0%} power at the observed mean difference)"
        )
    return verdict


class _Hooks:
    """Progress and cancellation of :func:`compare`: the fraction is the share of all
    bootstrap resamples done (pairs count equally when there is no bootstrap)."""

    def __init__(
        self,
        pairs: list[tuple[str, str]],
        spec: CompareSpec,
        progress: Progress | None,
        check: CheckCancel | None,
    ) -> None:
        self.pairs, self.progress, self.check = pairs, progress, check
        self.tests = BOOTSTRAP_TESTS if spec.secondary else 0
        self.active = progress is not None or check is not None

    def _report(self, fraction: float, message: str) -> None:
        if self.progress is not None:
            self.progress(min(1.0, fraction), message)

    def before_pair(self, k: int) -> None:
        if self.check is not None:
            self.check()

    def after_pair(self, k: int) -> None:
        first, second = self.pairs[k]
        done = k + 1
        self._report(
            done / len(self.pairs), f"pair {done}/{len(self.pairs)} tested: {first} vs {second}"
        )

    def chunk_hook(self, k: int) -> Callable[[int], ChunkDone]:
        first, second = self.pairs[k]

        def for_test(j: int) -> ChunkDone:
            def on_chunk(done: int, total: int) -> None:
                share = (j + done / total) / self.tests
                self._report(
                    (k + share) / len(self.pairs),
                    f"pair {k + 1}/{len(self.pairs)} ({first} vs {second}): bootstrap test "
                    f"{j + 1}/{self.tests}, {done:,}/{total:,} resamples",
                )
                if self.check is not None:
                    self.check()

            return on_chunk

        return for_test


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
    zero_tol: float = ZERO_TOL,
    secondary: bool = True,
    progress: Progress | None = None,
    check: CheckCancel | None = None,
) -> ComparisonResult:
    """Compare strategies' daily returns over their common days.

    For every pair ``(first, second)`` in the order given, runs the primary test
    (:data:`~core.abtest.primary.PRIMARY_TEST`: paired t-test of the daily differences
    with a Newey-West HAC standard error) and, when ``secondary``, the secondary tests:
    i.i.d. paired t-test, Wilcoxon signed-rank, Jobson-Korkie-Memmel and stationary
    bootstrap tests of the Sharpe, max-drawdown and win-rate (shared market days)
    differences. Each test's p-values are adjusted across the pairs with Holm
    (family-wise error) or Benjamini-Hochberg (``"fdr_bh"``).

    Only the primary test decides. The verdict is, per pair whose adjusted primary
    p-value is below ``alpha``, "X better than Y (decided by HAC paired t-test:
    Holm-adjusted p=... < alpha=...)"; when no pair is, "no significant difference
    (decided by ...)", followed by "not enough data: about N more days needed" when the
    observed mean difference would reach ``power`` within 100 years of data.

    Parameters
    ----------
    returns : dict of str to pandas.Series
        At least two strategies' daily simple returns; inner-joined on dates, days with
        any NaN dropped. At least 20 common days are required.
    alpha : float
        Significance level applied to the adjusted p-values.
    correction : {"holm", "fdr_bh"}
        Multiple-testing correction across pairs.
    n_boot, seed, mean_block : int, int, float
        Stationary bootstrap settings (``mean_block`` default ``~ n ** (1/3)``).
    power : float
        Power used for the "more days needed" estimate.
    periods_per_year : float
        Bars per year for annualization.
    zero_tol : float
        Daily differences with ``|a - b| <= zero_tol`` are floating-point noise and
        count as zero in the paired tests.
    secondary : bool
        Also run the secondary tests (False: the primary test only; same verdict).
    progress : callable, optional
        ``progress(fraction, message)`` after each chunk of bootstrap resamples (the
        fraction of all resamples of all pairs done) and after each pair.
    check : callable, optional
        Called before each pair and after each chunk of resamples; it raises (e.g. a
        cancellation) to stop. Neither hook changes a number.

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
        zero_tol=zero_tol,
        secondary=secondary,
    )
    frame = align_frame(returns)
    names = tuple(frame.columns)
    pairs = list(itertools.combinations(names, 2))
    raw: list[tuple[tuple[str, str], TestResult]] = []
    hooks = _Hooks(pairs, spec, progress, check)
    for k, (first, second) in enumerate(pairs):
        hooks.before_pair(k)
        pair_seed = None if spec.seed is None else spec.seed + k
        chunks = hooks.chunk_hook(k) if hooks.active else None
        for res in _pair_results(frame[first], frame[second], spec, pair_seed, chunks):
            raw.append(((first, second), res))
        hooks.after_pair(k)

    p_raw = np.array([res.p_value for _, res in raw], dtype=np.float64)
    p_adj = adjust_within_tests([res.name for _, res in raw], p_raw, spec.correction)
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
                role="primary" if res.name == PRIMARY_TEST else "secondary",
                statistic=res.statistic,
                p_value=res.p_value,
                p_adjusted=float(adjusted),
                significant=significant,
                favours=favours,
                estimate=res.estimate,
                ci_low=res.ci_low,
                ci_high=res.ci_high,
                unit=res.unit,
                note=res.note,
            )
        )

    primary = [r for r in rows if r.role == "primary"]
    n_obs = len(frame)
    needed = None
    verdict = primary_verdict(primary, alpha=spec.alpha, correction=spec.correction)
    if verdict is None:
        needed = _needed_days(frame, pairs, spec)
        verdict = _no_difference_verdict(primary, needed, n_obs, spec)
    label = CORRECTION_LABELS.get(spec.correction, spec.correction)
    index = frame.index
    is_dates = isinstance(index, pd.DatetimeIndex)
    return ComparisonResult(
        names=names,
        tests=rows,
        adjusted_p_values=[float(p) for p in p_adj],
        verdict=verdict,
        primary_test=PRIMARY_TEST,
        decision_rule=f"{PRIMARY_RULE} ({label}), alpha={spec.alpha:g}",
        min_sample_size=needed,
        n_obs=n_obs,
        start=str(index[0].date()) if is_dates else None,
        end=str(index[-1].date()) if is_dates else None,
        spec=spec,
    )
