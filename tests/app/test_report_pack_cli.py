"""``workbench report pack`` and ``workbench report pack schedule set|list|remove``
(app/cli/report_pack.py), in process on the root app with ``pack`` installed under
``report`` as app/cli/backtest.py does (:func:`app.cli.report_pack.install`); the
tear-sheet command keeps its options and messages."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

import app.cli.backtest
from app.cli._app import app
from app.cli.report_pack import install

runner = CliRunner()


@pytest.fixture(autouse=True, scope="module")
def _installed() -> None:
    install(app)


def _run(*args: str) -> tuple[int, str]:
    """Exit code and printed text (stdout alone when the command prints JSON)."""
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout if "--json" in args else result.output


def test_pack_writes_its_files_where_asked(tmp_path: Path) -> None:
    code, out = _run(
        "report", "pack", "ma_crossover", "--format", "html", "--out", str(tmp_path), "--json"
    )
    assert code == 0, out
    payload = json.loads(out)
    html = Path(payload["html"])
    assert html.parent == tmp_path and payload["pdf"] is None
    assert "Report pack: strategy ma_crossover" in html.read_text(encoding="utf-8")
    assert payload["backtests"] == 0 and payload["paper_sessions"] == 0 and payload["sent"] == []


def test_bad_subjects_exit_2_with_a_sentence(tmp_path: Path) -> None:
    code, out = _run("report", "pack", "nope")
    assert code == 2 and "Strategy nope is not one of the strategies" in out
    code, out = _run("report", "pack", "ghost", "--kind", "model", "--format", "html")
    assert code == 2 and "No registered model is named ghost" in out
    code, out = _run("report", "pack", "ma_crossover", "--format", "docx")
    assert code == 2 and "Traceback" not in out
    code, out = _run("report", "pack", "ma_crossover", "--out", str(Path(__file__)))
    assert code == 2 and "is not a folder" in out


def test_schedule_set_list_remove() -> None:
    code, out = _run(
        "report",
        "pack",
        "schedule",
        "set",
        "--name",
        "morning",
        "--subject",
        "ma_crossover",
        "--channel",
        "in-app",
        "--at",
        "6:30",
        "--timezone",
        "Europe/Paris",
        "--json",
    )
    assert code == 0, out
    assert json.loads(out)["at"] == "06:30"
    code, out = _run("report", "pack", "schedule", "list", "--json")
    (row,) = json.loads(out)["schedules"]
    assert row["name"] == "morning" and row["channels"] == ["in-app"] and row["format"] == "both"
    assert row["next_slot"].endswith(("T05:30:00+00:00", "T04:30:00+00:00"))  # 06:30 Paris
    code, out = _run(
        "report",
        "pack",
        "schedule",
        "set",
        "--name",
        "w",
        "--subject",
        "ma_crossover",
        "--channel",
        "in-app",
        "--frequency",
        "weekly",
    )
    assert code == 2 and "A weekly schedule needs its day" in out
    code, out = _run("report", "pack", "schedule", "remove", "morning")
    assert code == 0 and "schedule morning removed" in out
    code, out = _run("report", "pack", "schedule", "remove", "morning")
    assert code == 2 and "No report pack schedule is named morning" in out


def test_the_tear_sheet_command_is_unchanged() -> None:
    code, out = _run("report", "--help")
    assert code == 0 and "--run" in out and "quantstats" in out and "`report pack`" in out
    code, out = _run("report", "--run", "999")
    assert code == 2 and "no saved run with id 999" in out.lower()
    code, out = _run("report", "pack", "--help")
    assert code == 0 and "--send" in out and "`pack schedule`" in out
