"""Backtest components: the costs, period and regime inputs, and the result views of a
backtest and a portfolio."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

import pandas as pd
import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from app.components import numbers
from app.components._backtest_figures import equity_figure, portfolio_figure
from app.components.charts import render_figures
from app.components.forms import cost_inputs
from app.components.tables import column_formats
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
PORTFOLIO_LABELS: dict[str, str] = {
    **{k: v for k, v in LABELS.items() if k != "n_trades"},
    "rebalances": "Rebalances",
    "orders": "Orders (fills)",
    "final_equity": "Final equity",
    "total_fees": "Fees paid",
}
"""A book's cards: its rebalances and orders instead of a single strategy's trades."""
REBALANCE_LABELS: dict[str, str] = {
    "M": "Monthly",
    "W": "Weekly",
    "none": "Never (buy and hold)",
}
"""The Rebalance choices as shown (the request's codes underneath)."""


MONEY = {"final_equity", "total_fees"}
COUNTS = {"n_trades", "max_drawdown_duration", "rebalances", "orders"}


def fmt(metric: str, value: float | None) -> str:
    """Format a metric for display: fractions as %, money in USD, counts as integers,
    ratios with two decimals; a missing value is a dash."""
    if metric in PERCENT:
        return numbers.pct(value, 2)
    if metric in MONEY:
        return numbers.money(value)
    if metric in COUNTS:
        return numbers.integer(value)
    return numbers.ratio(value)


def render_backtest(outcome: BacktestOutcome) -> None:
    """Metric cards (with buy-and-hold deltas), equity, drawdown and trades."""
    m, b = outcome.metrics, outcome.benchmark_metrics
    keys = [k for k in LABELS if k in m]
    cards = []
    for key in keys:
        cards.append((LABELS[key], fmt(key, m.get(key))))
    render_figures(cards)
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
    st.markdown(f"**Trades** ({len(outcome.trades):,})")
    trades = outcome.trades
    st.dataframe(
        trades,
        width="stretch",
        height=280,
        hide_index=True,
        column_config=column_formats(trades, kinds={"fees": "money"}),
    )


def symbol_spans(infos: Sequence[Mapping[str, Any]], dataset: str) -> dict[str, tuple[date, date]]:
    """Each symbol's first and last day in ``dataset``, from the dataset listing."""
    info = next((i for i in infos if i["name"] == dataset), None)
    return {
        str(s["symbol"]): (date.fromisoformat(str(s["start"])), date.fromisoformat(str(s["end"])))
        for s in (info or {}).get("symbols", [])
    }


def common_period(
    symbols: Sequence[str], spans: Mapping[str, tuple[date, date]]
) -> tuple[date, date] | None:
    """The period every symbol has data for (latest first day, earliest last day), or None
    when a symbol's span is unknown or they do not overlap."""
    if not symbols or any(s not in spans for s in symbols):
        return None
    first = max(spans[s][0] for s in symbols)
    last = min(spans[s][1] for s in symbols)
    return (first, last) if first <= last else None


def period_note(outcome: PortfolioOutcome, spans: Mapping[str, tuple[date, date]]) -> str:
    """Which bars the book ran on and why: the common period of its symbols within the
    chosen range, naming the symbols that start latest and end earliest."""
    req, index = outcome.request, outcome.equity.index
    ran = f"{numbers.day(index[0])} → {numbers.day(index[-1])} ({len(index):,} bars)"
    chosen = (
        f"{numbers.day(req.start) if req.start else 'the first bar'} → "
        f"{numbers.day(req.end) if req.end else 'the last bar'}"
    )
    text = (
        f"The book ran on {ran}: the bars all {len(req.symbols)} symbols share within the "
        f"chosen range {chosen}."
    )
    known = [s for s in req.symbols if s in spans]
    if known:
        first = max(spans[s][0] for s in known)
        last = min(spans[s][1] for s in known)
        late = [s for s in known if spans[s][0] == first]
        early = [s for s in known if spans[s][1] == last]
        text += (
            f" {', '.join(late)} {'starts' if len(late) == 1 else 'start'} {numbers.day(first)};"
            f" {', '.join(early)} {'ends' if len(early) == 1 else 'end'} {numbers.day(last)}."
        )
    return text


def render_portfolio(
    outcome: PortfolioOutcome, spans: Mapping[str, tuple[date, date]] | None = None
) -> None:
    """Book metrics, the period it ran on, equity with drawdown, and realized weights.

    ``spans`` are the symbols' first and last days (to say why the run's period is what
    it is)."""
    m, req = outcome.metrics, outcome.request
    keys = [k for k in PORTFOLIO_LABELS if k in m]
    render_figures([(PORTFOLIO_LABELS[k], fmt(k, m.get(k))) for k in keys])
    st.info(period_note(outcome, spans or {}))
    rebalance = REBALANCE_LABELS.get(req.rebalance, req.rebalance).lower()
    orders = (
        f"{numbers.integer(m.get('orders'))} orders on {numbers.integer(m.get('rebalances'))} "
        f"rebalance days"
        if "orders" in m
        else ""
    )
    st.caption(
        f"Run #{outcome.run_id}. {len(req.symbols)} symbols, {req.weighting.replace('_', ' ')} "
        f"weights, rebalanced {rebalance}{': ' + orders if orders else ''}. Shared cash "
        f"across assets. Execution: {outcome.execution}."
    )
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


RUN_KINDS: dict[str, tuple[str, str]] = {
    "backtest": ("Backtest", "the Backtest tab"),
    "portfolio": ("Portfolio", "the Portfolio tab"),
    "universe": ("Universe", "the Universe tab"),
    "sweep": ("Sweep", "the Sweep page"),
    "walkforward": ("Walk-forward", "the Walk-forward page"),
    "train": ("Training", "the Training page"),
    "abtest": ("A/B test", "the A/B test page"),
    "ensemble": ("Ensemble", "the Ensemble page"),
    "predictions": ("Predictions", "the Registry page"),
}
"""Each run kind's name in the table, and where it opens."""
REOPENED_HERE = ("backtest", "portfolio", "universe", "sweep")
"""The kinds the Saved runs tab reopens (the others open on their own pages)."""


def _figure(metrics: Mapping[str, Any], key: str) -> float | None:
    value = metrics.get(key)
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _params(values: Mapping[str, Any], names: Sequence[str]) -> str:
    return ", ".join(f"{n}={values[n]}" for n in names if n in values)


def saved_run_row(run: Any) -> dict[str, object]:
    """One saved run as a table row: its headline Sharpe and total return (a sweep's best
    combination, a universe's median symbol; none for a kind without them) and a line
    saying what the figures are."""
    m, spec = run.metrics, run.spec
    kind, opens = RUN_KINDS.get(run.kind, (run.kind.replace("_", " ").capitalize(), ""))
    sharpe, total = _figure(m, "sharpe"), _figure(m, "total_return")
    detail = ""
    if run.kind == "backtest":
        detail = f"{numbers.integer(m.get('n_trades'))} trades"
    elif run.kind == "portfolio":
        symbols = len(spec.get("symbols", []))
        detail = f"{symbols} symbols"
        if "orders" in m:
            detail += f", {numbers.integer(m['orders'])} orders on "
            detail += f"{numbers.integer(m['rebalances'])} rebalance days"
    elif run.kind == "sweep":
        best = m.get("best") or {}
        sharpe, total = _figure(best, "sharpe"), _figure(best, "total_return")
        combos = numbers.integer(m.get("combinations"))
        where = "per symbol, " if spec.get("all_symbols") else ""
        detail = f"best of {combos} combinations by {spec.get('metric', 'sharpe')} ({where}"
        detail += _params(best, list(spec.get("grid", {}))) + ")"
    elif run.kind == "universe":
        sharpe, total = _figure(m, "median_sharpe"), _figure(m, "median_total_return")
        detail = f"median of {numbers.integer(m.get('backtested'))} symbols backtested"
    elif opens:
        detail = f"opens on {opens}"
    return {
        "Run": run.id,
        "Kind": kind,
        "Title": run.title,
        "Saved": run.created_at.strftime("%Y-%m-%d %H:%M"),
        "Sharpe": numbers.ratio(sharpe),
        "Total return": numbers.pct(total, 2),
        "What the figures are": detail,
    }


def saved_runs_frame(runs: Sequence[Any]) -> pd.DataFrame:
    """Saved runs of every kind as a table (newest first, as listed)."""
    columns = ["Run", "Kind", "Title", "Saved", "Sharpe", "Total return", "What the figures are"]
    return pd.DataFrame([saved_run_row(r) for r in runs], columns=columns)


def render_saved_runs(frame: pd.DataFrame) -> None:
    """The saved-runs table (figures as text: Sharpe with two decimals, total return in %,
    a dash where a run has no such figure)."""
    st.dataframe(
        frame,
        width="stretch",
        hide_index=True,
        column_config={"Run": st.column_config.NumberColumn(format="%d")},
    )
