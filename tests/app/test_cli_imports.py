"""What each CLI command imports, in a fresh interpreter (asserted on sys.modules, never on
time): help needs neither pydantic's requests nor pandas or SQLAlchemy, listing datasets
needs no pandas, a backtest needs no quantstats, and a risk check maps only the tables it
reads."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.cli_helpers import run_cli

ROOT = Path(__file__).resolve().parents[2]
HEAVY = (
    "pandas",
    "numpy",
    "pydantic",
    "sqlalchemy",
    "alembic",
    "scipy",
    "sklearn",
    "xgboost",
    "vectorbt",
    "quantstats",
    "yfinance",
    "matplotlib",
    "statsmodels",
    "numba",
)
NOT_FOR_HELP = {"pandas", "sqlalchemy", "vectorbt", "quantstats", "scipy", "sklearn", "xgboost"}

_RUN = """
import json, sys
heavy = json.loads(sys.argv[2])
sys.argv = ["workbench", *json.loads(sys.argv[1])]
import app.cli
try:
    app.cli.main()
except SystemExit as exc:
    code = exc.code
else:
    code = 0
print(json.dumps({"code": code, "loaded": [m for m in heavy if m in sys.modules]}),
      file=sys.stderr)
"""


def _run(args: list[str], var: Path, watch: tuple[str, ...] = HEAVY) -> dict[str, Any]:
    """Run ``workbench ARGS`` in a fresh interpreter; its exit code and which of the
    modules ``watch`` (default the heavy packages) are left in ``sys.modules``."""
    env = {**os.environ, "WORKBENCH_VAR_DIR": str(var)}
    env.pop("WORKBENCH_DB_URL", None)
    done = subprocess.run(
        [sys.executable, "-c", _RUN, json.dumps(args), json.dumps(watch)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    report = json.loads(done.stderr.strip().splitlines()[-1])
    assert isinstance(report, dict), done.stderr
    report["stdout"] = done.stdout
    return report


@pytest.mark.parametrize("args", [["--help"], [], ["data", "--help"], ["data", "list", "--help"]])
def test_help_imports_no_heavy_package(args: list[str], tmp_path: Path) -> None:
    report = _run(args, tmp_path / "var")
    loaded = set(report["loaded"])
    assert not loaded & NOT_FOR_HELP, loaded
    if args in (["--help"], []):  # the root help reads the index: not even the requests
        assert "pydantic" not in loaded, loaded
    if args == ["--help"]:
        assert "data" in str(report["stdout"]) and "backtest" in str(report["stdout"])


def test_data_list_imports_no_pandas(tmp_path: Path) -> None:
    report = _run(["data", "list", "--json"], tmp_path / "var")
    assert report["code"] == 0, report
    loaded = set(report["loaded"])
    assert not loaded & {"pandas", "numpy", "vectorbt", "quantstats", "scipy"}, loaded
    listing = json.loads(str(report["stdout"]))
    names = [d["name"] for d in listing["datasets"]]
    assert names[:3] == ["ohlcv_daily", "sp500_closes", "synthetic"]


def test_a_backtest_imports_no_quantstats(tmp_path: Path) -> None:
    args = ["backtest", "--strategy", "ma_crossover", "--start", "2017-01-01", "--json"]
    report = _run(args, tmp_path / "var")
    assert report["code"] == 0, report
    loaded = set(report["loaded"])
    assert "vectorbt" in loaded  # the engine is vectorbt's from_orders
    assert not loaded & {"quantstats", "yfinance", "matplotlib", "statsmodels"}, loaded
    assert "sharpe" in json.loads(str(report["stdout"]))


NOT_FOR_RISK_CHECK = (
    "alembic",  # the database is already at head after the first run
    "sqlalchemy.dialects.postgresql",  # the store runs on SQLite here
    "pyarrow.dataset",  # one Parquet file is read with ParquetFile
    "core.store.models",  # the full catalog of tables: runs, models, alerts, imports
    "core.store.alerts",
    "core.store.registry",
    "core.store.repositories",
    "core.store.runs",
    "vectorbt",
)


def test_a_risk_check_imports_only_the_tables_it_reads(tmp_path: Path) -> None:
    args = ["risk", "check", "--symbol", "SP500", "--qty", "10", "--json"]
    _run(args, tmp_path / "var")  # creates and migrates the database (Alembic)
    report = _run(args, tmp_path / "var", watch=("core.store.paper", *NOT_FOR_RISK_CHECK))
    assert report["code"] == 0, report
    assert report["loaded"] == ["core.store.paper"], report["loaded"]  # the watch works
    checked = json.loads(str(report["stdout"]))
    assert checked["approved"] is True and checked["requested_quantity"] == 10.0


def test_the_command_index_matches_the_feature_modules() -> None:
    """app/cli/_index.py (what the root help lists without importing the features) holds
    exactly the commands and help texts the feature modules register."""
    code = (
        "import json, app.cli\n"
        "from app.cli._index import COMMANDS\n"
        "print(json.dumps([app.cli.command_index(), COMMANDS]))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    built, stored = json.loads(done.stdout)
    assert list(built.items()) == list(stored.items()), (
        'app/cli/_index.py is stale: run python -c "import app.cli; app.cli.write_index()"'
    )


def test_the_cli_bench_section_reports_each_command() -> None:
    """Smoke test of core/bench_cli (one run of the root help): keys and invariants only."""
    from core.bench_cli import TARGETS_S, bench_cli, summary

    report = bench_cli(repeats=1, commands={"help": ("--help",)})
    row = report["commands"]["help"]
    assert row["target_s"] == TARGETS_S["help"]
    assert 0 < row["cpu_s"]["median"] and row["wall_s"]["median"] <= row["wall_s"]["p95"]
    assert row["median_to_target"] == row["wall_s"]["median"] / row["target_s"]
    assert summary(report).startswith("cli, new process")


@pytest.mark.parametrize(
    ("argv0", "expected"),
    [
        ("/venv/bin/workbench", True),
        ("/work/main/app/cli/__main__.py", True),
        ("/venv/bin/pytest", False),
        ("-c", False),
        ("", False),
        ("/elsewhere/__main__.py", False),
    ],
)
def test_only_the_workbench_process_skips_the_teardown(
    argv0: str, expected: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    import app.cli

    monkeypatch.setattr(sys, "argv", [argv0])
    assert app.cli._is_workbench_process() is expected


def test_the_fast_exit_keeps_the_status_and_the_output(tmp_path: Path) -> None:
    # a bad request (exit 2, message on stderr) and a good one (exit 0, JSON on stdout),
    # each in its own `python -m app.cli` process, which ends through os._exit
    var = tmp_path / "var"
    bad = run_cli("risk", "check", "--symbol", "NOPE", "--qty", "1", var=var, timeout=300)
    assert bad.returncode == 2 and "has no symbol 'NOPE'" in bad.stderr
    good = run_cli("data", "list", "--json", var=var, timeout=300)
    assert good.returncode == 0, good.stderr
    names = {d["name"] for d in json.loads(good.stdout)["datasets"]}
    assert "ohlcv_daily" in names


def test_the_status_of_system_exit() -> None:
    from app.cli import _status_of

    assert [_status_of(None), _status_of(0), _status_of(3), _status_of("a message")] == [0, 0, 3, 1]
