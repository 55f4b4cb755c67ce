"""Walk-forward folds as chunks: serial, on a real 2-worker LocalCluster and the
pre-chunking implementation give the same stored metrics bit for bit; the fold cache lets
a resumed run skip the folds already done."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from core.cluster import ChunkCache
from core.walkforward import rule as rule_module
from core.walkforward.chunks import fold_cache
from tests.core.walkforward_golden_cases import CASES, case_inputs, fingerprint, run_case
from tests.fakes import dask_local

dask_client = dask_local.dask_client  # the session's 2-worker LocalCluster (fixture)
GOLDEN = json.loads((Path(__file__).with_name("walkforward_golden.json")).read_text())


class _Stop(Exception):
    pass


@pytest.mark.parametrize("name", CASES)
def test_serial_folds_reproduce_the_pre_chunking_implementation(name: str) -> None:
    assert fingerprint(run_case(name, executor="serial")) == GOLDEN[name]


@pytest.mark.parametrize("name", CASES)
def test_folds_on_two_dask_workers_equal_the_serial_run(name: str, dask_client: Any) -> None:
    steps: list[tuple[float, str]] = []
    result = run_case(name, executor="dask", progress=lambda f, m: steps.append((f, m)))
    assert fingerprint(result) == GOLDEN[name]
    n = len(result.folds)
    # folds complete in any order; the message counts the folds done
    assert steps == [(k / (n + 1), f"fold {k} of {n} done") for k in range(1, n + 1)] + [
        (1.0, "done")
    ]


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
    assert fingerprint(resumed) == GOLDEN["rule_noise"]
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
    assert fingerprint(on_dask) == fingerprint(serial)
    assert serial.trials == 3 and len({str(p) for p in serial.folds["params"]}) == 2
