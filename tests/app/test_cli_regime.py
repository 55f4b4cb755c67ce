"""`workbench regime eval|fit` as subprocesses."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from tests.app.test_cli import workbench

KEYS = {
    "accuracy",
    "oracle_accuracy",
    "smoothed_accuracy",
    "oracle_smoothed_accuracy",
    "median_detection_lag_bars",
    "oracle_median_lag_bars",
    "method",
    "bars",
}


def test_regime_eval_synthetic_json(isolated_workbench: Path) -> None:
    out = workbench(
        "regime", "eval", "--synthetic", "--seed", "3", "--json", var=isolated_workbench
    )
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert set(report) == KEYS and report["bars"] == 5000 and report["method"] == "hmm"
    assert abs(report["accuracy"] - report["oracle_accuracy"]) <= 0.03
    assert report["oracle_smoothed_accuracy"] > report["oracle_accuracy"]


def test_regime_fit_close_only_file(tmp_path: Path, isolated_workbench: Path) -> None:
    closes = pd.read_parquet(Path(__file__).resolve().parents[2] / "data" / "sp500_closes.parquet")
    src = tmp_path / "jpm.csv"
    closes["JPM"].rename("close").to_csv(src, index_label="date")
    dest = tmp_path / "out.csv"
    out = workbench(
        "regime",
        "fit",
        "--file",
        str(src),
        "--method",
        "hmm",
        "--out",
        str(dest),
        "--json",
        var=isolated_workbench,
    )
    assert out.returncode == 0, out.stderr
    payload = json.loads(out.stdout)
    written = pd.read_csv(dest, index_col="date", parse_dates=True)
    assert len(written) == payload["bars"] == len(closes)
    probs = written[["p_bull", "p_bear", "p_sideways", "p_volatile"]].to_numpy()
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-9)
    assert (
        written["label"]
        == written[["p_bull", "p_bear", "p_sideways", "p_volatile"]]
        .idxmax(axis=1)
        .str.removeprefix("p_")
    ).all()
    assert payload["current"]["label"] == written["label"].iloc[-1]


def test_regime_fit_needs_a_source(tmp_path: Path, isolated_workbench: Path) -> None:
    out = workbench("regime", "fit", "--out", str(tmp_path / "x.csv"), var=isolated_workbench)
    assert out.returncode == 2 and "--file" in out.stderr


def test_regime_fit_rejects_bad_method(isolated_workbench: Path, tmp_path: Path) -> None:
    out = workbench(
        "regime",
        "fit",
        "--dataset",
        "ohlcv_daily",
        "--symbol",
        "SP500",
        "--method",
        "kmeans",
        "--out",
        str(tmp_path / "x.csv"),
        var=isolated_workbench,
    )
    assert out.returncode == 2 and "hmm or dpgmm" in out.stderr
