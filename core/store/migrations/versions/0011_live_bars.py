"""Live paper trading: the bars a live session used (issue 13; owner: live worker).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01
"""

from __future__ import annotations

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Nothing yet (filled in by its owner)."""


def downgrade() -> None:
    """Nothing yet."""
