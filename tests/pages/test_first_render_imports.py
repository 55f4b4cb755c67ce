"""First renders need no engine: vectorbt, quantstats and xgboost stay out of ``sys.modules``
on the Data page, which does not start the engine warm-up; the Backtest page starts it, and
the warm-up waits until no page is running. The Paper and Risk pages read the ledger
without alpaca-py (only the Alpaca broker imports it)."""

from __future__ import annotations

import doctest
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from app import warmup
from app.warmup import ActivityGate

ROOT = Path(__file__).resolve().parents[2]

# A fresh interpreter, as a new server process. The warm-up's quiet period is long enough
# that it cannot begin during the checks, so they see what the renders imported.
RENDER = """
import json, sys, threading
from app import warmup
warmup.QUIET_S = 3600.0
from streamlit.testing.v1 import AppTest

def seen(at):
    return {
        "titles": [t.value for t in at.title],
        "errors": [str(e.value) for e in at.exception],
        "loaded": sorted(m for m in ("vectorbt", "quantstats", "xgboost") if m in sys.modules),
        "warmup_thread": any(t.name == "engine-warmup" for t in threading.enumerate()),
        "warmup_steps": list(warmup.STATUS.steps_done),
    }

at = AppTest.from_file(sys.argv[1], default_timeout=300)
at.run()
data = seen(at)
at.switch_page(sys.argv[2])
at.run()
print("RESULT " + json.dumps({"data": data, "backtest": seen(at)}))
"""


def _fresh_render(script: str, pages: list[str], env: dict[str, str]) -> dict:
    """Run ``script`` (app/main.py, then ``pages``) in a fresh interpreter; its RESULT."""
    proc = subprocess.run(
        [sys.executable, "-c", script, str(ROOT / "app" / "main.py"), *pages],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=600,
    )
    lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    assert proc.returncode == 0 and lines, proc.stderr[-2000:]
    result: dict = json.loads(lines[-1].removeprefix("RESULT "))
    return result


def test_first_renders_import_no_engine(isolated_workbench: Path) -> None:
    env = {**os.environ, "WORKBENCH_VAR_DIR": str(isolated_workbench)}
    env.pop("WORKBENCH_APP_WARMUP", None)
    result = _fresh_render(RENDER, [str(ROOT / "pages" / "backtest.py")], env)
    data, backtest = result["data"], result["backtest"]
    assert data["titles"] == ["Data"] and data["errors"] == []
    assert data["loaded"] == [] and data["warmup_thread"] is False
    assert backtest["titles"] == ["Backtest"] and backtest["errors"] == []
    assert backtest["loaded"] == []
    assert backtest["warmup_thread"] is True  # started by the visit, not run during it
    assert backtest["warmup_steps"] == []


# Paper then Risk in one fresh interpreter: what each first render left in sys.modules.
LEDGER_RENDER = """
import json, sys
from streamlit.testing.v1 import AppTest

at = AppTest.from_file(sys.argv[1], default_timeout=300)
at.run()
seen = {}
for page in sys.argv[2:]:
    at.switch_page(page)
    at.run()
    seen[page] = {
        "titles": [t.value for t in at.title],
        "errors": [str(e.value) for e in at.exception],
        "alpaca": sorted(m for m in sys.modules if m.partition(".")[0] == "alpaca"),
        "broker": "core.broker" in sys.modules,
    }
print("RESULT " + json.dumps(seen))
"""


def test_paper_and_risk_first_renders_leave_alpaca_out(isolated_workbench: Path) -> None:
    env = {**os.environ, "WORKBENCH_VAR_DIR": str(isolated_workbench)}
    pages = [str(ROOT / "pages" / "paper.py"), str(ROOT / "pages" / "risk.py")]
    seen = _fresh_render(LEDGER_RENDER, pages, env)
    paper, risk = seen[pages[0]], seen[pages[1]]
    assert paper["titles"] == ["Paper trading"] and paper["errors"] == []
    assert risk["titles"] == ["Risk"] and risk["errors"] == []
    assert paper["broker"] is True  # the page did use the broker package...
    assert paper["alpaca"] == [] and risk["alpaca"] == []  # ...without alpaca-py


def test_alpaca_broker_is_imported_on_first_access() -> None:
    import core.broker
    from core.broker.alpaca import AlpacaBroker

    assert core.broker.AlpacaBroker is AlpacaBroker
    with pytest.raises(AttributeError):
        _ = core.broker.NoSuchBroker  # type: ignore[attr-defined]


def test_gate_is_quiet_only_after_the_last_run_ended() -> None:
    now = [100.0]
    gate = ActivityGate(clock=lambda: now[0])
    gate.enter()
    gate.enter()  # two sessions render at once
    now[0] = 200.0
    assert gate.quiet_for() == 0.0
    gate.leave()
    assert gate.quiet_for() == 0.0  # one is still running
    gate.leave()
    now[0] = 201.5
    assert gate.quiet_for() == 1.5
    gate.wait_quiet(1.0)  # returns at once: quiet for longer than asked
    gate.enter()
    assert gate.quiet_for() == 0.0


def test_warmup_docstrings_and_switch(monkeypatch: pytest.MonkeyPatch) -> None:
    assert doctest.testmod(warmup).failed == 0
    for off in ("0", "off", "False"):
        monkeypatch.setenv("WORKBENCH_APP_WARMUP", off)
        assert warmup.enabled() is False
        assert warmup.start() is None
    monkeypatch.setenv("WORKBENCH_APP_WARMUP", "1")
    assert warmup.enabled() is True
