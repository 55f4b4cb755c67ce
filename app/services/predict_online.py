"""Online prediction for the API and the CLI: a registered model at one bar, at once.

A bar's probability is batch ``predict``'s: :func:`core.ml.batch.batch_probabilities` over
the symbol's history, whose row at bar ``t`` reads bars ``<= t`` only. Cached: the model
per (version id, artifact checksum), a symbol's probabilities per (version, dataset,
symbol, data version: an embedded file's size and mtime, an import's SHA-256; online
sources never). New data or a new version applies to the next request."""

from __future__ import annotations

from datetime import date
from functools import lru_cache
from typing import Any

import pandas as pd
from sqlalchemy import bindparam, select

from app.operations import predict as ops
from app.services import registry
from app.services import runs as run_store
from app.services.data import checked_symbols, load_prices
from app.services.db import get_engine
from app.services.predict import find_version
from app.services.risk_cache import data_version
from core.data.loaders import DataSourceError
from core.registry import ModelRegistry, VersionRow
from core.store.db import session_scope
from core.store.models import ModelVersion

SERIES_MAX = 1024  # symbols' probability series kept (least recently used dropped first)


_Loaded = tuple[Any, Any, tuple[str, ...], float | None]  # model, scorer, features, threshold


_STAGE = select(ModelVersion.stage, ModelVersion.checksum).where(ModelVersion.id == bindparam("v"))
_ROWS: dict[tuple[str, int], VersionRow] = {}  # by database and id, while stage and checksum hold


def resolve(model: int | str) -> VersionRow:
    """The version of an id, ``NAME:VERSION`` or ``NAME@champion`` (LookupError if none);
    an id's row is re-read only when its stage or checksum changed (one small query)."""
    from core.paper.model_refs import resolve_model_ref

    engine = get_engine()
    if isinstance(model, int):
        with engine.connect() as conn:
            now = conn.execute(_STAGE, {"v": model}).first()
        kept = _ROWS.get((str(engine.url), model))
        if now is not None and kept is not None and (kept.stage, kept.checksum) == tuple(now):
            return kept
    with session_scope(engine) as session:
        if not isinstance(model, int):
            return resolve_model_ref(session, model)
        try:
            _ROWS[(str(engine.url), model)] = row = ModelRegistry(session).get(model)
            return row
        except LookupError:
            pass
    return find_version(model)  # raises, listing the known versions


def _key(version: VersionRow) -> tuple[int, str, tuple[str, ...], int | None]:
    return version.id, version.checksum, tuple(version.features), version.metrics.get("run_id")


@lru_cache(maxsize=32)
def _loaded(key: tuple[int, str, tuple[str, ...], int | None]) -> _Loaded:
    """Model (checksum verified), scorer, feature order and the run's threshold, once."""
    from core.ml.batch import model_features, probability_scorer

    model = registry.load_version(key[0])
    try:
        threshold = float(run_store.get_run(int(key[3] or 0)).spec["threshold"])
    except (KeyError, LookupError):  # no training run recorded, or it was deleted
        threshold = None
    return model, probability_scorer(model), tuple(model_features(model, key[2])), threshold


@lru_cache(maxsize=SERIES_MAX)
def _series(key: tuple[Any, ...], dataset: str, symbol: str, data: str | None) -> pd.Series:
    """The symbol's probabilities at every scored bar (``data``: :func:`data_version`)."""
    from core.ml.batch import batch_probabilities

    model, scorer, features, _ = _loaded(key)
    return batch_probabilities(model, load_prices(dataset, symbol), features, scorer=scorer)


def _probabilities(version: VersionRow, dataset: str, symbols: list[str], field: str) -> list[Any]:
    """Each symbol's probabilities; ValueError ``field: ...`` naming those not in ``dataset``."""
    data = [data_version(dataset, s) for s in symbols]  # None (online): never cached
    fetch = [_series if d is not None else _series.__wrapped__ for d in data]
    try:
        return [f(_key(version), dataset, *sd) for f, *sd in zip(fetch, symbols, data, strict=True)]
    except DataSourceError as exc:  # name every unknown symbol when it is one of them
        try:
            checked_symbols(dataset, symbols, every=False, hint="")
        except ValueError as unknown:
            raise ValueError(f"{field}: {unknown}") from exc
        raise ValueError(f"{field}: {exc}") from exc


def _at(proba: pd.Series, as_of: date | None, symbol: str) -> ops.Prediction:
    """The prediction at the last scored bar on or before ``as_of`` (``error`` if none)."""
    end = None if as_of is None else pd.Timestamp(as_of) + pd.Timedelta(days=1, nanoseconds=-1)
    n = len(proba) if end is None else int(proba.index.searchsorted(end, side="right"))
    if n == 0:
        first = f"its first scored bar is {_bar(proba.index[0])}" if len(proba) else "none yet"
        when = f"on or before {as_of}" if as_of else "with complete features"
        error = f"{symbol} has no bar {when} ({first}: the features warm up first)"
        return ops.Prediction(symbol=symbol, as_of=None, probability=None, error=error)
    p = float(proba.to_numpy()[n - 1])
    return ops.Prediction(symbol=symbol, as_of=_bar(proba.index[n - 1]), probability=p)


def _bar(ts: pd.Timestamp) -> str:  # a daily bar as its date, an intraday one in full
    return ts.date().isoformat() if ts == ts.normalize() else ts.isoformat()


def predict_one(request: ops.PredictOneRequest) -> ops.OnePrediction:
    """One symbol's probability at its latest bar or ``as_of``, or of the features sent."""
    version = resolve(request.model)
    _, scorer, features, threshold = _loaded(_key(version))
    if request.features is not None:
        p = scorer(pd.DataFrame([request.feature_row(features)], columns=features))[0]
        found = ops.Prediction(symbol=request.symbol, as_of=None, probability=float(p))
    else:
        (proba,) = _probabilities(version, request.dataset, [request.symbol], "symbol")
        found = _at(proba, request.as_of, request.symbol)
        if found.error:
            raise ValueError(f"{'as_of' if request.as_of else 'symbol'}: {found.error}")
    info = {"model": ops.ModelInfo.of(version), "dataset": request.dataset}
    return ops.OnePrediction(**found.model_dump(), **info, threshold=threshold)


def predict_batch(request: ops.PredictBatchRequest) -> ops.BatchPredictions:
    """:func:`predict_one` for each symbol; a symbol with no bar scored gets ``error``."""
    version = resolve(request.model)
    series = _probabilities(version, request.dataset, list(request.symbols), "symbols")
    found = [_at(p, request.as_of, s) for p, s in zip(series, request.symbols, strict=True)]
    info = {"model": ops.ModelInfo.of(version), "dataset": request.dataset}
    return ops.BatchPredictions(**info, threshold=_loaded(_key(version))[3], predictions=found)


__all__ = ["SERIES_MAX", "predict_batch", "predict_one", "resolve"]
