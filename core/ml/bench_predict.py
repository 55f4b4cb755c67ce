"""Batch-prediction throughput for ``workbench bench`` (section ``predict``): issue 13's
target is at least :data:`TARGET_ROWS_PER_S` rows/s for XGBoost on the 44 OHLCV features
on 2 cores.

Two figures, rows per second as the median and the p95 (the rate of the 95th-percentile
slowest repeat), each with the target and the ratio to it:

* ``model``: the scoring alone, on the complete feature rows of every symbol of the
  embedded ``ohlcv_daily`` dataset (tiled to about 200,000 rows): the model's
  ``predict_proba`` on a DataFrame, :func:`core.ml.batch.probability_scorer` as
  ``workbench predict`` calls it (the model's one thread) and with 2 threads,
  alternating; with the largest gap between any of them and ``predict_proba``.
* ``path``: the whole batch path as ``workbench predict --all-symbols --out FILE`` runs
  it (``app.services.predict.run_predict``: the registered model loaded and verified,
  each symbol's prices loaded, its features computed, scored, the run stored and the
  Parquet file written), on ``ohlcv_daily`` (6 symbols) and on a universe of seeded
  synthetic symbols imported as uploads. It runs in a fresh interpreter with its own
  ``WORKBENCH_VAR_DIR`` (core imports nothing of app), after a warm-up call; the phases
  (model, symbols, store) come from the run's progress reports. The command itself runs
  once as ``python -m app.cli predict ... --json`` (wall time including the process
  start, not a throughput figure), and its stored run must match the file it wrote.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import numpy as np

from core.benchkit import percentiles, run_python_json

TARGET_ROWS_PER_S = 100_000.0
"""Issue 13: batch prediction, XGBoost on the 44 features, 2 cores."""
UNIVERSE_SYMBOLS = 20
"""Synthetic symbols of the universe workload (5,000 bars each)."""


def rates(rows: int, seconds: list[float]) -> dict[str, float]:
    """Rows/s of the median and of the p95 (slowest) repeat, and the repeat count.

    >>> rates(1000, [0.01, 0.02, 0.01])["median"]
    100000.0
    """
    p = percentiles(seconds)
    return {"median": rows / p["median"], "p95": rows / p["p95"], "n": p["n"]}


def _with_target(figures: dict[str, float]) -> dict[str, Any]:
    return {
        "rows_per_s": figures,
        "target_rows_per_s": TARGET_ROWS_PER_S,
        "ratio_to_target": figures["median"] / TARGET_ROWS_PER_S,
    }


def bench_model_scoring(
    *, repeats: int = 7, tile: int = 10, dataset: str = "ohlcv_daily", seed: int = 0
) -> dict[str, Any]:
    """The scoring alone: ``predict_proba`` on a DataFrame vs the batch scorer.

    The model is ``workbench train``'s default XGBoost on the S&P 500 training rows (all
    44 features); the rows are every symbol's complete feature rows, ``tile`` times.
    """
    import pandas as pd

    from core.data.loaders import embedded_sources
    from core.features import compute_features
    from core.ml.batch import probability_scorer
    from core.ml.bench import _train_rows
    from core.ml.models import ModelSpec, fit_model

    train = _train_rows(None, seed)
    model = fit_model(ModelSpec(kind="xgboost", seed=seed), train.X, train.y)
    features = list(train.feature_names)
    source = embedded_sources()[dataset]
    parts = [compute_features(source.load(s), features).dropna() for s in source.symbols()]
    rows = pd.concat(parts * max(1, tile), ignore_index=True)
    scorers = {
        "predict_proba": lambda frame: model.predict_proba(frame)[:, 1],
        "scorer": probability_scorer(model),  # what workbench predict calls
        "scorer_2_threads": probability_scorer(model, threads=2),
    }
    reference = scorers["predict_proba"](rows)
    gap = max(float(np.max(np.abs(fn(rows) - reference))) for fn in scorers.values())
    seconds: dict[str, list[float]] = {name: [] for name in scorers}
    for _ in range(max(1, repeats)):  # alternating
        for name, fn in scorers.items():
            start = time.perf_counter()
            fn(rows)
            seconds[name].append(time.perf_counter() - start)
    figures = {name: rates(len(rows), s) for name, s in seconds.items()}
    return {
        "rows": len(rows),
        "features": len(features),
        "threads": int(model.steps[-1][1].get_params()["n_jobs"]),
        "predict_proba_rows_per_s": figures["predict_proba"],
        "two_threads_rows_per_s": figures["scorer_2_threads"],
        **_with_target(figures["scorer"]),
        "speedup_median": figures["scorer"]["median"] / figures["predict_proba"]["median"],
        "max_abs_diff": gap,
    }


def bench_predict_path(
    *,
    repeats: int = 5,
    universe_symbols: int = UNIVERSE_SYMBOLS,
    universe_bars: int = 5000,
    cli: bool = True,
    timeout: float = 900,
) -> dict[str, Any]:
    """The whole ``workbench predict`` path in a fresh interpreter (see the module)."""
    code = (
        _PATH.replace("REPEATS", str(max(1, int(repeats))))
        .replace("UNIVERSE_SYMBOLS", str(int(universe_symbols)))
        .replace("UNIVERSE_BARS", str(int(universe_bars)))
        .replace("RUN_CLI", str(bool(cli)))
    )
    try:
        report = run_python_json(code, timeout=timeout, what="batch-prediction benchmark")
    except RuntimeError as exc:
        return {"skipped": str(exc)[-800:]}
    for name, work in report["workloads"].items():
        report["workloads"][name] = {
            **work,
            **_with_target(rates(work["rows"], work["seconds"])),
            "seconds": percentiles(work["seconds"]),
            "phases_s": {k: float(np.median(v)) for k, v in work["phases_s"].items()},
        }
    return report


def bench_predict(*, repeats: int = 5) -> dict[str, Any]:
    """Every figure of the section (see the module docstring)."""
    return {
        "model": bench_model_scoring(repeats=max(3, repeats)),
        "path": bench_predict_path(repeats=repeats),
    }


def summary(report: Mapping[str, Any]) -> str:
    """One digest line of :func:`bench_predict`."""
    m, p = report["model"], report["path"]
    line = (
        f"batch predict (XGBoost, {m['features']} features): model "
        f"{m['rows_per_s']['median']:,.0f} rows/s median ({m['threads']} thread; 2 threads "
        f"{m['two_threads_rows_per_s']['median']:,.0f}; predict_proba "
        f"{m['predict_proba_rows_per_s']['median']:,.0f})"
    )
    for name, w in p.get("workloads", {}).items():
        line += (
            f"; whole path {name} ({w['symbols']} symbols, {w['rows']:,} rows) "
            f"{w['rows_per_s']['median']:,.0f} median, {w['rows_per_s']['p95']:,.0f} p95"
        )
    if "skipped" in p:
        line += "; whole path skipped"
    return line + f" (target >= {m['target_rows_per_s']:,.0f} rows/s)"


_PATH = """
import json, os, shutil, subprocess, sys, tempfile, time
from io import BytesIO
from pathlib import Path
var = Path(tempfile.mkdtemp(prefix="bench-predict-"))
os.environ["WORKBENCH_VAR_DIR"] = str(var)
os.environ["WORKBENCH_JOBS_AUTOSTART"] = "0"
os.environ.pop("WORKBENCH_DB_URL", None)
import numpy as np
import pandas as pd
from app.operations.predict import PredictRequest
from app.operations.registry import RegisterRequest
from app.operations.training import TrainRequest
from app.services import predict, registry
from app.services.data import import_upload, load_prices
from app.services.training import train
from core.data.synthetic import SyntheticSpec, generate
from core.features import compute_features
run_id = train(TrainRequest(kind="xgboost")).run_id
version = registry.register(RegisterRequest(run_id=run_id, name="bench-predict"))
model = registry.load_version(version.id)
for k in range(UNIVERSE_SYMBOLS):
    frame = generate(SyntheticSpec(bars=UNIVERSE_BARS, seed=1000 + k))[0]
    buf = BytesIO()
    frame.rename_axis("date").to_parquet(buf)
    import_upload(f"syn-{k:03d}", f"syn-{k:03d}.parquet", buf.getvalue())
