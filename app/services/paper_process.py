"""Start the paper worker as a detached process (``workbench paper run --session NAME``),
after the refusals a start checks first (re-exported by :mod:`app.services.paper`)."""

from __future__ import annotations

import sys
from pathlib import Path

from app.operations.paper import PaperRequest
from app.services.auth import LOCAL, Actor, require
from app.services.db import get_engine
from app.services.paper_io import IO as _IO
from app.services.paper_io import sessions as _sessions
from core.broker import BrokerConfigError
from core.config import get_settings
from core.data.loaders import DataSourceError
from core.ensemble.agents import MIN_TRAIN_BARS  # checked before a start
from core.paper import control, session

ROOT = Path(__file__).resolve().parents[2]


def start_worker_process(
    request: PaperRequest, *, speed: float, steps: int | None = None, actor: Actor = LOCAL
) -> int:
    """Create (or check) the session and start ``workbench paper run --session NAME`` (it
    reads the settings from the session row); its pid. Refusals come first (ValueError)."""
    require(actor, "trader", "starting the paper trader")
    session.check_run_options(steps=steps, speed=speed)
    if request.train_bars < MIN_TRAIN_BARS:
        raise ValueError(
            f"train_bars {request.train_bars} is too few for the agents to tune on: "
            f"enter {MIN_TRAIN_BARS} or more"
        )  # else the detached worker would fail out of sight
    control.refuse_if_running(get_engine(), request.session)
    settings = request.model_dump(mode="json")
    try:
        config, _ = session.prepare_run(_sessions, settings, _IO)
        session.check_feed_options(config, speed=speed, until=None)
    except (BrokerConfigError, DataSourceError) as exc:
        raise ValueError(str(exc)) from exc
    with _sessions() as s:
        session.open_session(s, config)
        session.request_running(
            s, by=actor.name, reason=f"started via {actor.via or 'the dashboard'}"
        )
    command = [sys.executable, "-m", "app.cli", "paper", "run", "--session", request.session]
    command += ["--speed", str(speed), "--json"] + (["--steps", str(steps)] if steps else [])
    log = get_settings().var_dir / "paper_worker.log"
    return control.start_detached(command, cwd=ROOT, log=log)
