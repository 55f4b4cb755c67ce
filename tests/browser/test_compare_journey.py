"""The PM's compare journeys in a real browser: an A/B comparison of two strategies and of two
registered models (the verdict names its deciding test; arms are named as the user knows
them, a model by its name and version, never "model:2"), and an ensemble run; the key
screens at 800 px."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import ROOT
from tests.browser.helpers import (
    assert_no_exception,
    assert_not_truncated,
    check_axe,
    click_button,
    fill_number,
    metric_value,
    open_page,
    radio,
    sidebar_collapses,
    table_with,
    wait_idle,
)

JOB_S = 120_000  # ms: a job on a busy two-core machine
FEATURES = ("ret_1", "ret_5", "rsi_14", "vol_21")
VERDICT = re.compile(
    r"^Verdict: no significant difference \(decided by HAC paired t-test: Holm-adjusted "
    r"p=\d\.\d+ (≥|>=) alpha=0\.05\)"
)
"""Both pairs of this journey differ by too little to decide on SP500 (the service tests
hold the verdicts that do decide); what the user must see is which test decided."""


@pytest.fixture(autouse=True)
def patient_expect() -> Iterator[None]:
    """A rerun on a loaded two-core machine can take longer than expect()'s 5 s."""
    expect.set_options(timeout=60_000)
    yield
    expect.set_options(timeout=5_000)


