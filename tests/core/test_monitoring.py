"""core.monitoring: PSI/KS against independent computations, live model metrics against
scipy/numpy, data-quality checks on planted defects, and migration 0013 of stored rules."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.stats import ks_2samp, mannwhitneyu
from sklearn.metrics import brier_score_loss, roc_auc_score
from sqlalchemy import Engine, text

from core.alerts.stored import StoredAlerts
from core.monitoring.drift import drift_scores, drift_signal, ks, ks_statistic, psi
from core.monitoring.metrics import decay, expected_calibration_error, model_metrics
from core.monitoring.quality import bar_quality
from core.monitoring.reference import (
    read_reference,
    reference_distribution,
    reference_for,
    store_reference,
    write_reference,
)
from core.store.db import alembic_config, make_engine, session_scope, upgrade


def _numpy_psi(train: np.ndarray, live: np.ndarray, bins: int = 10) -> float:
    """PSI written out independently: decile edges of the training sample, histograms."""
    edges = np.concatenate([[-np.inf], np.quantile(train, np.arange(1, bins) / bins), [np.inf]])
    e = np.histogram(train, edges)[0] / len(train)
    a = np.histogram(live, edges)[0] / len(live)
    e, a = np.clip(e, 1e-4, None), np.clip(a, 1e-4, None)
    return float(((a - e) * np.log(a / e)).sum())


@pytest.fixture
def samples() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(7)
    train = pd.DataFrame({"x": rng.normal(0, 1, 3000), "y": rng.exponential(1.0, 3000)})
    same = pd.DataFrame({"x": rng.normal(0, 1, 600), "y": rng.exponential(1.0, 600)})
    shifted = pd.DataFrame({"x": rng.normal(0.8, 1.5, 600), "y": rng.exponential(1.0, 600)})
    return train, same, shifted


def test_psi_and_ks_match_independent_computations(
    samples: tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame],
) -> None:
    train, same, shifted = samples
    ref = reference_distribution(train)
    for live in (same, shifted):
        for col in ("x", "y"):
            summary = ref["features"][col]
            expected = _numpy_psi(train[col].to_numpy(), live[col].to_numpy())
            # np.histogram's last bin is closed on the right; ties at an edge are
            # measure-zero for continuous samples.
            assert psi(summary, live[col].to_numpy()) == pytest.approx(expected, abs=1e-9)
            full = ks_2samp(train[col], live[col]).statistic
            # KS against the 201-point quantile sketch is within 1/200 of the full one
            assert abs(ks(summary, live[col].to_numpy()) - full) <= 1 / 200 + 1e-9


def test_ks_statistic_equals_scipy_with_ties() -> None:
    rng = np.random.default_rng(5)
    for _ in range(50):
        a = np.round(rng.normal(size=int(rng.integers(5, 300))), 1)
        b = np.round(rng.normal(0.3, 1.2, size=int(rng.integers(5, 300))), 1)
        assert ks_statistic(a, b) == pytest.approx(ks_2samp(a, b).statistic, abs=1e-12)


def test_drift_fires_on_a_planted_shift_and_stays_silent_without(
    samples: tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame],
) -> None:
    train, same, shifted = samples
    ref = reference_distribution(train)
    calm = drift_scores(ref, same)
    assert calm["psi_max"] < 0.1 and not drift_signal(calm).drifted
    storm = drift_scores(ref, shifted)
    signal = drift_signal(storm, threshold=0.25)
    assert signal.drifted and signal.feature == "x" and storm["psi:y"] < 0.1
    assert signal.reason.startswith("PSI ") and "on x" in signal.reason


def test_drift_per_regime_finds_the_regime_that_moved() -> None:
    rng = np.random.default_rng(3)
    train = pd.DataFrame({"x": rng.normal(0, 1, 4000)})
    regimes_train = pd.Series(np.where(np.arange(4000) % 2 == 0, "bull", "bear"))
    ref = reference_distribution(train, regimes=regimes_train)
    assert set(ref["regimes"]) == {"bull", "bear"}
    live = pd.DataFrame({"x": np.concatenate([rng.normal(0, 1, 300), rng.normal(1.5, 1, 300)])})
    labels = pd.Series(["bull"] * 300 + ["bear"] * 300)
    scores = drift_scores(ref, live, regimes=labels)
    assert scores["psi:x@bull"] < 0.1 and scores["psi:x@bear"] > 0.5
    independent = _numpy_psi(
        train["x"][regimes_train == "bear"].to_numpy(), live["x"][300:].to_numpy()
    )
    assert scores["psi:x@bear"] == pytest.approx(independent, abs=1e-9)
    assert drift_signal(scores).regime == "bear"


def test_model_metrics_match_scipy_and_numpy() -> None:
    rng = np.random.default_rng(11)
    p = rng.uniform(0, 1, 400)
    y = (rng.uniform(0, 1, 400) < p).astype(int)
    got = model_metrics(y, p)
    u = mannwhitneyu(p[y == 1], p[y == 0]).statistic
    assert got["auc"] == pytest.approx(u / ((y == 1).sum() * (y == 0).sum()), abs=1e-12)
    assert got["auc"] == pytest.approx(roc_auc_score(y, p), abs=1e-12)
    assert got["brier"] == pytest.approx(brier_score_loss(y, p), abs=1e-12)
    tied = np.round(p, 1)  # ties count one half, as scikit-learn counts them
    assert model_metrics(y, tied)["auc"] == pytest.approx(roc_auc_score(y, tied), abs=1e-12)
    assert got["brier"] == pytest.approx(float(np.mean((p - y) ** 2)), abs=1e-12)
    assert got["hit_rate"] == pytest.approx(float(np.mean((p >= 0.5) == (y == 1))))
    bins = np.minimum((p * 10).astype(int), 9)
    ece = sum(
        (bins == b).mean() * abs(y[bins == b].mean() - p[bins == b].mean())
        for b in range(10)
        if (bins == b).any()
    )
    assert expected_calibration_error(y, p) == pytest.approx(ece, abs=1e-12)
    assert got["ece"] < 0.1  # calibrated by construction
    drops = decay(got, {"auc": got["auc"] + 0.1, "brier": got["brier"] - 0.02})
    assert drops["auc_drop"] == pytest.approx(0.1) and drops["brier_drop"] == pytest.approx(0.02)


def _daily(n: int = 150, seed: int = 5) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    idx = pd.bdate_range("2024-02-01", periods=n * 2)
    idx = idx[[i for i, d in enumerate(idx) if d.strftime("%m-%d") not in ("02-19", "03-29")]][:n]
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, n)))
    return pd.DataFrame(
        {
            "open": close * 0.999,
            "high": close * 1.01,
            "low": close * 0.99,
            "close": close,
            "volume": 1e6,
        },
        index=idx,
    )


def test_quality_checks_find_planted_defects_and_nothing_else() -> None:
    day = pd.Timedelta(days=1)
    frame = _daily()
    healthy = [bar_quality(frame.iloc[: i + 1], interval=day) for i in range(1, len(frame))]
    assert all(q["gap_bars"] == 0 and q["bad_tick"] == 0 for q in healthy)
    assert max(q["outlier_sigma"] for q in healthy if np.isfinite(q["outlier_sigma"])) < 4.5
    # two sessions dropped -> a gap of two bars at the next one
    gapped = frame.drop(frame.index[100:102])
    assert bar_quality(gapped.iloc[:101], interval=day)["gap_bars"] == 2
    # an 8-sigma move
    jumped = frame.copy()
    jumped.iloc[120:, :4] *= np.exp(0.08)
    assert bar_quality(jumped.iloc[:121], interval=day)["outlier_sigma"] > 6
    # close above the high
    bad = frame.copy()
    bad.iloc[130, bad.columns.get_loc("close")] = bad["high"].iloc[130] * 1.02
    assert bar_quality(bad.iloc[:131], interval=day)["bad_tick"] == 1
    # a carried-forward flat bar counts as missing
    flat = frame.copy()
    c = flat["close"].iloc[139]
    flat.iloc[140] = [c, c, c, c, 0.0]
    assert bar_quality(flat.iloc[:141], interval=day)["gap_bars"] == 1
    # intraday: 3 minutes between two 1-minute bars of one day = 2 missing
    idx = pd.to_datetime(["2024-03-04 14:31", "2024-03-04 14:32", "2024-03-04 14:35"])
    minute = frame.iloc[:3].set_axis(idx)
    assert bar_quality(minute, interval=pd.Timedelta(minutes=1))["gap_bars"] == 2


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    eng = make_engine(f"sqlite:///{tmp_path / 'mon.db'}")
    yield eng
    eng.dispose()


def test_reference_file_and_row_round_trip(engine: Engine, tmp_path: Path) -> None:
    upgrade(engine)
    rng = np.random.default_rng(0)
    ref = reference_distribution(
        pd.DataFrame({"a": rng.normal(size=500)}), oos={"auc": 0.6}, horizon=5
    )
    folder = tmp_path / "artifact"
    folder.mkdir()
    write_reference(folder, ref)
    assert read_reference(folder) == ref
    with session_scope(engine) as s:
        row = store_reference(s, version_id=7, name="m", version=1, artifact_path=folder)
        assert row is not None and row.oos == {"auc": 0.6}
    with session_scope(engine) as s:
        assert reference_for(s, 7) == ref
        assert reference_for(s, 8) is None
        assert store_reference(s, version_id=9, name="m", version=2, artifact_path=tmp_path) is None


def test_migration_0013_renames_rules_and_converts_stale_seconds(engine: Engine) -> None:
    from alembic import command

    cfg = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0012")
    rows = [
        ("auc", "model_metric_below", '{"threshold": 0.52, "metric": "roc_auc"}'),
        ("hb", "heartbeat_lost", '{"threshold": 60, "metric": null}'),
        ("stale", "stale_data", '{"threshold": 172800, "metric": null}'),
        ("stale-short", "stale_data", '{"threshold": 3600, "metric": null}'),
        ("dd", "drawdown", '{"threshold": 0.1, "metric": null}'),
    ]
    with engine.begin() as conn:
        for name, kind, params in rows:
            conn.execute(
                text(
                    "INSERT INTO alert_rules (name, kind, params, channels, severity, "
                    "cooldown_s, enabled, updated_at) VALUES (:n, :k, :p, '[\"in-app\"]', "
                    "'warning', 900, 1, '2026-01-01')"
                ),
                {"n": name, "k": kind, "p": params},
            )
    upgrade(engine)
    with session_scope(engine) as s:
        rules = {r.name: r for r in StoredAlerts(s).rules()}
        raw = {r.name: r.params for r in StoredAlerts(s).repo.rule_rows()}
    assert rules["auc"].kind == "model_metric" and rules["auc"].metric == "roc_auc"
    assert rules["hb"].kind == "heartbeat" and rules["hb"].threshold == 60
    assert rules["stale"].threshold == 2 and raw["stale"]["threshold_seconds"] == 172800
    assert rules["stale-short"].threshold == 1  # under a day: one daily bar
    assert all(r.enabled and r.problem is None for r in rules.values())
