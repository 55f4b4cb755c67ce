"""The model in the loop: live A/B tests, their path, shadow orders, promotion requests
(issue 13; owner: model loop).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Create the live-test, shadow-order and promotion-request tables."""
    op.create_table(
        "model_loop_tests",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("session_id", sa.Integer, nullable=False, index=True),
        sa.Column("session_name", sa.String(64), nullable=False),
        sa.Column("champion", sa.String(160), nullable=False),
        sa.Column("champion_version_id", sa.Integer, nullable=True),
        sa.Column("challenger", sa.String(160), nullable=False),
        sa.Column("challenger_version_id", sa.Integer, nullable=False),
        sa.Column("state", sa.String(16), nullable=False, index=True),
        sa.Column("decision", sa.String(16), nullable=False),
        sa.Column("log_lr", sa.Float, nullable=True),
        sa.Column("n", sa.Integer, nullable=False),
        sa.Column("upper", sa.Float, nullable=False),
        sa.Column("lower", sa.Float, nullable=False),
        sa.Column("delta", sa.Float, nullable=False),
        sa.Column("alpha", sa.Float, nullable=False),
        sa.Column("beta", sa.Float, nullable=False),
        sa.Column("promotion", sa.String(16), nullable=False),
        sa.Column("rule", sa.Text, nullable=False),
        sa.Column("last_t", sa.Integer, nullable=False),
        sa.Column("books", sa.JSON, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("decided_at", TS, nullable=True),
    )
    op.create_table(
        "model_loop_points",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("test_id", sa.Integer, nullable=False, index=True),
        sa.Column("t", sa.Integer, nullable=False),
        sa.Column("ts", sa.String(32), nullable=False),
        sa.Column("n", sa.Integer, nullable=False),
        sa.Column("champion_return", sa.Float, nullable=False),
        sa.Column("challenger_return", sa.Float, nullable=False),
        sa.Column("log_lr", sa.Float, nullable=True),
        sa.Column("decision", sa.String(16), nullable=False),
        sa.UniqueConstraint("test_id", "t", name="uq_model_loop_points_test_t"),
    )
    op.create_table(
        "shadow_orders",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("test_id", sa.Integer, nullable=False, index=True),
        sa.Column("book", sa.String(16), nullable=False),
        sa.Column("t", sa.Integer, nullable=False),
        sa.Column("ts", sa.String(32), nullable=False),
        sa.Column("symbol", sa.String(32), nullable=False),
        sa.Column("target", sa.Float, nullable=False),
        sa.Column("qty", sa.Float, nullable=False),
        sa.Column("price", sa.Float, nullable=False),
        sa.Column("fill_t", sa.Integer, nullable=True),
        sa.Column("fill_price", sa.Float, nullable=True),
        sa.Column("fee", sa.Float, nullable=True),
    )
    op.create_table(
        "promotion_requests",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("test_id", sa.Integer, nullable=True),
        sa.Column("model_name", sa.String(64), nullable=False, index=True),
        sa.Column("version_id", sa.Integer, nullable=False),
        sa.Column("status", sa.String(16), nullable=False, index=True),
        sa.Column("rule", sa.Text, nullable=False),
        sa.Column("requested_by", sa.String(64), nullable=False),
        sa.Column("decided_by", sa.String(64), nullable=True),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("decided_at", TS, nullable=True),
    )


def downgrade() -> None:
    """Drop them again."""
    for table in ("promotion_requests", "shadow_orders", "model_loop_points", "model_loop_tests"):
        op.drop_table(table)
