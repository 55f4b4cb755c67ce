"""The Ensemble page through the router, and the retraining replay component."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
from streamlit.testing.v1 import AppTest

from app.components.ensemble import SWITCH_TABLE_CAP
from app.operations.ensemble import EnsembleOutcome, EnsembleRequest
from app.services import jobs, retrain
from app.services import runs as run_store
from app.services.ensemble import run_ensemble
from tests.pages.helpers import chart_spec, metrics, open_app, plotly_array

RUN = "FormSubmitter:ensemble.form-Run ensemble"
REPLAY = "FormSubmitter:retrain.form-Replay policy over history"


def _expected_cards(m: dict) -> dict[str, str]:
    """The page's formats: Sharpe to 2 decimals, regret and turnover in percent."""
    return {
        "Ensemble Sharpe": f"{m['ensemble_sharpe']:.2f}",
        f"Best single Sharpe ({m['best_agent']})": f"{m['best_single_sharpe']:.2f}",
        "Equal-weight Sharpe": f"{m['equal_weight_sharpe']:.2f}",
        "Regret": f"{100 * m['regret']:.2f}%",
        "Switches": f"{m['switches']:,}",
        "Turnover (per bar)": f"{100 * m['turnover']:.2f}%",
    }


def _table(at: AppTest, columns: list[str]) -> pd.DataFrame:
    """The first table on the page whose columns start with ``columns``."""
    for frame in at.dataframe:
        value = frame.value
        if isinstance(value, pd.DataFrame) and list(value.columns)[: len(columns)] == columns:
            return value
    raise AssertionError(f"no table with columns {columns}")


def _formats(at: AppTest, first_column: str) -> dict[str, str]:
    """The display format of each configured column of the table whose first column is
    ``first_column``."""
    (table,) = [d for d in at.dataframe if list(d.value.columns)[:1] == [first_column]]
    config = json.loads(table.proto.columns)
    return {name: c["type_config"]["format"] for name, c in config.items() if "type_config" in c}


def _run(at: AppTest) -> EnsembleOutcome:
    """Submit the form, run the job as the worker would, show it; the same request run here
    by the service (the numbers the page must show, reopened from the saved run)."""
    at.button(key=RUN).click().run()
    assert not at.exception, at.exception
    assert jobs.run_pending() == 1
    at.run()
    assert not at.exception, at.exception
    request = jobs.request_of(jobs.list_jobs(kind="ensemble eval")[0])
    assert isinstance(request, EnsembleRequest)
    return run_ensemble(request, save=False)


def _heatmaps(at: AppTest) -> list[dict]:
    specs = [chart_spec(at, i) for i in range(len(at.get("plotly_chart")))]
    return [t for s in specs for t in s["data"] if t.get("type") == "heatmap"]


