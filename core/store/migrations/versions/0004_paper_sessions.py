"""Paper-trading sessions and equity snapshots.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Create the tables."""
    op.create_table(
        "paper_sessions",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(64), nullable=False, unique=True),
        sa.Column("broker", sa.String(16), nullable=False),
        sa.Column("dataset", sa.String(64), nullable=False),
        sa.Column("symbols", sa.JSON, nullable=False),
        sa.Column("config", sa.JSON, nullable=False),
        sa.Column("account_id", sa.Integer, nullable=True),
        sa.Column("cursor", sa.Integer, nullable=False),
        sa.Column("cursor_ts", TS, nullable=True),
        sa.Column("peak_equity", sa.Float, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("last_error", sa.Text, nullable=True),
        sa.Column("pid", sa.Integer, nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
    )
    op.create_table(
        "equity_snapshots",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("session_id", sa.Integer, sa.ForeignKey("paper_sessions.id"), nullable=False),
        sa.Column("bar", sa.Integer, nullable=False),
        sa.Column("ts", TS, nullable=False),
        sa.Column("equity", sa.Float, nullable=False),
        sa.Column("cash", sa.Float, nullable=False),
        sa.Column("realized_pnl", sa.Float, nullable=False),
        sa.Column("unrealized_pnl", sa.Float, nullable=False),
        sa.UniqueConstraint("session_id", "bar", name="uq_equity_snapshots_session_bar"),
    )
    op.create_index("ix_equity_snapshots_session_id", "equity_snapshots", ["session_id"])


def downgrade() -> None:
    """Drop the tables."""
    op.drop_index("ix_equity_snapshots_session_id", "equity_snapshots")
    op.drop_table("equity_snapshots")
    op.drop_table("paper_sessions")
