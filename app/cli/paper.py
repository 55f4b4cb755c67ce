"""``workbench`` commands: supervised paper trading."""

from __future__ import annotations

from typing import Any

import typer

from app.cli import options as opt
from app.cli._app import app
from app.cli._common import (
    EXIT_BUSY,
    JSON_OPT,
    PAPER_REQ,
    REASON_OPT,
    _actor,
    _call,
    emit,
    fail,
)

paper_app = typer.Typer(help="Supervised paper trading.", no_args_is_help=True)
app.add_typer(paper_app, name="paper")


def _setting(field: str, flag: str) -> Any:
    """An option for one of the session's settings: unset by default (a new session takes
    the :class:`~app.operations.paper.PaperRequest` default, a stored one keeps its own)."""
    from app.operations.paper import PaperRequest

    info = PaperRequest.model_fields[field]
    default = info.default_factory() if info.default_factory else info.default  # type: ignore[call-arg]
    shown = ", ".join(default) if isinstance(default, list) else default
    help_text = f"{info.description} (new session: {shown}; a stored session keeps its own)."
    return typer.Option(None, flag, help=help_text, parser=opt.from_model(PAPER_REQ, field))


@paper_app.command("run")
def paper_run(
    session: str = typer.Option(
        "default",
        "--session",
        help="Session name: a stored session resumes with its own settings.",
        parser=opt.from_model(PAPER_REQ, "session"),
    ),
    broker: str | None = _setting("broker", "--broker"),
    dataset: str | None = _setting("dataset", "--dataset"),
    symbols: list[str] | None = _setting("symbols", "--symbol"),
    train_bars: int | None = _setting("train_bars", "--train-bars"),
    selector: str | None = _setting("selector", "--selector"),
    initial_cash: float | None = _setting("initial_cash", "--cash"),
    fees: float | None = _setting("fees", "--fees"),
    slippage: float | None = _setting("slippage", "--slippage"),
    seed: int | None = _setting("seed", "--seed"),
    replay: bool = typer.Option(True, "--replay/--live", help="Replay embedded data."),
    steps: int | None = typer.Option(None, "--steps", help="Bars to process in this run."),
    speed: float = typer.Option(0.0, "--speed", help="Bars per second (0: as fast as possible)."),
    until: str | None = typer.Option(None, "--until", help="Last bar to replay (YYYY-MM-DD)."),
    as_json: bool = JSON_OPT,
) -> None:
    """Run the paper-trading worker (resumable; steer it with `paper pause|resume|kill`).

    A new session takes the settings given and the defaults for the rest.

    A stored session runs with the settings it was created with (a setting given must match).

    Exits 4 when another worker runs the session (nothing is written).
    """
    from app.operations.paper import PaperRequest
    from app.services import paper
    from core.broker import BrokerConfigError
    from core.paper.lease import LeaseHeldError, LeaseLostError
    from core.paper.session import check_run_options

    _call(as_json, check_run_options, steps=steps, speed=speed)
    if not replay:
        fail("live mode needs a live data feed; use --replay on embedded data", as_json=as_json)
    given = {
        k: v
        for k, v in {
            "broker": broker,
            "dataset": dataset,
            "symbols": symbols,
            "train_bars": train_bars,
            "selector": selector,
            "initial_cash": initial_cash,
            "fees": fees,
            "slippage": slippage,
            "seed": seed,
        }.items()
        if v is not None and v != []
    }
    stored = paper.stored_settings(session)
    request: PaperRequest | str = session
    if stored is None or given:
        request = _call(as_json, PaperRequest, **{**(stored or {}), **given, "session": session})
    try:
        summary = _call(
            as_json,
            paper.run_worker,
            request=request,
            steps=steps,
            speed=speed,
            until=until,
            actor=_actor(as_json),
        )
    except (LeaseHeldError, LeaseLostError) as exc:
        fail(str(exc), as_json=as_json, code=EXIT_BUSY)
    except BrokerConfigError as exc:
        fail(str(exc), as_json=as_json)
    emit(summary, as_json=as_json)


def _paper_state(state: str, reason: str, flatten: bool | None, as_json: bool) -> None:
    """Exit 1 when nothing changed (e.g. pause with no running worker)."""
    from app.services import paper

    outcome = _call(
        as_json, paper.set_state, state=state, reason=reason, flatten=flatten, actor=_actor(as_json)
    )
    emit(outcome.as_dict(), as_json=as_json, text=f"paper trader: {outcome.message}")
    if not outcome.changed:
        raise typer.Exit(1)


@paper_app.command("pause")
def paper_pause(reason: str = REASON_OPT, as_json: bool = JSON_OPT) -> None:
    """Pause the worker after its current bar."""
    _paper_state("paused", reason, None, as_json)


@paper_app.command("resume")
def paper_resume(reason: str = REASON_OPT, as_json: bool = JSON_OPT) -> None:
    """Resume a paused worker."""
    _paper_state("running", reason, None, as_json)


@paper_app.command("kill")
def paper_kill(
    flatten: bool = typer.Option(True, "--flatten/--keep-positions"),
    reason: str = REASON_OPT,
    as_json: bool = JSON_OPT,
) -> None:
    """Kill switch: cancel open orders and (by default) flatten every position."""
    _paper_state("killed", reason or "kill switch from the CLI", flatten, as_json)


@paper_app.command("status")
def paper_status(
    session: str | None = typer.Option(
        None, "--session", parser=opt.from_model(PAPER_REQ, "session")
    ),
    as_json: bool = JSON_OPT,
) -> None:
    """Session, control state, heartbeat, account and positions."""
    from app.services import paper

    view = paper.monitor(session)
    payload = {
        "session": view.session,
        "control": view.control,
        "heartbeat": view.heartbeat,
        "alive": view.alive,
        "account": view.account,
        "positions": view.positions.to_dict(orient="records"),
        "open_orders": len(view.open_orders),
        "orders": len(view.orders),
        "fills": len(view.fills),
    }
    emit(payload, as_json=as_json)
