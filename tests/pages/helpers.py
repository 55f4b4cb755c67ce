"""AppTest helpers: start from the router, as a user does."""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from pathlib import Path

import numpy as np
from streamlit.testing.v1 import AppTest

MAIN = str(Path(__file__).resolve().parents[2] / "app" / "main.py")
RUN_SWEEP = "FormSubmitter:sweep.form-Run sweep"
"""The Sweep page's Run sweep button."""


def open_app(page: str | None = None, *, timeout: float = 120) -> AppTest:
    """Run ``app/main.py`` and optionally switch to ``pages/<page>.py``."""
    at = AppTest.from_file(MAIN, default_timeout=timeout)
    at.run()
    if page is not None:
        at.switch_page(str(Path(MAIN).parents[1] / "pages" / f"{page}.py"))
        at.run()
    assert not at.exception, at.exception
    return at


def submit_sweep(
    at: AppTest, grid: Mapping[str, tuple[int, int, int]], *, all_symbols: bool = False
) -> None:
    """Type the Sweep page's ma_crossover grid (``(lo, hi, step)`` of each parameter),
    tick "all symbols" when ``all_symbols``, press Run sweep; the page shows no error."""
    for name, (lo, hi, step) in grid.items():
        at.number_input(key=f"sw.ma_crossover.{name}.lo").set_value(lo)
        at.number_input(key=f"sw.ma_crossover.{name}.hi").set_value(hi)
        at.number_input(key=f"sw.ma_crossover.{name}.step").set_value(step)
    if all_symbols:
        at.checkbox(key="sw.all_symbols").check()
    at.button(key=RUN_SWEEP).click().run()
    assert not at.exception, at.exception
    assert [e.value for e in at.error] == []


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
