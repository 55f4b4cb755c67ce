"""Save and load fitted models in native formats, guarded by SHA-256 checksums.

Layout of an artifact directory::

    manifest.json       kind, feature names, per-file SHA-256, overall checksum, versions
    model.json          XGBoost models: the estimator (``XGBClassifier.save_model``)
    preprocess.joblib   XGBoost models with preprocessing steps: those steps (joblib)
    pipeline.joblib     scikit-learn models: the whole fitted pipeline (joblib)

The overall checksum (returned by :func:`save_model`, worth storing in the database) is
the SHA-256 of the sorted ``"name:sha256"`` lines of the model files. :func:`load_model`
re-hashes every file before deserializing anything and raises :class:`ArtifactError` on
a missing or altered file.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import joblib
from pydantic import BaseModel, ConfigDict

if TYPE_CHECKING:  # sklearn only when a model is saved or loaded, not to list versions
    from sklearn.pipeline import Pipeline

MANIFEST = "manifest.json"
FORMAT_VERSION = 1


class ArtifactError(RuntimeError):
    """A model artifact is missing, altered or unreadable; the message says how to fix it."""


class ArtifactInfo(BaseModel):
    """Where and what was saved."""

    model_config = ConfigDict(frozen=True)

    path: str
    checksum: str
    files: dict[str, str]
    kind: str
    feature_names: tuple[str, ...]


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def combined_checksum(files: dict[str, str]) -> str:
    """SHA-256 over sorted ``"name:digest"`` lines.

    >>> combined_checksum({"a": "00"}) == hashlib.sha256(b"a:00\\n").hexdigest()
    True
    """
    text = "".join(f"{name}:{files[name]}\n" for name in sorted(files))
    return hashlib.sha256(text.encode()).hexdigest()


def _final(model: Pipeline) -> Any:
    return model.steps[-1][1]


def _is_xgb(model: Pipeline) -> bool:
    return type(_final(model)).__module__.startswith("xgboost")


def save_model(
    model: Pipeline, directory: str | Path, *, metadata: dict[str, Any] | None = None
) -> ArtifactInfo:
    """Write a fitted pipeline to ``directory`` (created; existing files overwritten).

    Parameters
    ----------
    model : Pipeline
        Fitted pipeline from :func:`core.ml.models.fit_model`.
    directory : path
        Target folder, one per model version.
    metadata : dict, optional
        JSON-serializable extras stored in the manifest (spec, dataset, metrics).

    Returns
    -------
    ArtifactInfo
        With the overall SHA-256 ``checksum``.
    """
    import sklearn
    import xgboost
    from sklearn.pipeline import Pipeline

    if not isinstance(model, Pipeline):
        raise TypeError(f"model must be a fitted sklearn Pipeline, got {type(model).__name__}")
    path = Path(directory)
    path.mkdir(parents=True, exist_ok=True)
    files: dict[str, str] = {}
    if _is_xgb(model):
        _final(model).save_model(path / "model.json")
        files["model.json"] = sha256_file(path / "model.json")
        if len(model.steps) > 1:
            joblib.dump(Pipeline(model.steps[:-1]), path / "preprocess.joblib")
            files["preprocess.joblib"] = sha256_file(path / "preprocess.joblib")
        kind = "xgboost"
        step_name = model.steps[-1][0]
    else:
        joblib.dump(model, path / "pipeline.joblib")
        files["pipeline.joblib"] = sha256_file(path / "pipeline.joblib")
        kind = "sklearn"
        step_name = model.steps[-1][0]
    names = getattr(model, "feature_names_in_", None)
    feature_names = tuple(str(n) for n in names) if names is not None else ()
    checksum = combined_checksum(files)
    manifest = {
        "format_version": FORMAT_VERSION,
        "kind": kind,
        "final_step": step_name,
        "files": files,
        "checksum": checksum,
        "feature_names": list(feature_names),
        "versions": {"sklearn": sklearn.__version__, "xgboost": xgboost.__version__},
        "metadata": metadata or {},
    }
    (path / MANIFEST).write_text(json.dumps(manifest, indent=2, default=str))
    return ArtifactInfo(
        path=str(path), checksum=checksum, files=files, kind=kind, feature_names=feature_names
    )


def read_manifest(directory: str | Path) -> dict[str, Any]:
    """The parsed manifest of an artifact directory."""
    path = Path(directory) / MANIFEST
    if not path.is_file():
        raise ArtifactError(
            f"model manifest {path} is missing; the artifact directory is incomplete. "
            "Retrain the model and save it again with save_model()."
        )
    try:
        manifest = json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise ArtifactError(
            f"model manifest {path} is unreadable ({err}); retrain and save the model again."
        ) from None
    if not isinstance(manifest, dict) or "files" not in manifest or "kind" not in manifest:
        raise ArtifactError(f"model manifest {path} lacks 'files'/'kind'; save the model again.")
    return manifest


def verify_artifact(directory: str | Path, expected_checksum: str | None = None) -> dict[str, Any]:
    """Check every model file against the manifest (and ``expected_checksum``).

    Returns the manifest; raises :class:`ArtifactError` naming the file, the expected and
    the actual SHA-256 and the fix.
    """
    path = Path(directory)
    manifest = read_manifest(path)
    files: dict[str, str] = manifest["files"]
    for name, expected in sorted(files.items()):
        file = path / name
        if not file.is_file():
            raise ArtifactError(
                f"model file {file} is missing (expected SHA-256 {expected}). Restore it from a "
                "backup or retrain the model and save it again."
            )
        actual = sha256_file(file)
        if actual != expected:
            raise ArtifactError(
                f"checksum mismatch for {file}: expected SHA-256 {expected}, got {actual}. "
                "The file was modified or truncated after saving; restore it from a backup or "
                "retrain the model and save it again."
            )
    actual_total = combined_checksum(files)
    if actual_total != manifest.get("checksum"):
        raise ArtifactError(
            f"manifest {path / MANIFEST} is inconsistent: recorded checksum "
            f"{manifest.get('checksum')}, files give {actual_total}. Save the model again."
        )
    if expected_checksum is not None and actual_total != expected_checksum:
        raise ArtifactError(
            f"artifact {path} has checksum {actual_total}, expected {expected_checksum} "
            "(from the registry). It was replaced after registration; restore the registered "
            "version or register this one anew."
        )
    return manifest


def load_model(directory: str | Path, *, expected_checksum: str | None = None) -> Pipeline:
    """Verify checksums, then load the pipeline saved by :func:`save_model`.

    Raises
    ------
    ArtifactError
        Missing or altered files, a checksum other than ``expected_checksum``, or a file
        that cannot be deserialized.
    """
    from sklearn.pipeline import Pipeline

    path = Path(directory)
    manifest = verify_artifact(path, expected_checksum)
    try:
        if manifest["kind"] == "xgboost":
            from xgboost import XGBClassifier

            est = XGBClassifier()
            est.load_model(path / "model.json")
            steps = []
            if "preprocess.joblib" in manifest["files"]:
                steps = list(joblib.load(path / "preprocess.joblib").steps)
            return Pipeline([*steps, (manifest.get("final_step", "model"), est)])
        model = joblib.load(path / "pipeline.joblib")
    except ArtifactError:
        raise
    except Exception as err:
        raise ArtifactError(
            f"model files in {path} passed their checksums but could not be loaded "
            f"({type(err).__name__}: {err}); the library versions may differ from "
            f"{manifest.get('versions')}. Retrain and save the model with this environment."
        ) from err
    if not isinstance(model, Pipeline):
        raise ArtifactError(f"{path / 'pipeline.joblib'} does not hold a Pipeline; save again.")
    return model


__all__ = [
    "ArtifactError",
    "ArtifactInfo",
    "combined_checksum",
    "load_model",
    "read_manifest",
    "save_model",
    "sha256_file",
    "verify_artifact",
]
