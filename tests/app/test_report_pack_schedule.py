"""Scheduled report packs: delivered by the alerts watchdog through a real apprise
webhook (``json://`` to a receiver on 127.0.0.1), the HTML and the Chromium PDF
attached, once per slot under an injected clock, not again after a restart (a new
process on the same database), retried after a failed send."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from app.operations.report_pack import ScheduleListRequest, ScheduleNameRequest, ScheduleRequest
from app.services import alerts as alert_service
from app.services import watchdog
from app.services.auth import Actor, PermissionDenied
from app.services.report_pack_schedule import list_schedules, remove_schedule, set_schedule
from core.alerts import ChannelSpec
from core.config import ROOT
from core.reports.pdf import page_count
from tests.fakes.webhook import Webhook, webhook_receiver

DAY1 = datetime(2026, 1, 5, 7, 0, tzinfo=UTC)  # a Monday


@pytest.fixture
def webhook() -> Iterator[Webhook]:
    with webhook_receiver() as hook:
        yield hook


def _watch(*times: datetime) -> None:
    """The production runner, one check per injected time."""
    clock = iter(times)
    watchdog.watch(iterations=len(times), clock=lambda: next(clock), sleep=lambda _s: None)


def _attachments(message: dict) -> dict[str, bytes]:
    return {a["filename"]: base64.b64decode(a["base64"]) for a in message["attachments"]}


def _deliveries() -> list[dict]:
    (schedule,) = list_schedules(ScheduleListRequest(last=100), now=DAY1)
    return schedule.deliveries


def test_a_daily_pack_goes_out_once_per_slot_also_after_a_restart(
    webhook: Webhook,
) -> None:
    alert_service.save_channel(ChannelSpec(name="hook", url=webhook.url))
    request = ScheduleRequest(
        name="morning", subject="ma_crossover", at="7:00", channels=["hook"], format="both"
    )
    view = set_schedule(request, now=DAY1 - timedelta(hours=1))
    assert view.next_slot == DAY1 and view.at == "07:00"

    _watch(DAY1 - timedelta(minutes=30))  # before the first slot (yesterday's predates it)
    assert webhook.received == []
    _watch(DAY1 + timedelta(seconds=5), DAY1 + timedelta(seconds=10))
    (message,) = webhook.received
    files = _attachments(message)
    assert sorted(name.rsplit(".", 1)[1] for name in files) == ["html", "pdf"]
    html = next(v for k, v in files.items() if k.endswith(".html")).decode()
    pdf = next(v for k, v in files.items() if k.endswith(".pdf"))
    assert "Report pack: strategy ma_crossover" in html and "Generated 2026-01-05 07:00" in html
    assert pdf.startswith(b"%PDF") and page_count(pdf) >= 1
    assert message["title"] == "Report pack: strategy ma_crossover"

    # a restart: a new watchdog process on the same database, still within the slot
    restart = (
        "from datetime import datetime, UTC; from app.services import watchdog; "
        "watchdog.watch(iterations=1, clock=lambda: datetime(2026, 1, 5, 7, 30, tzinfo=UTC), "
        "sleep=lambda s: None)"
    )
    done = subprocess.run(
        [sys.executable, "-c", restart], cwd=ROOT, env=dict(os.environ), capture_output=True
    )
    assert done.returncode == 0, done.stderr
    _watch(DAY1 + timedelta(hours=2))
    assert len(webhook.received) == 1
    (delivery,) = _deliveries()
    assert delivery["status"] == "sent" and delivery["attempts"] == 1
    assert delivery["slot"] == DAY1.isoformat()

    # the next day's slot goes out (HTML only now: the schedule was replaced at 08:00)
    set_schedule(request.model_copy(update={"format": "html"}), now=DAY1 + timedelta(hours=1))
    _watch(DAY1 + timedelta(days=1, seconds=1), DAY1 + timedelta(days=1, minutes=5))
    assert len(webhook.received) == 2
    assert [n.rsplit(".", 1)[1] for n in _attachments(webhook.received[1])] == ["html"]


def test_a_failed_send_is_retried_up_to_the_attempts_then_left(
    webhook: Webhook, monkeypatch: pytest.MonkeyPatch
) -> None:
    from core.config import get_settings

    monkeypatch.setenv("WORKBENCH_REPORT_SEND_ATTEMPTS", "2")
    get_settings.cache_clear()
    alert_service.save_channel(ChannelSpec(name="hook", url=webhook.url))
    weekly = ScheduleRequest(
        name="weekly",
        subject="ma_crossover",
        frequency="weekly",
        weekday="mon",
        at="07:00",
        channels=["hook", "in-app"],
        format="html",
    )
    set_schedule(weekly, now=DAY1 - timedelta(days=1))
    webhook.status = 500
    _watch(DAY1 + timedelta(seconds=1))
    by_channel = {d["channel"]: d for d in _deliveries()}
    assert by_channel["hook"]["status"] == "failed" and "delivery" in by_channel["hook"]["error"]
    assert by_channel["in-app"]["status"] == "sent"  # the in-app inbox keeps the file
    webhook.status = 200
    _watch(DAY1 + timedelta(minutes=1), DAY1 + timedelta(minutes=2))
    assert len(webhook.received) == 1
    by_channel = {d["channel"]: d for d in _deliveries()}
    assert by_channel["hook"]["status"] == "sent" and by_channel["hook"]["attempts"] == 2
    # Tuesday: no weekly slot is due; the next Monday's is
    _watch(DAY1 + timedelta(days=1))
    assert len(webhook.received) == 1
    _watch(DAY1 + timedelta(days=7))
    assert len(webhook.received) == 2
    # a slot whose every attempt fails is left after the last one
    webhook.status, hits = 500, webhook.hits
    _watch(*(DAY1 + timedelta(days=14, minutes=m) for m in range(4)))
    assert webhook.hits == hits + 2
    failed = [d for d in _deliveries() if d["channel"] == "hook" and d["status"] == "failed"]
    assert [d["attempts"] for d in failed] == [2]


def test_schedules_check_their_channels_roles_and_times() -> None:
    with pytest.raises(LookupError, match="No registered model is named ghost"):
        set_schedule(ScheduleRequest(name="x", subject="ghost", kind="model", channels=["in-app"]))
    with pytest.raises(LookupError, match="No alert channel is named nowhere"):
        set_schedule(ScheduleRequest(name="x", subject="ma_crossover", channels=["nowhere"]))
    analyst = Actor("ann", frozenset({"analyst"}))
    with pytest.raises(PermissionDenied):
        set_schedule(
            ScheduleRequest(name="x", subject="ma_crossover", channels=["in-app"]), actor=analyst
        )
    for bad, text in (
        ({"at": "25:00"}, "Time 25:00 is not a time of day"),
        ({"frequency": "weekly"}, "A weekly schedule needs its day"),
        ({"weekday": "mon"}, "A daily schedule has no day"),
        ({"timezone": "Mars/Olympus"}, "Time zone Mars/Olympus is unknown"),
    ):
        with pytest.raises(ValueError, match=text):
            ScheduleRequest(name="x", subject="ma_crossover", channels=["in-app"], **bad)
    set_schedule(ScheduleRequest(name="x", subject="ma_crossover", channels=["in-app"]))
    assert remove_schedule(ScheduleNameRequest(name="x")) == "x"
    with pytest.raises(LookupError, match="No report pack schedule is named x"):
        remove_schedule(ScheduleNameRequest(name="x"))
