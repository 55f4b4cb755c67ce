"""First renders need no engine: vectorbt, quantstats and xgboost stay out of ``sys.modules``
on the Data page, which does not start the engine warm-up; the Backtest page starts it, and
the warm-up waits until no page is running. The Paper and Risk pages read the ledger
without alpaca-py (only the Alpaca broker imports it). After the server's start-up warm-up
(:mod:`app.warm_start`), which leaves the engine out, a page's first render imports none of
the app's modules nor its libraries; a real ``streamlit run`` starts that warm-up with the
server, before any visit."""

from __future__ import annotations

import doctest
import json
import os
import socket
import sqlite3
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from app import warm_start, warmup
from app.warmup import ActivityGate
from tests.polling import wait_until

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


# The server's warm-up in a fresh interpreter (as in app._bench_render), then first
# renders: which modules each imported, of the app and of the libraries it draws with.
SERVED_RENDER = """
import json, sys, threading
from streamlit import config
config.set_option("global.showWarningOnDirectExecution", False)
from app import warm_start
thread = threading.Thread(target=warm_start.warm_pages, name=warm_start.THREAD_NAME)
thread.start()
thread.join()
from streamlit.testing.v1 import AppTest
OURS = ("app", "core", "pandas", "plotly", "pyarrow", "sqlalchemy", "narwhals", "numpy")
ENGINE = ("vectorbt", "numba", "quantstats", "xgboost", "yfinance", "matplotlib")
engine = sorted(m for m in ENGINE if m in sys.modules)
seen = {}
for page in sys.argv[2:]:
    at = AppTest.from_file(sys.argv[1], default_timeout=300)
    at.switch_page(page)
    before = set(sys.modules)
    at.run()
    new = set(sys.modules) - before
    seen[page] = {
        "titles": [t.value for t in at.title],
        "errors": [str(e.value) for e in at.exception],
        "imported": sorted(m for m in new if m.partition(".")[0] in OURS),
    }
status = warm_start.STATUS
print("RESULT " + json.dumps({
    "engine_after_warmup": engine,
    "error": status.error,
    "steps": status.steps_done,
    "pages": seen,
}))
"""


def test_after_the_server_warmup_first_renders_import_nothing(isolated_workbench: Path) -> None:
    env = {**os.environ, "WORKBENCH_VAR_DIR": str(isolated_workbench)}
    pages = [str(ROOT / "pages" / name) for name in ("data.py", "regime.py")]
    result = _fresh_render(SERVED_RENDER, pages, env)
    assert result["error"] is None and result["engine_after_warmup"] == []
    for step in ("app.services.data", "dataset_infos", "symbols", "prices", "figure"):
        assert step in result["steps"]
    titles = {"data.py": "Data", "regime.py": "Regimes"}
    for page, seen in result["pages"].items():
        assert seen["titles"] == [titles[Path(page).name]] and seen["errors"] == []
        assert seen["imported"] == [], page


def _tables(database: Path) -> int:
    if not database.is_file():
        return 0
    try:
        with sqlite3.connect(database, timeout=1) as conn:
            return int(conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0])
    except sqlite3.OperationalError:  # being migrated
        return 0


@pytest.mark.fresh_db
def test_streamlit_run_warms_up_at_server_start(isolated_workbench: Path) -> None:
    """No visit: the database appears, migrated by the warm-up the lifespan started."""
    env = {**os.environ, "WORKBENCH_VAR_DIR": str(isolated_workbench)}
    env |= {"WORKBENCH_JOBS_AUTOSTART": "0", "WORKBENCH_APP_WARMUP": "0"}
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    cmd = [sys.executable, "-m", "streamlit", "run", str(ROOT / "app" / "main.py")]
    cmd += ["--server.port", str(port), "--server.headless", "true"]
    proc = subprocess.Popen(
        cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        database = isolated_workbench / "workbench.db"
        wait_until(lambda: _tables(database) > 5, "the warm-up's database", timeout_s=180)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=30) as r:
            assert r.status == 200
    finally:
        proc.terminate()
        log, _ = proc.communicate(timeout=60)
    assert "Traceback" not in log and "missing ScriptRunContext" not in log, log[-2000:]


def test_warmup_docstrings_and_switch(monkeypatch: pytest.MonkeyPatch) -> None:
    assert doctest.testmod(warmup).failed == 0
    assert doctest.testmod(warm_start).failed == 0
    for off in ("0", "off", "False"):
        monkeypatch.setenv("WORKBENCH_APP_WARMUP", off)
        assert warmup.enabled() is False
        assert warmup.start() is None
    monkeypatch.setenv("WORKBENCH_APP_WARMUP", "1")
    assert warmup.enabled() is True
