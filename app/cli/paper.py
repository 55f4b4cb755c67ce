"""``workbench`` commands: supervised paper trading."""

from __future__ import annotations

from typing import Any

import typer

from app.cli import options as opt
from app.cli._app import app
from app.cli._common import EXIT_BUSY, JSON_OPT, PAPER_REQ, _actor, _call, emit, fail
from app.cli._generate import add_command
from app.operations.paper import KILL, PAUSE, RESUME, STATUS, PaperRequest

paper_app = typer.Typer(help="Supervised paper trading.", no_args_is_help=True)
app.add_typer(paper_app, name="paper")


def _setting(field: str, flag: str) -> Any:
    """An option for one of the session's settings: unset by default (a new session takes
    the :class:`~app.operations.paper.PaperRequest` default, a stored one keeps its own)."""
    info = PaperRequest.model_fields[field]
    default = info.default_factory() if info.default_factory else info.default  # type: ignore[call-arg]
    shown = ", ".join(default) if isinstance(default, list) else default
    help_text = f"{info.description} (new session: {shown}; a stored session keeps its own)."
    return typer.Option(None, flag, help=help_text, parser=opt.from_model(PAPER_REQ, field))


@paper_app.command("run")
def paper_run(
    session: str = typer.Option(
        PaperRequest.model_fields["session"].default,
        "--session",
        help=f"{PaperRequest.model_fields['session'].description}.",
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


def _kill_reason(raw: Any, _values: dict[str, Any], _as_json: bool) -> str:
    """The kill's audit reason: the CLI names itself when none is given."""
    return str(raw or "") or "kill switch from the CLI"


def _unchanged(outcome: Any) -> int:
    """Exit 1 when nothing changed (e.g. pause with no running worker)."""
    return 0 if outcome.changed else 1


add_command(paper_app, PAUSE, exit_code=_unchanged)
add_command(paper_app, RESUME, exit_code=_unchanged)
add_command(paper_app, KILL, converters={"reason": _kill_reason}, exit_code=_unchanged)
add_command(paper_app, STATUS)
