"""Model-registry components: the versions table, a side-by-side comparison, the audit trail."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd
import streamlit as st

from core.registry import VersionRow


def versions_table(rows: Sequence[VersionRow]) -> pd.DataFrame:
    """The registry as a display table, newest version of each name first."""
    return pd.DataFrame(
        [
            {
                "id": v.id,
                "name": v.name,
                "version": v.version,
                "kind": v.kind,
                "stage": v.stage,
                "train range": f"{v.train_start} → {v.train_end}",
                "ROC-AUC": v.metrics.get("roc_auc"),
                "signal Sharpe": v.metrics.get("signal_sharpe"),
                "features": len(v.features),
                "run": v.metrics.get("run_id"),
                "created": pd.Timestamp(v.created_at).strftime("%Y-%m-%d %H:%M:%S")
                if v.created_at
                else None,
            }
            for v in rows
        ],
        columns=[
            "id",
            "name",
            "version",
            "kind",
            "stage",
            "train range",
            "ROC-AUC",
            "signal Sharpe",
            "features",
            "run",
            "created",
        ],
    )


def render_versions(rows: Sequence[VersionRow]) -> None:
    """Registry table with number formats."""
    st.dataframe(
        versions_table(rows),
        width="stretch",
        hide_index=True,
        column_config={
            "ROC-AUC": st.column_config.NumberColumn(format="%.4f"),
            "signal Sharpe": st.column_config.NumberColumn(format="%.2f"),
        },
        key="registry.table",
    )


def render_compare(frame: pd.DataFrame, *, only_differences: bool = False) -> None:
    """Two versions side by side; rows that differ are marked (or shown alone)."""
    differs = [
        not (pd.isna(a) and pd.isna(b)) and a != b
        for a, b in zip(frame.iloc[:, 0], frame.iloc[:, 1], strict=True)
    ]
    shown = frame.copy()
    shown.insert(0, "differs", ["≠" if d else "" for d in differs])
    if only_differences:
        shown = shown[differs]
    st.dataframe(
        shown,
        width="stretch",
        height=min(36 * (len(shown) + 1) + 3, 800),
        key="registry.compare.table",
    )


def render_events(events: Sequence[dict[str, Any]]) -> None:
    """The registry audit trail, newest first."""
    if not events:
        st.info("No registry events yet.")
        return
    frame = pd.DataFrame(events)
    frame["at"] = pd.to_datetime(frame["at"]).dt.strftime("%Y-%m-%d %H:%M:%S")
    st.dataframe(frame, width="stretch", hide_index=True, key="registry.events")
