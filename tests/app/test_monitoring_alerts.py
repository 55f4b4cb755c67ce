"""The four monitoring kinds end to end through the app's alert service: model decay and
drift from the monitoring observer's cycle snapshots, a lost heartbeat and stale data
from the watchdog; all listed by ``workbench alerts list --json``; a healthy run sends
nothing."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

from app.services import alerts, watchdog
from app.services.db import get_engine
from core.alerts import AlertRuleSpec
from tests.app.test_watchdog import TUESDAY, _session
from tests.cli_helpers import run_cli
from tests.core.test_monitoring_live import _config, _frames, _model, _register, _run

RULES = [
    AlertRuleSpec(name="auc-decay", kind="model_metric", threshold=0.1, metric="auc_drop"),
    AlertRuleSpec(name="drift", kind="drift", threshold=0.25),
    AlertRuleSpec(name="worker-lost", kind="heartbeat", threshold=60),
    AlertRuleSpec(name="no-bars", kind="stale_data", threshold=3),
]


def _listed(var: Path) -> dict[str, object]:
    out = run_cli("alerts", "list", "--json", var=var)
    assert out.returncode == 0, out.stderr
    return dict(json.loads(out.stdout))


def test_all_four_monitoring_kinds_fire_and_are_listed(
    isolated_workbench: Path, tmp_path: Path
) -> None:
    for rule in RULES:
        alerts.save_rule(rule)
    engine = get_engine()
    frames = _frames(vol_after=3.0)
    ref = _register(engine, tmp_path, frames, _model(frames, decay_from=None))
    _, snaps = _run(engine, frames, _model(frames, decay_from=430), _config(ref))
    for snap in snaps:  # what the paper service's alert hook does after every cycle
        alerts.evaluate(snap)
    beat = TUESDAY.replace(hour=15)
    _session("killed", feed="alpaca", timeframe="1Min", at=beat)
    fired = watchdog.check_once(beat + timedelta(minutes=3))  # 180 s, 3 bars, market open
    assert sorted(f["rule"] for f in fired) == ["no-bars", "worker-lost"]
    listed = _listed(isolated_workbench)
    assert {"drift", "model_metric", "stale_data", "heartbeat"} <= set(listed["fired_kinds"])  # type: ignore[arg-type]
    sent = {e["kind"] for e in listed["fired"] if e["status"] == "sent"}  # type: ignore[union-attr]
    assert sent == {"drift", "model_metric", "stale_data", "heartbeat"}


def test_a_healthy_run_sends_nothing(isolated_workbench: Path, tmp_path: Path) -> None:
    for rule in RULES:
        alerts.save_rule(rule)
    engine = get_engine()
    frames = _frames()
    prob = _model(frames, decay_from=None)
    ref = _register(engine, tmp_path, frames, prob)
    _, snaps = _run(engine, frames, prob, _config(ref))
    assert all(alerts.evaluate(snap) == [] for snap in snaps)
    beat = TUESDAY.replace(hour=15)
    _session("alive", feed="alpaca", timeframe="1Min", at=beat)
    assert watchdog.check_once(beat + timedelta(seconds=30)) == []
    assert _listed(isolated_workbench)["fired"] == []
