"""Small display components: metric cards, defect lists."""

from __future__ import annotations

from collections.abc import Sequence

import streamlit as st

from app.components import numbers
from core.data.validation import Defect


def render_metric_cards(items: Sequence[tuple[str, str]], *, per_row: int = 4) -> None:
    """Metric cards in rows of ``per_row``: (label, formatted value)."""
    for start in range(0, len(items), per_row):
        columns = st.columns(per_row)
        for column, (label, value) in zip(columns, items[start : start + per_row], strict=False):
            column.metric(label, value)


def render_defects(defects: Sequence[Defect], *, source: str) -> None:
    """One error box per defect, naming what is wrong and how to fix it."""
    st.error(f"{source} was rejected: {len(defects)} problem(s). Nothing was stored.")
    for defect in defects:
        st.error(f"**{defect.code}**: {defect.message}")


def pct(value: float | None, digits: int = 2) -> str:
    """A fraction as a percentage with ``digits`` decimals (the metric cards' precision)."""
    return numbers.pct(value, digits)
