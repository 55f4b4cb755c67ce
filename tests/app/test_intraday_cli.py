"""Minute bars from upload to ``workbench backtest`` and ``workbench sweep``: the import
reads the bar interval, the backtest annualizes with 98,280 bars a year (Sharpe from an
independent numpy computation), the sweep's best row equals a single backtest, and
ambiguous or irregular intraday files get their specific error."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from app.operations.backtest import BacktestRequest
from app.services import data as data_service
from app.services.backtest import run_backtest
from core.data.synthetic import synthetic_intraday
from core.data.validation import DataValidationError
from tests.app.test_cli_backtest import ok_json, workbench

MINUTES_A_YEAR = 252 * 390


def _minute_csv(path: Path, *, days: int = 3, stamp: str = "%Y-%m-%dT%H:%M:%SZ") -> pd.DataFrame:
    """Seeded minute bars written as CSV (UTC close times); returns the values written."""
    frame = synthetic_intraday(["MIN"], start="2024-03-04", days=days, seed=5)["MIN"].round(6)
    out = frame.copy()
    out.index = out.index.strftime(stamp)
    out.to_csv(path, index_label="date")
    return frame


def test_minute_upload_backtest_and_sweep_from_the_cli(
    tmp_path: Path, isolated_workbench: Path
) -> None:
    written = _minute_csv(tmp_path / "minutes.csv")
    imported = ok_json(
        workbench(
            "data", "import", str(tmp_path / "minutes.csv"), "--name", "mins", "--json",
            var=isolated_workbench,
        )
    )  # fmt: skip
    assert (imported["rows"], imported["interval"]) == (3 * 390, "1min")
    listed = ok_json(workbench("data", "list", "--json", var=isolated_workbench))
    uploads = next(d for d in listed["datasets"] if d["name"] == "uploads")
    assert [(s["symbol"], s["interval"]) for s in uploads["symbols"]] == [("mins", "1min")]
    stored = data_service.load_prices("uploads", "mins")
    pd.testing.assert_frame_equal(stored, written, check_freq=False)

    # Buy and hold without costs: the equity follows the close from bar 1 on.
    held = ok_json(
        workbench(
            "backtest", "--dataset", "uploads", "--symbol", "mins", "--strategy",
            "buy_and_hold", "--fees", "0", "--slippage", "0", "--json",
            var=isolated_workbench,
        )
    )  # fmt: skip
    close = written["close"].to_numpy()
    returns = np.r_[0.0, close[1:] / close[:-1] - 1.0]
    sharpe = np.mean(returns) / np.std(returns, ddof=1) * np.sqrt(MINUTES_A_YEAR)
    assert held["bar_interval"] == "1min" and held["bars"] == 3 * 390
    assert held["sharpe"] == pytest.approx(sharpe, rel=1e-9)
    assert held["volatility"] == pytest.approx(
        np.std(returns, ddof=1) * np.sqrt(MINUTES_A_YEAR), rel=1e-9
    )

    swept = ok_json(
        workbench(
            "sweep", "--dataset", "uploads", "--symbol", "mins", "--grid", "fast=5:30:5",
            "--grid", "slow=60:240:60", "--json",
            var=isolated_workbench,
        )
    )  # fmt: skip
    assert swept["combinations"] == 6 * 4  # both ends included
    best = swept["best"]
    single = run_backtest(
        BacktestRequest(
            dataset="uploads",
            symbol="mins",
            strategy="ma_crossover",
            params={"fast": best["fast"], "slow": best["slow"]},
        ),
        save=False,
    )
    for name in ("sharpe", "total_return", "max_drawdown", "n_trades"):
        assert best[name] == pytest.approx(single.metrics[name], rel=1e-9), name


def test_naive_intraday_upload_needs_its_time_zone(tmp_path: Path) -> None:
    path = tmp_path / "naive.csv"
    written = _minute_csv(path, days=1, stamp="%Y-%m-%d %H:%M")
    with pytest.raises(DataValidationError) as caught:
        data_service.validate_file(path.name, path.read_bytes())
    (defect,) = caught.value.defects
    assert defect.code == "intraday_timezone_unknown"
    assert "--timezone" in defect.message and "line 2" in defect.message
    # declared as New York time: 09:31 New York (EST) is stored as 14:31 UTC
    local = written.copy()
    local.index = (local.index - pd.Timedelta(hours=5)).strftime("%Y-%m-%d %H:%M")
    local.to_csv(path, index_label="date")
    checked = data_service.validate_file(
        path.name, path.read_bytes(), data_service.ReadFormat(timezone="America/New_York")
    )
    pd.testing.assert_frame_equal(checked.frame, written, check_freq=False)
    assert any("bar interval 1min" in w for w in checked.warnings)


def test_irregular_and_ambiguous_intraday_uploads_are_refused(tmp_path: Path) -> None:
    rows = "date,close\n2024-03-04T14:31Z,1\n2024-03-04T14:32Z,2\n2024-03-04T14:33:30Z,3\n"
    with pytest.raises(DataValidationError) as caught:
        data_service.validate_file("odd.csv", rows.encode())
    (defect,) = caught.value.defects
    assert defect.code == "irregular_bars" and "not a whole multiple" in defect.message
    dst = "date,close\n2024-03-10 01:59,1\n2024-03-10 02:30,2\n2024-03-10 03:01,3\n"
    with pytest.raises(DataValidationError) as caught:
        data_service.validate_file(
            "dst.csv", dst.encode(), data_service.ReadFormat(timezone="America/New_York")
        )
    (defect,) = caught.value.defects
    assert defect.code == "ambiguous_local_times" and defect.rows == ["line 3"]
    # a service error names the problem, never a traceback
    assert json.dumps(defect.as_dict())


def test_backtest_of_the_embedded_synthetic_minutes(isolated_workbench: Path) -> None:
    frame = data_service.load_prices("synthetic_minutes", "MSFT")
    assert len(frame) == 20 * 390 and str(frame.index[0]) == "2024-03-04 14:31:00"
    held = ok_json(
        workbench(
            "backtest", "--dataset", "synthetic_minutes", "--symbol", "MSFT", "--strategy",
            "buy_and_hold", "--fees", "0", "--slippage", "0", "--start", "2024-03-05",
            "--end", "2024-03-08", "--json",
            var=isolated_workbench,
        )
    )  # fmt: skip
    window = frame.loc["2024-03-05":"2024-03-08"]  # the end date's bars included
    close = window["close"].to_numpy()
    returns = np.r_[0.0, close[1:] / close[:-1] - 1.0]
    sharpe = np.mean(returns) / np.std(returns, ddof=1) * np.sqrt(MINUTES_A_YEAR)
    assert (held["bars"], held["bar_interval"]) == (4 * 390, "1min")
    assert held["sharpe"] == pytest.approx(sharpe, rel=1e-9)
