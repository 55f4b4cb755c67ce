"""The PM's report pack: gather a strategy's or model's results, lay them out as HTML,
print the same page to PDF with Chromium, and send the files through alert channels.

Pages, the CLI (``workbench report pack``), jobs and the schedule
(:mod:`app.services.report_pack_schedule`) all call :func:`make_pack` or its parts;
``at`` is the generation time (an injected clock; now by default).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from app.operations import CancelToken, Progress
from app.operations.report_pack import ReportPackRequest
from app.services.auth import LOCAL, Actor, require
from app.services.db import get_engine
from app.services.report_pack_build import build_pack
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
