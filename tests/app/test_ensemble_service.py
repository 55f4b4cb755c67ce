"""The ensemble service and its CLI, checked against independent arithmetic."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from app.operations import Cancelled, CancelToken
from app.operations.ensemble import EnsembleOutcome, EnsembleRequest
from app.services import ensemble
from app.services import runs as run_store
from core.config import get_settings
from tests.app.test_cli import workbench

PPY = 252.0
HEADLINE = ("ensemble_sharpe", "best_single_sharpe", "equal_weight_sharpe", "regret", "switches")


def _sharpe(r: pd.Series | np.ndarray) -> float:
    """Annualized Sharpe as core.backtest.metrics.sharpe_ratio defines it (ddof=1)."""
    x = np.asarray(r, dtype=np.float64)
    return float(x.mean() / x.std(ddof=1) * math.sqrt(PPY))


@pytest.fixture(scope="module")
def ucb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """One saved UCB run on SP500 in its own database, with the stored run read back."""
    var = tmp_path_factory.mktemp("ensemble_var")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("WORKBENCH_VAR_DIR", str(var))
        mp.delenv("WORKBENCH_DB_URL", raising=False)
        get_settings.cache_clear()
        steps: list[tuple[float, str]] = []
        request = EnsembleRequest(selector="ucb", seed=0)
        outcome = ensemble.run_ensemble(request, progress=lambda f, m: steps.append((f, m)))
        assert outcome.run_id is not None
        run = run_store.get_run(outcome.run_id)
        frames = {n: run_store.load_frame(run, n) for n in ("returns", "weights", "by_regime")}
        yield {"outcome": outcome, "run": run, "frames": frames, "steps": steps}
    get_settings.cache_clear()


def test_payload_equals_independent_recomputation(ucb: dict[str, Any]) -> None:
    outcome: EnsembleOutcome = ucb["outcome"]
    result, payload = outcome.result, outcome.payload()
    returns = result.returns
    agents = [a.name for a in result.agents]
    assert agents == ["conservative", "aggressive", "balanced", "contrarian"]
    assert list(returns.columns) == ["ensemble", "equal_weight", "best_single", *agents]
    assert returns.notna().all().all()
    n = len(returns)
    assert payload["oos_bars"] == n and payload["train_bars"] + n == 5031

    assert payload["ensemble_sharpe"] == pytest.approx(_sharpe(returns["ensemble"]), rel=1e-12)
    assert payload["equal_weight_sharpe"] == pytest.approx(
        _sharpe(returns["equal_weight"]), rel=1e-12
    )
    by_sharpe = {a: _sharpe(returns[a]) for a in agents}
    best = max(by_sharpe, key=by_sharpe.__getitem__)
    assert payload["best_agent"] == best
    assert payload["best_single_sharpe"] == pytest.approx(by_sharpe[best], rel=1e-12)
    np.testing.assert_array_equal(returns["best_single"], returns[best])
    # a ddof=0 Sharpe would differ in the 4th decimal: make sure we are matching ddof=1
    ddof0 = returns["ensemble"].mean() / returns["ensemble"].std(ddof=0) * math.sqrt(PPY)
    assert abs(payload["ensemble_sharpe"] - ddof0) > 1e-6

    # regret: cumulative (best agent by OOS total return - ensemble); final value = payload
    reference = returns[agents].sum().idxmax()
    expected_curve = (returns[reference] - returns["ensemble"]).cumsum()
    np.testing.assert_allclose(result.regret_curve, expected_curve, rtol=0, atol=1e-12)
    assert payload["regret"] == result.regret_curve.iloc[-1]

    # switches: the top-weighted agent changes, recomputed from the weights
    assert payload["switches"] == len(result.switch_log)
    top = result.weights.idxmax(axis=1)
    changed = top.ne(top.shift()).iloc[1:]
    changes = top.iloc[1:][changed]
    assert [s["date"] for s in result.switch_log] == list(changes.index)
    assert [s["to"] for s in result.switch_log] == list(changes)
    assert [s["from"] for s in result.switch_log] == list(top.shift().iloc[1:][changed])
    assert all(s["explanation"].startswith(f"chose {s['to']}") for s in result.switch_log)
    assert payload["last_switches"][-1]["date"] == str(result.switch_log[-1]["date"].date())

    # turnover: mean |change| of the net position per bar; `positions` lacks only the last
    # decision (for the bar after the data), so the sums differ by one step of at most 2
    moves = result.positions.diff().abs().sum()
    assert 0.0 <= payload["turnover"] * n - moves <= 2.0 + 1e-9
    json.dumps(payload)  # JSON-ready (NaN replaced)


def test_weights_and_regimes_are_consistent(ucb: dict[str, Any]) -> None:
    outcome: EnsembleOutcome = ucb["outcome"]
    result = outcome.result
    weights = result.weights
    assert weights.index.equals(result.returns.index)
    assert (weights.to_numpy() >= 0).all()
    np.testing.assert_allclose(weights.sum(axis=1), 1.0, rtol=0, atol=1e-9)
    assert result.explanations.index.equals(weights.index)

    assert outcome.regimes.index.equals(result.returns.index)
    assert set(outcome.regimes) <= {"bull", "bear", "sideways", "volatile"}
    table = outcome.by_regime
    n = len(result.returns)
    for agent, block in table.groupby("agent"):
        assert block["bars"].sum() == n, agent
    counts = outcome.regimes.value_counts()
    # independent per-regime Sharpe and annualized return
    for row in table.itertuples():
        r = result.returns.loc[outcome.regimes == row.regime, row.agent]
        assert row.bars == counts[row.regime]
        assert row.ann_return == pytest.approx(r.mean() * PPY, rel=1e-12)
        if r.std(ddof=1) > 0:
            assert row.sharpe == pytest.approx(_sharpe(r), rel=1e-12)


def test_saved_run_holds_the_same_numbers(ucb: dict[str, Any]) -> None:
    outcome: EnsembleOutcome = ucb["outcome"]
    run, frames = ucb["run"], ucb["frames"]
    payload = outcome.payload()
    assert run.kind == "ensemble"
    assert run.spec == outcome.request.model_dump(mode="json")
    for key in (*HEADLINE, "best_agent", "turnover", "oos_bars", "execution"):
        assert run.metrics[key] == payload[key], key
    pd.testing.assert_frame_equal(frames["returns"], outcome.result.returns, check_freq=False)
    pd.testing.assert_frame_equal(frames["weights"], outcome.result.weights, check_freq=False)
    pd.testing.assert_frame_equal(frames["by_regime"], outcome.by_regime)


def test_request_is_validated_at_the_door() -> None:
    with pytest.raises(ValueError, match="selector"):
        EnsembleRequest(selector="greedy")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="train_fraction"):
        EnsembleRequest(train_fraction=0.9)


def test_cli_eval_json_equals_the_service(ucb: dict[str, Any], isolated_workbench: Path) -> None:
    out = workbench("ensemble", "eval", "--selector", "ucb", "--json", var=isolated_workbench)
    assert out.returncode == 0, out.stderr
    payload = json.loads(out.stdout)
    expected = ucb["outcome"].payload()
    for key in HEADLINE:
        assert payload[key] == pytest.approx(expected[key], rel=1e-12), key
    assert payload["best_agent"] == expected["best_agent"]
    assert payload["agents"] == expected["agents"]
    assert payload["execution"] == expected["execution"]
    # the CLI saved its run in its own database
    saved = run_store.list_runs(kind="ensemble")
    assert [r.id for r in saved] == [payload["run_id"]]
    assert saved[0].metrics["ensemble_sharpe"] == payload["ensemble_sharpe"]


def test_cli_bad_selector_exits_2(isolated_workbench: Path) -> None:
    out = workbench("ensemble", "eval", "--selector", "greedy", "--json", var=isolated_workbench)
    assert out.returncode == 2, out.stdout + out.stderr
    assert "selector" in out.stdout + out.stderr
    assert run_store.list_runs(kind="ensemble") == []


def test_progress_follows_the_regime_fit_and_each_agent(ucb: dict[str, Any]) -> None:
    steps: list[tuple[float, str]] = ucb["steps"]
    fractions = [f for f, _ in steps]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert steps[0] == (0.1, "regime model fitted on 2,515 training bars")
    # four agents tuned between 0.1 and 0.91 (0.1 + 0.9 * 0.9), one step each
    tuned = [(f, m) for f, m in steps if m.startswith("agent ")]
    assert [m for _, m in tuned] == [f"agent {a.name} tuned" for a in ucb["outcome"].result.agents]
    for k, (fraction, _) in enumerate(tuned, start=1):
        assert fraction == pytest.approx(0.1 + 0.9 * 0.9 * k / 4, abs=1e-12)
    assert steps[-1][1] == f"ucb selector run over {ucb['outcome'].payload()['oos_bars']:,} bars"


def test_a_cancelled_run_stops_after_the_step_in_progress_and_saves_nothing(
    isolated_workbench: Path,
) -> None:
    token, seen = CancelToken(), []

    def progress(fraction: float, message: str) -> None:
        seen.append(message)
        token.cancel("user asked")

    with pytest.raises(Cancelled, match="user asked"):
        ensemble.run_ensemble(EnsembleRequest(selector="ucb"), progress=progress, cancel=token)
    assert seen == ["regime model fitted on 2,515 training bars"]
    assert run_store.list_runs(kind="ensemble") == []


def test_costs_reach_the_engine(ucb: dict[str, Any]) -> None:
    """The request's costs are the engine's: its spec carries them, and the default equals
    the engine's own default (so the numbers above are those of the old service)."""
    from core.ensemble import EnsembleSpec

    request = EnsembleRequest(fees=0.001, slippage=0.002)
    assert request.spec().cost == pytest.approx(0.003, abs=1e-15)
    assert EnsembleRequest().spec() == EnsembleSpec()
    assert ucb["run"].spec["fees"] == 0.0005 and ucb["run"].spec["slippage"] == 0.0005
