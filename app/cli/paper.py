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
    _actor,
    _call,
    emit,
    fail,
    metrics_host_option,
    metrics_port_option,
)
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
    feed: str | None = _setting("feed", "--feed"),
    timeframe: str | None = _setting("timeframe", "--timeframe"),
    model: str | None = _setting("model", "--model"),
    challenger: str | None = _setting("challenger", "--challenger"),
    promotion: str | None = _setting("promotion", "--promotion"),
    data_feed: str | None = _setting("data_feed", "--data-feed"),
    retrain: list[str] | None = typer.Option(
        None,
        "--retrain",
        metavar="KEY=VALUE",
        help="Live retraining of the --model NAME@champion (repeatable): a setting of the "
        "policy, e.g. --retrain window_bars=63 --retrain threshold=0 (metric, threshold, "
        "window_bars, min_samples, schedule_bars, drift, cooldown_bars, train_window_bars, "
        "horizon, probation_bars, rollback_margin, seed); --retrain on: the defaults. "
        "Checked before any work; a stored session keeps its own.",
    ),
    replay: bool | None = typer.Option(
        None,
        "--replay/--live",
        help="--replay: --feed replay. --live: --feed alpaca when Alpaca keys are set "
        "(environment or secrets file), else --feed simulated.",
    ),
    steps: int | None = typer.Option(None, "--steps", help="Bars to process in this run."),
    speed: float = typer.Option(
        0.0,
        "--speed",
        help="Bars per second: replay 0 = as fast as possible; simulated: the wall-clock pace "
        "(above 0).",
    ),
    until: str | None = typer.Option(None, "--until", help="Last bar to replay (YYYY-MM-DD)."),
    metrics_port: int = metrics_port_option("stages, orders, fills, equity, limits, drift", 9101),
    metrics_host: str = metrics_host_option(),
    as_json: bool = JSON_OPT,
) -> None:
    """Run the paper-trading worker (resumable; steer it with `paper pause|resume|kill`).

    A new session takes the settings given and the defaults for the rest.

    --feed replay plays the dataset as fast as the worker runs (or at --speed); --feed
    simulated plays it on the wall clock at --speed bars per second (no keys); --feed
    alpaca trades live bars (keys from the environment or the secrets file).

    A stored session runs with the settings it was created with (a setting given must match).

    Exits 4 when another worker runs the session (nothing is written).
    """
    from app.services import paper
    from core.broker import BrokerConfigError
    from core.paper.lease import LeaseHeldError, LeaseLostError
    from core.paper.session import check_run_options

    _call(as_json, check_run_options, steps=steps, speed=speed)
    if replay is not None:
        implied = "replay" if replay else ("alpaca" if _alpaca_keys() else "simulated")
        if feed is not None and feed != implied:
            flag = "--replay" if replay else "--live"
            fail(f"{flag} means --feed {implied}; it contradicts --feed {feed}", as_json=as_json)
        feed = implied
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
            "feed": feed,
            "timeframe": timeframe,
            "model": model,
            "challenger": challenger,
            "promotion": promotion,
            "data_feed": data_feed,
            "retrain": _retrain_settings(retrain, as_json) if retrain else None,
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
            metrics_port=metrics_port,
            metrics_host=metrics_host,
        )
    except (LeaseHeldError, LeaseLostError) as exc:
        fail(str(exc), as_json=as_json, code=EXIT_BUSY)
    except BrokerConfigError as exc:
        fail(str(exc), as_json=as_json)
    emit(summary, as_json=as_json)


def _retrain_settings(items: list[str], as_json: bool) -> dict[str, Any]:
    """``--retrain KEY=VALUE`` options as the policy's settings (values read as JSON
    scalars, else text); ``--retrain on`` alone: the defaults. Checked here, before any
    work (unknown keys and bad values name the setting)."""
    import json

    from app.operations.paper import retrain_policy

    settings: dict[str, Any] = {}
    for item in items:
        if item == "on":
            continue
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            fail(f"--retrain {item}: give KEY=VALUE (or --retrain on)", as_json=as_json)
        try:
            value: Any = json.loads(raw)
        except ValueError:
            value = raw
        settings[key.strip()] = value
    return dict(_call(as_json, retrain_policy, settings=settings))


def _alpaca_keys() -> bool:
    """Whether Alpaca keys are set (environment or secrets file)."""
    from core.config import get_settings

    settings = get_settings()
    found = [
        any(settings.secret(n) is not None for n in names)
        for names in (
            ("ALPACA_API_KEY", "APCA_API_KEY_ID"),
            ("ALPACA_SECRET_KEY", "APCA_API_SECRET_KEY"),
        )
    ]
    return all(found)


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
