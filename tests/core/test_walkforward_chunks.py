"""Walk-forward folds as chunks: serial, on a real 2-worker LocalCluster and the
pre-chunking implementation give the same stored metrics (to 1e-9 relative against the
recorded golden values, so on any CPU's OpenBLAS kernel; bit for bit between two runs on
one machine); a fee off by 1e-6 or a price off by 1e-7 fails the golden check; the fold
cache lets a resumed run skip the folds already done."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from core.backtest.spec import BacktestSpec
from core.cluster import ChunkCache
from core.walkforward import rule as rule_module
from core.walkforward import walk_forward_model, walk_forward_rule
from core.walkforward.chunks import fold_cache
from tests.core.walkforward_golden_cases import (
    CASES,
    assert_fingerprint,
    case_inputs,
    fingerprint,
    load_golden,
    run_case,
)
from tests.fakes import dask_local
from tests.golden import ABS, REL, mismatches

dask_client = dask_local.dask_client  # the session's 2-worker LocalCluster (fixture)
GOLDEN = load_golden()


class _Stop(Exception):
    pass


@pytest.mark.parametrize("name", CASES)
def test_serial_folds_reproduce_the_pre_chunking_implementation(name: str) -> None:
    assert_fingerprint(fingerprint(run_case(name, executor="serial")), GOLDEN[name])


@pytest.mark.parametrize("name", CASES)
def test_folds_on_two_dask_workers_equal_the_serial_run(name: str, dask_client: Any) -> None:
    steps: list[tuple[float, str]] = []
    result = run_case(name, executor="dask", progress=lambda f, m: steps.append((f, m)))
    assert_fingerprint(fingerprint(result), GOLDEN[name])
    n = len(result.folds)
    # folds complete in any order; the message counts the folds done
    assert steps == [(k / (n + 1), f"fold {k} of {n} done") for k in range(1, n + 1)] + [
        (1.0, "done")
    ]


def _nudged(value: Any, rel: float, abs_: float) -> Any:
    """``value`` with every float moved by ``rel`` relative plus ``abs_`` absolute."""
    if isinstance(value, dict):
        return {k: _nudged(v, rel, abs_) for k, v in value.items()}
    if isinstance(value, list):
        return [_nudged(v, rel, abs_) for v in value]
    if isinstance(value, np.ndarray) and value.dtype.kind == "f":
        return value * (1 + rel) + abs_
    if isinstance(value, float):
        return value * (1 + rel) + abs_
    return value


def test_the_golden_check_absorbs_kernel_noise_and_nothing_more() -> None:
    want = GOLDEN["model_logistic"]
    # 10x the largest difference measured between OpenBLAS kernels passes ...
    assert mismatches(_nudged(want, 3e-12, 4e-15), want) == []
    # ... a change at the tolerance's scale in one scalar or one bar does not
    assert mismatches(_nudged(want, 2 * REL, 0.0), want)
    one = {**want, "oos_returns": {**want["oos_returns"]}}
    one["oos_returns"]["values"] = want["oos_returns"]["values"].copy()
    one["oos_returns"]["values"][100] += 5 * ABS
    assert mismatches(one, want) == [
        f"/oos_returns/values[100]: {one['oos_returns']['values'][100]!r} != "
        f"{want['oos_returns']['values'][100]!r}"
    ]
    late = {**want, "oos_proba": {**want["oos_proba"]}}
    late["oos_proba"]["index"] = want["oos_proba"]["index"] + np.timedelta64(1, "D")
    assert mismatches(late, want)  # dates stay exact
    folds = [{**f, "n_train": f["n_train"] + 1} for f in want["folds"]]
    assert mismatches({**want, "folds": folds}, want)  # so do counts
    assert math.isnan(GOLDEN["rule_noise"]["folds"][1]["oos_sharpe"])  # a flat fold
    assert mismatches(GOLDEN["rule_noise"], GOLDEN["rule_noise"]) == []  # NaN equals NaN


def _held_bar(name: str) -> pd.Timestamp:
    """A bar of case ``name``'s out-of-sample track with a position on."""
    positions = GOLDEN[name]["oos_positions"]
    held = np.flatnonzero(positions["values"] != 0)
    return pd.Timestamp(positions["index"][held[len(held) // 2]])


@pytest.mark.parametrize("change", ["fee + 1e-6", "one price * (1 + 1e-7)", "model price"])
def test_a_real_change_fails_the_golden_check(change: str) -> None:
    name = "model_logistic" if change == "model price" else "rule_noise"
    _, kwargs = case_inputs(name)
    if change == "fee + 1e-6":
        kwargs["backtest_spec"] = BacktestSpec(fees=0.001 + 1e-6, slippage=0.0005)
    else:
        prices = kwargs["prices"].copy()
        at = prices.index.get_loc(_held_bar(name))
        prices.iloc[at, prices.columns.get_loc("close")] *= 1 + 1e-7
        kwargs["prices"] = prices
    fn = walk_forward_model if name == "model_logistic" else walk_forward_rule
    assert mismatches(fingerprint(fn(**kwargs)), GOLDEN[name])


def test_a_resumed_walk_forward_skips_the_folds_in_its_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    kind, kwargs = case_inputs("rule_noise")
    assert kind == "rule"
    cache = fold_cache(kwargs["prices"], {"case": "rule_noise"}, root=tmp_path)
    calls: list[int] = []
    real = rule_module.rule_fold

    def counted(w: Any, **shared: Any) -> dict[str, Any]:
        calls.append(w.fold)
        return real(w, **shared)

    monkeypatch.setattr(rule_module, "rule_fold", counted)
    checks: list[int] = []

    def cancel_before_the_third_fold() -> None:
        checks.append(1)
        if len(checks) == 3:
            raise _Stop  # the job's worker dies here

    with pytest.raises(_Stop):
        run_case("rule_noise", cache=cache, cancel=cancel_before_the_third_fold)
    assert calls == [0, 1] and cache.stored() == [0, 1]

    calls.clear()
    resumed = run_case("rule_noise", cache=cache)
    assert calls == [2, 3]  # folds 0 and 1 come from the cache
    assert_fingerprint(fingerprint(resumed), GOLDEN["rule_noise"])
    calls.clear()
    run_case("rule_noise", cache=cache)
    assert calls == []


def test_the_fold_cache_key_follows_the_data_and_the_spec(tmp_path: Path) -> None:
    _, kwargs = case_inputs("rule_noise")
    prices = kwargs["prices"]
    key = fold_cache(prices, {"a": 1}, root=tmp_path).key
    assert fold_cache(prices.copy(), {"a": 1}, root=tmp_path).key == key
    assert fold_cache(prices, {"a": 2}, root=tmp_path).key != key
    changed = prices.copy()
    changed.iloc[-1, changed.columns.get_loc("close")] *= 1.0001
    assert fold_cache(changed, {"a": 1}, root=tmp_path).key != key
    assert isinstance(fold_cache(prices, {"a": 1}), ChunkCache)


def test_walkforward_bench_shape(dask_client: Any) -> None:
    from core.walkforward.bench import bench_walkforward_xgb

    out = bench_walkforward_xgb(bars=2400, folds=2, repeats=1)
    assert out["same_result"] is True and out["dask"]["workers"] == 2
    assert out["runs"] == out["dask"]["runs"] == 1 and out["folds"] == 2
    assert out["speedup"] == out["seconds_median"] / out["dask"]["seconds_median"]


def test_a_retuning_walk_forward_is_the_same_on_dask_as_serial(dask_client: Any) -> None:
    """Each fold tunes inside its own chunk (serially, one thread): same trials, same
    parameters, same out-of-sample track wherever the fold runs."""
    from core.ml.models import ModelSpec
    from core.walkforward import WalkForwardSpec, walk_forward_model

    _, kwargs = case_inputs("model_logistic")
    kwargs.update(
        model_spec=ModelSpec(kind="xgboost", params={"n_estimators": 20}, seed=2),
        spec=WalkForwardSpec(train_bars=800, test_bars=240, folds=2),
        retune=True,
        n_trials=3,
        tune_splits=3,
    )
    serial = walk_forward_model(**kwargs, executor="serial")
    on_dask = walk_forward_model(**kwargs, executor="dask")
    assert_fingerprint(fingerprint(on_dask), fingerprint(serial), exact=True)
    assert serial.trials == 3 and len({str(p) for p in serial.folds["params"]}) == 2
