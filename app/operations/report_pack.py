"""Report pack operations: build (and send) one pack; set, list and remove schedules.

``workbench report pack SUBJECT`` and ``workbench report pack schedule set|list|remove``
are generated from these descriptors; the Streamlit button builds the same request.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from app.operations import Flag, Operation, register
from core.reports.pack_schedule import WEEKDAYS

NAME_PATTERN = r"^[A-Za-z0-9_.-]+$"
Format = Literal["html", "pdf", "both"]


class _Subject(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    subject: str = Field(
        min_length=1,
        max_length=64,
        pattern=NAME_PATTERN,
        description="Strategy name (e.g. ma_crossover) or registered model name",
    )
    kind: Literal["strategy", "model"] = Field(
        default="strategy", description="What the subject is: strategy or model"
    )
    format: Format = Field(default="both", description="html, pdf or both")

    @model_validator(mode="after")
    def _known_strategy(self) -> Any:
        if self.kind == "strategy":
            from core.strategies import STRATEGIES

            if self.subject not in STRATEGIES:
                raise ValueError(
                    f"Strategy {self.subject} is not one of the strategies "
                    f"({', '.join(sorted(STRATEGIES))}); for a registered model choose "
                    "the kind model"
                )
        return self

    @property
    def formats(self) -> tuple[str, ...]:
        """The files to make: ``("html",)``, ``("pdf",)`` or both."""
        return ("html", "pdf") if self.format == "both" else (self.format,)


class ReportPackRequest(_Subject):
    """One report pack of a strategy or a model, optionally sent through channels."""

    send: list[str] = Field(
        default_factory=list,
        max_length=20,
        description="Alert channel to send the pack through (repeatable)",
    )


class ScheduleRequest(_Subject):
    """A pack sent daily or weekly at a time (in a time zone) to named channels."""

    name: str = Field(
        min_length=1, max_length=64, pattern=NAME_PATTERN, description="Schedule name"
    )
    frequency: Literal["daily", "weekly"] = Field(default="daily", description="daily or weekly")
    at: str = Field(default="07:00", description="Time of day, HH:MM (24-hour)")
    weekday: Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"] | None = Field(
        default=None, description="Day of a weekly schedule: mon .. sun"
    )
    timezone: str = Field(default="UTC", max_length=64, description="Time zone, e.g. Europe/Paris")
    channels: list[str] = Field(
        min_length=1, max_length=20, description="Alert channel to send to (repeatable)"
    )

    @model_validator(mode="after")
    def _when(self) -> ScheduleRequest:
        match = re.fullmatch(r"([01]?\d|2[0-3]):([0-5]\d)", self.at.strip())
        if match is None:
            raise ValueError(f"Time {self.at} is not a time of day; write HH:MM, e.g. 07:30")
        if self.frequency == "weekly" and self.weekday is None:
            raise ValueError("A weekly schedule needs its day: mon, tue, wed, thu, fri, sat or sun")
        if self.frequency == "daily" and self.weekday is not None:
            raise ValueError(f"A daily schedule has no day; leave out the day {self.weekday}")
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"Time zone {self.timezone} is unknown; use a name such as UTC or Europe/Paris"
            ) from None
        return self

    @property
    def hhmm(self) -> str:
        """The time as ``HH:MM`` (``7:05`` becomes ``07:05``)."""
        hours, minutes = self.at.strip().split(":")
        return f"{int(hours):02d}:{minutes}"


class ScheduleNameRequest(BaseModel):
    """A schedule, by name."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(
        min_length=1, max_length=64, pattern=NAME_PATTERN, description="Schedule name"
    )


class ScheduleListRequest(BaseModel):
    """Every schedule with its recent deliveries."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    last: int = Field(default=10, ge=1, le=1000, description="Recent deliveries to list")


def pack_payload(outcome: Any) -> dict[str, Any]:
    """The JSON payload of a built pack: its files, what it holds, where it went."""
    pack = outcome.pack
    return {
        "subject_kind": pack.subject_kind,
        "subject": pack.subject_name,
        "generated_at": pack.generated_at.isoformat(),
        "code_version": pack.code_version,
        "html": None if outcome.html is None else str(outcome.html),
        "pdf": None if outcome.pdf is None else str(outcome.pdf),
        "backtests": sum(1 for c in pack.performance if c.source == "backtest"),
        "paper_sessions": sum(1 for c in pack.performance if c.source == "paper"),
        "walkforwards": len(pack.walkforward),
        "abtests": len(pack.abtests),
        "sent": list(outcome.sent),
    }


def _pack_text(outcome: Any, payload: dict[str, Any]) -> str:
    files = [f for f in (payload["html"], payload["pdf"]) if f]
    lines = [f"report pack of {payload['subject_kind']} {payload['subject']}: " + ", ".join(files)]
    lines += [
        f"sent through {s['channel']}" if s["status"] == "sent" else f"not sent: {s['error']}"
        for s in payload["sent"]
    ]
    return "\n".join(lines)


def schedule_payload(row: Any) -> dict[str, Any]:
    """A schedule as JSON (``ScheduleView``)."""
    return dict(row.as_dict())


def schedules_payload(rows: Any) -> dict[str, Any]:
    """Every schedule with its recent deliveries."""
    return {"schedules": [r.as_dict() for r in rows]}


def _schedules_text(rows: Any, payload: dict[str, Any]) -> str:
    if not rows:
        return "no report pack schedule"
    return "\n".join(r.describe() for r in rows)


PACK = register(
    Operation(
        name="report pack",
        feature="report_pack",
        summary=(
            "Build the PM's report pack of a strategy or model (HTML and PDF): backtest "
            "and paper results side by side, walk-forward DSR and PBO, risk utilization, "
            "A/B verdicts, data hashes and code version; --send delivers it through alert "
            "channels."
        ),
        request=ReportPackRequest,
        service="app.services.report_pack:make_pack",
        payload=pack_payload,
        text=_pack_text,
        flags={"subject": Flag(argument=True)},
        actor=True,
        long_running=True,
    )
)

SCHEDULE_SET = register(
    Operation(
        name="report pack schedule set",
        feature="report_pack",
        summary="Create or replace a schedule that sends a report pack daily or weekly.",
        request=ScheduleRequest,
        service="app.services.report_pack_schedule:set_schedule",
        payload=schedule_payload,
        text=lambda row, _p: row.describe(),
        flags={"subject": Flag(name="--subject"), "channels": Flag(name="--channel")},
        actor=True,
    )
)

SCHEDULE_LIST = register(
    Operation(
        name="report pack schedule list",
        feature="report_pack",
        summary="List the report pack schedules, their next slot and recent deliveries.",
        request=ScheduleListRequest,
        service="app.services.report_pack_schedule:list_schedules",
        payload=schedules_payload,
        text=_schedules_text,
    )
)

SCHEDULE_REMOVE = register(
    Operation(
        name="report pack schedule remove",
        feature="report_pack",
        summary="Remove a report pack schedule (its delivery history stays).",
        request=ScheduleNameRequest,
        service="app.services.report_pack_schedule:remove_schedule",
        payload=lambda name: {"removed": name},
        text=lambda name, _p: f"schedule {name} removed",
        flags={"name": Flag(argument=True)},
        actor=True,
    )
)

__all__ = [
    "PACK",
    "SCHEDULE_LIST",
    "SCHEDULE_REMOVE",
    "SCHEDULE_SET",
    "WEEKDAYS",
    "ReportPackRequest",
    "ScheduleListRequest",
    "ScheduleNameRequest",
    "ScheduleRequest",
    "pack_payload",
]
