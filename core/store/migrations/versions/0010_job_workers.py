"""Job workers: one row per live ``workbench jobs worker`` process, and the start lock.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Create ``job_workers``."""
    op.create_table(
        "job_workers",
        sa.Column("name", sa.String(160), primary_key=True),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("pid", sa.Integer, nullable=False),
        sa.Column("kinds", sa.JSON, nullable=True),
        sa.Column("job_id", sa.Integer, nullable=True),
        sa.Column("started_at", TS, nullable=False),
        sa.Column("heartbeat_at", TS, nullable=False),
        sa.Column("expires_at", TS, nullable=False),
    )


def downgrade() -> None:
    """Drop it again."""
    op.drop_table("job_workers")
