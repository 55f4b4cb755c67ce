"""The Data page's parts: refused uploads in plain words, and the Table tab."""

from __future__ import annotations

import re
from collections.abc import Sequence

import pandas as pd
import streamlit as st

from app.components.tables import column_formats
from core.data.formats import FLAGS
from core.data.validation import Defect

FORMAT_FIELDS = {
    "date_format": "Date format",
    "decimal": "Decimal separator",
    "thousands": "Thousands separator",
    "delimiter": "Delimiter",
    "timezone": "Time zone",
}

NAME_DEFECTS = ("bad_name", "name_taken")
"""Defects of the dataset name rather than of the file."""


def plain_defect(message: str) -> str:
    """A defect's sentence as the page says it: an option's CLI flag named by its field
    here (under File format), no regular expression."""
    for option, flag in FLAGS.items():
        message = message.replace(flag, f"the {FORMAT_FIELDS[option]} (under File format)")
    return re.sub(r" \(pattern [^)]*\)", "", message)


def show_defects(defects: Sequence[Defect], source: str) -> None:
    """A refused upload: the name's problem beside its field, then every defect of the
    file, one box each, after a line saying nothing was stored."""
    named = [d for d in defects if d.code in NAME_DEFECTS]
    found = [d for d in defects if d.code not in NAME_DEFECTS]
    for defect in named:
        st.error(f"Dataset name: {re.sub(r'^name (taken: )?', '', plain_defect(defect.message))}")
    if found:
        st.error(
            f"{source} was not imported: {len(found)} problem{'s' if len(found) > 1 else ''} "
            "to fix. Nothing was stored."
        )
        for defect in found:
            st.error(plain_defect(defect.message))


def render_table_tab(full: pd.DataFrame, dataset: str, symbol: str) -> None:
    """A symbol's prices as tables: each column's summary, the latest bars, a CSV download."""
    described = full.describe().T.rename_axis("column").reset_index()
    st.markdown("**Summary of each column**")
    st.dataframe(
        described,
        width="stretch",
        hide_index=True,
        column_config=column_formats(described, kinds={"count": "integer"}),
    )
    latest = full.tail(250).iloc[::-1].rename_axis("date").reset_index()
    st.markdown(f"**Latest {len(latest):,} bars** (newest first)")
    st.dataframe(
        latest,
        width="stretch",
        height=360,
        hide_index=True,
        column_config=column_formats(latest, kinds={"volume": "integer"}),
    )
    st.download_button(
        "Download CSV",
        lambda: full.to_csv().encode(),  # written on the click, not on every run
        file_name=f"{dataset}_{symbol}.csv",
        mime="text/csv",
    )
