"""Regime services: fit on a dataset or file, evaluate on synthetic data.

The per-bar history is causal by default (expanding refits every 21 bars, see
:class:`core.regime.RegimeHistorySpec`); ``mode="in-sample"`` is the whole-series fit,
which sees the future and is labelled so wherever it is shown.

A fitted history is stored on disk (:func:`stored_regimes`, :func:`fit_and_store`) under
``var/cache/regimes``, keyed by the prices' content hash and every input of the fit (see
:func:`fit_key`), so a later visit or another server process shows it at once instead of
refitting (an expanding history of 5,000 bars takes several seconds of CPU). A stored
result is exactly what a refit would give: the fit is seeded and the key changes with the
prices, the parameters, the regime code and the versions of numpy, hmmlearn and
scikit-learn.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import time
import typing
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Any

import pandas as pd

from app import defaults
from app.operations.regime import Method, Mode, RegimeEvalRequest, RegimeFitRequest
from app.services.data import load_prices, validate_file
from core.config import get_settings
from core.regime import (
    LABELS,
    RegimeHistorySpec,
    RegimeResult,
    RegimeSpec,
    causal_regimes,
    evaluate_synthetic,
)
from core.serialize import json_safe

MODES: tuple[str, ...] = typing.get_args(Mode)
#: The Regimes page's default view: the app's default dataset, symbol and method, and the
#: request's defaults for the seed, history mode and cadence (the page's widgets start
#: there; ``workbench setup`` stores this fit, :func:`store_default_view`).
DEFAULT_VIEW = RegimeFitRequest(
    dataset=defaults.DATASET, symbol=defaults.SYMBOL, method=defaults.REGIME_METHOD
)


@dataclass(frozen=True)
class RegimeOutcome:
    """A fitted regime model with the prices it was fitted on."""

    prices: pd.DataFrame
    result: RegimeResult
    history: RegimeHistorySpec | None = None

    @property
    def current(self) -> tuple[str, float, pd.Timestamp]:
        """The latest bar's filtered label, its confidence, and its date."""
        return (
            str(self.result.label.iloc[-1]),
            float(self.result.confidence.iloc[-1]),
            self.result.label.index[-1],
        )


def history_spec(mode: Mode = "expanding", refit_every: int = 21) -> RegimeHistorySpec:
    """The history spec of a mode and cadence (raises ValueError on a bad value)."""
    return RegimeHistorySpec(mode=mode, refit_every=refit_every)


def _fit(
    prices: pd.DataFrame, method: Method, seed: int, history: RegimeHistorySpec
) -> RegimeOutcome:
    result = causal_regimes(prices, RegimeSpec(method=method, seed=seed), history)
    return RegimeOutcome(prices, result, history)


def fit_dataset(
    dataset: str,
    symbol: str,
    *,
    method: Method = "hmm",
    seed: int = 0,
    history: RegimeHistorySpec | None = None,
) -> RegimeOutcome:
    """Regime history of ``dataset/symbol`` (causal unless ``history`` says in-sample)."""
    return _fit(load_prices(dataset, symbol), method, seed, history or RegimeHistorySpec())


def fit_file(
    path: Path, *, method: Method = "hmm", seed: int = 0, history: RegimeHistorySpec | None = None
) -> RegimeOutcome:
    """Validate a CSV/Parquet file (date and close suffice) and build its regime history."""
    prices = validate_file(path.name, path.read_bytes()).frame
    return _fit(prices, method, seed, history or RegimeHistorySpec())


def run_fit(request: RegimeFitRequest) -> RegimeOutcome:
    """The regime history a :class:`RegimeFitRequest` asks for."""
    history = history_spec(request.history, request.refit_every)
    if request.file is not None:
        return fit_file(request.file, method=request.method, seed=request.seed, history=history)
    if request.dataset is None or request.symbol is None:
        raise ValueError("give either a file or both a dataset and a symbol")
    return fit_dataset(
        request.dataset, request.symbol, method=request.method, seed=request.seed, history=history
    )


