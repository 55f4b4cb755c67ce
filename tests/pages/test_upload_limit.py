"""Streamlit's ``server.maxUploadSize`` agrees with the workbench's upload limit, so an
oversized file is refused by Streamlit's upload route from its Content-Length, before
its body is read into the server's memory."""

from __future__ import annotations

import os
import subprocess
import tomllib
from collections.abc import Iterator

import pytest
from streamlit import config as st_config

from core.config import ROOT, WorkbenchSettings, get_settings
from tests.pages.helpers import open_app


@pytest.fixture
def restore_streamlit_option() -> Iterator[None]:
    before = st_config.get_option("server.maxUploadSize")
    yield
    st_config.set_option("server.maxUploadSize", before, "test teardown")


def test_config_toml_holds_the_default_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WORKBENCH_UPLOAD_MAX_MB", raising=False)
    toml = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    default = WorkbenchSettings().upload_max_server_mb
    assert toml["server"]["maxUploadSize"] == default == 50
    assert 175 > default  # the 175 MB file of the issue is over the limit


def test_make_run_passes_the_configured_limit() -> None:
    out = subprocess.run(
        ["make", "-n", "run"], capture_output=True, text=True, cwd=ROOT, timeout=120
    )
    command = out.stdout.replace("\\\n", " ")
    assert "--server.maxUploadSize" in command, out.stdout + out.stderr
    value = command.split("--server.maxUploadSize", 1)[1].strip().split("\n")[0]
    echoed = subprocess.run(
        ["bash", "-c", f"echo {value}"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "WORKBENCH_UPLOAD_MAX_MB": "7.5"},
        timeout=120,
    )
    assert echoed.stdout.strip() == "8", echoed.stderr  # whole MB, rounded up


def test_the_app_applies_the_configured_limit(
    monkeypatch: pytest.MonkeyPatch, restore_streamlit_option: None
) -> None:
    monkeypatch.setenv("WORKBENCH_UPLOAD_MAX_MB", "7")
    get_settings.cache_clear()
    st_config.set_option("server.maxUploadSize", 200, "a config.toml that disagrees")
    at = open_app("data")
    assert st_config.get_option("server.maxUploadSize") == 7
    uploader = at.get("file_uploader")[0]
    assert uploader.proto.max_upload_size_mb == 7  # the browser enforces it too
