"""Every ``st.session_state`` key, its default, and :func:`init`, in one place."""

from __future__ import annotations

from typing import Any

import streamlit as st

from app import defaults

DATASET = "data.dataset"
SYMBOL = "data.symbol"
LOG_SCALE = "data.log_scale"
UPLOAD_NAME = "data.upload_name"
LAST_IMPORT = "data.last_import"
BT_STRATEGY = "backtest.strategy"
BT_RUN_ID = "backtest.run_id"
SW_STRATEGY = "sweep.strategy"
SW_RUN_ID = "sweep.run_id"
SW_METRIC = "sweep.metric"
REGIME_METHOD = "regime.method"

DEFAULTS: dict[str, Any] = {
    DATASET: defaults.DATASET,
    SYMBOL: defaults.SYMBOL,
    LOG_SCALE: False,
    UPLOAD_NAME: "",
    LAST_IMPORT: None,
    BT_STRATEGY: "ma_crossover",
    BT_RUN_ID: None,
    SW_STRATEGY: "ma_crossover",
    SW_RUN_ID: None,
    SW_METRIC: "sharpe",
    REGIME_METHOD: defaults.REGIME_METHOD,
}


def init() -> None:
    """Set every missing key to its default (safe to call on every rerun)."""
    for key, value in DEFAULTS.items():
        st.session_state.setdefault(key, value)


def get(key: str) -> Any:
    """Read a key, falling back to its default."""
    return st.session_state.get(key, DEFAULTS.get(key))