def run_eval(request: RegimeEvalRequest) -> dict[str, object]:
    """The synthetic evaluation a :class:`RegimeEvalRequest` asks for."""
    history = history_spec(request.history, request.refit_every)
    report = evaluate(seed=request.seed, method=request.method, bars=request.bars, history=history)
    return {"method": request.method, "seed": request.seed, "bars": request.bars, **report}


def filtered_frame(outcome: RegimeOutcome) -> pd.DataFrame:
    """Per bar: filtered P(label), entropy, confidence and label (what strategies may use)."""
    return outcome.result.to_frame()


def evaluate(
    *,
    seed: int,
    method: Method = "hmm",
    bars: int = 5000,
    history: RegimeHistorySpec | None = None,
) -> dict[str, object]:
    """Detector vs the Bayes-optimal oracle on a synthetic series (JSON-safe).

    Causal by default; ``RegimeHistorySpec(mode="in-sample")`` scores the whole-series fit.
    """
    history = history or RegimeHistorySpec()
    raw = evaluate_synthetic(
        seed=seed, method=method, bars=bars, history=history if history.causal else None
    )
    raw["history_mode"] = history.mode
    return json_safe(raw)


def filtered_probabilities(
    prices: pd.DataFrame, *, method: Method = "hmm", seed: int = 0
) -> pd.DataFrame:
    """Causal forward-filtered label probabilities for ``prices`` (columns ``LABELS``)."""
    return causal_regimes(prices, RegimeSpec(method=method, seed=seed)).filtered[list(LABELS)]


#: Bumped when the stored layout changes (older entries are then never read).
STORE_VERSION = 1
_FRAMES = ("close", "frame", "smoothed", "transition", "states")


def store_folder() -> Path:
    """Folder of the stored regime histories (``var/cache/regimes``)."""
    return get_settings().var_dir / "cache" / "regimes"


def prices_digest(prices: pd.DataFrame) -> str:
    """SHA-256 of a price frame's content (index, columns and values)."""
    h = hashlib.sha256(json.dumps([str(c) for c in prices.columns]).encode())
    h.update(pd.util.hash_pandas_object(prices, index=True).to_numpy().tobytes())
    return h.hexdigest()


@lru_cache(maxsize=1)
def _code_fingerprint() -> str:
    """The regime code and the numeric libraries it runs on (a change refits)."""
    import core.regime

    h = hashlib.sha256()
    for path in sorted(Path(core.regime.__file__).parent.glob("*.py")):
        h.update(path.name.encode() + path.read_bytes())
    for dist in ("numpy", "hmmlearn", "scikit-learn", "scipy"):
        try:
            h.update(f"{dist}={metadata.version(dist)}".encode())
        except metadata.PackageNotFoundError:
            h.update(f"{dist}=none".encode())
    return h.hexdigest()


def fit_key(
    prices: pd.DataFrame, symbol: str, method: Method, seed: int, history: RegimeHistorySpec
) -> str:
    """Store key of a fit: prices' content, symbol, model, history spec and code."""
    spec = RegimeSpec(method=method, seed=seed)
    parts = {
        "version": STORE_VERSION,
        "prices": prices_digest(prices),
        "symbol": symbol,
        "spec": spec.model_dump(mode="json"),
        "history": history.model_dump(mode="json"),
        "code": _code_fingerprint(),
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:32]


def _payload(outcome: RegimeOutcome) -> dict[str, object]:
    result = outcome.result
    return {
        "history": result.history,
        "history_mode": result.history_mode,
        "first_bar": result.first_bar,
        "close": outcome.prices["close"],
        "frame": result.to_frame(),
        "smoothed": result.smoothed,
        "transition": result.transition,
        "warnings": list(result.warnings),
        "method": result.method,
        "states": getattr(result, "states", None),
    }


def stored_regimes_exist(key: str) -> bool:
    """Whether a result is stored under ``key`` (a cheap check, before any read)."""
    return bool(key) and (store_folder() / key / "meta.json").is_file()


