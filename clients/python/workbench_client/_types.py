"""The shapes of the API's JSON bodies, as TypedDicts (keys the server may add are kept).

Payloads are the operations' own JSON payloads (what ``workbench ... --json`` prints);
only the keys a caller relies on are spelled out here.
"""

from __future__ import annotations

from typing import Any, NotRequired, TypedDict

JsonObject = dict[str, Any]
"""Any JSON object the API returns."""


class FieldProblem(TypedDict):
    """One problem with one request field (422)."""

    field: str | None
    label: str | None
    message: str


class Health(TypedDict, total=False):
    """``/healthz`` and ``/readyz``."""

    status: str


class Whoami(TypedDict):
    """``GET /api/v1/whoami``: the token's user, roles and the channel it came through."""

    user: str
    roles: list[str]
    via: str


class JobRef(TypedDict):
    """``POST /api/v1/jobs/{op}`` (202): the queued job and where to follow it."""

    job_id: int
    status: str
    operation: str
    links: dict[str, str]


class Job(TypedDict):
    """``GET /api/v1/jobs/{id}``: one job's state."""

    id: int
    kind: str
    owner: str
    status: str
    progress: float
    message: str
    created_at: str
    started_at: str | None
    finished_at: str | None
    error: str | None
    attempt: NotRequired[int]
    result: NotRequired[JsonObject | None]
    spec: NotRequired[JsonObject]


class JobCancel(TypedDict):
    """``POST /api/v1/jobs/{id}/cancel``: the status now (a running job stops at its
    worker's next check) and what was done."""

    job_id: int
    status: str
    message: str


class BacktestResult(TypedDict, total=False):
    """``POST /api/v1/backtest``: the metrics (``sharpe``, ``total_return``, ...) and more."""

    run_id: int | None
    bars: int
    bar_interval: str
    execution: str
    benchmark: JsonObject
    sharpe: float
    total_return: float
    max_drawdown: float


class RiskLimits(TypedDict):
    """``GET /api/v1/risk/limits``: the version in force and its values."""

    version: int
    limits: JsonObject


class LimitsChange(TypedDict):
    """``PUT /api/v1/risk/limits``: the stored version, what changed and who changed it."""

    version: int
    changes: dict[str, list[Any]]
    changed_by: str


class OrderCheck(TypedDict, total=False):
    """``POST /api/v1/risk/check``: the pre-trade decision."""

    approved: bool
    rejection_reasons: list[str]
    allowed_quantity: float
    limits_version: int
    price: float
    equity: float


class ModelVersion(TypedDict, total=False):
    """One registered model version."""

    id: int
    name: str
    version: int
    kind: str
    stage: str
    metrics: JsonObject


class ModelVersions(TypedDict):
    """``GET /api/v1/models``."""

    versions: list[ModelVersion]


class SymbolRegime(TypedDict):
    """The latest bar's forward-filtered regime probabilities of one symbol."""

    symbol: str
    as_of: str
    probabilities: dict[str, float]
    label: str
    confidence: float
    first_bar: str
    bars: int
    stored: bool
    warnings: list[str]


class Regimes(TypedDict):
    """``GET /api/v1/regimes``: the current regime of each requested symbol."""

    dataset: str
    method: str
    seed: int
    history: str
    refit_every: int
    probabilities: str
    symbols: list[SymbolRegime]


class ModelInfo(TypedDict):
    """The registered version that made a prediction."""

    id: int
    name: str
    version: int
    stage: str


class Prediction(TypedDict):
    """One symbol's up-probability at one bar (``error`` says why there is none)."""

    symbol: str
    as_of: str | None
    probability: float | None
    error: NotRequired[str | None]


class OnePrediction(Prediction):
    """``POST /api/v1/predictions``: a :class:`Prediction` with its model and threshold."""

    model: ModelInfo
    dataset: str
    threshold: float | None


class BatchPredictions(TypedDict):
    """``POST /api/v1/predictions/batch``: each symbol's prediction, in the order asked."""

    model: ModelInfo
    dataset: str
    threshold: float | None
    predictions: list[Prediction]


class AlertHistory(TypedDict):
    """``GET /api/v1/alerts/history``: delivered alerts, newest first."""

    events: list[JsonObject]


class Channel(TypedDict):
    """An alert channel as anyone may see it: its URL masked."""

    name: str
    url: str
    enabled: bool


class PaperStarted(TypedDict):
    """``POST /api/v1/paper/start`` (202): the session and the worker's process id."""

    session: str
    pid: int


__all__ = [
    "AlertHistory",
    "BacktestResult",
    "BatchPredictions",
    "Channel",
    "FieldProblem",
    "Health",
    "Job",
    "JobCancel",
    "JobRef",
    "JsonObject",
    "LimitsChange",
    "ModelInfo",
    "ModelVersion",
    "ModelVersions",
    "OnePrediction",
    "OrderCheck",
    "PaperStarted",
    "Prediction",
    "Regimes",
    "RiskLimits",
    "SymbolRegime",
    "Whoami",
]
