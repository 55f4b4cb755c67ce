"""System operations: set-up (data, database, numba cache, the Regimes page's default
fit) and the benchmarks."""

from __future__ import annotations

import importlib
from dataclasses import asdict
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from app.operations import Operation, register


class SetupRequest(BaseModel):
    """What ``workbench setup`` does besides checking data and migrating the database."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    warm: bool = Field(
        title="Warm the cache", default=True, description="Warm numba's on-disk cache"
    )
    regimes: bool = Field(
        title="Fit the regimes view",
        default=True,
        description="Fit and store the Regimes page's default view (a few seconds, once)",
    )


def _bench() -> Any:
    """``app.bench``, imported by name on use, as operations name their services: it sits
    above the services (its API section drives them), so a descriptor cannot import it."""
    return importlib.import_module("app.bench")


class BenchRequest(BaseModel):
    """Which benchmarks to run and how often to repeat each timing."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    repeats: int = Field(
        title="Repeats", default=7, ge=1, le=1000, description="Timing repeats per measurement"
    )
    only: list[str] = Field(
        title="Sections",
        default_factory=list,
        description="Sections to run (repeatable; default all)",
        json_schema_extra={"choices": "app.bench:SECTIONS"},
    )
    peers: bool = Field(
        title="Peers",
        default=False,
        description="Also time the sweep in vectorbt and backtesting.py (installs the 'peers' "
        "extra on demand)",
    )

    @field_validator("only")
    @classmethod
    def _known(cls, value: list[str]) -> list[str]:
        sections = _bench().SECTIONS
        unknown = sorted(set(value) - set(sections))
        if unknown:
            raise ValueError(f"unknown sections {unknown}; choose from {list(sections)}")
        return value


def _setup_text(_report: Any, p: dict[str, Any]) -> str:
    return (
        f"data: {', '.join(f'{k} {v}' for k, v in p['data_files'].items())}\n"
        f"database: {p['database_url']} (migrated)\n"
        f"numba warm-up: {p['numba_warmup_seconds']} s\n"
        f"regimes: {p['regimes']}" + "".join(f"\nnote: {n}" for n in p["notes"])
    )


def _bench_text(report: Any, _payload: dict[str, Any]) -> str:
    return _bench().summary_text(report)  # type: ignore[no-any-return]


SETUP = register(
    Operation(
        name="setup",
        feature="system",
        summary="Verify embedded data, migrate the database and warm numba (idempotent).",
        request=SetupRequest,
        service="app.services.system:setup",
        payload=asdict,
        text=_setup_text,
    )
)
BENCH = register(
    Operation(
        name="bench",
        feature="system",
        summary="Benchmarks: medians and percentiles, throughput; never timed unit tests.",
        request=BenchRequest,
        service="app.bench:run",
        payload=dict,
        text=_bench_text,
        long_running=True,
    )
)

__all__ = ["BENCH", "SETUP", "BenchRequest", "SetupRequest"]
