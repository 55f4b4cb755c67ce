"""The PM's report pack: gather a strategy's or model's results, lay them out as HTML,
print the same page to PDF with Chromium, and send the files through alert channels.

Pages, the CLI (``workbench report pack``), jobs and the schedule
(:mod:`app.services.report_pack_schedule`) all call :func:`make_pack` or its parts;
``at`` is the generation time (an injected clock; now by default).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from app.operations import CancelToken, Progress
from app.operations.report_pack import ReportPackRequest
from app.services import report_pack_data as runs_data
from app.services import report_pack_paper as paper_data
from app.services.auth import LOCAL, Actor, require
from app.services.db import get_engine
from core.config import get_settings
from core.reports.pack import ReportPack, render_html
from core.store.db import session_scope


@dataclass(frozen=True)
class PackOutcome:
    """A built pack, its files and where it was sent (one dict per channel)."""

    pack: ReportPack
    html: Path | None
    pdf: Path | None
    sent: Sequence[dict[str, Any]] = field(default_factory=tuple)

    @property
    def files(self) -> list[Path]:
        """The files made, HTML first."""
        return [p for p in (self.html, self.pdf) if p is not None]


def _model_versions(name: str) -> list[Any]:
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
            return runs_data.arm_strategy(arm) == subject

        notes.append(
            "Paper sessions trade the rule-agent ensemble or a registered model, never one "
            "strategy alone."
        )
    else:
        versions = _model_versions(subject)
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
        abtests=runs_data.abtests(arm_matches),
        data_files=data_files(pairs, data_dir=settings.data_dir, upload_hash=_upload_hash),
        notes=notes,
    )


def write_files(
    pack: ReportPack, formats: Sequence[str], folder: Path | None = None
) -> PackOutcome:
    """Write the pack's HTML (and its PDF, printed from that HTML) to ``folder``
    (default ``var/reports/<slug>``); the HTML file is made for the PDF in any case."""
    from core.reports.pdf import print_pdf

    settings = get_settings()
    folder = folder or settings.var_dir / "reports" / pack.slug
    folder.mkdir(parents=True, exist_ok=True)
    html = folder / f"{pack.slug}.html"
    html.write_text(render_html(pack), encoding="utf-8")
    pdf = None
    try:
        if "pdf" in formats:
            pdf = print_pdf(
                html,
                folder / f"{pack.slug}.pdf",
                chromium=settings.chromium_path,
                timeout_s=settings.report_pdf_timeout_s,
            )
    finally:
        if "html" not in formats:
            html.unlink()
    return PackOutcome(pack, html if "html" in formats else None, pdf)


def send(outcome: PackOutcome, channel: str) -> None:
    """Send the pack's files through alert channel ``channel`` (ChannelError, LookupError);
    ``in-app`` delivers nothing (the files stay where they were written)."""
    from core.alerts import IN_APP, ChannelSpec
    from core.alerts.stored import StoredAlerts
    from core.reports.pack_send import send_with_files

    with session_scope(get_engine()) as s:
        spec = StoredAlerts(s).channel(channel)
    if spec is None and channel == IN_APP:  # the built-in inbox: the files stay on disk
        spec = ChannelSpec(name=IN_APP, url=IN_APP)
    if spec is None:
        raise LookupError(f"No alert channel is named {channel}; add it on the Alerts page")
    if not spec.enabled:
        raise LookupError(f"Alert channel {channel} is disabled; enable it on the Alerts page")
    pack = outcome.pack
    body = (
        f"{pack.title}, generated {pack.generated_at:%Y-%m-%d %H:%M %Z} (code "
        f"{pack.code_version}). Files: " + ", ".join(str(p) for p in outcome.files)
    )
    send_with_files(spec, title=pack.title, body=body, files=outcome.files)


def make_pack(
    request: ReportPackRequest,
    *,
    actor: Actor = LOCAL,
    progress: Progress | None = None,
    cancel: CancelToken | None = None,
    at: datetime | None = None,
) -> PackOutcome:
    """Build the pack of ``request``, write its files and send it through
    ``request.send`` (the ``pm`` role); each channel's result in ``sent``."""
    from core.alerts.channels import ChannelError
    from core.reports.pdf import PdfError

    if request.send:
        require(actor, "pm", "sending report packs")
    report, check = progress or (lambda _f, _m: None), (cancel or CancelToken()).check
    check()
    pack = build_pack(request.kind, request.subject, at=at)
    report(0.4, "results gathered")
    check()
    try:
        outcome = write_files(pack, request.formats)
    except PdfError as exc:
        raise ValueError(str(exc)) from None
    report(
        0.9 if request.send else 1.0, "files written: " + ", ".join(p.name for p in outcome.files)
    )
    sent = []
    for channel in request.send:
        try:
            send(outcome, channel)
            sent.append({"channel": channel, "status": "sent"})
        except (ChannelError, LookupError) as exc:
            sent.append({"channel": channel, "status": "failed", "error": str(exc)})
    if request.send:
        report(1.0, f"sent through {len([s for s in sent if s['status'] == 'sent'])} channel(s)")
    return PackOutcome(pack, outcome.html, outcome.pdf, sent)


__all__ = ["PackOutcome", "build_pack", "make_pack", "send", "write_files"]
