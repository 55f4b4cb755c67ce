"""Secrets and sign-in: channel URLs encrypted at rest, hashed tokens, sign-in attempts,
audit log.

Existing channel rows held their apprise URL in clear: each is encrypted with the
workbench secret key (generated in ``var/secret.key`` when none is configured) and the
``url`` column keeps only the masked form.

Revision ID: 0007
Revises: 0004
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0004"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Add the ciphertext column, encrypt existing URLs, create the auth tables."""
    with op.batch_alter_table("alert_channels") as batch:
        batch.add_column(sa.Column("url_ciphertext", sa.Text, nullable=True))
    channels = sa.table(
        "alert_channels",
        sa.column("id", sa.Integer),
        sa.column("url", sa.Text),
        sa.column("url_ciphertext", sa.Text),
    )
    conn = op.get_bind()
    rows = conn.execute(
        sa.select(channels.c.id, channels.c.url).where(channels.c.url_ciphertext.is_(None))
    ).all()
    if rows:
        from core.alerts.masking import mask_url_text
        from core.alerts.vault import seal

        for row_id, url in rows:
            conn.execute(
                channels.update()
                .where(channels.c.id == row_id)
                .values(url=mask_url_text(url), url_ciphertext=seal(url))
            )
    op.create_table(
        "auth_tokens",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("username", sa.String(128), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("prefix", sa.String(16), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("expires_at", TS, nullable=False),
        sa.Column("last_used_at", TS, nullable=True),
        sa.Column("revoked_at", TS, nullable=True),
    )
    op.create_index("ix_auth_tokens_username", "auth_tokens", ["username"])
    op.create_table(
        "auth_attempts",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("username", sa.String(128), nullable=False),
        sa.Column("client", sa.String(128), nullable=False),
        sa.Column("ok", sa.Boolean, nullable=False),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_index("ix_auth_attempts_username", "auth_attempts", ["username"])
    op.create_index("ix_auth_attempts_client", "auth_attempts", ["client"])
    op.create_index("ix_auth_attempts_created_at", "auth_attempts", ["created_at"])
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("roles", sa.JSON, nullable=False),
        sa.Column("local_mode", sa.Boolean, nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("target", sa.String(128), nullable=False),
        sa.Column("details", sa.JSON, nullable=False),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_index("ix_audit_log_actor", "audit_log", ["actor"])


def downgrade() -> None:
    """Drop the auth tables and the ciphertext column (the masked URLs stay masked)."""
    op.drop_index("ix_audit_log_actor", "audit_log")
    op.drop_table("audit_log")
    for name in ("created_at", "client", "username"):
        op.drop_index(f"ix_auth_attempts_{name}", "auth_attempts")
    op.drop_table("auth_attempts")
    op.drop_index("ix_auth_tokens_username", "auth_tokens")
    op.drop_table("auth_tokens")
    with op.batch_alter_table("alert_channels") as batch:
        batch.drop_column("url_ciphertext")
