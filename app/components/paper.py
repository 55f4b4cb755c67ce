"""Live-monitor components for paper trading."""

from __future__ import annotations

from typing import Any

import pandas as pd
import plotly.graph_objects as go
import streamlit as st
from plotly.subplots import make_subplots

from app.components.numbers import money
from app.components.paper_live import age_text
from app.components.tables import column_formats
from app.components.widgets import render_metric_cards
from core.paper.monitor import MonitorView

STATE_CSS = (
    "<style>.st-key-paper-state [data-testid='stMetricValue']{font-size: 1.4rem;}"
    ".st-key-paper-state [data-testid='stMetricValue'] > div{white-space: normal;}</style>"
)
"""The worker-state cards hold words ("market_closed"): a smaller, wrapping value."""


def _bar_text(ts: Any, timeframe: str) -> str:
    """The last bar's label: its date for daily bars, else its UTC time."""
    stamp = pd.Timestamp(ts)
    return str(stamp.date()) if timeframe == "1Day" else stamp.strftime("%d %b %H:%M UTC")


def render_headline(view: MonitorView, status: dict[str, Any]) -> None:
    """Equity, P&L and cash in dollars, then the worker's state, heartbeat, latency and
    bar (rows of three, so that seven-figure amounts and dates fit at 800 px)."""
    account = view.account or {
        "equity": float("nan"),
        "cash": float("nan"),
        "initial_cash": float("nan"),
    }
    realized = float(view.positions["realized_pnl"].sum()) if len(view.positions) else 0.0
    unrealized = float(view.positions["unrealized_pnl"].sum()) if len(view.positions) else 0.0
    beat = view.heartbeat
    worker = (beat or {}).get("status", "no worker") if view.alive else "not running"
    worker = str(worker).replace("_", " ")  # words wrap in a narrow card
    render_metric_cards(
        [
            ("Equity", money(account["equity"], digits=0)),
            ("Total P&L", money(account["equity"] - account["initial_cash"], digits=0)),
            ("Cash", money(account["cash"], digits=0)),
            ("Realized P&L", money(realized, digits=0)),
            ("Unrealized P&L", money(unrealized, digits=0)),
        ],
    )
    with st.container(key="paper-state"):
        st.html(STATE_CSS)
        render_metric_cards(
            [
                ("Worker", worker),
                ("Desired state", view.control["desired_state"]),
                ("Heartbeat", age_text(status["heartbeat_age_s"])),
                ("Cycle latency", f"{beat['latency_ms']:.0f} ms" if view.alive and beat else "—"),
                (
                    "Bar",
                    ""
                    if not view.session or view.session["cursor_ts"] is None
                    else _bar_text(view.session["cursor_ts"], status["timeframe"]),
                ),
            ],
        )
    if view.control.get("reason"):
        st.caption(
            f"Control: {view.control['desired_state']} by {view.control['updated_by']}"
            f" — {view.control['reason']}"
        )
    if beat is not None and beat.get("last_error"):
        st.warning(f"Last worker error: {beat['last_error']}")


def equity_figure(equity: pd.DataFrame) -> go.Figure:
    """Equity with realized and unrealized P&L."""
    fig = make_subplots(
        rows=2,
        cols=1,
        shared_xaxes=True,
        row_heights=[0.65, 0.35],
        vertical_spacing=0.06,
        subplot_titles=["Equity", "P&L"],
    )
    fig.add_trace(go.Scatter(x=equity["ts"], y=equity["equity"], name="equity"), row=1, col=1)
    fig.add_trace(
        go.Scatter(x=equity["ts"], y=equity["realized_pnl"], name="realized"), row=2, col=1
    )
    fig.add_trace(
        go.Scatter(x=equity["ts"], y=equity["unrealized_pnl"], name="unrealized"), row=2, col=1
    )
    fig.update_layout(
        height=460,
        margin={"l": 10, "r": 10, "t": 40, "b": 10},
        legend={"orientation": "h", "y": -0.1},
    )
    return fig


def gauges_figure(utilization: dict[str, float]) -> go.Figure:
    """One gauge per risk limit: share of the limit in use (red beyond 100%)."""
    items = sorted(utilization.items())
    cols = 4
    rows = max(1, -(-len(items) // cols))
    fig = make_subplots(
        rows=rows, cols=cols, specs=[[{"type": "indicator"}] * cols for _ in range(rows)]
    )
    for i, (name, value) in enumerate(items):
        fig.add_trace(
            go.Indicator(
                mode="gauge+number",
                value=100 * value,
                number={"suffix": "%"},
                title={"text": name.replace("_", " "), "font": {"size": 12}},
                gauge={
                    "axis": {"range": [0, 120]},
                    "bar": {
                        "color": "#c62828" if value > 1 else "#f9a825" if value > 0.8 else "#2e7d32"
                    },
                    "threshold": {"line": {"color": "black", "width": 2}, "value": 100},
                },
            ),
            row=i // cols + 1,
            col=i % cols + 1,
        )
    fig.update_layout(height=220 * rows, margin={"l": 20, "r": 20, "t": 40, "b": 10})
    return fig


def render_decision_panel(view: MonitorView) -> None:
    """The latest regime probabilities and agent weights, then the decision log."""
    if view.decisions.empty:
        st.info("No decisions yet.")
        return
    latest = view.decisions.iloc[0]
    left, right = st.columns(2)
    probs = latest["regime_probs"] or {}
    weights = latest["weights"] or {}
    left.markdown(f"**Regime: {latest['regime']}** (filtered probabilities)")
    left.plotly_chart(
        go.Figure(go.Bar(x=list(probs), y=list(probs.values()))).update_layout(
            height=220,
            margin={"l": 10, "r": 10, "t": 10, "b": 10},
            yaxis_range=[0, 1],
            yaxis_tickformat=".0%",
        ),
        width="stretch",
        key="paper.regime_probs",
    )
    right.markdown("**Agent weights** (meta-selector)")
    right.plotly_chart(
        go.Figure(go.Bar(x=list(weights), y=list(weights.values()))).update_layout(
            height=220,
            margin={"l": 10, "r": 10, "t": 10, "b": 10},
            yaxis_range=[0, 1],
            yaxis_tickformat=".0%",
        ),
        width="stretch",
        key="paper.weights",
    )
    st.markdown("**Latest decisions**")
    shown = view.decisions[
        ["ts", "symbol", "regime", "target", "order_qty", "approved_qty", "risk", "explanation"]
    ]
    shown = shown.head(50)
    st.dataframe(
        shown,
        width="stretch",
        hide_index=True,
        column_config=column_formats(
            shown, kinds={"target": "percent", "order_qty": "number", "approved_qty": "number"}
        ),
    )