workloads = {"ohlcv_daily": "ohlcv_daily"}
if UNIVERSE_SYMBOLS:
    workloads[f"universe_{UNIVERSE_SYMBOLS}"] = "uploads"
report = {"model_id": version.id, "features": len(version.features), "workloads": {}}
for name, dataset in workloads.items():
    out = var / f"predictions-{name}.parquet"
    request = PredictRequest(model=version.id, dataset=dataset, all_symbols=True, out=out)
    outcome = predict.run_predict(request)  # warm-up
    seconds, phases = [], {"model": [], "symbols": [], "store_and_write": []}
    for _ in range(REPEATS):
        marks = []
        t0 = time.perf_counter()
        mark = lambda _f, _m: marks.append(time.perf_counter())
        outcome = predict.run_predict(request, progress=mark)
        t1 = time.perf_counter()
        seconds.append(t1 - t0)
        phases["model"].append(marks[0] - t0)
        phases["symbols"].append(marks[-2] - marks[0])
        phases["store_and_write"].append(t1 - marks[-2])
    frame = outcome.frame
    gap = 0.0
    for symbol in dict.fromkeys(frame["symbol"]):
        X = compute_features(load_prices(dataset, str(symbol)), list(version.features)).dropna()
        got = frame.loc[frame["symbol"] == symbol, "probability"].to_numpy()
        gap = max(gap, float(np.max(np.abs(got - model.predict_proba(X)[:, 1]))))
    written = pd.read_parquet(out)
    report["workloads"][name] = {
        "dataset": dataset,
        "symbols": int(frame["symbol"].nunique()),
        "rows": len(frame),
        "seconds": seconds,
        "phases_s": phases,
        "max_abs_diff_vs_predict_proba": gap,
        "file_equals_run": bool(written.equals(predict.reopen_predictions(outcome.run_id).frame)),
    }
if RUN_CLI:
    out = var / "cli.parquet"
    args = [sys.executable, "-m", "app.cli", "predict", "--model", str(version.id),
            "--dataset", "ohlcv_daily", "--all-symbols", "--out", str(out), "--json"]
    t0 = time.perf_counter()
    done = subprocess.run(args, capture_output=True, text=True, env=dict(os.environ))
    wall = time.perf_counter() - t0
    if done.returncode != 0:
        raise SystemExit(done.stderr[-1500:])
    payload = json.loads(done.stdout)
    stored = predict.reopen_predictions(payload["run_id"]).frame
    report["cli"] = {
        "command": "workbench predict --model ID --dataset ohlcv_daily --all-symbols "
        "--out FILE --json",
        "wall_s_with_process_start": wall,
        "rows": payload["rows"],
        "file_equals_run": bool(pd.read_parquet(out).equals(stored)),
    }
shutil.rmtree(var, ignore_errors=True)
print(json.dumps(report))
"""


__all__ = [
    "TARGET_ROWS_PER_S",
    "UNIVERSE_SYMBOLS",
    "bench_model_scoring",
    "bench_predict",
    "bench_predict_path",
    "rates",
    "summary",
]
