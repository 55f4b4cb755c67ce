"""The stored-fit cache of regime histories (``var/cache/regimes``).

A fitted history is stored on disk (:func:`stored_regimes`, :func:`save_regimes`), keyed by
the prices' content hash and every input of the fit (see :func:`fit_key`), so a later visit
or another server process shows it at once instead of refitting (an expanding history of
5,000 bars takes several seconds of CPU). A stored result is exactly what a refit would
give: the fit is seeded and the key changes with the prices, the parameters, the regime
code and the versions of numpy, hmmlearn and scikit-learn. What is stored is the payload of
:func:`app.services.regime_view.fit_and_store`.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from datetime import datetime
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Any

import pandas as pd

from app.operations.regime import Method
from core.config import get_settings
from core.regime import RegimeHistorySpec, RegimeSpec

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
    prices: pd.DataFrame,
    symbol: str,
    method: Method,
    seed: int,
    history: RegimeHistorySpec,
    n_iter: int | None = None,
) -> str:
    """Store key of a fit: prices' content, symbol, model (``n_iter``: EM iterations,
    the model's default when None), history spec and code."""
    spec = (
        RegimeSpec(method=method, seed=seed)
        if n_iter is None
        else RegimeSpec(method=method, seed=seed, n_iter=n_iter)
    )
    parts = {
        "version": STORE_VERSION,
        "prices": prices_digest(prices),
        "symbol": symbol,
        "spec": spec.model_dump(mode="json"),
        "history": history.model_dump(mode="json"),
        "code": _code_fingerprint(),
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:32]


def stored_regimes_exist(key: str) -> bool:
    """Whether a result is stored under ``key`` (a cheap check, before any read)."""
    return bool(key) and (store_folder() / key / "meta.json").is_file()


def stored_regimes(key: str) -> dict[str, object] | None:
    """The stored payload of ``key`` (as :func:`app.services.regime_view.fit_and_store`
    returns), or None.

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


def save_regimes(key: str, payload: dict[str, Any]) -> None:
    """Store ``payload`` under ``key``, atomically (OSError when it cannot be written; an
    entry another process stored first under the same key is kept)."""
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
