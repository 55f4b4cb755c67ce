"""Risk components: the limits in force, the limits form, and the portfolio risk view."""

from __future__ import annotations

from typing import Any, get_args

import plotly.graph_objects as go
import streamlit as st

from app.components.numbers import integer, money, number, pct
from app.components.widgets import render_metric_cards
from core.risk import RiskLimits
from core.risk.limits import LIMIT_BOUNDS

#: Widget key of each limit in the change form: ``f"{FORM_KEY}.{name}"`` (stable across
#: versions, so an edit is never dropped when a new version comes into force).
FORM_KEY = "risk.form"
LIMIT_LABELS = {name: name.replace("_", " ") for name in RiskLimits.model_fields}
"""What the page calls each limit (its input label starts with it; errors name it so)."""
_FRACTION_UNITS = ("a fraction of equity", "a fraction of peak equity", "a share of portfolio")


def _is_fraction(name: str) -> bool:
    return LIMIT_BOUNDS[name].unit.startswith(_FRACTION_UNITS)


def limit_text(name: str, value: Any) -> str:
    """A limit's value as shown to people: fractions as entered and as a percentage,
    money in the account currency, counts as whole numbers.

    >>> limit_text("max_drawdown", 0.15), limit_text("max_order_notional", 50000.0)
    ('0.15 (15.0%)', '$50,000.00')
    """
    if name not in LIMIT_BOUNDS:
        return str(value)
    if _is_fraction(name):
        return f"{value:g} ({pct(value)})"
    if name == "max_order_notional":
        return money(value)
    if RiskLimits.model_fields[name].annotation is int:
        return integer(value)
    return f"{number(value, 2)}×"


def _bound(value: float) -> str:
    """One end of a valid range: thousands separated, a trillion in words."""
    if value >= 1e12 and value % 1e12 == 0:
        return f"{value / 1e12:g} trillion"
    return integer(value) if value == int(value) else f"{value:g}"


def range_text(name: str) -> str:
    """A limit's valid range in interval notation, e.g. ``[1, 10,000]``.

    >>> range_text("max_drawdown"), range_text("max_order_notional")
    ('(0, 1]', '(0, 1 trillion]')
    """
    bounds = LIMIT_BOUNDS[name]
    left = "[" if bounds.low_inclusive else "("
    return f"{left}{_bound(bounds.low)}, {_bound(bounds.high)}]"


def changes_text(changes: dict[str, tuple[Any, Any]]) -> str:
    """A version's changes, each value as the limits table shows it.

    >>> changes_text({"max_weight_per_asset": (0.25, 0.2)})
    'max_weight_per_asset: 0.25 (25.0%) → 0.2 (20.0%)'
    """
    return "; ".join(
        f"{k}: {limit_text(k, a) if a is not None else '–'} → {limit_text(k, b)}"
        for k, (a, b) in changes.items()
    )


def render_limits_table(limits: RiskLimits) -> None:
    """Each limit in force with its value, unit, valid range and meaning (all text)."""
    rows = []
    for name, field in RiskLimits.model_fields.items():
        bounds = LIMIT_BOUNDS.get(name)
        rows.append(
            {
                "limit": name,
                "value": limit_text(name, getattr(limits, name)),
                "unit": bounds.unit if bounds else "choice",
                "valid range": range_text(name)
                if bounds
                else " | ".join(get_args(field.annotation)),
                "meaning": field.description or "",
            }
        )
    st.dataframe(rows, width="stretch", hide_index=True)


def form_values(limits: RiskLimits) -> dict[str, Any]:
    """Session-state values of the form's widgets for ``limits`` (typed per widget)."""
    out: dict[str, Any] = {}
    for name, field in RiskLimits.model_fields.items():
        value = getattr(limits, name)
        kind = field.annotation
        out[f"{FORM_KEY}.{name}"] = (
            int(value) if kind is int else (float(value) if kind is float else value)
        )
    return out


def render_limits_inputs(errors: dict[str, str], columns: int = 3) -> None:
    """One input per limit (values come from session state, see :func:`form_values`),
    labelled with its unit and valid range; ``errors`` are shown beside their field."""
    grid = st.columns(columns)
    for i, (name, field) in enumerate(RiskLimits.model_fields.items()):
        key = f"{FORM_KEY}.{name}"
        with grid[i % columns]:
            bounds = LIMIT_BOUNDS.get(name)
            label = LIMIT_LABELS[name]
            if bounds is None:
                st.selectbox(label, get_args(field.annotation), key=key, help=field.description)
            else:
                unit = bounds.unit.removeprefix("a ").removeprefix("an ")
                label = f"{label} — {unit}, {range_text(name)}"
                help_text = (
                    f"{field.description}; {bounds.unit} in {range_text(name)}, "
                    f"e.g. {bounds.example}"
                )
                if field.annotation is int:
                    st.number_input(label, step=1, key=key, help=help_text)
                elif _is_fraction(name):
                    st.number_input(label, step=0.01, format="%.4f", key=key, help=help_text)
                else:
                    step = 1000.0 if name == "max_order_notional" else 0.1
                    st.number_input(label, step=step, format="%.2f", key=key, help=help_text)
            if errors.get(name):
                st.error(errors[name])


def render_risk_report(report: Any) -> None:
    """Metric cards, correlation heatmap and Euler risk contributions."""
    render_metric_cards(
        [
            ("Equity", money(report.equity, digits=0)),
            ("Gross exposure", pct(report.gross_exposure)),
            ("Net exposure", pct(report.net_exposure)),
            ("1-day VaR 95% (hist.)", pct(report.var_hist, 2)),
            ("1-day VaR 95% (param.)", pct(report.var_param, 2)),
            ("CVaR 95% (hist.)", pct(report.cvar_hist, 2)),
            ("Volatility (1-day)", pct(report.volatility, 2)),
            ("Volatility (ann.)", pct(report.volatility_annual)),
            ("Drawdown", pct(report.drawdown)),
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
        [{"limit": k, "used": pct(v, 0)} for k, v in sorted(report.utilization.items())],
        width="stretch",
        hide_index=True,
    )
    if report.unmodelled:
        st.caption("Not modelled: " + ", ".join(report.unmodelled))
