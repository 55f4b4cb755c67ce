"""The analyst's model journeys in a real browser: train with tuning, register the run (a
second registration of the same run is refused, naming the version), and a walk-forward
with its HTML report downloaded and read; the look-ahead expander stays open while its
options change; the key screens at 800 px."""

from __future__ import annotations

import json
import re
from typing import Any

from playwright.sync_api import expect

from core.backtest.spec import EXECUTION
from tests.browser.helpers import (
    assert_no_exception,
    assert_not_truncated,
    check_axe,
    click_button,
    fill_text,
    metric_value,
    open_page,
    radio,
    sidebar_collapses,
    toggle,
    wait_idle,
)

JOB_S = 120_000  # ms: a job on a busy two-core machine
FEATURES = "Features (44 available for these columns)"
SMALL = ["ret_1", "ret_5", "rsi_14", "vol_21"]


def choose(page: Any, label: str, option: str) -> None:
    """Pick ``option`` in the select box labelled ``label`` (Streamlit 1.67 draws it as a
    react-aria combobox, not the baseweb select ``helpers.choose`` looks for)."""
    box = page.locator('[data-testid="stSelectbox"]').filter(
        has=page.locator('[data-testid="stWidgetLabel"]').get_by_text(label, exact=True)
    )
    box.get_by_role("combobox").click()
    page.get_by_role("option", name=option, exact=True).click()
    wait_idle(page)


def type_in_form(page: Any, label: str, value: object) -> None:
    """Type ``value`` into the form's number or text input labelled ``label`` and leave it
    with Tab (Enter would submit the form: ``helpers.fill_number`` and ``fill_text`` do)."""
    field = page.locator('[data-testid="stNumberInput"], [data-testid="stTextInput"]').filter(
        has=page.locator('[data-testid="stWidgetLabel"]').get_by_text(label, exact=True)
    )
    box = field.locator("input").first
    box.fill(str(value))
    box.press("Tab")


def keep_only(page: Any, label: str, options: list[str]) -> None:
    """Clear the multiselect labelled ``label`` and pick ``options`` (a cheap training)."""
    box = page.locator('[data-testid="stMultiSelect"]').filter(
        has=page.locator('[data-testid="stWidgetLabel"]').get_by_text(label, exact=True)
    )
    box.get_by_role("button", name="Clear all").click()
    for option in options:
        box.get_by_role("combobox").fill(option)
        page.get_by_role("option", name=option, exact=True).click()
    page.keyboard.press("Escape")
    expect(box.locator("[data-tag]")).to_have_count(len(options))


def _run_json(server: Any, run_id: int) -> dict[str, Any]:
    """The saved run as the CLI reads it from the server's database."""
    listed = json.loads(server.cli("runs", "--limit", "50", "--json").stdout)["runs"]
    (run,) = [r for r in listed if r["id"] == run_id]
    return dict(run)


def _done_job(page: Any, kind: str) -> int:
    """Wait for the open job of ``kind`` to finish; its id."""
    status = page.get_by_text(re.compile(rf"Job #\d+ \({kind}\) done"))
    expect(status).to_be_visible(timeout=JOB_S)
    wait_idle(page)
    found = re.search(r"Job #(\d+)", status.first.inner_text())
    assert found is not None
    return int(found.group(1))


def test_training_with_tuning_then_register_once(page: Any, server: Any) -> None:
    open_page(page, server, "training")
    check_axe(page)
    choose(page, "Model", "Logistic regression")
    keep_only(page, FEATURES, SMALL)
    toggle(page, "Tune with Optuna")
    type_in_form(page, "Trials", 2)
    click_button(page, "Train")
    _done_job(page, "train")
    assert_no_exception(page)
    heading = page.get_by_role("heading", name=re.compile(r"Run #\d+: logistic on SP500, h=5"))
    expect(heading).to_be_visible()
    found = re.search(r"Run #(\d+)", heading.inner_text())
    assert found is not None
    run_id = int(found.group(1))
    run = _run_json(server, run_id)
    assert run["metrics"]["trials"] == 2
    assert metric_value(page, "ROC-AUC") == f"{run['metrics']['roc_auc']:.4f}"
    assert metric_value(page, "Accuracy") == f"{run['metrics']['accuracy']:.2%}"
    caption = page.get_by_text(re.compile(rf"Run #{run_id} · logistic .* trials 2 · seed 0"))
    expect(caption).to_be_visible()
    assert not re.search(r"\d\.\d{7,}", caption.inner_text())  # no 16-digit floats
    expect(page.locator('[data-testid="stProgress"]')).to_have_count(0)
    check_axe(page)

    fill_text(page, "Model name", "momentum_lr")  # committed with Tab: the form waits
    click_button(page, "Register model")
    expect(page.get_by_text("Registered momentum_lr v1")).to_be_visible()
    click_button(page, "Register model")  # the same run again
    refusal = (
        f"Training run #{run_id} is already registered as momentum_lr v1 (candidate); "
        "promote or compare that version instead of registering the run again."
    )
    expect(page.get_by_text(refusal)).to_be_visible()
    expect(page.get_by_text("Registered momentum_lr v2")).to_have_count(0)
    versions = json.loads(server.cli("registry", "list", "--json").stdout)["versions"]
    assert [(v["name"], v["version"]) for v in versions] == [("momentum_lr", 1)]
    assert_no_exception(page)


