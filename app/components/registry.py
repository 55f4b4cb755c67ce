"""Model-registry components: the versions table, a side-by-side comparison, the audit trail."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd
import streamlit as st

from app.components.numbers import MISSING, day, integer, number, pct, ratio
from app.components.training import param_text
from core.registry import VersionRow

METRIC_ROWS: dict[str, tuple[str, Any]] = {
    "roc_auc": ("ROC-AUC", lambda x: number(x, 4)),
    "pr_auc": ("PR-AUC", lambda x: number(x, 4)),
    "log_loss": ("Log loss", lambda x: number(x, 4)),
    "brier": ("Brier score", lambda x: number(x, 4)),
    "accuracy": ("Accuracy", lambda x: pct(x, 2)),
    "signal_sharpe": ("Signal Sharpe", ratio),
    "trials": ("Tuning trials", integer),
    "run_id": ("Training run", lambda x: MISSING if x is None else f"#{int(x)}"),
}
"""How each registered metric is named and shown in the comparison."""


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
                "run": MISSING if v.run_id is None else f"#{v.run_id}",
                "created": day(v.created_at),
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


def compare_frame(a: VersionRow, b: VersionRow) -> pd.DataFrame:
    """Two versions side by side as text in their units, one column each (named
    ``momentum_lr v2``): metrics to 4 decimals or in %, counts with separators."""

    def shown(v: VersionRow) -> dict[str, str]:
        metrics = {
            label: fmt(v.metrics.get(key))
            for key, (label, fmt) in METRIC_ROWS.items()
            if key in a.metrics or key in b.metrics
        }
        others = {
            f"metric: {k}": param_text(val) for k, val in v.metrics.items() if k not in METRIC_ROWS
        }
        return {
            "Kind": v.kind,
            "Stage": v.stage,
            "Training data": f"{day(v.train_start)} → {day(v.train_end)}",
            "Features": integer(len(v.features)),
            **metrics,
            **others,
            **{f"param: {k}": param_text(val) for k, val in v.params.items()},
        }

    left, right = shown(a), shown(b)
    rows = list(dict.fromkeys([*left, *right]))
    return pd.DataFrame(
        {
            a.label: [left.get(r, MISSING) for r in rows],
            b.label: [right.get(r, MISSING) for r in rows],
        },
        index=pd.Index(rows, name="field"),
    )


def render_compare(a: VersionRow, b: VersionRow, *, only_differences: bool = False) -> None:
    """Two versions side by side; rows that differ are marked (or shown alone)."""
    frame = compare_frame(a, b)
    differs = [x != y for x, y in zip(frame.iloc[:, 0], frame.iloc[:, 1], strict=True)]
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


def events_frame(events: Sequence[dict[str, Any]], labels: Mapping[int, str]) -> pd.DataFrame:
    """The audit trail as shown: each version by its label (``momentum_lr v2``), times
    to the second in UTC."""
    frame = pd.DataFrame(events)
    frame.insert(
        2,
        "version",
        [labels.get(int(i), f"version id {int(i)}") for i in frame["version_id"]],
    )
    frame["at"] = pd.to_datetime(frame["at"]).dt.strftime("%Y-%m-%d %H:%M:%S")
    return frame.rename(columns={"at": "at (UTC)"})


def render_events(events: Sequence[dict[str, Any]], labels: Mapping[int, str]) -> None:
    """The registry audit trail, newest first."""
    if not events:
        st.info("No registry events yet.")
        return
    st.dataframe(
        events_frame(events, labels),
        width="stretch",
        hide_index=True,
        key="registry.events",
        column_config={"id": None, "name": None},  # the version label names the model
    )
