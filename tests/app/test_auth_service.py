"""Roles from the environment (app/services/auth.py): the single-user mode and WORKBENCH_ROLES."""

from __future__ import annotations

import pytest

from app.services.auth import LOCAL, actor_from_env
from core.auth.roles import ROLES


def test_actor_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WORKBENCH_USER", raising=False)
    monkeypatch.delenv("WORKBENCH_ROLES", raising=False)
    assert actor_from_env() is LOCAL
    assert LOCAL.local_mode and all(LOCAL.has(r) for r in ROLES)

    monkeypatch.setenv("WORKBENCH_USER", "ann")
    ann = actor_from_env()  # roles default to analyst only
    assert (ann.name, ann.roles, ann.local_mode) == ("ann", frozenset({"analyst"}), False)
    assert not ann.has("pm")

    monkeypatch.setenv("WORKBENCH_ROLES", " pm , risk ,")
    assert actor_from_env().roles == frozenset({"pm", "risk"})

    monkeypatch.setenv("WORKBENCH_ROLES", "pm,admin")
    with pytest.raises(ValueError, match=r"unknown roles \['admin'\]"):
        actor_from_env()
