"""Shared pieces of the ``workbench`` commands: output, errors, common options."""

from __future__ import annotations

import json
import sys
from contextvars import ContextVar
from pathlib import Path
from typing import Any

import typer

from app.operations.params import parse_value

EXIT_BAD_INPUT = 2
EXIT_FORBIDDEN = 3
EXIT_BUSY = 4  # another process holds the resource (e.g. a paper session's worker lease)


def emit(payload: Any, *, as_json: bool, text: str | None = None) -> None:
    """Print JSON (machine) or a short text (human)."""
    if as_json:
        typer.echo(json.dumps(payload, indent=2, default=str))
    else:
        typer.echo(text if text is not None else json.dumps(payload, indent=2, default=str))


def fail(
    message: str,
    *,
    as_json: bool,
    defects: list[dict[str, Any]] | None = None,
    code: int = EXIT_BAD_INPUT,
) -> None:
    """Report bad input (exit 2) or a refused permission (exit 3)."""
    payload: dict[str, Any] = {"error": message}
    if defects is not None:
        payload["defects"] = defects
    if as_json:
        typer.echo(json.dumps(payload, indent=2, default=str))
    else:
        typer.echo(f"error: {message}", err=True)
        for defect in defects or []:
            typer.echo(f"  - [{defect['code']}] {defect['message']}", err=True)
    raise typer.Exit(code)


def _read(path: Path, as_json: bool) -> bytes:
    if not path.is_file():
        fail(f"file not found: {path}; check the path", as_json=as_json)
    return path.read_bytes()


def _params(pairs: list[str], as_json: bool, flag: str = "--param") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for pair in pairs:
        if "=" not in pair or not pair.split("=", 1)[0].strip():
            fail(f"{flag} {pair!r} must look like name=value, e.g. fast=20", as_json=as_json)
        key, value = pair.split("=", 1)
        try:
            out[key.strip()] = parse_value(value.strip())
        except ValueError as exc:
            fail(f"{flag} {pair!r}: {exc}", as_json=as_json)
    return out


def _strategy_params(strategy: str | None, pairs: list[str], as_json: bool) -> dict[str, Any]:
    """``--param`` values checked against the strategy's declared types and ranges."""
    from core.strategies import STRATEGIES, validate_params
    from core.strategies.catalog import check_param

    params = _params(pairs, as_json)
    if strategy not in STRATEGIES:
        return params  # the request reports the unknown strategy
    for key, value in params.items():
        try:
            check_param(strategy, key, value)
        except ValueError as exc:
            fail(f"--param {key}={value!r}: {getattr(exc, 'message', exc)}", as_json=as_json)
    try:
        validate_params(strategy, params)
    except ValueError as exc:
        fail(f"--param: {exc}", as_json=as_json)
    return params


def _strategy_fixed(strategy: str, pairs: list[str], as_json: bool) -> dict[str, Any]:
    """A sweep's fixed ``--param`` values, each checked against its declared range."""
    from core.strategies import STRATEGIES
    from core.strategies.catalog import check_param

    params = _params(pairs, as_json)
    for key, value in params.items():
        if strategy in STRATEGIES:
            try:
                check_param(strategy, key, value)
            except ValueError as exc:
                fail(f"--param {key}={value!r}: {getattr(exc, 'message', exc)}", as_json=as_json)
    return params


def _grid_axes(items: list[str], strategy: str | None, as_json: bool) -> dict[str, Any]:
    """``--grid name=start:stop:step`` axes, each checked against the strategy's declared
    parameter range and the point caps before any work."""
    from core.strategies import STRATEGIES
    from core.sweep import GridAxis, check_grid

    axes: dict[str, Any] = {}
    for item in items:
        name, sep, text = item.partition("=")
        if not sep or not name.strip():
            fail(f"--grid {item!r} must look like name=start:stop:step", as_json=as_json)
        try:
            axes[name.strip()] = GridAxis.parse(text.strip())
        except ValueError as exc:
            why = _validation_message(exc) if hasattr(exc, "errors") else str(exc)
            fail(f"--grid {item!r}: {why}", as_json=as_json)
    if axes and strategy in STRATEGIES:
        try:
            check_grid(str(strategy), axes)
        except ValueError as exc:
            message = str(exc)
            where = f"--grid {message[5:]}" if message.startswith("grid ") else f"--grid: {message}"
            fail(where, as_json=as_json)
    return axes


# Request fields whose flag has another name; the rest are --field-name.
_FIELD_FLAGS = {
    "n_trials": "--trials",
    "kind": "--model",
    "window_bars": "--window",
    "cooldown_bars": "--cooldown",
    "symbols": "--symbol",
    "regimes": "--regime",
    "params": "--param",
    "fixed": "--param",
    "initial_cash": "--cash",
    "features": "--feature",
    "arms": "--a",
}


