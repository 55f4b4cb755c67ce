"""Live paper trading: the bars a live session used (issue 13; owner: live worker).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create ``live_bars`` (unique per session, ts and symbol)."""
    op.create_table(
        "live_bars",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("session_id", sa.Integer, sa.ForeignKey("paper_sessions.id"), nullable=False),
        sa.Column("ts", sa.DateTime(timezone=False), nullable=False),
        sa.Column("symbol", sa.String(32), nullable=False),
        sa.Column("open", sa.Float, nullable=False),
        sa.Column("high", sa.Float, nullable=False),
        sa.Column("low", sa.Float, nullable=False),
        sa.Column("close", sa.Float, nullable=False),
        sa.Column("volume", sa.Float, nullable=False),
        sa.Column("warmup", sa.Boolean, nullable=False),
        sa.Column("filled", sa.Boolean, nullable=False),
        sa.UniqueConstraint("session_id", "ts", "symbol", name="uq_live_bars_session_ts_symbol"),
    )
    op.create_index("ix_live_bars_session_id", "live_bars", ["session_id"])


def downgrade() -> None:
    """Drop it again."""
    op.drop_index("ix_live_bars_session_id", table_name="live_bars")
    op.drop_table("live_bars")
