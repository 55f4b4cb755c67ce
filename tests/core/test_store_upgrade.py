"""Start-up skips Alembic on a database already at the scripts' heads."""

from __future__ import annotations

from pathlib import Path

from core.store.db import _at_head, make_engine, script_heads, upgrade


def test_heads_are_the_revisions_no_script_revises(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text('revision = "a"\ndown_revision = None\n')
    (tmp_path / "b.py").write_text('revision: str = "b"\ndown_revision: str | None = "a"\n')
    (tmp_path / "c.py").write_text('revision = "c"\ndown_revision = "a"\n')
    assert script_heads(tmp_path) == {"b", "c"}
    (tmp_path / "d.py").write_text('revision = "d"\ndown_revision = ("b", "c")\n')
    assert script_heads(tmp_path) == {"d"}
    (tmp_path / "e.py").write_text("revision = compute()\n")
    assert script_heads(tmp_path) is None


def test_a_migrated_database_is_at_head(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'w.db'}")
    assert script_heads() is not None
    assert not _at_head(engine)  # empty: Alembic creates the schema
    upgrade(engine)
    assert _at_head(engine)
    upgrade(engine)  # a no-op now
    assert _at_head(engine)
