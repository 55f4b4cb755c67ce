"""docs/examples/api_client.ipynb runs top to bottom with nbclient (the venv's ipykernel)
against a live API and jobs worker on 127.0.0.1, as an analyst: no cell errors, and the
numbers it prints are the API's."""

from __future__ import annotations

import json
import math
import os
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from tests.cli_helpers import ROOT
from tests.deploy.conftest import CLIENT_PATH, Stack

sys.path.insert(0, str(CLIENT_PATH))

from workbench_client import WorkbenchClient

pytestmark = pytest.mark.timeout(400)
NOTEBOOK = ROOT / "docs" / "examples" / "api_client.ipynb"


def _texts(cell: nbformat.NotebookNode) -> str:
    parts = []
    for output in cell.get("outputs", []):
        parts.append(output.get("text", ""))
        parts.extend(str(v) for k, v in output.get("data", {}).items() if k == "text/plain")
    return "".join(parts)


def test_the_notebook_runs_against_a_live_api(
    stack: Stack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = stack.make_token("nb-analyst", "analyst")
    wb = WorkbenchClient(stack.url, token, timeout=300)
    # A registered model for the prediction cell (registering has no API path).
    trained = wb.submit_job(
        "train", kind="logistic", symbol="SP500", features=["ret_1", "ret_5", "rsi_14"]
    )
    assert wb.wait_job(trained["job_id"], timeout_s=300, poll_s=0.2)["status"] == "done"
    version = stack.register_model(wb.job_result(trained["job_id"])["run_id"], "nb-demo")

    monkeypatch.setenv("WORKBENCH_API_URL", stack.url)
    monkeypatch.setenv("WORKBENCH_API_TOKEN", token)
    path = os.pathsep.join(filter(None, [str(CLIENT_PATH), os.environ.get("PYTHONPATH")]))
    monkeypatch.setenv("PYTHONPATH", path)
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(notebook)
    client = NotebookClient(
        notebook,
        kernel_name="python3",
        timeout=300,
        resources={"metadata": {"path": str(tmp_path)}},
    )
    try:
        client.execute()
    except CellExecutionError as exc:
        pytest.fail(f"a cell of {NOTEBOOK.name} failed:\n{exc}")
    cells = [c for c in notebook.cells if c.cell_type == "code"]
    assert all(o.get("output_type") != "error" for c in cells for o in c.get("outputs", []))

    printed = "".join(_texts(c) for c in cells)
    summary = json.loads(printed.split("SUMMARY ", 1)[1].splitlines()[0])
    assert summary["user"] == "nb-analyst"
    again = wb.backtest(symbol="SP500", strategy="ma_crossover", params={"fast": 20, "slow": 100})
    assert summary["backtest_sharpe"] == again["sharpe"] and math.isfinite(again["sharpe"])
    sweep = wb.job_result(summary["sweep_job"])
    assert sweep["combinations"] == 24 and summary["sweep_best_sharpe"] == sweep["best"]["sharpe"]
    assert set(summary["regimes"]) == {"SP500", "IBM"}
    for probabilities in summary["regimes"].values():
        assert math.isclose(sum(probabilities.values()), 1.0, abs_tol=1e-9)
    assert isinstance(summary["approved"], bool) and summary["allowed_quantity"] >= 0
    assert summary["model"] == version  # the newest registered model: this test's
    expected = wb.predict(version, "SP500")["probability"]
    assert expected is not None and summary["prediction"] == expected and 0 <= expected <= 1
    assert "403 forbidden" in printed  # the analyst may not change the risk limits
    figures = [o for c in cells for o in c.get("outputs", []) if "data" in o]
    assert any("application/vnd.plotly.v1+json" in o["data"] for o in figures)
