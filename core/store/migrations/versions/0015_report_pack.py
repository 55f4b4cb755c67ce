"""Report pack schedules and their deliveries (issue 15; owner: report pack).

Creates ``report_schedules`` (a pack of a strategy or model sent daily or weekly at a
time to named alert channels) and ``report_deliveries`` (one row per schedule, due slot
and channel; its unique key keeps a slot from being sent twice, also after a restart).

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Create the two tables."""
    op.create_table(
        "report_schedules",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(64), nullable=False, unique=True),
        sa.Column("subject_kind", sa.String(16), nullable=False),
        sa.Column("subject_name", sa.String(64), nullable=False),
        sa.Column("frequency", sa.String(16), nullable=False),
        sa.Column("weekday", sa.Integer, nullable=True),
        sa.Column("at_time", sa.String(5), nullable=False),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("channels", sa.JSON, nullable=False),
        sa.Column("formats", sa.JSON, nullable=False),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_table(
        "report_deliveries",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("schedule_name", sa.String(64), nullable=False),
        sa.Column("slot", TS, nullable=False),
        sa.Column("channel", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("path", sa.String(512), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.UniqueConstraint(
            "schedule_name", "slot", "channel", name="uq_report_deliveries_schedule_slot_channel"
        ),
    )
    op.create_index("ix_report_deliveries_schedule_name", "report_deliveries", ["schedule_name"])


def downgrade() -> None:
    """Drop them (schedules and their delivery record go)."""
    op.drop_index("ix_report_deliveries_schedule_name", table_name="report_deliveries")
    op.drop_table("report_deliveries")
    op.drop_table("report_schedules")
