"""The Paper trading page's Orders tab: open orders and fills, headed in words."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import pandas as pd
import streamlit as st

from app.components.tables import Kind, column_formats

if TYPE_CHECKING:
    from core.paper.monitor import MonitorView

QUANTITIES: dict[str, Kind] = {"qty": "number", "filled_qty": "number"}
HEADERS = {
    "client_order_id": "Order id",
    "qty": "Quantity",
    "filled_qty": "Filled",
    "avg_fill_price": "Average fill price",
    "created_at": "Created",
    "ts": "Bar",
}
"""Column headers of the orders and fills tables in words (the rest: the name capitalised)."""


def table_config(frame: pd.DataFrame, kinds: Mapping[str, Kind]) -> dict[str, Any]:
    """Each column's format (:func:`column_formats`) under a header in words."""
    formats = column_formats(frame, kinds=kinds)
    return {
        name: {**formats.get(name, {}), "label": HEADERS.get(name, name.capitalize())}
        for name in map(str, frame.columns)
    }


def render_orders(view: MonitorView) -> None:
    """The session's open orders, then its fills."""
    st.markdown(f"**Open orders** ({len(view.open_orders)})")
    st.dataframe(
        view.open_orders,
        width="stretch",
        hide_index=True,
        column_config=table_config(view.open_orders, QUANTITIES),
    )
    st.markdown("**Fills**")
    st.dataframe(
        view.fills,
        width="stretch",
        hide_index=True,
        column_config=table_config(view.fills, {**QUANTITIES, "fee": "money"}),
    )