def _command_flags() -> dict[str, str]:
    """Field name -> flag of the running command (generated commands name their
    parameters after the request fields; hand-written ones are mapped by ``_FIELD_FLAGS``)."""
    ctx: Any  # typer's vendored click Context, or click's own on older typer
    try:
        from typer._click.globals import get_current_context
    except ImportError:  # older typer: click itself
        from click import get_current_context as click_current_context

        ctx = click_current_context(silent=True)
    else:
        ctx = get_current_context(silent=True)
    if ctx is None:
        return {}
    opts = [o for p in ctx.command.params for o in getattr(p, "opts", [])]
    flags = {str(p.name): p.opts[0] for p in ctx.command.params if getattr(p, "opts", None)}
    for field, flag in _FIELD_FLAGS.items():
        if flag in opts:
            flags.setdefault(field, flag)
    return flags


FIELD_LABELS: ContextVar[dict[str, str] | None] = ContextVar("FIELD_LABELS", default=None)
"""Request field -> flag of the running generated command (set by app/cli/_generate.py)."""


def _flags() -> dict[str, str]:
    """Request field -> flag of the running command."""
    flags = FIELD_LABELS.get()
    return flags if flags is not None else _command_flags()


def _validation_message(exc: Exception) -> str:
    """The sentences a page and the API show, each with its field's flag in brackets."""
    from app.operations.errors import error_text

    return error_text(exc, flags=_flags())


def _defects_message(exc: Any) -> str:
    """A rejected dataset's summary, a defect about a request field (a taken name) with
    its flag in brackets."""
    flags = _flags()
    hints = sorted({flags[d.column] for d in exc.defects if d.column in flags})
    return f"{exc} ({', '.join(hints)})" if hints else str(exc)


def _call(as_json: bool, fn: Any, /, **kwargs: Any) -> Any:
    """Call a service; turn bad input into a clear message and exit code 2."""
    from core.data.loaders import DataSourceError

    try:
        return fn(**kwargs)
    except ValueError as exc:  # DataValidationError is one: raised only once its module loaded
        validation = sys.modules.get("core.data.validation")
        if validation is not None and isinstance(exc, validation.DataValidationError):
            defects = [d.as_dict() for d in exc.defects]
            fail(_defects_message(exc), as_json=as_json, defects=defects)
        fail(_validation_message(exc), as_json=as_json)
    except (LookupError, DataSourceError) as exc:
        fail(_validation_message(exc), as_json=as_json)
    except PermissionError as exc:
        fail(str(exc), as_json=as_json, code=EXIT_FORBIDDEN)
    except RuntimeError as exc:
        from core.registry.artifacts import ArtifactError

        if not isinstance(exc, ArtifactError):
            raise
        fail(str(exc), as_json=as_json)


PAPER_REQ = "app.operations.paper:PaperRequest"
JSON_OPT = typer.Option(False, "--json", help="Print JSON.")


def metrics_port_option(what: str, compose_port: int) -> Any:
    """``--metrics-port``: serve a worker's Prometheus metrics (``what``) on a port."""
    from app.cli import options as opt

    return typer.Option(
        0,
        "--metrics-port",
        help=f"Serve Prometheus metrics ({what}) at http://HOST:PORT/metrics "
        f"(0 = off; compose uses {compose_port}; docs/metrics.md).",
        parser=opt.number(0, 65535, integer=True),
    )


def metrics_host_option() -> Any:
    """``--metrics-host``: the address a worker's metrics listen on."""
    from app.cli import options as opt

    return typer.Option(
        "127.0.0.1",
        "--metrics-host",
        help="Address the metrics listen on (0.0.0.0 in a container).",
        parser=opt.host(),
    )


def _actor(as_json: bool) -> Any:
    """The acting user: the one place the CLI gets it (see ``tokens.cli_actor``)."""
    from app.services.tokens import cli_actor

    prompt = _password_prompt if sys.stdin.isatty() else None
    actor = _call(as_json, cli_actor, prompt=prompt)
    if actor.local_mode:
        typer.echo(
            "note: local mode (no sign-in users configured): acting as 'local' with every role",
            err=True,
        )
    return actor


def _password_prompt(text: str) -> str:
    import getpass

    return getpass.getpass(text)


def _password_signed_in(as_json: bool) -> Any:
    import os

    from app.services.auth import auth_mode
    from app.services.tokens import password_actor

    if auth_mode() == "local":
        fail(
            "no sign-in users are configured (local mode): the CLI needs no token; "
            "configure [workbench.users] in the secrets file first",
            as_json=as_json,
        )
    prompt = _password_prompt if sys.stdin.isatty() else None
    return _call(as_json, password_actor, env=dict(os.environ), prompt=prompt)
