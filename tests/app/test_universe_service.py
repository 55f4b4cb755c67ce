"""The universe backtest: each row equals that symbol's single ``backtest`` run exactly,
progress per symbol, cancellation between symbols, a saved run that reopens, and the CLI."""

from __future__ import annotations

import json
import math
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from pydantic import ValidationError

from app.operations import Cancelled, CancelToken, get
from app.operations.backtest import BacktestRequest
from app.operations.universe import COLUMNS, UniverseRequest
from app.services import runs as run_store
from app.services import universe
from app.services.backtest import run_backtest
from core.backtest.spec import EXECUTION
from tests.app.test_cli import workbench

PARAMS = {"fast": 10, "slow": 50}
REQUEST = UniverseRequest(
    dataset="ohlcv_daily", symbols=["AAPL", "GOOG"], params=PARAMS, fees=0.001, slippage=0.0002
)


def test_each_row_equals_the_single_symbol_backtest_exactly() -> None:
    steps: list[tuple[float, str]] = []
    outcome = get("universe").run(REQUEST, progress=lambda f, m: steps.append((f, m)))
    table = outcome.table.set_index("symbol")
    assert list(outcome.table.columns) == list(COLUMNS)
    assert list(table.index) == ["AAPL", "GOOG"]
    for symbol in ("AAPL", "GOOG"):
        single = run_backtest(
            BacktestRequest(
                dataset="ohlcv_daily",
                symbol=symbol,
                strategy="ma_crossover",
                params=PARAMS,
                fees=0.001,
                slippage=0.0002,
            ),
            save=False,
        )
        row = table.loc[symbol]
        for name in ("total_return", "sharpe", "max_drawdown", "n_trades", "final_equity"):
            assert row[name] == single.metrics[name], (symbol, name)  # exact, not approx
        assert row["benchmark_total_return"] == single.benchmark_metrics["total_return"]
        assert row["benchmark_sharpe"] == single.benchmark_metrics["sharpe"]
        assert row["bars"] == len(single.equity) and row["note"] == ""
        assert row["start"] == str(single.equity.index[0].date())
    assert [f for f, _ in steps] == [0.495, 0.99, 1.0]
    assert [m for _, m in steps] == [
        "AAPL done (1/2)",
        "GOOG done (2/2)",
        f"saved as run {outcome.run_id}",
    ]
    payload = get("universe").payload(outcome)
    assert payload["execution"] == EXECUTION
    assert (payload["fees"], payload["slippage"], payload["init_cash"]) == (0.001, 0.0002, 1e5)
    assert [r["symbol"] for r in payload["table"]] == ["AAPL", "GOOG"]
    assert payload["summary"]["backtested"] == 2 and payload["run_id"] == outcome.run_id
    json.dumps(payload, allow_nan=False)  # strict JSON


def test_the_saved_run_reopens_to_the_same_table() -> None:
    outcome = universe.run_universe(REQUEST)
    run = run_store.get_run(outcome.run_id)
    assert run.kind == "universe" and run.spec == REQUEST.model_dump(mode="json")
    back = universe.reopen_universe(outcome.run_id)
    pd.testing.assert_frame_equal(back.table, outcome.table)
    assert back.request == REQUEST and back.execution == EXECUTION
    with pytest.raises(LookupError, match="not a universe"):
        saved = run_backtest(BacktestRequest())
        universe.reopen_universe(saved.run_id)


def test_a_cancel_between_symbols_stops_and_saves_nothing() -> None:
    token, seen = CancelToken(), []

    def progress(fraction: float, message: str) -> None:
        seen.append(message)
        token.cancel("user asked")

    request = REQUEST.model_copy(update={"symbols": ["AAPL", "GOOG", "IBM"]})
    with pytest.raises(Cancelled, match="user asked"):
        get("universe").run(request, progress=progress, cancel=token)
    assert seen == ["AAPL done (1/3)"]
    assert run_store.list_runs(kind="universe") == []


def test_every_symbol_by_default_and_a_short_symbol_is_skipped_with_a_note() -> None:
    request = UniverseRequest(dataset="ohlcv_daily", end=date(2004, 9, 15), params=PARAMS)
    outcome = universe.run_universe(request, save=False)
    table = outcome.table.set_index("symbol")
    assert list(table.index) == ["AAPL", "GOOG", "IBM", "MSFT", "NASDAQ", "SP500"]
    goog = table.loc["GOOG"]
    assert goog["note"].startswith("19 bars is too few for a backtest")
    assert goog["bars"] == 0 and math.isnan(goog["sharpe"])
    assert (table.drop(index="GOOG")["note"] == "").all()
    summary = outcome.summary()
    assert (summary["backtested"], summary["skipped"]) == (5, 1)


def test_unknown_and_repeated_symbols_are_refused_in_a_sentence() -> None:
    with pytest.raises(ValueError, match=r"TSLA not in dataset ohlcv_daily; its symbols are AAPL"):
        universe.run_universe(REQUEST.model_copy(update={"symbols": ["AAPL", "TSLA"]}))
    with pytest.raises(ValidationError, match="each symbol may appear once"):
        UniverseRequest(symbols=["AAPL", "AAPL"])
    with pytest.raises(ValidationError, match="unknown strategy"):
        UniverseRequest(strategy="nope")


def test_cli_universe_json(isolated_workbench: Path) -> None:
    out = workbench(
        "universe", "--dataset", "ohlcv_daily", "--symbol", "AAPL", "--symbol", "GOOG",
        "--param", "fast=10", "--param", "slow=50", "--fees", "0.001", "--slippage", "0.0002",
        "--json", var=isolated_workbench,
    )  # fmt: skip
    assert out.returncode == 0, out.stdout + out.stderr
    payload = json.loads(out.stdout)
    expected = universe.run_universe(REQUEST, save=False).table
    assert [r["sharpe"] for r in payload["table"]] == expected["sharpe"].tolist()
    assert run_store.get_run(payload["run_id"]).kind == "universe"
    bad = workbench(
        "universe", "--dataset", "ohlcv_daily", "--symbol", "TSLA", "--json",
        var=isolated_workbench,
    )  # fmt: skip
    assert bad.returncode == 2, bad.stdout + bad.stderr
    assert "TSLA not in dataset ohlcv_daily" in bad.stdout
