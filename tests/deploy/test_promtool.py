"""The Prometheus files checked by the real ``promtool`` (Debian's prometheus package):
the rules are valid, every alert fires on a planted series and not on a quiet one
(``alerts_test.yml``), and the scrape configuration is valid.

The live scrapes of the exporters are checked with :func:`check_metrics` in
tests/deploy/test_metrics_exporters.py and tests/api/test_metrics.py. Without promtool
the tests skip, except under CI (``WORKBENCH_CI=1``, set by .ci/run, which installs it):
there they fail.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PROMETHEUS = ROOT / "deploy" / "prometheus"


def promtool() -> str:
    """The promtool executable (fails under CI when it is missing, else skips)."""
    found = shutil.which("promtool")
    if found is None:
        message = "promtool is not installed (apt-get install prometheus)"
        if os.environ.get("WORKBENCH_CI") == "1":
            pytest.fail(f"{message}; .ci/run installs it before the tests")
        pytest.skip(message)
    return found


def run_promtool(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """``promtool ARGS`` in deploy/prometheus (its relative rule paths resolve there)."""
    return subprocess.run(
        [promtool(), *args],
        cwd=PROMETHEUS,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def check_metrics(exposition: str) -> None:
    """``promtool check metrics`` accepts ``exposition`` with no finding at all (lint
    problems, e.g. a counter without ``_total``, are findings too)."""
    out = run_promtool("check", "metrics", stdin=exposition)
    findings = (out.stdout + out.stderr).strip()
    assert out.returncode == 0 and not findings, findings or out.returncode


def test_the_alert_rules_are_valid() -> None:
    out = run_promtool("check", "rules", "alerts.yml")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "SUCCESS: 8 rules found" in out.stdout


def test_every_alert_fires_on_its_planted_series_and_not_on_a_quiet_one() -> None:
    out = run_promtool("test", "rules", "alerts_test.yml")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "SUCCESS" in out.stdout


def test_every_alert_has_a_firing_and_a_quiet_case() -> None:
    import yaml

    rules = yaml.safe_load((PROMETHEUS / "alerts.yml").read_text())
    names = {r["alert"] for g in rules["groups"] for r in g["rules"]}
    tests = yaml.safe_load((PROMETHEUS / "alerts_test.yml").read_text())["tests"]
    cases = [case for test in tests for case in test["alert_rule_test"]]
    fires = {c["alertname"] for c in cases if c["exp_alerts"]}
    quiet = {c["alertname"] for c in cases if not c["exp_alerts"]}
    assert fires == names and quiet == names, (names - fires, names - quiet)


def test_a_wrong_expectation_fails_the_rule_tests(tmp_path: Path) -> None:
    # The unit tests are strict: a planted series that stays under the threshold fails.
    shutil.copy(PROMETHEUS / "alerts.yml", tmp_path / "alerts.yml")
    planted = (PROMETHEUS / "alerts_test.yml").read_text()
    assert '"0.4x30"' in planted
    (tmp_path / "alerts_test.yml").write_text(planted.replace('"0.4x30"', '"0.2x30"'))
    out = subprocess.run(
        [promtool(), "test", "rules", "alerts_test.yml"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert out.returncode != 0 and "ModelFeatureDrift" in out.stdout + out.stderr


def test_the_scrape_configuration_is_valid() -> None:
    out = run_promtool("check", "config", "prometheus.yml")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "is valid prometheus config file syntax" in out.stdout


def test_check_metrics_reports_a_badly_named_counter() -> None:
    # The live-scrape checks rely on promtool's lint: it does find problems.
    bad = "# HELP jobs Jobs.\n# TYPE jobs counter\njobs 1\n"
    out = run_promtool("check", "metrics", stdin=bad)
    assert "_total" in out.stdout + out.stderr
