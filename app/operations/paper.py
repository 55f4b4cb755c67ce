"""Paper-trading requests and operations: a session's settings and the worker's controls.

A session keeps its settings in its row; later runs name the session and get the same
settings back (``workbench paper run --session NAME``), so the dashboard and the CLI
start a worker with nothing but the session's name. Pause, resume, kill and status are
operations (``workbench paper pause|resume|kill|status`` are generated from them).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from app.operations import Flag, Operation, register
from app.operations.costs import Costs
from app.operations.errors import RuleError

SESSION_PATTERN = r"^[A-Za-z0-9_-]+$"
"""A paper session's name: letters, digits, '_' and '-' (at most :data:`SESSION_MAX`)."""
SESSION_MAX = 32
DEFAULT_SYMBOLS = ("AAPL", "GOOG", "IBM", "MSFT", "SP500")
"""A new session's symbols: the four single stocks of the embedded daily data and the
S&P 500 index (the data has no fifth stock; NASDAQ, the other index, would nearly
duplicate SP500), on their common calendar 2004-08-19 .. 2013-03-01 (2,148 bars)."""


class PaperRequest(Costs):
    """A paper session's settings (fixed once the session exists)."""

    session: str = Field(
        title="Session",
        default="default",
        pattern=SESSION_PATTERN,
        max_length=SESSION_MAX,
        description="Session name: a stored session resumes with its own settings",
    )
    broker: Literal["sim", "alpaca"] = Field(
        title="Broker", default="sim", description="sim or alpaca"
    )
    dataset: str = Field(
        title="Dataset", default="ohlcv_daily", description="Dataset of the replayed prices"
    )
    symbols: list[str] = Field(
        title="Symbols",
        default_factory=lambda: list(DEFAULT_SYMBOLS),
        min_length=1,
        max_length=20,
        description="Symbols traded (repeatable)",
    )
    feed: Literal["replay", "simulated", "alpaca"] = Field(
        title="Feed",
        default="replay",
        description=(
            "Market data: replay (the dataset, as fast as the worker runs), simulated (the "
            "dataset on the wall clock at --speed bars/s, no keys) or alpaca (live bars)"
        ),
    )
    timeframe: Literal["1Min", "5Min", "15Min", "1Hour", "1Day"] = Field(
        title="Timeframe",
        default="1Day",
        description="Bar length (replay and simulated: the dataset's)",
    )
    model: str | None = Field(
        title="Model",
        default=None,
        max_length=100,
        description="Registered model that trades, NAME:VERSION or NAME@champion "
        "(default: the rule-agent ensemble)",
    )
    challenger: str | None = Field(
        title="Challenger",
        default=None,
        max_length=100,
        description="Registered model run in shadow, NAME:VERSION or NAME@champion",
    )
    promotion: Literal["auto", "approval"] = Field(
        title="Promotion",
        default="approval",
        description="Promote a winning challenger: auto or on PM approval",
    )
    data_feed: Literal["iex", "sip"] = Field(
        title="Alpaca data feed",
        default="iex",
        description="Alpaca data feed: iex (free) or sip (all exchanges)",
    )
    retrain: dict[str, Any] | None = Field(
        title="Live retraining",
        default=None,
        description="Live retraining policy of the champion (--model NAME@champion): "
        "settings of core.retrain.live.LiveRetrainPolicy, stored in full (default: none)",
    )
    train_bars: int = Field(
        title="Train bars",
        default=1000,
        ge=260,  # core.ensemble.agents.MIN_TRAIN_BARS (not imported: operations stay light)
        le=10_000,
        description="Bars used to tune the agents",
    )
    selector: Literal["ucb", "thompson", "exp3", "contextual"] = Field(
        title="Selector", default="contextual", description="Meta-selector of the agents"
    )
    initial_cash: float = Field(
        title="Starting cash", default=100_000.0, gt=0, le=1e12, description="Starting cash"
    )
    seed: int = Field(
        title="Seed",
        default=0,
        ge=0,
        le=2**32 - 1,
        description="Seed of the regime model and selector",
    )

    @field_validator("model", "challenger")
    @classmethod
    def _model_ref(cls, value: str | None) -> str | None:
        if value is None:
            return None
        from core.paper.model_loop import parse_model_ref

        try:
            return str(parse_model_ref(value))
        except ValueError as exc:
            raise ValueError(str(exc)) from exc  # it quotes the value; the label leads it

    @field_validator("retrain")
    @classmethod
    def _retrain_policy(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        if value is None:
            return None
        return retrain_policy(value)

    @model_validator(mode="after")
    def _combination(self) -> PaperRequest:
        """Refuse settings that cannot go together, beside the field to change (the
        CLI adds its option's name)."""
        if self.data_feed != "iex" and self.feed != "alpaca":
            raise RuleError(
                f"data_feed {self.data_feed} applies to the alpaca feed only (this session's "
                f"feed is {self.feed}); keep the iex data feed",
                "data_feed",
            )
        if self.retrain is not None and (self.model is None or "@" not in self.model):
            given = f"the model {self.model}" if self.model else "no model"
            raise RuleError(
                "retrain acts on a registry champion: it needs a model NAME@champion "
                f"(this session has {given})",
                "retrain",
            )
        if self.challenger is not None and self.challenger == self.model:
            raise RuleError(
                f"challenger {self.challenger} is the model itself; shadow another version",
                "challenger",
            )
        return self


def retrain_policy(settings: dict[str, Any]) -> dict[str, Any]:
    """Every setting of the live retraining policy, ``settings`` over the defaults
    (a :class:`RuleError` beside ``retrain``, quoting the setting, when one is unknown or
    out of range).

    >>> retrain_policy({"window_bars": "30"})["window_bars"]
    30
    """
    from pydantic import ValidationError

    from app.operations.errors import field_errors
    from core.retrain.live import LiveRetrainPolicy

    try:
        return LiveRetrainPolicy(**settings).model_dump(mode="json")
    except ValidationError as exc:
        known = ", ".join(f"'{name}'" for name in LiveRetrainPolicy.model_fields)
        problems = []
        sentences = field_errors(exc, model=LiveRetrainPolicy)
        for error, sentence in zip(exc.errors(), sentences, strict=True):
            key = ".".join(str(part) for part in error["loc"])
            if error["type"] == "extra_forbidden":
                problems.append(f"unknown setting '{key}' (settings: {known})")
            else:
                value = error.get("input")
                problems.append(f"'{key}={value}': {sentence.message.rstrip('.')}")
        raise RuleError("retrain: " + "; ".join(problems), "retrain") from None


class ControlRequest(BaseModel):
    """Steer the paper trader: the kind of request is the desired state (:attr:`state`)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    state: ClassVar[str]
    """The desired state written to the worker's control row."""
    reason: str = Field(
        title="Reason", default="", max_length=200, description="Why (kept in the audit log)"
    )

    @field_validator("reason")
    @classmethod
    def _one_line(cls, value: str) -> str:
        if not value.isprintable():
            raise ValueError("must be one line of printable text (no line breaks)")
        return value


class PauseRequest(ControlRequest):
    """Pause the worker after its current bar."""

    state = "paused"


class ResumeRequest(ControlRequest):
    """Resume a paused worker."""

    state = "running"


class KillRequest(ControlRequest):
    """Kill switch: cancel open orders and (by default) flatten every position."""

    state = "killed"
    flatten: bool = Field(
        title="Flatten",
        default=True,
        description="Flatten every position (--keep-positions: only cancel orders)",
    )


class StatusRequest(BaseModel):
    """Which paper session to show."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    session: str | None = Field(
        title="Session",
        default=None,
        pattern=SESSION_PATTERN,
        max_length=SESSION_MAX,
        description="Session name (default: the newest session)",
    )


def control_payload(outcome: Any) -> dict[str, Any]:
    """The JSON payload of a pause, resume or kill (a ``ControlOutcome``)."""
    return dict(outcome.as_dict())


def _control_text(outcome: Any, _payload: dict[str, Any]) -> str:
    return f"paper trader: {outcome.message}"


def feed_status(view: Any, now: datetime | None = None) -> dict[str, Any]:
    """A session's feed, the market's state in words and the heartbeat's age in seconds
    (None without a beat)."""
    from core.feeds.clock import market_status_text
    from core.feeds.factory import market_clock

    config = dict((view.session or {}).get("config") or {})
    now = now or datetime.now(UTC)
    beat = view.heartbeat or {}
    age = None
    if beat.get("ts") is not None:
        ts = beat["ts"] if beat["ts"].tzinfo else beat["ts"].replace(tzinfo=UTC)
        age = round(max(0.0, (now - ts).total_seconds()), 3)
    clock = market_clock(config, clock=lambda: now, offline=True)  # no call to Alpaca
    return {
        "feed": config.get("feed", "replay"),
        "timeframe": config.get("timeframe", "1Day"),
        "market": market_status_text(clock, now),
        "heartbeat_age_s": age,
    }


def status_payload(view: Any) -> dict[str, Any]:
    """The JSON payload of a session's monitor view (a ``MonitorView``)."""
    return {
        "session": view.session,
        "control": view.control,
        "heartbeat": view.heartbeat,
        **feed_status(view),
        "alive": view.alive,
        "account": view.account,
        "positions": view.positions.to_dict(orient="records"),
        "open_orders": len(view.open_orders),
        "orders": len(view.orders),
        "fills": len(view.fills),
    }


def _control(name: str, request: type[ControlRequest], flags: dict[str, Flag]) -> Operation:
    return register(
        Operation(
            name=f"paper {name}",
            feature="paper",
            summary=str(request.__doc__).strip(),
            request=request,
            service="app.services.paper:set_state",
            payload=control_payload,
            text=_control_text,
            flags=flags,
            actor=True,
        )
    )


PAUSE = _control("pause", PauseRequest, {})
RESUME = _control("resume", ResumeRequest, {})
KILL = _control("kill", KillRequest, {"flatten": Flag(name="--flatten/--keep-positions")})
STATUS = register(
    Operation(
        name="paper status",
        feature="paper",
        summary="Session, feed, market clock, control state, heartbeat (and its age), account "
        "and positions.",
        request=StatusRequest,
        service="app.services.paper:monitor",
        payload=status_payload,
    )
)

__all__ = [
    "KILL",
    "PAUSE",
    "RESUME",
    "SESSION_MAX",
    "SESSION_PATTERN",
    "STATUS",
    "ControlRequest",
    "KillRequest",
    "PaperRequest",
    "PauseRequest",
    "ResumeRequest",
    "StatusRequest",
    "control_payload",
    "feed_status",
    "retrain_policy",
    "status_payload",
]
