"""Imported datasets: the stored file's checksum and the declared read format.

``file_sha256`` is the SHA-256 of the Parquet file the row points at (``sha256`` stays
the checksum of the uploaded bytes); loading verifies it. ``read_format`` keeps the
format the user declared (date format, separators, time zone), for provenance. Both
are nullable: rows imported before this revision have neither.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add the two columns."""
    with op.batch_alter_table("imported_datasets") as batch:
        batch.add_column(sa.Column("file_sha256", sa.String(64), nullable=True))
        batch.add_column(sa.Column("read_format", sa.JSON, nullable=True))


def downgrade() -> None:
    """Drop them."""
    with op.batch_alter_table("imported_datasets") as batch:
        batch.drop_column("read_format")
        batch.drop_column("file_sha256")