def test_run_ucb_then_contextual() -> None:
    at = open_app("ensemble")
    assert at.title[0].value == "Ensemble"
    assert any("Run ensemble" in i.value for i in at.info)
    assert run_store.list_runs(kind="ensemble") == []
    # the inputs start at the request model's defaults (costs shown in bps)
    fields = EnsembleRequest.model_fields
    assert at.radio(key="ensemble.selector").value == fields["selector"].default == "contextual"
    assert at.slider(key="ensemble.train_fraction").value == fields["train_fraction"].default
    assert at.number_input(key="ensemble.seed").value == fields["seed"].default
    assert at.number_input(key="ensemble.fees").value == fields["fees"].default * 1e4 == 5.0

    at.radio(key="ensemble.selector").set_value("ucb")
    outcome = _run(at)
    assert outcome.request.selector == "ucb"
    saved = run_store.list_runs(kind="ensemble")
    assert len(saved) == 1 and any(f"Run #{saved[0].id}: UCB1" in h.value for h in at.subheader)
    stored = saved[0].metrics
    assert stored["selector"] == "ucb"
    assert (saved[0].spec["fees"], saved[0].spec["slippage"]) == (0.0005, 0.0005)
    shown = metrics(at)
    assert {k: shown[k] for k in _expected_cards(stored)} == _expected_cards(stored)
    assert _expected_cards(outcome.payload()) == _expected_cards(stored)
    assert any(outcome.payload()["execution"] in c.value for c in at.caption)

    # switch explanations: one row per switch (newest first), up to the documented cap
    log = outcome.result.switch_log
    switches = _table(at, ["date", "from", "to", "explanation"])
    assert len(switches) == min(len(log), SWITCH_TABLE_CAP)
    assert switches.iloc[0]["explanation"] == log[-1]["explanation"]
    assert switches.iloc[-1]["to"] == log[-len(switches)]["to"]

    # agents table from the tuned agents, and the per-regime Sharpe heatmap
    agents = _table(at, ["agent", "strategy", "params"])
    assert list(agents["agent"]) == [a.name for a in outcome.result.agents]
    (heatmap,) = _heatmaps(at)
    grid = outcome.by_regime.pivot(index="agent", columns="regime", values="sharpe")
    z = plotly_array(heatmap["z"])
    assert z.shape == (4, grid.shape[1])
    assert list(heatmap["y"]) == list(agents["agent"])
    np.testing.assert_allclose(z, grid.loc[list(heatmap["y"])].to_numpy(), atol=1e-12)
    bars = outcome.by_regime.groupby("regime")["bars"].first()
    assert list(heatmap["x"]) == [f"{r} ({int(bars[r]):,} bars)" for r in grid.columns]
    assert any(int(n) >= 1000 for n in bars)  # so the separator is seen
    # The per-regime table: readable headers; a return in %, Sharpe to 2 decimals, counts.
    regimes = _table(at, ["Agent", "Regime", "Bars", "Ann. return", "Sharpe"])
    assert len(regimes) == len(outcome.by_regime)
    assert _formats(at, "Agent") == {
        "Bars": "%,d",
        "Ann. return": "percent",
        "Sharpe": "%.2f",
    }

    # another selector: a second stored run, and the cards follow it
    at.radio(key="ensemble.selector").set_value("contextual")
    _run(at)
    saved = run_store.list_runs(kind="ensemble")
    assert len(saved) == 2
    latest = max(saved, key=lambda r: r.id)
    assert latest.metrics["selector"] == "contextual"
    assert any(f"Run #{latest.id}: Contextual UCB" in h.value for h in at.subheader)
    shown = metrics(at)
    assert {k: shown[k] for k in _expected_cards(latest.metrics)} == _expected_cards(latest.metrics)
    assert any("Contextual UCB" in s.value for s in at.subheader)

    # Saved runs: a fraction and the regret in %, Sharpe ratios to 2 decimals, times to
    # the minute (no raw floats, no seconds of a timestamp).
    table = _table(at, ["Run id", "Created (UTC)", "Symbol", "Selector"])
    assert list(table["Selector"]) == ["Contextual UCB (by regime)", "UCB1"]
    assert _formats(at, "Run id") == {
        "Run id": "%d",
        "Created (UTC)": "YYYY-MM-DD HH:mm",
        "Training fraction": "percent",
        "Seed": "%d",
        "Ensemble Sharpe": "%.2f",
        "Best single Sharpe": "%.2f",
        "Equal-weight Sharpe": "%.2f",
        "Regret": "percent",
        "Switches": "%,d",
    }


def _retraining_app() -> None:
    from app.components.retrain import render_retraining

    render_retraining("ohlcv_daily", "SP500")


def test_retraining_component_records_and_shows_decisions() -> None:
    at = AppTest.from_function(_retraining_app, default_timeout=120)
    at.run()
    assert not at.exception
    assert any("No retraining decisions" in i.value for i in at.info)
    at.number_input(key="retrain.cooldown").set_value(40)
    at.button(key=REPLAY).click().run()
    assert not at.exception, at.exception
    assert jobs.run_pending() == 1  # the replay runs as a job
    at.run()
    assert not at.exception, at.exception

    history = retrain.decision_history()
    assert history and all(h["model"] == "replay:ohlcv_daily/SP500" for h in history)
    counts = {k: sum(h["decision"] == k for h in history) for k in ("promoted", "kept")}
    counts["rolled_back"] = len(history) - sum(counts.values())
    shown = metrics(at)
    assert shown["Decisions"] == f"{len(history):,}"
    assert shown["Promoted"] == f"{counts['promoted']:,}"
    assert shown["Kept"] == f"{counts['kept']:,}"
    assert shown["Rolled back"] == f"{counts['rolled_back']:,}"
    assert any(f"{len(history)} decisions recorded" in s.value for s in at.success)

    table = at.dataframe[0].value
    assert len(table) == len(history)
    assert list(table["id"]) == [h["id"] for h in history]
    timeline = chart_spec(at, 0)["data"]
    assert {t["name"] for t in timeline} == {k for k, v in counts.items() if v}
    assert sum(len(plotly_array(t["x"])) for t in timeline) == len(history)
