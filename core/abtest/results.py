"""Frozen result models shared by the A/B tests."""

from __future__ import annotations

import math
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Side = Literal["A", "B"]


class TestResult(BaseModel):
    """One statistical test of strategy A against strategy B on the same days.

    Every estimate is ``metric(A) - metric(B)``, oriented so that a positive value is
    good for A (a max-drawdown difference is positive when A's drawdown is shallower).

    Attributes
    ----------
    name : str
        Test name, e.g. ``"paired t-test"``.
    statistic : float
        The test statistic (t, Wilcoxon W, z, or the bootstrap estimate itself).
    p_value : float
        Two-sided p-value; 1.0 when the two series are identical, NaN when the test is
        undefined (e.g. a Sharpe ratio of a strategy whose returns never vary).
    estimate : float
        Point estimate of the difference, in ``unit``.
    estimate_annualized : float or None
        The estimate on an annual scale when that is meaningful.
    ci_low, ci_high : float or None
        Confidence interval for ``estimate`` (same unit), when the test gives one.
    n : int
        Number of aligned days used.
    favours : {"A", "B"} or None
        The better strategy when ``p_value < alpha``, else None.
    unit : str
        Unit of ``estimate``.
    note : str
        How the test was run (lags, zero handling), shown beside it.
    """

    __test__ = False  # not a pytest test class

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    statistic: float
    p_value: float
    estimate: float
    estimate_annualized: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    n: int = Field(ge=0)
    favours: Side | None = None
    unit: str = ""
    note: str = ""


def favoured(estimate: float, p_value: float, alpha: float) -> Side | None:
    """``"A"`` for a significant positive estimate, ``"B"`` for a negative one, else None.

    >>> favoured(0.01, 0.001, 0.05), favoured(-0.01, 0.001, 0.05), favoured(0.01, 0.2, 0.05)
    ('A', 'B', None)
    """
    if math.isnan(p_value) or p_value >= alpha or estimate == 0 or math.isnan(estimate):
        return None
    return "A" if estimate > 0 else "B"
