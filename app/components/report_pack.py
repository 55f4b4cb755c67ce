"""The report pack button: build a strategy's or model's pack and download its files."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from app.operations.errors import error_text
from app.operations.report_pack import ReportPackRequest
from app.session import current_actor

_MIME = {"html": "text/html", "pdf": "application/pdf"}


def _build(subject_kind: str, subject_name: str) -> dict[str, str] | None:
    """Build the pack with a progress message; its files by format (None when it
    failed, the reason shown). Without Chromium the HTML is still offered."""
    from app.services.report_pack import make_pack

    with st.status(f"Building the report pack of {subject_name}…", expanded=True) as status:
        try:
            request = ReportPackRequest(subject=subject_name, kind=subject_kind, format="both")
        except ValueError as exc:
            status.update(label="The report pack cannot be built", state="error")
            st.error(error_text(exc, model=ReportPackRequest))
            return None

        def progress(_fraction: float, message: str) -> None:
            status.update(label=f"Report pack: {message}")

        try:
            outcome = make_pack(request, actor=current_actor(), progress=progress)
        except ValueError as exc:  # no Chromium, or it failed: the HTML alone
            st.warning(f"No PDF this time: {exc}")
            html_only = request.model_copy(update={"format": "html"})
            try:
                outcome = make_pack(html_only, actor=current_actor(), progress=progress)
            except (ValueError, LookupError) as again:
                status.update(label="The report pack could not be built", state="error")
                st.error(str(again))
                return None
        except LookupError as exc:
            status.update(label="The report pack could not be built", state="error")
            st.error(str(exc))
            return None
        status.update(label="Report pack ready", state="complete", expanded=False)
    return {p.suffix.removeprefix("."): str(p) for p in outcome.files}


def render_report_pack_button(subject_kind: str, subject_name: str) -> None:
    """A "Build report pack" button for ``subject_kind`` (strategy or model)
    ``subject_name``; once built, downloads of its HTML and PDF."""
    key = f"report_pack.{subject_kind}.{subject_name}"
    if st.button("Build report pack (HTML and PDF)", key=f"{key}.build"):
        files = _build(subject_kind, subject_name)
        if files is not None:
            st.session_state[key] = files
    for kind, raw in (st.session_state.get(key) or {}).items():
        path = Path(raw)
        if path.is_file():
            st.download_button(
                f"Download report pack ({kind.upper()})",
                path.read_bytes,  # read on the click, not on every run
                file_name=path.name,
                mime=_MIME[kind],
                key=f"{key}.download.{kind}",
            )


__all__ = ["render_report_pack_button"]
