"""Page tests: each starts with Streamlit's caches empty, as a new server process does.

Cached results are keyed by their arguments, not by the test's runtime folder, so
without this a test would see what an earlier test (in the same worker) cached.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import streamlit as st


@pytest.fixture(autouse=True)
def empty_streamlit_caches() -> Iterator[None]:
    """Clear ``st.cache_data`` and ``st.cache_resource`` before and after each test."""
    st.cache_data.clear()
    st.cache_resource.clear()
    yield
    st.cache_data.clear()
    st.cache_resource.clear()


@pytest.fixture(autouse=True)
def no_jobs_worker_autostart(monkeypatch: pytest.MonkeyPatch) -> None:
    """The app starts no worker process: page tests drive the queue themselves."""
    monkeypatch.setenv("WORKBENCH_JOBS_AUTOSTART", "0")
