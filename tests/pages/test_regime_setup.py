"""``workbench setup`` stores the Regimes page's default fit: a fresh install's first
visit reads it instead of fitting, and a second set-up does not fit again."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.operations.system import SetupRequest
from app.services import data as data_service
from app.services import regime as regime_service
from app.services import regime_store, system
from tests.pages.helpers import open_app


def _entries() -> list[Path]:
    root = regime_store.store_folder()
    return sorted(p for p in root.iterdir() if not p.name.startswith(".")) if root.is_dir() else []


def _no_fit(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("the regime history was fitted")

    monkeypatch.setattr(regime_service, "fit_prices", refuse)


def test_setup_stores_the_default_view_and_the_first_visit_reads_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    report = system.setup(SetupRequest(warm=False))
    assert report.regimes.startswith("stored default fit for SP500 in ")
    (entry,) = _entries()
    # the entry is the page's default: SP500 of ohlcv_daily, HMM, causal expanding, 21 bars
    prices = data_service.load_prices("ohlcv_daily", "SP500")
    history = regime_service.history_spec("expanding", 21)
    assert entry.name == regime_store.fit_key(prices, "SP500", "hmm", 0, history)

    _no_fit(monkeypatch)  # from here on, any fit fails the test
    at = open_app("regime")  # Streamlit's caches are empty (tests/pages/conftest.py)
    captions = [c.value for c in at.caption]
    assert any(c.startswith("Stored fit ") for c in captions), captions
    assert not any(c.startswith("Fitted ") for c in captions)
    assert len(_entries()) == 1

    again = system.setup(SetupRequest(warm=False))  # idempotent: no second fit
    assert again.regimes == "default fit for SP500 already stored"
    assert len(_entries()) == 1


def test_setup_without_regimes_stores_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    _no_fit(monkeypatch)
    report = system.setup(SetupRequest(warm=False, regimes=False))
    assert report.regimes == "skipped"
    assert _entries() == []
