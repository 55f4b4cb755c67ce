"""API tokens (issue 14; owner: API core): ``auth_tokens`` gains ``roles`` and ``rate_per_s``.

``roles`` (comma separated, nullable): the roles a personal access token grants; null
means the user's configured roles (tokens made before this revision). ``rate_per_s``
(nullable): the token's API request rate; null means the setting ``api_rate_per_s``.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add the two nullable columns (existing tokens keep their behaviour)."""
    with op.batch_alter_table("auth_tokens") as batch:
        batch.add_column(sa.Column("roles", sa.String(64), nullable=True))
        batch.add_column(sa.Column("rate_per_s", sa.Float, nullable=True))


def downgrade() -> None:
    """Drop them again (tokens then grant their user's configured roles)."""
    with op.batch_alter_table("auth_tokens") as batch:
        batch.drop_column("rate_per_s")
        batch.drop_column("roles")
