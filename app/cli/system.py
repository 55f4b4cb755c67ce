"""``workbench`` commands: setup and benchmarks."""

from __future__ import annotations

import typer

from app.cli import options as opt
from app.cli._app import app
from app.cli._common import JSON_OPT, emit, fail


@app.command("bench")
def bench(
    repeats: int = typer.Option(
        7,
        "--repeats",
        help="Timing repeats per measurement (1-1000).",
        parser=opt.number(1, 1000, integer=True),
    ),
    only: list[str] = typer.Option(
        [],
        "--only",
        help="Sections to run: research, ml, pipeline, risk (default all).",
        parser=opt.choice("core.bench:SECTIONS"),
    ),
    as_json: bool = JSON_OPT,
) -> None:
    """Benchmarks: medians and percentiles, throughput; never timed unit tests."""
    from core import bench as core_bench

    sections = only or list(core_bench.SECTIONS)
    unknown = sorted(set(sections) - set(core_bench.SECTIONS))
    if unknown:
        fail(f"--only {unknown}: choose from {list(core_bench.SECTIONS)}", as_json=as_json)
    report = {name: core_bench.SECTIONS[name](repeats=repeats) for name in sections}
    emit(report, as_json=as_json, text=core_bench.summary_text(report))


@app.command("setup")
def setup(
    warm: bool = typer.Option(True, "--warm/--no-warm", help="Warm numba's cache."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Verify embedded data, migrate the database and warm numba (idempotent)."""
    from app.services.system import SetupError, run_setup
    from core.config import SecretKeyError, get_settings

    try:
        report = run_setup(warm=warm)
        settings = get_settings()
        had_key = settings.fernet_key() is not None
        settings.fernet_key(create=True)  # var/secret.key (0600) when no key is configured
    except (SetupError, SecretKeyError) as exc:
        fail(str(exc), as_json=as_json)
        return
    report.notes.append(
        f"secret key for credentials at rest: {settings.secret_key_source()}"
        + ("" if had_key else " (created)")
    )
    text = (
        f"data: {', '.join(f'{k} {v}' for k, v in report.data_files.items())}\n"
        f"database: {report.database_url} (migrated)\n"
        f"numba warm-up: {report.numba_warmup_seconds} s"
        + "".join(f"\nnote: {n}" for n in report.notes)
    )
    emit(report.__dict__, as_json=as_json, text=text)
