"""Monitoring: reference distributions, live model metrics and drift (issue 13; owner: monitoring).

Creates ``model_references`` (a model version's training feature distribution and its
out-of-sample figures) and ``monitor_points`` (a session's live figures per bar), and
migrates stored alert rules: ``model_metric_below`` -> ``model_metric``,
``heartbeat_lost`` -> ``heartbeat``, and ``stale_data`` thresholds from seconds to bar
intervals (every session before this revision traded daily bars: ``ceil(seconds / 86400)``,
at least 1; the old value is kept in ``params["threshold_seconds"]``).

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-01
"""

from __future__ import annotations

import json
import math

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)
RENAMED = {"model_metric_below": "model_metric", "heartbeat_lost": "heartbeat"}


def _params(raw: object) -> dict[str, object]:
    if isinstance(raw, str):
        raw = json.loads(raw)
    return dict(raw) if isinstance(raw, dict) else {}


def upgrade() -> None:
    """Create the monitoring tables and migrate the alert rules."""
    op.create_table(
        "model_references",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("version_id", sa.Integer, nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("features", sa.JSON, nullable=False),
        sa.Column("reference", sa.JSON, nullable=False),
        sa.Column("oos", sa.JSON, nullable=False),
        sa.Column("path", sa.String(512), nullable=False),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_index(
        "ix_model_references_version_id", "model_references", ["version_id"], unique=True
    )
    op.create_table(
        "monitor_points",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("session_name", sa.String(64), nullable=False),
        sa.Column("bar", sa.Integer, nullable=False),
        sa.Column("ts", TS, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("symbol", sa.String(32), nullable=True),
        sa.Column("values", sa.JSON, nullable=False),
    )
    op.create_index("ix_monitor_points_session_bar", "monitor_points", ["session_name", "bar"])
    bind = op.get_bind()
    rules = bind.execute(sa.text("SELECT id, kind, params FROM alert_rules")).fetchall()
    for rule_id, kind, raw in rules:
        params = _params(raw)
        new_kind = RENAMED.get(kind, kind)
        if kind == "stale_data" and "threshold_seconds" not in params:
            seconds = params.get("threshold")
            if isinstance(seconds, int | float):
                params["threshold_seconds"] = seconds
                params["threshold"] = float(max(1, math.ceil(seconds / 86_400)))
        elif new_kind == kind:
            continue
        bind.execute(
            sa.text("UPDATE alert_rules SET kind = :kind, params = :params WHERE id = :id"),
            {"kind": new_kind, "params": json.dumps(params), "id": rule_id},
        )


def downgrade() -> None:
    """Drop the tables; rules get their old kind names and seconds back."""
    bind = op.get_bind()
    rules = bind.execute(sa.text("SELECT id, kind, params FROM alert_rules")).fetchall()
    back = {v: k for k, v in RENAMED.items()}
    for rule_id, kind, raw in rules:
        params = _params(raw)
        if kind == "stale_data" and "threshold_seconds" in params:
            params["threshold"] = params.pop("threshold_seconds")
        elif kind not in back:
            continue
        bind.execute(
            sa.text("UPDATE alert_rules SET kind = :kind, params = :params WHERE id = :id"),
            {"kind": back.get(kind, kind), "params": json.dumps(params), "id": rule_id},
        )
    op.drop_index("ix_monitor_points_session_bar", "monitor_points")
    op.drop_table("monitor_points")
    op.drop_index("ix_model_references_version_id", "model_references")
    op.drop_table("model_references")
