"""The model registry: numbered versions of trained models, their stages and audit trail,
and the checksummed artifacts they point to.

:class:`ModelRegistry` holds the state machine (register, promote, roll back) over a
caller-owned session; :mod:`core.registry.artifacts` saves and loads fitted models in
native formats guarded by SHA-256 checksums.
"""

from core.registry._registry import ModelRegistry
from core.registry._versions import (
    STAGES,
    AlreadyRegistered,
    Candidate,
    VersionRow,
    compare_table,
    validate_name,
)
from core.registry.artifacts import (
    ArtifactError,
    ArtifactInfo,
    load_model,
    save_model,
    verify_artifact,
)

__all__ = [
    "STAGES",
    "AlreadyRegistered",
    "ArtifactError",
    "ArtifactInfo",
    "Candidate",
    "ModelRegistry",
    "VersionRow",
    "compare_table",
    "load_model",
    "save_model",
    "validate_name",
    "verify_artifact",
]
