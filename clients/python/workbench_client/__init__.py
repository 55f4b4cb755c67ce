"""A typed client of the Trading Research Workbench REST API (httpx only).

>>> from workbench_client import WorkbenchClient
>>> WorkbenchClient("http://127.0.0.1:8000/", token="wbt_x").base_url
'http://127.0.0.1:8000'
"""

from workbench_client._client import FINISHED, WorkbenchClient
from workbench_client._errors import (
    Conflict,
    Forbidden,
    InvalidRequest,
    JobTimeout,
    NotFound,
    RateLimited,
    ServerError,
    Unauthorized,
    WorkbenchError,
)
from workbench_client._types import (
    AlertHistory,
    BacktestResult,
    BatchPredictions,
    Channel,
    FieldProblem,
    Health,
    Job,
    JobCancel,
    JobRef,
    JsonObject,
    LimitsChange,
    ModelInfo,
    ModelVersion,
    ModelVersions,
    OnePrediction,
    OrderCheck,
    PaperStarted,
    Prediction,
    Regimes,
    RiskLimits,
    SymbolRegime,
    Whoami,
)

__all__ = [
    "FINISHED",
    "AlertHistory",
    "BacktestResult",
    "BatchPredictions",
    "Channel",
    "Conflict",
    "FieldProblem",
    "Forbidden",
    "Health",
    "InvalidRequest",
    "Job",
    "JobCancel",
    "JobRef",
    "JobTimeout",
    "JsonObject",
    "LimitsChange",
    "ModelInfo",
    "ModelVersion",
    "ModelVersions",
    "NotFound",
    "OnePrediction",
    "OrderCheck",
    "PaperStarted",
    "Prediction",
    "RateLimited",
    "Regimes",
    "RiskLimits",
    "ServerError",
    "SymbolRegime",
    "Unauthorized",
    "Whoami",
    "WorkbenchClient",
    "WorkbenchError",
]
