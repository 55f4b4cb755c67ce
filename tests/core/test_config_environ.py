"""core.config.environ_set: variables set or unset inside the block, restored after."""

from __future__ import annotations

import os

import pytest

from core.config import environ_set


def test_environ_set_sets_unsets_and_restores(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WB_TEST_KEPT", "before")
    monkeypatch.delenv("WB_TEST_NEW", raising=False)
    with environ_set({"WB_TEST_KEPT": None, "WB_TEST_NEW": "inside"}):
        assert "WB_TEST_KEPT" not in os.environ
        assert os.environ["WB_TEST_NEW"] == "inside"
    assert os.environ["WB_TEST_KEPT"] == "before"
    assert "WB_TEST_NEW" not in os.environ


def test_environ_set_restores_after_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WB_TEST_KEPT", "before")
    with pytest.raises(RuntimeError), environ_set({"WB_TEST_KEPT": "inside"}):
        raise RuntimeError("boom")
    assert os.environ["WB_TEST_KEPT"] == "before"
