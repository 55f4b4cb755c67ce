"""`workbench train --register` and `workbench registry`, run as real subprocesses.

Each test has its own WORKBENCH_VAR_DIR; what a command stored is read back in-process
through the services, which point at the same database.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from app.operations.registry import RegisterRequest, VersionsRequest
from app.services import registry
from app.services import runs as run_store
from tests.app.test_cli import ROOT, workbench


def workbench_as(
    *args: str, var: Path, user: str | None, roles: str | None = None
) -> subprocess.CompletedProcess[str]:
    """Run the CLI as ``user`` with ``roles`` (None: the local single-user mode)."""
    env = {k: v for k, v in os.environ.items() if k not in ("WORKBENCH_USER", "WORKBENCH_ROLES")}
    env["WORKBENCH_VAR_DIR"] = str(var)
    if user is not None:
        env["WORKBENCH_USER"] = user
    if roles is not None:
        env["WORKBENCH_ROLES"] = roles
    return subprocess.run(
        [sys.executable, "-m", "app.cli", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=180,
    )


def test_train_register_promote_rollback(isolated_workbench: Path) -> None:
    var = isolated_workbench
    out = workbench_as(
        "train", "--model", "logistic", "--register", "m1", "--json", var=var, user=None
    )
    assert out.returncode == 0, out.stderr
    payload = json.loads(out.stdout)
    assert {"run_id", "roc_auc", "registered", "train_range", "test_range", "signal"} <= set(
        payload
    )
    registered = payload["registered"]
    assert registered["version"] == 1 and registered["name"] == "m1"
    assert registered["stage"] == "candidate" and registered["kind"] == "logistic"
    assert payload["trials"] == 1 and payload["features"] == 44
    assert payload["train_range"][1] < payload["test_range"][0]
    # the CLI's numbers are the stored run's numbers
    run = run_store.get_run(payload["run_id"])
    assert run.kind == "train"
    assert run.metrics["roc_auc"] == pytest.approx(payload["roc_auc"])
    assert registered["metrics"]["roc_auc"] == pytest.approx(payload["roc_auc"])
    version_id = registered["id"]

    # an analyst may not promote: exit 3, the message names the missing role
    denied = workbench_as(
        "registry", "promote", str(version_id), var=var, user="ann", roles="analyst"
    )
    assert denied.returncode == 3, denied.stdout + denied.stderr
    assert "'pm' role" in denied.stderr and "ann" in denied.stderr
    assert [v.stage for v in registry.list_versions(VersionsRequest(name="m1"))] == ["candidate"]
    assert [e["action"] for e in registry.events("m1")] == ["register"]

    promoted = workbench_as(
        "registry", "promote", str(version_id), "--reason", "ok", var=var, user=None
    )
    assert promoted.returncode == 0, promoted.stderr
    assert "m1 v1 is now champion" in promoted.stdout

    # nothing to roll back to: exit 2 with a message, champion unchanged
    rollback = workbench_as("registry", "rollback", "m1", var=var, user=None)
    assert rollback.returncode == 2
    assert "error:" in rollback.stderr and "no earlier champion" in rollback.stderr

    listed = workbench("registry", "list", "--json", var=var)
    assert listed.returncode == 0, listed.stderr
    versions = json.loads(listed.stdout)["versions"]
    assert [(v["id"], v["name"], v["version"], v["stage"]) for v in versions] == [
        (version_id, "m1", 1, "champion")
    ]
    events = registry.events("m1")
    assert [(e["action"], e["actor"], e["reason"]) for e in events] == [
        ("promote", "local", "ok"),
        ("register", "local", f"from training run {payload['run_id']}"),
    ]


def _tiny_train_run() -> int:
    """A stored training run with a small fitted model (without the signal backtest)."""
    import numpy as np
    import pandas as pd

    from core.ml import ModelSpec, fit_model
    from core.registry import save_model

    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(200, 2)), columns=["ret_1", "rsi_14"])
    y = (X["ret_1"] + rng.normal(size=200) > 0).astype(int)
    spec = ModelSpec(kind="logistic")
    run_id = run_store.save_run(
        kind="train",
        title="tiny",
        spec={
            "kind": "logistic",
            "dataset": "synthetic",
            "symbol": "seed-1",
            "resolved_params": spec.resolved_params(),
            "resolved_features": list(X.columns),
        },
        metrics={"roc_auc": 0.6, "train_range": ["2020-01-01", "2020-12-31"], "data_hash": "0"},
        frames={},
    )
    save_model(fit_model(spec, X, y), run_store.run_folder(run_id) / "model")
    return run_id


def test_promote_corrupted_artifact_is_a_clear_error(isolated_workbench: Path) -> None:
    version = registry.register(RegisterRequest(run_id=_tiny_train_run(), name="m"))
    target = isolated_workbench / "models" / "m" / "v1" / "pipeline.joblib"
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 0xFF
    target.write_bytes(bytes(data))
    out = workbench("registry", "promote", str(version.id), "--json", var=isolated_workbench)
    assert [v.stage for v in registry.list_versions(VersionsRequest(name="m"))] == ["candidate"]
    assert out.returncode == 2, out.stdout + out.stderr
    assert "checksum mismatch" in json.loads(out.stdout)["error"]


def test_registry_register_command_adds_a_candidate(isolated_workbench: Path) -> None:
    run_id = _tiny_train_run()
    out = workbench(
        "registry", "register", "--run-id", str(run_id), "--name", "tiny", "--json",
        var=isolated_workbench,
    )  # fmt: skip
    assert out.returncode == 0, out.stdout + out.stderr
    payload = json.loads(out.stdout)
    assert (payload["name"], payload["version"], payload["stage"]) == ("tiny", 1, "candidate")
    assert payload["metrics"]["run_id"] == run_id and payload["metrics"]["roc_auc"] == 0.6
    (stored,) = registry.list_versions()
    assert stored.id == payload["id"] and stored.checksum == payload["checksum"]
    bad = workbench(
        "registry", "register", "--run-id", str(run_id), "--name", "no good",
        var=isolated_workbench,
    )  # fmt: skip
    assert bad.returncode == 2 and "model name 'no good': use 1-64 letters" in bad.stderr
    assert len(registry.list_versions()) == 1