@pytest.fixture(scope="module")
def trainings(server: Any) -> list[subprocess.Popen[str]]:
    """Two logistic trainings of momentum_lr (horizons 5 and 10) started side by side through
    the CLI against the server's database; the first registers its run as v1. Asked for by
    the first journey too, so that they run while it does."""
    features = [arg for f in FEATURES for arg in ("--feature", f)]
    return [
        subprocess.Popen(
            [sys.executable, "-m", "app.cli", "train", "--model", "logistic", *features,
             "--horizon", str(horizon), "--json", *register],
            cwd=ROOT, env=server.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        for horizon, register in ((5, ["--register", "momentum_lr"]), (10, []))
    ]  # fmt: skip


@pytest.fixture(scope="module")
def models(server: Any, trainings: list[subprocess.Popen[str]]) -> list[dict[str, Any]]:
    """momentum_lr v1 (horizon 5) and v2 (horizon 10) in the registry, newest first."""
    done = []
    for training in trainings:
        out, err = training.communicate(timeout=300)
        assert training.returncode == 0, err[-3000:]
        done.append(json.loads(out))
    v1 = done[0]["registered"]
    register = ("registry", "register", "--run-id", str(done[1]["run_id"]))
    v2 = json.loads(server.cli(*register, "--name", "momentum_lr", "--json").stdout)
    assert [(v["name"], v["version"]) for v in (v2, v1)] == [
        ("momentum_lr", 2),
        ("momentum_lr", 1),
    ]
    return [v2, v1]


def _done_job(page: Any, kind: str) -> int:
    """Wait for the open job of ``kind`` to finish; its id."""
    status = page.get_by_text(re.compile(rf"Job #\d+ \({kind}\) done"))
    expect(status).to_be_visible(timeout=JOB_S)
    wait_idle(page)
    found = re.search(r"Job #(\d+)", status.first.inner_text())
    assert found is not None
    return int(found.group(1))


def _runs(server: Any, kind: str) -> list[dict[str, Any]]:
    """The saved runs of ``kind`` as the CLI reads them from the server's database."""
    listed = json.loads(server.cli("runs", "--kind", kind, "--json").stdout)["runs"]
    return list(listed)


def _compare(page: Any) -> int:
    """Press Compare with the fewest bootstrap resamples; the finished job's id."""
    fill_number(page, "Bootstrap resamples", 200)
    click_button(page, "Compare")
    job_id = _done_job(page, "abtest")
    assert_no_exception(page)
    return job_id


def _verdict(page: Any) -> str:
    box = page.locator('[data-testid="stAlert"]').filter(has_text="Verdict:")
    expect(box).to_be_visible()
    text = str(box.inner_text()).strip()
    assert VERDICT.search(text), text
    decided = page.get_by_text("Decided by: HAC paired t-test: paired t-test of daily")
    expect(decided).to_be_visible()
    return text


def _primary_rows(page: Any) -> list[list[str]]:
    """The primary test's table (the one that holds the HAC test), header row first."""
    expect(page.get_by_text("Primary test: HAC paired t-test")).to_be_visible()
    return table_with(page, "HAC paired t-test")


def test_an_ab_comparison_of_two_strategies(
    page: Any, server: Any, narrow_page: Any, trainings: list[subprocess.Popen[str]]
) -> None:
    open_page(page, server, "abtest")
    check_axe(page)
    job_id = _compare(page)  # the defaults: buy_and_hold against ma_crossover(20, 100)
    verdict = _verdict(page)
    header, row = _primary_rows(page)[:2]
    assert header[:5] == ["Pair", "Test", "Adjusted p", "Significant", "Favours"]
    assert row[:2] == ["buy_and_hold vs ma_crossover (fast=20, slow=100)", "HAC paired t-test"]
    assert re.fullmatch(r"-?\d\.\d\d bp/day", row[5]), row  # the estimate in its unit
    assert metric_value(page, "Common days") == "5,030"
    (saved,) = _runs(server, "abtest")
    assert saved["title"] == "A/B buy_and_hold vs ma_crossover (fast=20, slow=100)"
    assert saved["metrics"]["primary_test"] == "HAC paired t-test"
    shown = verdict.removeprefix("Verdict: ").replace("≥", ">=")
    assert shown == saved["metrics"]["verdict"]
    assert f"p={row[2]} " in shown  # the table's adjusted p is the verdict's
    check_axe(page)

    # the key screen at 800 px: the finished comparison reopened from its URL
    open_page(narrow_page, server, f"abtest?job={job_id}")
    _verdict(narrow_page)
    sidebar_collapses(narrow_page)
    assert_not_truncated(narrow_page.locator('[data-testid="stMetric"]'))
    assert metric_value(narrow_page, "Common days") == "5,030"
    check_axe(narrow_page)
    assert_no_exception(narrow_page)


def test_an_ab_comparison_of_two_registered_models(
    page: Any, server: Any, models: list[dict[str, Any]]
) -> None:
    open_page(page, server, "abtest")
    radio(page, "Arm A", "model")  # the model picker shows at once (no form to submit)
    radio(page, "Arm B", "model")
    for arm, version in zip("AB", models, strict=False):  # A: the newest, B: the one before
        picker = page.get_by_role("combobox", name=f"Arm {arm} registered model")
        picked = f"momentum_lr v{version['version']} (candidate, #{version['id']})"
        expect(picker).to_have_value(picked)
    _compare(page)
    _verdict(page)
    row = _primary_rows(page)[1]
    assert row[:2] == ["momentum_lr v2 vs momentum_lr v1", "HAC paired t-test"]
    page.locator('[data-testid="stPlotlyChart"]').first.scroll_into_view_if_needed()
    legend = page.locator('[data-testid="stPlotlyChart"] .legend')
    expect(legend.first).to_contain_text("momentum_lr v2")
    expect(legend.first).to_contain_text("momentum_lr v1")
    expect(page.get_by_text("Arms: momentum_lr v2, momentum_lr v1.", exact=False)).to_be_visible()
    claims = [row[0] for row in table_with(page, "Claim")[1:]]
    assert claims == [
        "momentum_lr v1 beats the other by 1 bp/day",
        "momentum_lr v2 beats the other by 1 bp/day",
    ]
    main = str(page.locator('[data-testid="stMain"]').inner_text())
    assert "model:" not in main
    first_day = re.search(r"common days from (\d{4}-\d\d-\d\d)", main)
    assert first_day is not None
    assert first_day.group(1) > min(str(v["train_end"]) for v in models)  # out of sample only
    latest = _runs(server, "abtest")[0]
    assert latest["title"] == "A/B momentum_lr v2 vs momentum_lr v1"
    assert "model:" not in latest["metrics"]["verdict"]
    check_axe(page)


def test_an_ensemble_run(page: Any, server: Any, narrow_page: Any) -> None:
    open_page(page, server, "ensemble")
    check_axe(page)
    click_button(page, "Run ensemble")
    job_id = _done_job(page, "ensemble eval")
    assert_no_exception(page)
    heading = page.get_by_role(
        "heading", name=re.compile(r"Run #\d+: Contextual UCB \(by regime\) on SP500")
    )
    expect(heading).to_be_visible()
    expect(heading).to_contain_text("(train 50%, seed 0)")
    (saved,) = _runs(server, "ensemble")
    metrics = saved["metrics"]
    assert metric_value(page, "Ensemble Sharpe") == f"{metrics['ensemble_sharpe']:.2f}"
    assert metric_value(page, "Regret") == f"{100 * metrics['regret']:.2f}%"
    assert metric_value(page, "Switches") == f"{metrics['switches']:,}"
    # (the grid's accessible mirror holds the raw numbers: the page test checks its formats)
    rows = table_with(page, "Ann. return")
    assert rows[0][:5] == ["Agent", "Regime", "Bars", "Ann. return", "Sharpe"]
    assert len(rows) == 1 + 4 * len({r[1] for r in rows[1:]})  # every agent in every regime
    heatmap = page.locator('[data-testid="stPlotlyChart"]').first
    heatmap.scroll_into_view_if_needed()
    expect(heatmap).to_contain_text(re.compile(r"\(\d,\d{3} bars\)"))  # thousands shown
    expect(heatmap).to_contain_text(re.compile(r"-?\d\.\d\d"))  # Sharpe to 2 decimals
    check_axe(page)

    open_page(narrow_page, server, f"ensemble?job={job_id}")
    expect(narrow_page.get_by_role("heading", name=re.compile(r"Run #\d+:"))).to_be_visible()
    sidebar_collapses(narrow_page)
    assert_not_truncated(narrow_page.locator('[data-testid="stMetric"]'))
    check_axe(narrow_page)
    assert_no_exception(narrow_page)
