"""Paper sessions: one worker per session (lease), decisions keyed by session and bar.

Revision ID: 0006
Revises: 0004
Create Date: 2026-12-01
"""

from __future__ import annotations

import json

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0004"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Create ``paper_leases``; add ``session_name`` and ``bar`` to ``decisions``."""
    op.create_table(
        "paper_leases",
        sa.Column("session_name", sa.String(64), primary_key=True),
        sa.Column("owner", sa.String(160), nullable=False),
        sa.Column("host", sa.String(128), nullable=False),
        sa.Column("pid", sa.Integer, nullable=False),
        sa.Column("acquired_at", TS, nullable=False),
        sa.Column("heartbeat_at", TS, nullable=False),
        sa.Column("expires_at", TS, nullable=False),
    )
    op.add_column("decisions", sa.Column("session_name", sa.String(64), nullable=True))
    op.add_column("decisions", sa.Column("bar", sa.Integer, nullable=True))
    # Back-fill from the payload; a duplicated decision (the old race) keeps only its
    # first row keyed, so the unique index can be built.
    conn = op.get_bind()
    seen: set[tuple[str, int, str]] = set()
    rows = conn.execute(sa.text("SELECT id, symbol, payload FROM decisions ORDER BY id"))
    for row_id, symbol, payload in rows.fetchall():
        data = json.loads(payload) if isinstance(payload, str) else (payload or {})
        session, bar = data.get("session"), data.get("bar")
        if session is None or bar is None or (session, bar, symbol) in seen:
            continue
        seen.add((session, bar, symbol))
        conn.execute(
            sa.text("UPDATE decisions SET session_name = :s, bar = :b WHERE id = :i"),
            {"s": session, "b": int(bar), "i": row_id},
        )
    op.create_index(
        "uq_decisions_session_bar_symbol",
        "decisions",
        ["session_name", "bar", "symbol"],
        unique=True,
    )


def downgrade() -> None:
    """Drop them again."""
    op.drop_index("uq_decisions_session_bar_symbol", table_name="decisions")
    with op.batch_alter_table("decisions") as batch:
        batch.drop_column("bar")
        batch.drop_column("session_name")
    op.drop_table("paper_leases")
