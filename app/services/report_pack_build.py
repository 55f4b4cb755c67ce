"""What goes into a report pack: a strategy's or a model's results gathered from the
saved runs (:mod:`app.services.report_pack_data`), the paper sessions and the limits in
force (:mod:`app.services.report_pack_paper`), and where the numbers come from."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from app.services import report_pack_ab as ab_data
from app.services import report_pack_data as runs_data
from app.services import report_pack_paper as paper_data
from app.services.db import get_engine
from core.config import get_settings
from core.reports.pack import ReportPack
from core.store.db import session_scope


def model_versions(name: str) -> list[Any]:
    """The registered versions of model ``name`` (LookupError when there is none)."""
    from app.operations.registry import VersionsRequest
    from app.services.registry import list_versions

    versions = list_versions(VersionsRequest(name=name))
    if not versions:
        raise LookupError(f"No registered model is named {name}; see the Model registry page")
    return versions


def _upload_hash(name: str) -> str | None:
    from core.store.repositories import DatasetRepository

    with session_scope(get_engine()) as s:
        row = DatasetRepository(s).get(name)
        return None if row is None else (row.file_sha256 or row.sha256)


def build_pack(kind: str, subject: str, *, at: datetime | None = None) -> ReportPack:
    """Everything the pack of ``kind`` (strategy or model) ``subject`` shows, as of ``at``."""
    from core.reports.pack_provenance import code_version, data_files

    at = at or datetime.now(UTC)
    notes: list[str] = []
    if kind == "strategy":
        backtests = runs_data.strategy_backtests(subject)
        names: list[str] = []
        walk = runs_data.walkforwards(lambda spec: spec.get("strategy") == subject)

        def arm_matches(arm: str) -> bool:
            return ab_data.arm_strategy(arm) == subject

        notes.append(
            "Paper sessions trade the rule-agent ensemble or a registered model, never one "
            "strategy alone."
        )
    else:
        versions = model_versions(subject)
        backtests = runs_data.model_backtests(versions)
        names = paper_data.model_sessions(subject)
        kinds = {v.kind for v in versions}
        data = {f"{d}/{sym}" for column in backtests for d, sym in column.datasets}
        walk = runs_data.walkforwards(
            lambda spec: (
                spec.get("model") in kinds and f"{spec.get('dataset')}/{spec.get('symbol')}" in data
            )
        )
        ids = {f"model:{v.id}" for v in versions}

        def arm_matches(arm: str) -> bool:
            return arm.strip() in ids

        notes.append(
            "Walk-forwards listed are those of the model kind "
            f"({', '.join(sorted(kinds))}) on the data its versions were trained on "
            f"({', '.join(sorted(data))})."
        )
        notes += [f"{v.name} v{v.version} training data hash: {v.data_hash}" for v in versions]
    paper = paper_data.paper_columns(names)
    pairs = [pair for column in [*backtests, *paper] for pair in column.datasets]
    settings = get_settings()
    return ReportPack(
        subject_kind=kind,  # type: ignore[arg-type]
        subject_name=subject,
        generated_at=at,
        code_version=code_version(),
        performance=[*backtests, *paper],
        walkforward=walk,
        risk=paper_data.risk_section(names, at),
        abtests=ab_data.abtests(arm_matches),
        data_files=data_files(pairs, data_dir=settings.data_dir, upload_hash=_upload_hash),
        notes=notes,
    )


__all__ = ["build_pack", "model_versions"]
