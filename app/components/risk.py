"""Portfolio risk components: exposures, VaR/CVaR, correlation, risk contributions."""

from __future__ import annotations

from typing import Any

import plotly.graph_objects as go
import streamlit as st

from app.components.widgets import render_metric_cards


def render_risk_report(report: Any) -> None:
    """Metric cards, correlation heatmap and Euler risk contributions."""
    render_metric_cards(
        [
            ("Equity", f"{report.equity:,.0f}"),
            ("Gross exposure", f"{report.gross_exposure:.1%}"),
            ("Net exposure", f"{report.net_exposure:.1%}"),
            ("1-day VaR 95% (hist.)", f"{report.var_hist:.2%}"),
            ("1-day VaR 95% (param.)", f"{report.var_param:.2%}"),
            ("CVaR 95% (hist.)", f"{report.cvar_hist:.2%}"),
            ("Volatility (ann.)", f"{report.volatility:.1%}"),
            ("Drawdown", f"{report.drawdown:.1%}"),
        ]
    )
    left, right = st.columns(2)
    with left:
        st.markdown("**Weights and risk contributions**")
        names = sorted(report.weights)
        fig = go.Figure(
            [
                go.Bar(x=names, y=[report.weights[n] for n in names], name="weight"),
                go.Bar(
                    x=names, y=[report.risk_shares.get(n, 0.0) for n in names], name="share of risk"
                ),
            ]
        )
        fig.update_layout(
            height=320,
            barmode="group",
            yaxis_tickformat=".0%",
            margin={"l": 10, "r": 10, "t": 10, "b": 10},
        )
        st.plotly_chart(fig, width="stretch", key="risk.contrib")
    with right:
        st.markdown("**Correlation of daily returns** (last 250 days)")
        corr = report.correlation
        if corr is not None and not corr.empty:
            fig = go.Figure(
                go.Heatmap(
                    z=corr.to_numpy(),
                    x=list(corr.columns),
                    y=list(corr.index),
                    zmin=-1,
                    zmax=1,
                    colorscale="RdBu",
                    reversescale=True,
                )
            )
            fig.update_layout(height=320, margin={"l": 10, "r": 10, "t": 10, "b": 10})
            st.plotly_chart(fig, width="stretch", key="risk.corr")
        else:
            st.caption("Needs positions with a returns history.")
    st.markdown("**Limit utilization**")
    st.dataframe(
        [{"limit": k, "used": f"{v:.0%}"} for k, v in sorted(report.utilization.items())],
        width="stretch",
        hide_index=True,
    )
    if report.unmodelled:
        st.caption("Not modelled: " + ", ".join(report.unmodelled))
