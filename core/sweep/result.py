"""The result of a sweep: one row per combination with its metrics, and how to rank them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from core.backtest.spec import EXECUTION, BacktestSpec

if TYPE_CHECKING:  # the table is a DataFrame; importing METRICS costs no pandas
    import pandas as pd

LOWER_IS_BETTER: frozenset[str] = frozenset({"volatility", "max_drawdown_duration", "turnover"})
METRICS: tuple[str, ...] = (
    "total_return",
    "cagr",
    "volatility",
    "sharpe",
    "sortino",
    "max_drawdown",
    "max_drawdown_duration",
    "calmar",
    "n_trades",
    "exposure",
    "turnover",
)


@dataclass(frozen=True, kw_only=True)
class SweepResult:
    """Every combination of a parameter sweep with its metrics.

    Attributes
    ----------
    table : DataFrame
        One row per combination: the parameter columns, then :data:`METRICS`.
    strategy : str
        Registered strategy name.
    param_names : tuple of str
        The swept parameters (leading columns of ``table``).
    combinations : int
        Number of combinations simulated (for multiple-testing corrections such as the
        deflated Sharpe ratio).
    seconds : float
        Wall time of the sweep.
    metric : str
        Default ranking metric.
    """

    table: pd.DataFrame
    strategy: str
    param_names: tuple[str, ...]
    combinations: int
    seconds: float
    metric: str
    spec: BacktestSpec
    fixed_params: dict[str, Any] = field(default_factory=dict)
    execution: str = EXECUTION

    @property
    def throughput(self) -> float:
        """Combinations simulated per second."""
        return self.combinations / self.seconds if self.seconds > 0 else float("inf")

    def _metric(self, metric: str | None) -> str:
        metric = metric or self.metric
        if metric not in self.table.columns:
            raise ValueError(f"unknown metric {metric!r}; choose one of {list(METRICS)}")
        return metric

    def top(self, n: int = 10, metric: str | None = None) -> pd.DataFrame:
        """The ``n`` best rows by ``metric`` (NaN last; lower-is-better metrics ascending)."""
        return rank(self.table, self._metric(metric), n)

    def best(self, metric: str | None = None) -> pd.Series:
        """The single best row by ``metric``."""
        return self.top(1, metric).iloc[0]

    def best_params(self, metric: str | None = None) -> dict[str, Any]:
        """Parameters of the best row, ready for :func:`core.strategies.run_strategy`."""
        row = self.best(metric)
        params = {
            name: row[name].item() if hasattr(row[name], "item") else row[name]
            for name in self.param_names
        }
        return {**self.fixed_params, **params}

    def pivot(
        self, index: str | None = None, columns: str | None = None, metric: str | None = None
    ) -> pd.DataFrame:
        """A 2-D grid of ``metric`` for a heatmap (first two swept params by default)."""
        metric = self._metric(metric)
        if index is None or columns is None:
            if len(self.param_names) < 2:
                raise ValueError("pivot needs two swept parameters")
            index, columns = self.param_names[0], self.param_names[1]
        return self.table.pivot_table(index=index, columns=columns, values=metric, aggfunc="max")


def rank(table: pd.DataFrame, metric: str, n: int | None = None) -> pd.DataFrame:
    """Rows of ``table`` best first by ``metric`` (NaN last; :data:`LOWER_IS_BETTER` metrics
    ascending; ties keep their table order), the first ``n`` when given.

    >>> import pandas as pd
    >>> rank(pd.DataFrame({"volatility": [0.3, 0.1, 0.2]}), "volatility", 2)["volatility"].tolist()
    [0.1, 0.2]
    """
    ordered = table.sort_values(
        metric, ascending=metric in LOWER_IS_BETTER, na_position="last", kind="stable"
    )
    return ordered if n is None else ordered.head(n)


__all__ = ["LOWER_IS_BETTER", "METRICS", "SweepResult", "rank"]
