"""The workbench CLI, run as a real subprocess, as a user would from a shell."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.cli_helpers import run_cli

ROOT = Path(__file__).resolve().parents[2]


def workbench(*args: str, var: Path) -> subprocess.CompletedProcess[str]:
    """The CLI as a subprocess with its own runtime folder."""
    return run_cli(*args, var=var, timeout=120)


def test_data_list_json(isolated_workbench: Path) -> None:
    out = workbench("data", "list", "--json", var=isolated_workbench)
    assert out.returncode == 0, out.stderr
    payload = json.loads(out.stdout)
    names = [d["name"] for d in payload["datasets"]]
    assert names[:2] == ["ohlcv_daily", "sp500_closes"]
    assert payload["symbol_count"] >= 25
    sp = next(s for d in payload["datasets"] for s in d["symbols"] if s["symbol"] == "SP500")
    assert sp["start"] == "1999-01-04" and sp["rows"] == 5031


def test_validate_good_file(tmp_path: Path, isolated_workbench: Path) -> None:
    f = tmp_path / "ok.csv"
    f.write_text("date,close\n2021-01-05,2\n2021-01-04,1\n")
    out = workbench("data", "validate", str(f), "--json", var=isolated_workbench)
    assert out.returncode == 0, out.stdout + out.stderr
    payload = json.loads(out.stdout)
    assert payload["rows"] == 2 and payload["start"] == "2021-01-04"
    assert any("sorted" in w for w in payload["warnings"])


def test_validate_bad_file_exits_2_with_defects(tmp_path: Path, isolated_workbench: Path) -> None:
    f = tmp_path / "bad.csv"
    f.write_text("date,high,low,close\n2021-01-04,1,2,1.5\n2021-01-04,2,1,x\n")
    out = workbench("data", "validate", str(f), "--json", var=isolated_workbench)
    assert out.returncode == 2
    payload = json.loads(out.stdout)
    codes = {d["code"] for d in payload["defects"]}
    # line 2 has high 1 < low 2 (so close 1.5 lies outside [low, high]): every defect is listed
    assert codes == {
        "non_numeric",
        "duplicate_timestamps",
        "high_below_low",
        "close_outside_range",
    }
    assert "bad.csv" in payload["error"]


def test_import_then_list(tmp_path: Path, isolated_workbench: Path) -> None:
    f = tmp_path / "fund.csv"
    f.write_text("date,close\n2021-01-04,1\n2021-01-05,1.1\n")
    out = workbench("data", "import", str(f), "--name", "fund", var=isolated_workbench)
    assert out.returncode == 0, out.stderr
    assert "imported 2 rows as uploads/fund" in out.stdout
    listed = json.loads(workbench("data", "list", "--json", var=isolated_workbench).stdout)
    uploads = next(d for d in listed["datasets"] if d["name"] == "uploads")
    assert [s["symbol"] for s in uploads["symbols"]] == ["fund"]


@pytest.mark.parametrize("content", [b"", b"date,close\n2021-01-04,-1\n"])
def test_import_invalid_stores_nothing(
    tmp_path: Path, isolated_workbench: Path, content: bytes
) -> None:
    f = tmp_path / "bad.csv"
    f.write_bytes(content)
    out = workbench("data", "import", str(f), "--name", "bad", var=isolated_workbench)
    assert out.returncode == 2
    assert "error:" in out.stderr
    listed = json.loads(workbench("data", "list", "--json", var=isolated_workbench).stdout)
    uploads = next(d for d in listed["datasets"] if d["name"] == "uploads")
    assert uploads["symbols"] == []


def test_missing_file_is_a_clear_error(isolated_workbench: Path) -> None:
    out = workbench("data", "validate", "/no/such.csv", var=isolated_workbench)
    assert out.returncode == 2 and "file not found" in out.stderr