def stored_regimes(key: str) -> dict[str, object] | None:
    """The stored payload of ``key`` (as :func:`fit_and_store` returns), or None.

    An entry that cannot be read (partial, another version) counts as absent.
    """
    folder = store_folder() / key
    try:
        meta = json.loads((folder / "meta.json").read_text())
        if meta.get("version") != STORE_VERSION:
            return None
        out: dict[str, Any] = dict(meta["fields"])
        for name in _FRAMES:
            path = folder / f"{name}.parquet"
            out[name] = pd.read_parquet(path) if path.is_file() else None
    except (OSError, ValueError, KeyError):
        return None
    out["close"] = out["close"]["close"]
    out["fitted_at"] = datetime.fromisoformat(meta["fitted_at"])
    out["fit_seconds"] = float(meta["fit_seconds"])
    out["stored"] = True
    return out


def _store(key: str, payload: dict[str, Any]) -> None:
    root = store_folder()
    root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".saving-", dir=root))
    try:
        for name in _FRAMES:
            value = payload[name]
            if isinstance(value, pd.Series):
                value = value.to_frame(name)
            if value is not None:
                value.to_parquet(staging / f"{name}.parquet")
        fields = {k: v for k, v in payload.items() if k not in _FRAMES}
        fields = {k: v for k, v in fields.items() if k not in ("fitted_at", "fit_seconds")}
        meta = {
            "version": STORE_VERSION,
            "fitted_at": payload["fitted_at"].isoformat(),
            "fit_seconds": payload["fit_seconds"],
            "fields": fields,
        }
        (staging / "meta.json").write_text(json.dumps(meta))
        try:
            os.rename(staging, root / key)  # atomic; the entry appears whole or not at all
        except OSError:
            pass  # another process stored the same fit first (same key, same result)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def fit_and_store(
    prices: pd.DataFrame,
    key: str,
    *,
    method: Method = "hmm",
    seed: int = 0,
    history: RegimeHistorySpec | None = None,
) -> dict[str, object]:
    """Fit the regime history of ``prices``, store it under ``key`` and return its payload.

    The payload holds the close, the filtered frame (:meth:`RegimeResult.to_frame`), the
    hindsight ``smoothed`` frame, the latest transition matrix and states, warnings,
    history description and mode, ``first_bar``, ``fitted_at`` (UTC), ``fit_seconds``
    and ``stored`` (False: fitted now). A failure to write the store is not an error.
    """
    start = time.perf_counter()
    outcome = _fit(prices, method, seed, history or RegimeHistorySpec())
    payload: dict[str, Any] = _payload(outcome)
    payload["fitted_at"] = datetime.now(UTC)
    payload["fit_seconds"] = time.perf_counter() - start
    if key:
        try:
            _store(key, payload)
        except OSError:
            pass
    payload["stored"] = False
    return payload


@dataclass(frozen=True)
class StoredView:
    """What :func:`store_view` did: ``fit_seconds`` is None when it was already stored;
    ``stored`` is False when the store could not be written."""

    dataset: str
    symbol: str
    key: str
    fit_seconds: float | None
    stored: bool


def store_view(view: RegimeFitRequest) -> StoredView:
    """Fit and store ``view`` (a dataset/symbol request) unless it is stored already.

    The prices and key are those the Regimes page computes for the same selection, so the
    page then reads this entry instead of fitting. Cheap when stored (a price load and
    a hash).
    """
    if view.dataset is None or view.symbol is None:
        raise ValueError("a stored view needs a dataset and a symbol")
    prices = load_prices(view.dataset, view.symbol, start=None, end=None)
    history = history_spec(view.history, view.refit_every)
    key = fit_key(prices, view.symbol, view.method, view.seed, history)
    if stored_regimes_exist(key):
        return StoredView(view.dataset, view.symbol, key, None, True)
    payload = fit_and_store(prices, key, method=view.method, seed=view.seed, history=history)
    seconds = typing.cast(float, payload["fit_seconds"])
    return StoredView(view.dataset, view.symbol, key, seconds, stored_regimes_exist(key))


def store_default_view() -> StoredView:
    """:func:`store_view` of :data:`DEFAULT_VIEW` (what ``workbench setup`` runs)."""
    return store_view(DEFAULT_VIEW)
