"""AppTest helpers: start from the router, as a user does."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import numpy as np
from streamlit.testing.v1 import AppTest

MAIN = str(Path(__file__).resolve().parents[2] / "app" / "main.py")


def open_app(page: str | None = None, *, timeout: float = 120) -> AppTest:
    """Run ``app/main.py`` and optionally switch to ``pages/<page>.py``."""
    at = AppTest.from_file(MAIN, default_timeout=timeout)
    at.run()
    if page is not None:
        at.switch_page(str(Path(MAIN).parents[1] / "pages" / f"{page}.py"))
        at.run()
    assert not at.exception, at.exception
    return at


def metrics(at: AppTest) -> dict[str, str]:
    """Visible metric cards as label -> value."""
    return {m.label: m.value for m in at.metric}


def trace_types(at: AppTest, chart: int = 0) -> list[str]:
    """Plotly trace types of the ``chart``-th chart on the page."""
    spec = json.loads(at.get("plotly_chart")[chart].proto.spec)
    return [trace.get("type", "scatter") for trace in spec["data"]]


def plotly_array(value: object) -> np.ndarray:
    """Decode a Plotly JSON array (plain list or base64 typed array) to numpy."""
    if isinstance(value, dict) and "bdata" in value:
        flat = np.frombuffer(base64.b64decode(value["bdata"]), dtype=np.dtype(value["dtype"]))
        shape = value.get("shape")
        if shape:
            dims = [int(x) for x in str(shape).split(",")]
            return flat.reshape(dims)
        return flat
    return np.asarray(value)


def chart_spec(at: AppTest, chart: int = 0) -> dict:
    """The JSON spec of the ``chart``-th Plotly chart on the page."""
    return json.loads(at.get("plotly_chart")[chart].proto.spec)
