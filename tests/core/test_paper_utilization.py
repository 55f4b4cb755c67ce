"""The worker's limit utilization equals the risk report's, float for float."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from core.risk import RiskLimits, portfolio_risk
from core.risk.report import limit_utilization
from core.risk.state import PortfolioState

NOW = datetime(2026, 1, 5, 15, 0, tzinfo=UTC)


def _state(rng: np.random.Generator, n: int, rows: int) -> PortfolioState:
    symbols = [f"S{i}" for i in range(n)]
    held = rng.random(n) < 0.7
    pairs = zip(symbols, held, strict=True)
    positions = {s: float(rng.integers(-50, 80)) if h else 0.0 for s, h in pairs}
    prices = {s: float(rng.uniform(5, 300)) for s in symbols}
    equity = float(rng.uniform(5_000, 50_000))
    history = None
    if rows:
        cols = symbols[: max(1, n - int(rng.integers(0, 2)))]  # sometimes one unmodelled
        history = pd.DataFrame(rng.normal(0, 0.02, (rows, len(cols))), columns=cols)
    times = [NOW - timedelta(seconds=float(x)) for x in rng.uniform(0, 120, rng.integers(0, 5))]
    return PortfolioState(
        equity=equity,
        cash=equity - sum(positions[s] * prices[s] for s in symbols),
        positions=positions,
        prices=prices,
        start_of_day_equity=equity * float(rng.uniform(0.97, 1.03)),
        peak_equity=equity * float(rng.uniform(1.0, 1.1)),
        recent_order_times=times,
        returns_history=history,
    )


@pytest.mark.parametrize("method", ["historical", "parametric"])
def test_limit_utilization_is_the_risk_reports(method: str) -> None:
    rng = np.random.default_rng(11)
    limits = RiskLimits(var_method=method)
    for k in range(200):
        state = _state(rng, n=int(rng.integers(1, 6)), rows=int(rng.choice([0, 1, 30, 250])))
        expected = portfolio_risk(state, limits, now=NOW).utilization
        got = limit_utilization(state, limits, now=NOW)
        assert list(got) == list(expected), k
        for name, value in expected.items():
            assert got[name] == value or (np.isnan(got[name]) and np.isnan(value)), (k, name)