def test_a_failed_training_shows_its_error_beside_the_field(page: Any, server: Any) -> None:
    open_page(page, server, "training")
    choose(page, "Model", "Logistic regression")
    keep_only(page, FEATURES, SMALL)
    page.get_by_text("Costs and fixed hyperparameters").click()
    type_in_form(page, "Fixed hyperparameters (JSON)", '{"C": -1}')
    click_button(page, "Train")
    failed = page.get_by_text(re.compile(r"Job #\d+ \(train\) failed"))
    expect(failed).to_be_visible(timeout=JOB_S)
    wait_idle(page)
    costs = page.locator('[data-testid="stExpander"]').filter(
        has_text="Costs and fixed hyperparameters"
    )
    beside = costs.locator('[data-testid="stAlertContentError"]')
    expect(beside).to_be_visible()  # open, inside the section that holds the field
    expect(beside).to_contain_text("'C' parameter of LogisticRegression")
    expect(beside).to_contain_text("Correct this field and run again.")
    expect(page.locator('[data-testid="stProgress"]')).to_have_count(0)
    assert_no_exception(page)


def test_walkforward_run_and_its_html_report(page: Any, server: Any, narrow_page: Any) -> None:
    from app.services.data import load_prices
    from core.ml.training import data_hash

    open_page(page, server, "walkforward")
    check_axe(page)
    type_in_form(page, "Folds (0 = all that fit)", 2)
    click_button(page, "Run walk-forward")
    job_id = _done_job(page, "walkforward")
    heading = page.get_by_role("heading", name=re.compile(r"Run #\d+: ma_crossover"))
    expect(heading).to_be_visible()
    found = re.search(r"Run #(\d+)", heading.inner_text())
    assert found is not None
    run_id = int(found.group(1))
    metrics = _run_json(server, run_id)["metrics"]
    assert metric_value(page, "Deflated Sharpe") == f"{metrics['deflated_sharpe']:.3f}"
    assert metric_value(page, "Trials") == f"{metrics['trials']:,}"
    assert_no_exception(page)
    check_axe(page)

    with page.expect_download() as info:
        page.get_by_role("button", name="Download report (HTML)").click()
    download = info.value
    assert download.suggested_filename == f"walkforward_{run_id}.html"
    report = open(download.path(), encoding="utf-8").read()
    assert f"Walk-forward report: ma_crossover on SP500, run #{run_id}" in report
    assert f"<th scope='row'>Run id</th><td>#{run_id}</td>" in report
    assert "<th scope='row'>Strategy</th><td>ma_crossover</td>" in report
    assert re.search(r"<th scope='row'>Parameter grid</th><td>fast: .*; slow: ", report)
    assert "<th scope='row'>Fees</th><td>5 bps (0.05%) per fill</td>" in report
    assert "<th scope='row'>Slippage</th><td>5 bps (0.05%) per fill</td>" in report
    assert f"<td>{EXECUTION}</td>" in report
    prices = load_prices("ohlcv_daily", "SP500")
    assert f"<th scope='row'>Data sha256</th><td>{data_hash(prices)}</td>" in report
    assert report.count("Deflated Sharpe ratio") == 1
    assert report.count("Probability of backtest overfitting") == 1
    assert f"<td>{metrics['deflated_sharpe']:.3f} over {metrics['trials']:,} trials" in report
    assert "00:00:00" not in report.split("<h2>Folds</h2>")[1]  # fold dates are days

    # the look-ahead expander stays open while its options change
    expander = page.locator('[data-testid="stExpander"]').filter(has_text="Look-ahead check")
    expander.get_by_text("Look-ahead check", exact=True).click()
    wait_idle(page)
    radio(page, "Check", "All features")
    leaky = page.get_by_text("Include the deliberately leaky demo feature (next bar's return)")
    expect(leaky).to_be_visible()
    radio(page, "Check", "A strategy (default parameters)")
    expect(expander.get_by_role("button", name="Run look-ahead check")).to_be_visible()
    click_button(page, "Run look-ahead check")
    expect(page.get_by_text(re.compile(r"^Clean: "))).to_be_visible()
    assert_no_exception(page)

    # the key screen at 800 px: the finished run reopened from its URL
    open_page(narrow_page, server, f"walkforward?job={job_id}")
    expect(narrow_page.get_by_role("heading", name=re.compile(rf"Run #{run_id}:"))).to_be_visible()
    sidebar_collapses(narrow_page)
    assert_not_truncated(narrow_page.locator('[data-testid="stMetricValue"]'))
    assert metric_value(narrow_page, "Deflated Sharpe") == f"{metrics['deflated_sharpe']:.3f}"
    check_axe(narrow_page)
    assert_no_exception(narrow_page)
