"""Batch prediction for the pages, the CLI and jobs: a registered model on many symbols.

The model and its feature list come from the registry (checksum verified); each symbol's
history is scored by :func:`core.ml.batch.batch_probabilities`. One run (kind
``predictions``, frame ``probabilities``) keeps the result; :func:`reopen_predictions`
reads it back and :func:`write_frame` exports it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from app.operations import CancelToken, Progress
from app.operations.predict import FRAME_COLUMNS, PredictOutcome, PredictRequest
from app.services import registry
from app.services import runs as run_store
from app.services.data import checked_symbols, load_prices
from core.registry import VersionRow


def find_version(version_id: int) -> VersionRow:
    """The registered version ``version_id``; LookupError listing the known ones."""
    versions = registry.list_versions()
    found = next((v for v in versions if v.id == version_id), None)
    if found is not None:
        return found
    if not versions:
        raise LookupError(
            f"no model version {version_id}: no model is registered yet "
            "(train one, then workbench registry register)"
        )
    known = ", ".join(f"{v.id} ({v.name} v{v.version}, {v.stage})" for v in versions)
    raise LookupError(f"no model version {version_id}; known versions: {known}")


def predict_symbols(request: PredictRequest) -> list[str]:
    """The symbols to score: every listed one, or those named (each checked)."""
    return checked_symbols(
        request.dataset, request.symbols, every=request.all_symbols, hint="name them instead"
    )


def run_predict(
    request: PredictRequest,
    *,
    progress: Progress | None = None,
    cancel: CancelToken | None = None,
) -> PredictOutcome:
    """Score each symbol with the registered model, save the run, write ``request.out``.

    ``progress`` after the model is loaded and after each symbol; ``cancel`` is checked
    before each symbol (a cancelled run raises Cancelled and saves nothing).
    """
    from core.ml.batch import batch_probabilities, probability_scorer  # sklearn / xgboost

    report, check = progress or (lambda _f, _m: None), (cancel or CancelToken()).check
    version = find_version(request.model)
    symbols = predict_symbols(request)
    model = registry.load_version(version.id)  # checksum verified
    scorer = probability_scorer(model)  # once per run (XGBoost: inplace_predict on float32)
    report(0.05, f"model #{version.id} {version.name} v{version.version} loaded")
    start = None if request.start is None else pd.Timestamp(request.start)
    train_end = pd.Timestamp(version.train_end)
    parts = []
    for k, symbol in enumerate(symbols, start=1):
        check()
        prices = load_prices(request.dataset, symbol, end=request.end)  # history: warm-up
        proba = batch_probabilities(model, prices, version.features, start=start, scorer=scorer)
        parts.append(
            pd.DataFrame(
                {"symbol": symbol, "date": proba.index, "probability": proba.to_numpy()}
            ).assign(after_train_end=lambda f: f["date"] > train_end)
        )
        report(0.05 + 0.9 * k / len(symbols), f"{symbol}: {len(proba):,} bars scored")
    frame = pd.concat(parts, ignore_index=True)[list(FRAME_COLUMNS)]
    frame = frame.astype({"symbol": "string", "probability": "float64", "after_train_end": bool})
    check()
    described = _describe(version)
    run_id = run_store.save_run(
        kind="predictions",
        title=f"predictions {version.name} v{version.version} {request.dataset} "
        f"({len(symbols)} symbols)",
        spec=request.model_dump(mode="json"),
        metrics={"model": described, "rows": len(frame), "symbols": symbols},
        frames={"probabilities": frame},
    )
    out = None if request.out is None else str(write_frame(frame, request.out))
    report(1.0, f"saved as run {run_id}" + (f"; wrote {out}" if out else ""))
    return PredictOutcome(run_id, request, frame, described, out)


def reopen_predictions(run_id: int) -> PredictOutcome:
    """A saved batch prediction, rebuilt from its stored frame (no recomputation)."""
    run = run_store.get_run(run_id)
    if run.kind != "predictions":
        raise LookupError(f"run {run_id} is a {run.kind}, not a batch prediction")
    frame = run_store.load_frame(run, "probabilities")
    return PredictOutcome(
        run_id, PredictRequest.model_validate(run.spec), frame, run.metrics["model"]
    )


def write_frame(frame: pd.DataFrame, path: Path) -> Path:
    """Write ``frame`` to ``path`` as CSV or Parquet by its suffix, atomically."""
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".parquet"):
        raise ValueError(f"the output file must end in .csv or .parquet, not {suffix or 'nothing'}")

    def write(tmp: Path) -> None:
        if suffix == ".csv":
            frame.to_csv(tmp, index=False)
        else:
            frame.to_parquet(tmp, index=False)

    return run_store.write_atomically(path, write, prefix=".predictions-")


def _describe(version: VersionRow) -> dict[str, Any]:
    return {
        "id": version.id,
        "name": version.name,
        "version": version.version,
        "kind": version.kind,
        "stage": version.stage,
        "features": list(version.features),
        "train_end": version.train_end.isoformat(),
    }


__all__ = ["find_version", "predict_symbols", "reopen_predictions", "run_predict", "write_frame"]
