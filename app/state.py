"""Every ``st.session_state`` key, its default, and :func:`init`, in one place."""

from __future__ import annotations

from typing import Any

import streamlit as st

DATASET = "data.dataset"
SYMBOL = "data.symbol"
LOG_SCALE = "data.log_scale"
UPLOAD_NAME = "data.upload_name"
LAST_IMPORT = "data.last_import"

DEFAULTS: dict[str, Any] = {
    DATASET: "ohlcv_daily",
    SYMBOL: "SP500",
    LOG_SCALE: False,
    UPLOAD_NAME: "",
    LAST_IMPORT: None,
}


def init() -> None:
    """Set every missing key to its default (safe to call on every rerun)."""
    for key, value in DEFAULTS.items():
        st.session_state.setdefault(key, value)


def get(key: str) -> Any:
    """Read a key, falling back to its default."""
    return st.session_state.get(key, DEFAULTS.get(key))
