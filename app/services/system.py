"""Set-up and health: data checksums, database migration, numba warm-up, and the Regimes
page's default fit (stored, so a fresh install's first visit does not fit)."""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass, field

from app.operations.system import SetupRequest
from app.services.db import get_engine
from core.config import get_settings


@dataclass
class SetupReport:
    """What ``workbench setup`` did."""

    data_files: dict[str, str] = field(default_factory=dict)
    database_url: str = ""
    numba_warmup_seconds: float | None = None
    regimes: str = "skipped"
    notes: list[str] = field(default_factory=list)


class SetupError(ValueError):
    """Set-up found a problem the user must fix."""


def verify_data() -> dict[str, str]:
    """Check every embedded file against ``data/MANIFEST.json``."""
    folder = get_settings().data_dir
    manifest = json.loads((folder / "MANIFEST.json").read_text())
    status: dict[str, str] = {}
    for name, expected in manifest.items():
        path = folder / name
        if not path.is_file():
            raise SetupError(f"{path} is missing; restore it with `git checkout -- data/`")
        actual = hashlib.sha256(path.read_bytes()).hexdigest()
        if actual != expected:
            raise SetupError(
                f"{path} is corrupted (sha256 {actual[:12]}…, expected {expected[:12]}…); "
                "restore it with `git checkout -- data/`"
            )
        status[name] = "ok"
    return status


def run_setup(*, warm: bool = True) -> SetupReport:
    """Verify data, migrate the database, and warm numba's on-disk cache."""
    settings = get_settings()
    report = SetupReport()
    report.data_files = verify_data()
    settings.var_dir.mkdir(parents=True, exist_ok=True)
    engine = get_engine()
    report.database_url = engine.url.render_as_string(hide_password=True)
    if warm:
        try:
            from core.backtest import warm_numba
        except ImportError:
            report.notes.append("backtest engine not installed; numba warm-up skipped")
        else:
            started = time.perf_counter()
            warm_numba()
            report.numba_warmup_seconds = round(time.perf_counter() - started, 2)
    return report


def store_default_regimes() -> str:
    """Store the Regimes page's default fit (:func:`app.services.regime_view.store_default_view`)
    and describe what was done, for :class:`SetupReport`."""
    from app.services.regime_view import store_default_view

    started = time.perf_counter()
    done = store_default_view()
    if done.fit_seconds is None:
        return f"default fit for {done.symbol} already stored"
    seconds = time.perf_counter() - started
    if not done.stored:
        return f"fitted the default view of {done.symbol} in {seconds:.1f} s but could not store it"
    return f"stored default fit for {done.symbol} in {seconds:.1f} s"


def setup(request: SetupRequest) -> SetupReport:
    """:func:`run_setup`, then make sure the key for credentials at rest exists
    (``var/secret.key``, mode 0600, when none is configured), then store the Regimes
    page's default fit (unless ``request.regimes`` is False)."""
    from core.config import SecretKeyError

    report = run_setup(warm=request.warm)
    settings = get_settings()
    had_key = settings.fernet_key() is not None
    try:
        settings.fernet_key(create=True)
    except SecretKeyError as exc:
        raise SetupError(str(exc)) from exc
    report.notes.append(
        f"secret key for credentials at rest: {settings.secret_key_source()}"
        + ("" if had_key else " (created)")
    )
    if request.regimes:
        report.regimes = store_default_regimes()
    return report
