"""The Regimes page's stored fits: a later visit (another process) reads the fit stored on
disk instead of refitting; the key follows the prices and every setting."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import streamlit as st

from app.services import data as data_service
from app.services import regime as regime_service
from app.services import regime_store
from tests.pages.helpers import metrics, open_app


def _entries() -> list[Path]:
    root = regime_store.store_folder()
    return sorted(p for p in root.iterdir() if not p.name.startswith(".")) if root.is_dir() else []


def test_first_visit_fits_and_stores_then_a_fresh_cache_reads_the_stored_fit() -> None:
    at = open_app("regime")
    assert any(c.value.startswith("Fitted ") for c in at.caption)
    (entry,) = _entries()
    prices = data_service.load_prices("ohlcv_daily", "SP500")
    history = regime_service.history_spec("expanding", 21)
    assert entry.name == regime_store.fit_key(prices, "SP500", "hmm", 0, history)
    # the stored payload equals an independent fit of the same prices and settings
    stored = regime_store.stored_regimes(entry.name)
    assert stored is not None and stored["stored"] is True
    fresh = regime_service.fit_dataset("ohlcv_daily", "SP500", history=history).result
    got = stored["frame"]
    assert isinstance(got, pd.DataFrame)
    want = fresh.to_frame()
    pd.testing.assert_frame_equal(got.drop(columns="label"), want.drop(columns="label"))
    assert got["label"].fillna("-").tolist() == want["label"].fillna("-").tolist()
    pd.testing.assert_frame_equal(stored["transition"], fresh.transition)  # type: ignore[arg-type]
    assert stored["first_bar"] == fresh.first_bar and stored["history"] == fresh.history

    # plant a different latest label in the stored entry: with the in-memory cache empty
    # (as in a new server process) the page must show it, which it can only do by reading
    # the store instead of refitting
    planted = got.copy()
    planted.iloc[-1, planted.columns.get_loc("label")] = "sideways"
    planted.iloc[-1, planted.columns.get_loc("confidence")] = 0.123
    planted.to_parquet(entry / "frame.parquet")
    st.cache_data.clear()
    again = open_app("regime")
    assert any(c.value.startswith("Stored fit ") for c in again.caption)
    assert metrics(again)["Current regime"] == "sideways"
    assert metrics(again)["Confidence"] == "12.3%"
    assert len(_entries()) == 1


def test_key_follows_prices_and_settings() -> None:
    prices = data_service.load_prices("ohlcv_daily", "SP500")
    base = regime_service.history_spec("expanding", 21)
    key = regime_store.fit_key(prices, "SP500", "hmm", 0, base)
    assert key == regime_store.fit_key(prices.copy(), "SP500", "hmm", 0, base)
    changed = prices.copy()
    changed.iloc[-1, changed.columns.get_loc("close")] += 0.01
    others = {
        regime_store.fit_key(changed, "SP500", "hmm", 0, base),
        regime_store.fit_key(prices.iloc[:-1], "SP500", "hmm", 0, base),
        regime_store.fit_key(prices, "OTHER", "hmm", 0, base),
        regime_store.fit_key(prices, "SP500", "dpgmm", 0, base),
        regime_store.fit_key(prices, "SP500", "hmm", 1, base),
        regime_store.fit_key(prices, "SP500", "hmm", 0, regime_service.history_spec("rolling")),
        regime_store.fit_key(
            prices, "SP500", "hmm", 0, regime_service.history_spec("expanding", 63)
        ),
    }
    assert key not in others and len(others) == 7


def test_unreadable_or_other_version_entry_counts_as_absent() -> None:
    folder = regime_store.store_folder() / "abc"
    folder.mkdir(parents=True)
    assert not regime_store.stored_regimes_exist("abc")
    assert regime_store.stored_regimes("abc") is None  # no meta.json: partial
    (folder / "meta.json").write_text(json.dumps({"version": -1}))
    assert regime_store.stored_regimes("abc") is None
    (folder / "meta.json").write_text("{not json")
    assert regime_store.stored_regimes("abc") is None
    assert not regime_store.stored_regimes_exist("")
