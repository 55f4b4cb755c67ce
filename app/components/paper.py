"""Live-monitor components for paper trading."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import get_args

import pandas as pd
import plotly.graph_objects as go
import streamlit as st
from plotly.subplots import make_subplots

from app.components.forms import cost_inputs
from app.components.widgets import render_metric_cards
from app.operations.paper import PaperRequest
from core.paper.monitor import MonitorView

START_LABELS = {
    "session": "Session",
    "symbols": "Symbols",
    "train_bars": "Training bars",
    "initial_cash": "Starting cash",
    "fees": "Fees (bps per fill)",
    "slippage": "Slippage (bps per fill)",
    "seed": "Seed",
}
"""Label of each request field in the start form (named in its validation messages)."""


def _choices(field: str) -> list[str]:
    """A literal field's values, its default first."""
    info = PaperRequest.model_fields[field]
    return [info.default, *(v for v in get_args(info.annotation) if v != info.default)]


def render_start_form(symbols: list[str], on_start: Callable[[], None]) -> None:
    """A new session's settings (defaults from :class:`PaperRequest`; a stored session
    is started with its own), the replay speed and a confirmation."""
    new, label = PaperRequest(), START_LABELS
    with st.form("paper.start_form"):
        c1, c2, c3, c4 = st.columns(4)
        c1.text_input(label["session"], value=new.session, key="paper.session")
        c2.multiselect("Symbols (ohlcv_daily)", symbols, default=new.symbols, key="paper.symbols")
        c3.number_input("Speed (bars/s)", 0.5, 500.0, 20.0, 0.5, key="paper.speed")
        c4.number_input(label["train_bars"], 250, 4000, new.train_bars, 50, key="paper.train")
        c5, c6, c7, c8 = st.columns(4)
        c5.number_input(label["initial_cash"], 1e3, 1e9, new.initial_cash, 1e3, key="paper.cash")
        cost_inputs(c6, c7, fees_key="paper.fees", slippage_key="paper.slippage")
        c8.number_input(label["seed"], 0, 2**31 - 1, new.seed, 1, key="paper.seed")
        c9, c10, c11 = st.columns(3)
        c9.radio("Broker", _choices("broker"), horizontal=True, key="paper.broker")
        c10.selectbox("Selector", _choices("selector"), key="paper.selector")
        c11.checkbox("I confirm starting the worker", key="paper.confirm_start")
        st.form_submit_button("Start", type="primary", on_click=on_start)


def _money(value: float) -> str:
    return f"{value:,.0f}"


def render_headline(view: MonitorView) -> None:
    """Equity, P&L, worker state and heartbeat."""
    account = view.account or {
        "equity": float("nan"),
        "cash": float("nan"),
        "initial_cash": float("nan"),
    }
    realized = float(view.positions["realized_pnl"].sum()) if len(view.positions) else 0.0
    unrealized = float(view.positions["unrealized_pnl"].sum()) if len(view.positions) else 0.0
    beat = view.heartbeat
    age = "never"
    if beat is not None:
        ts = beat["ts"] if beat["ts"].tzinfo else beat["ts"].replace(tzinfo=UTC)
        age = f"{(datetime.now(UTC) - ts).total_seconds():.0f} s ago"
    worker = (beat or {}).get("status", "no worker") if view.alive else "not running"
    render_metric_cards(
        [
            ("Equity", _money(account["equity"])),
            ("Total P&L", _money(account["equity"] - account["initial_cash"])),
            ("Realized P&L", _money(realized)),
            ("Unrealized P&L", _money(unrealized)),
            ("Cash", _money(account["cash"])),
            ("Worker", worker),
            ("Desired state", view.control["desired_state"]),
            ("Heartbeat", age),
            ("Cycle latency", f"{(beat or {}).get('latency_ms', 0):.0f} ms"),
            (
                "Bar",
                ""
                if not view.session or view.session["cursor_ts"] is None
                else str(pd.Timestamp(view.session["cursor_ts"]).date()),
            ),
        ],
        per_row=5,
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
            height=220, margin={"l": 10, "r": 10, "t": 10, "b": 10}, yaxis_range=[0, 1]
        ),
        width="stretch",
        key="paper.regime_probs",
    )
    right.markdown("**Agent weights** (meta-selector)")
    right.plotly_chart(
        go.Figure(go.Bar(x=list(weights), y=list(weights.values()))).update_layout(
            height=220, margin={"l": 10, "r": 10, "t": 10, "b": 10}, yaxis_range=[0, 1]
        ),
        width="stretch",
        key="paper.weights",
    )
    st.markdown("**Latest decisions**")
    shown = view.decisions[
        ["ts", "symbol", "regime", "target", "order_qty", "approved_qty", "risk", "explanation"]
    ]
    st.dataframe(shown.head(50), width="stretch", hide_index=True)
