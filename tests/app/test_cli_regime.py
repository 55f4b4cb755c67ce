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
    "seed",
    "bars",
    "scored_bars",
    "history",
    "history_mode",
}
PROBS = ["p_bull", "p_bear", "p_sideways", "p_volatile"]


def test_regime_eval_synthetic_json_is_causal_by_default(isolated_workbench: Path) -> None:
    out = workbench(
        "regime", "eval", "--synthetic", "--seed", "1", "--json", var=isolated_workbench
    )
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert set(report) == KEYS and report["bars"] == 5000 and report["method"] == "hmm"
    assert report["seed"] == 1
    assert report["history_mode"] == "expanding" and "refit every 21 bars" in report["history"]
    assert report["scored_bars"] == 5000 - 252
    assert report["oracle_accuracy"] - 0.2 <= report["accuracy"] <= report["oracle_accuracy"]


def test_regime_eval_in_sample_option(isolated_workbench: Path) -> None:
    out = workbench(
        "regime",
        "eval",
        "--seed",
        "3",
        "--history",
        "in-sample",
        "--json",
        var=isolated_workbench,
    )
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert report["history_mode"] == "in-sample" and "SEES THE FUTURE" in report["history"]
    assert report["scored_bars"] == 5000
    assert abs(report["accuracy"] - report["oracle_accuracy"]) <= 0.03
    assert report["oracle_smoothed_accuracy"] > report["oracle_accuracy"]


def test_regime_eval_bad_bars_is_a_clear_error(isolated_workbench: Path) -> None:
    """Regression: `regime eval --bars 5` printed a traceback."""
    for bars in ("5", "0", "-3", "200000"):
        out = workbench("regime", "eval", "--bars", bars, var=isolated_workbench)
        assert out.returncode == 2, (bars, out.stderr)
        assert "--bars" in out.stderr and "[300," in out.stderr and "100000]" in out.stderr
        assert "Traceback" not in out.stderr + out.stdout
    out = workbench("regime", "eval", "--refit-every", "0", var=isolated_workbench)
    assert out.returncode == 2 and "--refit-every" in out.stderr
    out = workbench("regime", "eval", "--history", "smoothed", var=isolated_workbench)
    assert out.returncode == 2 and "--history" in out.stderr


def _jpm_file(tmp_path: Path) -> tuple[Path, pd.DataFrame]:
    closes = pd.read_parquet(Path(__file__).resolve().parents[2] / "data" / "sp500_closes.parquet")
    src = tmp_path / "jpm.csv"
    closes["JPM"].rename("close").to_csv(src, index_label="date")
    return src, closes


def test_regime_fit_close_only_file(tmp_path: Path, isolated_workbench: Path) -> None:
    src, closes = _jpm_file(tmp_path)
    dest = tmp_path / "sub" / "out.csv"
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
    assert payload["history_mode"] == "expanding" and payload["refit_every"] == 21
    assert "causal" in payload["probabilities"]
    assert payload["first_bar_with_probabilities"] == 252
    written = pd.read_csv(dest, index_col="date", parse_dates=True)
    assert len(written) == payload["bars"] == len(closes)
    assert written[PROBS].iloc[:252].isna().all().all()  # before the first fit
    probs = written[PROBS].iloc[252:].to_numpy()
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-9)
    scored = written.iloc[252:]
    assert (scored["label"] == scored[PROBS].idxmax(axis=1).str.removeprefix("p_")).all()
    assert payload["current"]["label"] == written["label"].iloc[-1]
    # the file's history matches the causal service on a truncated file (no look-ahead)
    from app.services import regime

    cut = tmp_path / "cut.csv"
    closes["JPM"].iloc[:2000].rename("close").to_csv(cut, index_label="date")
    part = regime.filtered_frame(regime.fit_file(cut))
    np.testing.assert_allclose(
        part[PROBS].to_numpy(), written[PROBS].iloc[:2000].to_numpy(), atol=1e-12, rtol=0
    )


def test_regime_fit_in_sample_is_labelled(tmp_path: Path, isolated_workbench: Path) -> None:
    src, _ = _jpm_file(tmp_path)
    dest = tmp_path / "in.csv"
    out = workbench(
        "regime",
        "fit",
        "--file",
        str(src),
        "--history",
        "in-sample",
        "--out",
        str(dest),
        "--json",
        var=isolated_workbench,
    )
    assert out.returncode == 0, out.stderr
    payload = json.loads(out.stdout)
    assert payload["history_mode"] == "in-sample" and payload["refit_every"] is None
    assert "IN-SAMPLE" in payload["probabilities"] and "SEES THE FUTURE" in payload["history"]
    assert pd.read_csv(dest)[PROBS].notna().all().all()


def test_regime_fit_unwritable_out_fails_before_work(
    tmp_path: Path, isolated_workbench: Path
) -> None:
    src, _ = _jpm_file(tmp_path)
    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    out = workbench(
        "regime",
        "fit",
        "--file",
        str(src),
        "--out",
        str(blocker / "out.csv"),
        var=isolated_workbench,
    )
    assert out.returncode == 2 and "--out" in out.stderr and "Traceback" not in out.stderr


def test_regime_fit_needs_a_source(tmp_path: Path, isolated_workbench: Path) -> None:
    out = workbench("regime", "fit", "--out", str(tmp_path / "x.csv"), var=isolated_workbench)
    assert out.returncode == 2 and "a file or both a dataset and a symbol" in out.stderr


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
    assert out.returncode == 2 and "--method" in out.stderr and "hmm, dpgmm" in out.stderr
