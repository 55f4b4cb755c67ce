"""Print an HTML file to PDF with headless Chromium (``--print-to-pdf``).

The page is printed as the browser lays it out for print (``@media print`` rules
apply), without the header and footer Chromium would add. Chromium runs with a fresh
profile folder, no network services and no sandbox (containers rarely allow one).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path


class PdfError(RuntimeError):
    """Chromium is missing or could not print the page."""


INSTALL_HINT = (
    "install Chromium (Debian/Ubuntu: `apt-get install chromium`) or point "
    "WORKBENCH_CHROMIUM_PATH at a Chromium or Chrome binary"
)


def chromium_binary(path: Path) -> Path:
    """``path`` if it is an executable file; a bare name (``chromium``) is looked up on
    PATH.

    Raises
    ------
    PdfError
        When there is no such executable, saying what to install.
    """
    if len(path.parts) == 1:
        found = shutil.which(str(path))
        if found is not None:
            return Path(found)
    elif path.is_file() and os.access(path, os.X_OK):
        return path
    raise PdfError(f"no Chromium at {path} to print the PDF: {INSTALL_HINT}")


def page_count(pdf: bytes) -> int:
    """Number of page objects of a PDF (``/Type /Page``, not ``/Pages``).

    >>> page_count(b"<</Type /Pages /Count 1>> <</Type /Page /Parent 1 0 R>>")
    1
    """
    return len(re.findall(rb"/Type\s*/Page(?![a-zA-Z])", pdf))


def print_pdf(html_file: Path, out: Path, *, chromium: Path, timeout_s: float = 90.0) -> Path:
    """Print ``html_file`` to ``out`` (written whole or not at all); returns ``out``.

    Raises
    ------
    PdfError
        Chromium is missing, fails, times out or writes no PDF (its exit code and the
        last lines of its output in the message).
    """
    binary = chromium_binary(chromium)
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="workbench-chromium-") as profile:
        target = Path(profile) / "out.pdf"
        command = [
            str(binary),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--disable-dev-shm-usage",
            f"--user-data-dir={profile}",
            f"--print-to-pdf={target}",
            "--no-pdf-header-footer",
            html_file.resolve().as_uri(),
        ]
        try:
            done = subprocess.run(
                command, capture_output=True, text=True, timeout=timeout_s, check=False
            )
        except subprocess.TimeoutExpired:
            raise PdfError(
                f"Chromium did not print {html_file.name} within {timeout_s:g} s"
            ) from None
        except OSError as exc:
            raise PdfError(
                f"Chromium at {binary} could not start ({exc}): {INSTALL_HINT}"
            ) from None
        data = target.read_bytes() if target.is_file() else b""
        if done.returncode != 0 or not data.startswith(b"%PDF") or page_count(data) == 0:
            tail = " | ".join((done.stderr or "").strip().splitlines()[-3:])
            raise PdfError(
                f"Chromium (exit code {done.returncode}) wrote no PDF of {html_file.name}: "
                f"{tail or 'no output'}"
            )
        staged = out.with_name(f".{out.name}.tmp")
        staged.write_bytes(data)
        os.replace(staged, out)
    return out


__all__ = ["INSTALL_HINT", "PdfError", "chromium_binary", "page_count", "print_pdf"]
