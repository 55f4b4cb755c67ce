"""``workbench`` commands: supervised paper trading."""

from __future__ import annotations

import typer

from app.cli import options as opt
from app.cli._app import app
from app.cli._common import (
    DATASET_OPT,
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


@paper_app.command("run")
def paper_run(
    broker: str = typer.Option(
        "sim", "--broker", help="sim or alpaca.", parser=opt.from_model(PAPER_REQ, "broker")
    ),
    session: str = typer.Option(
        "default",
        "--session",
        help="Session name (resumes if it exists).",
        parser=opt.from_model(PAPER_REQ, "session"),
    ),
    dataset: str = DATASET_OPT,
    symbol: list[str] = typer.Option(
        ["SP500"], "--symbol", help="Symbol (repeatable).", parser=opt.text()
    ),
    replay: bool = typer.Option(True, "--replay/--live", help="Replay embedded data."),
    steps: int | None = typer.Option(None, "--steps", help="Bars to process in this run."),
    speed: float = typer.Option(0.0, "--speed", help="Bars per second (0: as fast as possible)."),
    until: str | None = typer.Option(None, "--until", help="Last bar to replay (YYYY-MM-DD)."),
    train_bars: int = typer.Option(
        1000,
        "--train-bars",
        help="Bars used to tune the agents.",
        parser=opt.from_model(PAPER_REQ, "train_bars"),
    ),
    selector: str = typer.Option(
        "contextual", "--selector", parser=opt.from_model(PAPER_REQ, "selector")
    ),
    initial_cash: float = typer.Option(
        100_000.0,
        "--cash",
        help="Starting cash (> 0, at most 1e12).",
        parser=opt.number(0, 1e12, low_open=True),
    ),
    as_json: bool = JSON_OPT,
) -> None:
    """Run the paper-trading worker (resumable; steer it with `paper pause|resume|kill`).

    Exits 4 when another worker runs the session (nothing is written).
    """
    from app.services import paper
    from core.broker import BrokerConfigError
    from core.paper.lease import LeaseHeldError, LeaseLostError

    _call(as_json, paper.check_run_options, steps=steps, speed=speed)
    if not replay:
        fail("live mode needs a live data feed; use --replay on embedded data", as_json=as_json)
    request = _call(
        as_json,
        paper.PaperRequest,
        session=session,
        broker=broker,
        dataset=dataset,
        symbols=symbol,
        train_bars=train_bars,
        selector=selector,
        initial_cash=initial_cash,
    )
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
