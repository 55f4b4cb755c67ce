"""Backtest components: the costs, period and regime inputs, and the result views of a
backtest and a portfolio."""

from __future__ import annotations

import math
from datetime import date
from typing import Any

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from app.components._backtest_figures import equity_figure, portfolio_figure
from app.components.forms import cost_inputs
from app.components.widgets import render_metric_cards
from app.operations.backtest import MAX_CASH, BacktestOutcome, BacktestRequest, PortfolioOutcome

PERCENT = {"total_return", "cagr", "volatility", "max_drawdown", "win_rate", "exposure"}
LABELS: dict[str, str] = {
    "total_return": "Total return",
    "cagr": "CAGR",
    "volatility": "Volatility (ann.)",
    "sharpe": "Sharpe",
    "sortino": "Sortino",
    "calmar": "Calmar",
    "max_drawdown": "Max drawdown",
    "max_drawdown_duration": "Max DD duration (bars)",
    "win_rate": "Win rate",
    "profit_factor": "Profit factor",
    "n_trades": "Trades",
    "exposure": "Exposure",
    "turnover": "Turnover (ann.)",
}


def fmt(metric: str, value: float | None) -> str:
    """Format a metric for display."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    if metric in PERCENT:
        return f"{value:.2%}"
    if metric in ("n_trades", "max_drawdown_duration"):
        return f"{int(value):,}"
    return f"{value:.2f}"


def render_backtest(outcome: BacktestOutcome) -> None:
    """Metric cards (with buy-and-hold deltas), equity, drawdown and trades."""
    m, b = outcome.metrics, outcome.benchmark_metrics
    keys = [k for k in LABELS if k in m]
    cards = []
    for key in keys:
        cards.append((LABELS[key], fmt(key, m.get(key))))
    render_metric_cards(cards, per_row=5)
    bench = ", ".join(
        f"{LABELS[k].lower()} {fmt(k, b.get(k))}"
        for k in ("total_return", "sharpe", "max_drawdown")
    )
    st.caption(
        f"Buy-and-hold on the same data and costs: {bench}. "
        f"Execution: {outcome.execution}. Fees {outcome.request.fees:.2%} and slippage "
        f"{outcome.request.slippage:.2%} per fill."
    )
    st.plotly_chart(equity_figure(outcome), width="stretch", key=f"equity.{outcome.run_id}")
    st.markdown(f"**Trades** ({len(outcome.trades)})")
    st.dataframe(outcome.trades, width="stretch", height=280, hide_index=True)


def render_portfolio(outcome: PortfolioOutcome) -> None:
    """Book metrics, equity with drawdown, and realized weights over time."""
    m = outcome.metrics
    keys = [k for k in LABELS if k in m]
    render_metric_cards([(LABELS[k], fmt(k, m.get(k))) for k in keys], per_row=5)
    st.caption(f"Run #{outcome.run_id}. Shared cash across assets. Execution: {outcome.execution}.")
    fig = portfolio_figure(outcome)
    st.plotly_chart(fig, width="stretch", key=f"portfolio.{outcome.run_id}")


def costs_period_inputs(
    prefix: str, *, dataset: str, symbol: str, first: date, last: date
) -> tuple[float, float, float, date, date]:
    """Fees, slippage, starting cash and date range in one row (inside a form).

    Returns ``(fees, slippage, init_cash, start, end)``; fees and slippage as fractions.
    The defaults come from :class:`BacktestRequest`; the range defaults to all the data.
    """
    c1, c2, c3, c4 = st.columns(4)
    fees, slip = cost_inputs(c1, c2, fees_key=f"{prefix}.fees", slippage_key=f"{prefix}.slip")
    cash_default = float(BacktestRequest.model_fields["init_cash"].default)
    cash = c3.number_input(
        "Initial cash", 1_000.0, MAX_CASH, cash_default, 1_000.0, key=f"{prefix}.cash"
    )
    picked = c4.date_input(
        "Date range",
        (first, last),
        min_value=first,
        max_value=last,
        key=f"{prefix}.range.{dataset}.{symbol}",
    )
    start, end = picked if isinstance(picked, tuple) and len(picked) == 2 else (first, last)
    return fees, slip, cash, start, end


def regime_inputs(prefix: str) -> tuple[dict[str, Any], DeltaGenerator]:
    """The optional regime filter (inside a form): the request's ``regime_*`` values, and
    the slot where an error about them is shown."""
    fields = BacktestRequest.model_fields
    with st.expander("Regime filter (optional)"):
        r1, r2, r3 = st.columns([1, 2, 1])
        mode = r1.radio(
            "Mode",
            ["off", "filter", "scale"],
            horizontal=True,
            key=f"{prefix}.regime_mode",
            help="filter: trade only in the chosen regimes; scale: size by confidence",
        )
        regimes = r2.multiselect(
            "Trade in regimes",
            ["bull", "bear", "sideways", "volatile"],
            default=["bull", "sideways"],
            key=f"{prefix}.regimes",
        )
        default_p = float(fields["regime_min_prob"].default)
        min_prob = r3.slider("Min probability", 0.0, 1.0, default_p, 0.05, key=f"{prefix}.regime_p")
        slot = st.empty()
        st.caption(
            "Uses forward-filtered HMM probabilities; the HMM is fitted only on bars before "
            f"the test window (or on the first {fields['regime_train_bars'].default} bars, "
            "kept flat)."
        )
    return {"regime_mode": mode, "regimes": regimes, "regime_min_prob": min_prob}, slot


def saved_runs_rows(runs: list[Any]) -> list[dict[str, object]]:
    """Saved backtests and sweeps as table rows (newest first, as listed)."""
    return [
        {
            "id": r.id,
            "kind": r.kind,
            "title": r.title,
            "created": r.created_at.strftime("%Y-%m-%d %H:%M:%S"),
            "sharpe": r.metrics.get("sharpe"),
            "total_return": r.metrics.get("total_return"),
            "combinations": r.metrics.get("combinations"),
        }
        for r in runs
    ]
