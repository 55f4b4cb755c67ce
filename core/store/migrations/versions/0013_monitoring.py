"""Monitoring: reference distributions, live model metrics and drift (issue 13; owner: monitoring).

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-01
"""

from __future__ import annotations

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Nothing yet (filled in by its owner)."""


def downgrade() -> None:
    """Nothing yet."""
