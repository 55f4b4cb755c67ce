"""Small display components: metric cards, defect lists."""

from __future__ import annotations

from collections.abc import Sequence

import streamlit as st

from app.components import numbers
from core.data.validation import Defect


def render_metric_cards(items: Sequence[tuple[str, str]]) -> None:
    """Metric cards (label, formatted value) that flow and wrap with the page's width, each
    as wide as its text: no figure is cut at a narrow width (800 px with the sidebar open),
    unlike a fixed number of equal columns."""
    with st.container(horizontal=True, wrap=True, gap="large"):
        for label, value in items:
            st.metric(label, value, width="content")


def render_defects(defects: Sequence[Defect], *, source: str) -> None:
    """One error box per defect, naming what is wrong and how to fix it."""
    st.error(f"{source} was rejected: {len(defects)} problem(s). Nothing was stored.")
    for defect in defects:
        st.error(f"**{defect.code}**: {defect.message}")


def pct(value: float | None, digits: int = 2) -> str:
    """A fraction as a percentage with ``digits`` decimals (the metric cards' precision)."""
    return numbers.pct(value, digits)
