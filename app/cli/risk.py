"""``workbench`` commands: pre-trade checks and risk limits."""

from __future__ import annotations

from typing import Any

import typer

from app.cli import options as opt
from app.cli._app import app
from app.cli._common import DATASET_OPT, JSON_OPT, PAPER_REQ, _actor, _call, emit, fail
from app.services.params import parse_value

risk_app = typer.Typer(help="Pre-trade checks and risk limits.", no_args_is_help=True)
limits_app = typer.Typer(help="Show or change the risk limits (audited).", no_args_is_help=True)
app.add_typer(risk_app, name="risk")
risk_app.add_typer(limits_app, name="limits")


@risk_app.command("check")
def risk_check(
    symbol: str = typer.Option(..., "--symbol", parser=opt.text()),
    qty: float = typer.Option(..., "--qty"),
    side: str = typer.Option("buy", "--side", help="buy or sell."),
    dataset: str = DATASET_OPT,
    session: str | None = typer.Option(
        None,
        "--session",
        help="Paper session (default newest).",
        parser=opt.from_model(PAPER_REQ, "session"),
    ),
    price: float | None = typer.Option(None, "--price", help="Price (default latest close)."),
    as_json: bool = JSON_OPT,
) -> None:
    """Pre-trade check: {approved, rejection_reasons, allowed_quantity}."""
    from app.services import risk

    _risk_check_flags(symbol=symbol, qty=qty, side=side, price=price, as_json=as_json)
    result = _call(
        as_json,
        risk.check_order,
        symbol=symbol,
        qty=qty,
        side=side,
        dataset=dataset,
        session=session,
        price=price,
    )
    emit(result, as_json=as_json)


@limits_app.command("show")
def limits_show(as_json: bool = JSON_OPT) -> None:
    """The limits in force and their version."""
    from app.services import risk

    version, limits = risk.current_limits()
    emit({"version": version, "limits": limits.model_dump()}, as_json=as_json)


def _risk_check_flags(
    *, symbol: str, qty: float, side: str, price: float | None, as_json: bool
) -> None:
    """``risk check`` flags, each checked in its unit and range before any work."""
    import math

    if not symbol.strip():
        fail("--symbol must name a symbol of the dataset, e.g. SP500", as_json=as_json)
    if not (math.isfinite(qty) and 0 < qty <= 1e12):
        fail(f"--qty must be a number of shares in (0, 1e12], e.g. 100; got {qty}", as_json=as_json)
    if side not in ("buy", "sell"):
        fail(f"--side must be buy or sell; got {side!r}", as_json=as_json)
    if price is not None and not (math.isfinite(price) and 0 < price <= 1e9):
        fail(f"--price must be a price in (0, 1e9], e.g. 185.5; got {price}", as_json=as_json)


def _limit_values(pairs: list[str], as_json: bool) -> dict[str, Any]:
    """``name=value`` arguments, each limit checked in its unit and range before any work."""
    from core.risk.limits import check_limit_values

    values: dict[str, Any] = {}
    for pair in pairs:
        name, sep, raw = pair.partition("=")
        if not sep or not name.strip():
            fail(
                f"{pair!r} must look like name=value, e.g. max_weight_per_asset=0.2",
                as_json=as_json,
            )
        try:
            values[name.strip()] = parse_value(raw.strip())
        except ValueError:  # e.g. inf or nan: the range check below names the limit
            values[name.strip()] = raw.strip()
    errors = check_limit_values(values)
    if errors:
        fail("; ".join(errors.values()), as_json=as_json)
    return values


@limits_app.command("set")
def limits_set(
    values: list[str] = typer.Argument(
        ..., help="name=value pairs, e.g. max_weight_per_asset=0.2", parser=opt.text()
    ),
    reason: str = typer.Option(
        ..., "--reason", help="Why (kept in the audit history).", parser=opt.text()
    ),
    expected_version: int | None = typer.Option(
        None,
        "--expected-version",
        help="Refuse (exit 2, naming who changed them and when) if the limits are no longer "
        "at this version; default: apply on top of the version in force.",
    ),
    as_json: bool = JSON_OPT,
) -> None:
    """Change limits (risk role); validated, versioned and audited."""
    from app.services import risk

    parsed = _limit_values(values, as_json)
    if not reason.strip():
        fail("--reason must say why the limits change (kept in the audit history)", as_json=as_json)
    if expected_version is not None and expected_version < 0:
        fail(f"--expected-version must be a version >= 0; got {expected_version}", as_json=as_json)
    change = _call(
        as_json,
        risk.set_limits,
        values=parsed,
        reason=reason,
        actor=_actor(as_json),
        expected_version=expected_version,
    )
    emit(
        {
            "version": change.version,
            "changes": {k: list(v) for k, v in change.changes.items()},
            "changed_by": change.changed_by,
        },
        as_json=as_json,
        text=f"limits version {change.version}: "
        + ", ".join(f"{k} {a} -> {b}" for k, (a, b) in change.changes.items()),
    )
