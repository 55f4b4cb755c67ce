"""Latency benchmark of the pre-trade check (for ``workbench bench``)."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

from core.risk.limits import RiskLimits
from core.risk.pretrade import ProposedOrder, pre_trade_check
from core.risk.state import PortfolioState


def bench_state(*, n_assets: int = 20, n_days: int = 500, seed: int = 0) -> PortfolioState:
    """A realistic snapshot: ``n_assets`` held names, ``n_days`` of correlated returns."""
    rng = np.random.default_rng(seed)
    symbols = [f"S{i:03d}" for i in range(n_assets)]
    market = rng.normal(0.0003, 0.01, n_days)
    returns = market[:, None] + rng.normal(0.0, 0.012, (n_days, n_assets))
    prices = {s: float(p) for s, p in zip(symbols, rng.uniform(20, 400, n_assets), strict=True)}
    equity = 1_000_000.0
    positions = {s: float(np.floor(0.6 * equity / n_assets / prices[s])) for s in symbols}
    value = sum(q * prices[s] for s, q in positions.items())
    now = datetime.now(UTC)
    return PortfolioState(
        equity=equity,
        cash=equity - value,
        positions=positions,
        prices=prices,
        start_of_day_equity=equity * 1.001,
        peak_equity=equity * 1.02,
        recent_order_times=[now - timedelta(seconds=5 * i) for i in range(10)],
        returns_history=pd.DataFrame(returns, columns=symbols),
    )


def bench_pre_trade(
    *,
    n: int = 5_000,
    n_assets: int = 20,
    n_days: int = 500,
    seed: int = 0,
    clock: Callable[[], int] = time.perf_counter_ns,
) -> dict[str, Any]:
    """Time ``n`` pre-trade checks of random orders against one snapshot.

    ``clock`` returns nanoseconds; it is read just before and just after each check
    (tests inject a fake one to check the percentiles).

    Returns
    -------
    dict
        ``p50_us``, ``p95_us``, ``p99_us``, ``max_us``, ``n``, ``n_assets``, ``n_days``,
        ``approved_share`` and ``target_p99_us`` (1,000).
    """
    state = bench_state(n_assets=n_assets, n_days=n_days, seed=seed)
    limits = RiskLimits(var_limit_95=0.05, max_concentration=0.5)
    rng = np.random.default_rng(seed + 1)
    symbols = list(state.prices)
    orders = [
        ProposedOrder(
            symbol=symbols[int(rng.integers(len(symbols)))],
            side="buy" if rng.random() < 0.6 else "sell",
            qty=float(rng.integers(1, 400)),
        )
        for _ in range(n)
    ]
    now = datetime.now(UTC)
    limits_hist = limits
    limits_param = limits.model_copy(update={"var_method": "parametric"})
    for order in orders[:50]:  # warm caches
        pre_trade_check(order, state, limits_hist, now)
    times = np.empty(n)
    approved = 0
    for i, order in enumerate(orders):
        lim = limits_hist if i % 2 == 0 else limits_param
        t0 = clock()
        decision = pre_trade_check(order, state, lim, now)
        times[i] = (clock() - t0) / 1e3
        approved += decision.approved
    p50, p95, p99 = np.percentile(times, [50, 95, 99])
    return {
        "n": n,
        "n_assets": n_assets,
        "n_days": n_days,
        "p50_us": round(float(p50), 1),
        "p95_us": round(float(p95), 1),
        "p99_us": round(float(p99), 1),
        "max_us": round(float(times.max()), 1),
        "approved_share": round(approved / n, 3),
        "target_p99_us": 1000.0,
    }
