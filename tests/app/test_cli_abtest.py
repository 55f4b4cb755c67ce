"""``workbench abtest``: the JSON shape of a comparison, from a real subprocess."""

from __future__ import annotations

import json
from pathlib import Path

from tests.app.test_cli import workbench


def test_cli_abtest_json_shape(isolated_workbench: Path) -> None:
    out = workbench(
        "abtest",
        "--a",
        "buy_and_hold",
        "--b",
        "ma_crossover:fast=20,slow=100",
        "--n-boot",
        "300",
        "--json",
        var=isolated_workbench,
    )
    assert out.returncode == 0, out.stderr
    payload = json.loads(out.stdout)
    assert {"tests", "adjusted_p_values", "verdict", "min_sample_size"} <= set(payload)
    assert len(payload["tests"]) == 7 == len(payload["adjusted_p_values"])
    assert {t["test"] for t in payload["tests"]} >= {"paired t-test", "Wilcoxon signed-rank"}
    # The pair: the old verdict was "buy_and_hold better (win rate difference)".
    assert payload["primary_test"] == "HAC paired t-test"
    assert payload["verdict"].startswith(
        "no significant difference (decided by HAC paired t-test: Holm-adjusted p="
    )
    assert [t["test"] for t in payload["primary"]] == ["HAC paired t-test"]
    assert [t["role"] for t in payload["tests"]] == ["primary"] + ["secondary"] * 6
    text = workbench(
        "abtest", "--a", "buy_and_hold", "--b", "ma_crossover:fast=20,slow=100",
        "--n-boot", "300", var=isolated_workbench,
    )  # fmt: skip
    assert text.returncode == 0, text.stderr
    lines = text.stdout.splitlines()
    assert lines[0].startswith("verdict: no significant difference (decided by HAC paired t-test")
    assert lines[1].startswith("decided by: HAC paired t-test (paired t-test of daily return")
    assert "primary test (decides):" in lines
    assert any(
        line.startswith("secondary tests (shown for information, never decide") for line in lines
    )
    bad = workbench("abtest", "--a", "buy_and_hold", "--b", "nope:x", var=isolated_workbench)
    assert bad.returncode == 2 and "name=value" in bad.stderr
