"""The model in the loop: shadow orders, live A/B tests, promotion requests, retention (issue 13; owner: model loop).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01
"""

from __future__ import annotations

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Nothing yet (filled in by its owner)."""


def downgrade() -> None:
    """Nothing yet."""
