"""``WorkbenchClient``: one typed method per path of the workbench's REST API."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import IO, Any, cast

import httpx

from workbench_client._errors import JobTimeout, RateLimited, error_for
from workbench_client._types import (
    AlertHistory,
    BacktestResult,
    BatchPredictions,
    Channel,
    Health,
    Job,
    JobCancel,
    JobRef,
    JsonObject,
    LimitsChange,
    ModelVersion,
    ModelVersions,
    OnePrediction,
    OrderCheck,
    PaperStarted,
    Regimes,
    RiskLimits,
    Whoami,
)

PREFIX = "/api/v1"
FINISHED = frozenset({"done", "failed", "cancelled"})
"""Job statuses after which a job never changes again."""

Upload = str | Path | bytes | tuple[str, bytes] | IO[bytes]
"""A file to upload: a path, its bytes, (file name, bytes), or an open binary file."""


def _body(body: Mapping[str, Any] | None, fields: Mapping[str, Any]) -> JsonObject:
    """``body`` updated with the keyword fields that are not None (left out: the server's
    default, so defaults live only in the API's request models)."""
    out = dict(body or {})
    out.update({k: v for k, v in fields.items() if v is not None})
    return out


def _file(upload: Upload) -> tuple[str, bytes | IO[bytes]]:
    if isinstance(upload, str | Path):
        path = Path(upload)
        return path.name, path.read_bytes()
    if isinstance(upload, bytes):
        return "upload.csv", upload
    if isinstance(upload, tuple):
        return upload
    return Path(getattr(upload, "name", "upload.csv")).name, upload


FILE_FORMAT_FIELDS = ("date_format", "decimal", "thousands", "delimiter", "timezone")
"""How an upload is read (the API's form fields)."""


def _file_format(options: dict[str, str]) -> dict[str, str]:
    unknown = sorted(set(options) - set(FILE_FORMAT_FIELDS))
    if unknown:
        raise TypeError(f"unknown file format option(s) {unknown}; use {list(FILE_FORMAT_FIELDS)}")
    return dict(options)


class WorkbenchClient:
    """A client of one workbench API.

    Parameters
    ----------
    base_url : str
        Where the API listens, e.g. ``http://127.0.0.1:8000`` (no ``/api/v1``).
    token : str, optional
        A personal access token (``workbench tokens create``), sent as a bearer token.
        Only ``healthz`` and ``readyz`` work without one.
    timeout : float
        Seconds per request (a synchronous backtest can take a few).
    retries : int
        How many times a 429 is retried after its ``Retry-After``; 0 raises at once.
    sleep : callable
        How to wait between retries and job polls (``time.sleep``; tests inject one).
    http : httpx.Client, optional
        A client of your own (proxies, certificates); ``base_url`` and the token are
        still applied per request.
    """

    def __init__(
        self,
        base_url: str,
        token: str | None = None,
        timeout: float = 30.0,
        *,
        retries: int = 0,
        sleep: Callable[[float], None] = time.sleep,
        http: httpx.Client | None = None,
    ) -> None:
        if retries < 0:
            raise ValueError(f"retries={retries} must be 0 or more")
        self.base_url = base_url.rstrip("/")
        self.retries = retries
        self._sleep = sleep
        self._own_http = http is None
        self._http = http or httpx.Client(timeout=timeout)
        self._timeout = timeout
        self._headers = {"Accept": "application/json"}
        if token:
            self._headers["Authorization"] = f"Bearer {token.strip()}"

    def __enter__(self) -> WorkbenchClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connections (only those of a client this object made)."""
        if self._own_http:
            self._http.close()

    # -- transport -------------------------------------------------------------------

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        """Send one request and return its decoded JSON body.

        Raises
        ------
        WorkbenchError
            The subclass for the status (``Unauthorized``, ``Forbidden``, ``NotFound``,
            ``Conflict``, ``InvalidRequest``, ``RateLimited``, ``ServerError``).
        """
        url = self.base_url + path
        for attempt in range(self.retries + 1):
            response = self._http.request(
                method, url, headers=self._headers, timeout=self._timeout, **kwargs
            )
            if response.status_code < 400:
                return response.json() if response.content else None
            error = error_for(response.status_code, _decoded(response), dict(response.headers))
            if isinstance(error, RateLimited) and attempt < self.retries:
                self._sleep(error.retry_after)
                continue
            raise error
        raise AssertionError("unreachable")  # the loop returns or raises

    def _get(self, path: str, **params: Any) -> Any:
        query = {k: v for k, v in params.items() if v is not None}
        return self.request("GET", PREFIX + path, params=query)

    def _post(self, path: str, body: Mapping[str, Any] | None = None, **params: Any) -> Any:
        query = {k: v for k, v in params.items() if v is not None}
        return self.request("POST", PREFIX + path, json=dict(body or {}), params=query)

    # -- system ----------------------------------------------------------------------

    def healthz(self) -> Health:
        """``GET /healthz``: the process answers (no token needed)."""
        return cast(Health, self.request("GET", "/healthz"))

    def readyz(self) -> Health:
        """``GET /readyz``: the database is reachable and migrated (``ServerError`` on 503)."""
        return cast(Health, self.request("GET", "/readyz"))

    def whoami(self) -> Whoami:
        """``GET /api/v1/whoami``: the token's user, roles and ``via``."""
        return cast(Whoami, self._get("/whoami"))

    # -- data ------------------------------------------------------------------------

    def datasets(self) -> list[JsonObject]:
        """``GET /api/v1/datasets``: every dataset (name, symbols, bars, dates, ...)."""
        return cast(list[JsonObject], self._get("/datasets"))

    def validate_dataset(self, file: Upload, **file_format: str) -> JsonObject:
        """``POST /api/v1/datasets/validate``: check a file without importing it.

        ``file_format`` declares how to read it, as on the Data page: ``date_format``,
        ``decimal``, ``thousands``, ``delimiter``, ``timezone`` (unknown names are refused).
        """
        data = _file_format(file_format) or None
        files = {"file": _file(file)}
        return cast(
            JsonObject, self.request("POST", PREFIX + "/datasets/validate", files=files, data=data)
        )

    def import_dataset(self, file: Upload, *, name: str, **file_format: str) -> JsonObject:
        """``POST /api/v1/datasets``: import a file as dataset ``name`` (analyst role);
        ``file_format`` as for :meth:`validate_dataset`."""
        data = {"name": name, **_file_format(file_format)}
        files = {"file": _file(file)}
        return cast(JsonObject, self.request("POST", PREFIX + "/datasets", files=files, data=data))

    # -- backtest and jobs -----------------------------------------------------------

    def backtest(
        self,
        body: Mapping[str, Any] | None = None,
        *,
        dataset: str | None = None,
        symbol: str | None = None,
        strategy: str | None = None,
        params: Mapping[str, Any] | None = None,
        start: str | None = None,
        end: str | None = None,
        **fields: Any,
    ) -> BacktestResult:
        """``POST /api/v1/backtest``: one synchronous backtest (a ``BacktestRequest``)."""
        request = _body(
            body,
            {"dataset": dataset, "symbol": symbol, "strategy": strategy, "params": params,
             "start": start, "end": end, **fields},
        )  # fmt: skip
        return cast(BacktestResult, self._post("/backtest", request))

    def submit_job(
        self, operation: str, body: Mapping[str, Any] | None = None, **fields: Any
    ) -> JobRef:
        """``POST /api/v1/jobs/{operation}``: queue a long operation (``sweep``,
        ``walkforward``, ``train``, ``universe``, ``abtest``, ``ensemble-eval``, ``report``,
        ``predict``, ``retrain-replay``); the body is that operation's request."""
        path = "/jobs/" + operation.strip().replace(" ", "-")
        return cast(JobRef, self._post(path, _body(body, fields)))

    def jobs(self, *, status: str | None = None, limit: int | None = None) -> list[Job]:
        """``GET /api/v1/jobs``: the jobs the token's user may see, newest first."""
        return cast(list[Job], self._get("/jobs", status=status, limit=limit))

    def job(self, job_id: int) -> Job:
        """``GET /api/v1/jobs/{job_id}``: status, progress, message and times."""
        return cast(Job, self._get(f"/jobs/{int(job_id)}"))

    def wait_job(self, job_id: int, *, timeout_s: float = 600.0, poll_s: float = 0.5) -> Job:
        """Poll :meth:`job` until it is done, failed or cancelled.

        Raises
        ------
        JobTimeout
            When it has not finished after ``timeout_s`` seconds.
        """
        deadline = time.monotonic() + timeout_s
        while True:
            job = self.job(job_id)
            if job["status"] in FINISHED:
                return job
            if time.monotonic() >= deadline:
                raise JobTimeout(job_id, job["status"], timeout_s)
            self._sleep(poll_s)

    def job_result(self, job_id: int) -> JsonObject:
        """``GET /api/v1/jobs/{job_id}/result``: the result payload (``Conflict`` while
        the job has not finished, or with the job's error when it failed)."""
        return cast(JsonObject, self._get(f"/jobs/{int(job_id)}/result"))

    def cancel_job(self, job_id: int) -> JobCancel:
        """``POST /api/v1/jobs/{job_id}/cancel``: cancel a queued job or stop a running one."""
        return cast(JobCancel, self._post(f"/jobs/{int(job_id)}/cancel"))

    # -- regimes, models, predictions ------------------------------------------------

    def regimes(
        self,
        symbols: Sequence[str],
        *,
        dataset: str | None = None,
        method: str | None = None,
        seed: int | None = None,
        history: str | None = None,
        refit_every: int | None = None,
    ) -> Regimes:
        """``GET /api/v1/regimes``: the latest bar's forward-filtered regime probabilities
        of each symbol (never smoothed; the first call for new prices fits, then it is
        stored)."""
        if isinstance(symbols, str):
            symbols = [symbols]
        query = {"dataset": dataset, "method": method, "seed": seed, "history": history,
                 "refit_every": refit_every}  # fmt: skip
        return cast(Regimes, self._get("/regimes", symbols=list(symbols), **query))

    def models(self, *, name: str | None = None) -> ModelVersions:
        """``GET /api/v1/models``: registered versions, with stage and metrics."""
        return cast(ModelVersions, self._get("/models", name=name))

    def promote(self, version_id: int, *, reason: str = "") -> ModelVersion:
        """``POST /api/v1/models/promote``: make a version the champion (pm role)."""
        body = {"version_id": version_id, "reason": reason}
        return cast(ModelVersion, self._post("/models/promote", body))

    def rollback(self, name: str, *, reason: str = "") -> ModelVersion:
        """``POST /api/v1/models/rollback``: restore the previous champion (pm role)."""
        return cast(ModelVersion, self._post("/models/rollback", {"name": name, "reason": reason}))

    def predict(
        self,
        model: int | str,
        symbol: str,
        *,
        dataset: str | None = None,
        as_of: str | None = None,
        features: Mapping[str, float] | None = None,
    ) -> OnePrediction:
        """``POST /api/v1/predictions``: the up-probability of ``symbol`` at its latest bar
        (or the last on or before ``as_of``), or of the feature row ``features``.
        ``model``: a version id, ``NAME:VERSION`` or ``NAME@champion``."""
        body = _body(
            {"model": model, "symbol": symbol},
            {"dataset": dataset, "as_of": as_of, "features": features},
        )
        return cast(OnePrediction, self._post("/predictions", body))

    def predict_batch(
        self,
        model: int | str,
        symbols: Sequence[str],
        *,
        dataset: str | None = None,
        as_of: str | None = None,
    ) -> BatchPredictions:
        """``POST /api/v1/predictions/batch``: each symbol's up-probability at one bar, in
        the order asked (a symbol still warming up gets ``error``)."""
        body = _body(
            {"model": model, "symbols": list(symbols)}, {"dataset": dataset, "as_of": as_of}
        )
        return cast(BatchPredictions, self._post("/predictions/batch", body))

    # -- risk ------------------------------------------------------------------------

    def risk_limits(self) -> RiskLimits:
        """``GET /api/v1/risk/limits``: the version in force and its limits."""
        return cast(RiskLimits, self._get("/risk/limits"))

    def set_risk_limits(
        self, values: Mapping[str, Any], *, reason: str, expected_version: int | None = None
    ) -> LimitsChange:
        """``PUT /api/v1/risk/limits`` (risk role); ``Conflict`` when ``expected_version``
        is no longer the version in force."""
        body = _body(
            {"values": dict(values), "reason": reason}, {"expected_version": expected_version}
        )
        return cast(LimitsChange, self.request("PUT", PREFIX + "/risk/limits", json=body))

    def check_order(
        self,
        symbol: str,
        qty: float,
        *,
        side: str = "buy",
        dataset: str | None = None,
        session: str | None = None,
        price: float | None = None,
    ) -> OrderCheck:
        """``POST /api/v1/risk/check``: the pre-trade check of one order."""
        body = _body(
            {"symbol": symbol, "qty": qty, "side": side},
            {"dataset": dataset, "session": session, "price": price},
        )
        return cast(OrderCheck, self._post("/risk/check", body))

    # -- paper -----------------------------------------------------------------------

    def paper_status(self, *, session: str | None = None) -> JsonObject:
        """``GET /api/v1/paper/status``: session, feed, control state, heartbeat."""
        return cast(JsonObject, self._get("/paper/status", session=session))

    def paper_start(
        self,
        body: Mapping[str, Any] | None = None,
        *,
        speed: float | None = None,
        steps: int | None = None,
        **fields: Any,
    ) -> PaperStarted:
        """``POST /api/v1/paper/start`` (trader role): start the worker of a session (a
        ``PaperRequest``); ``steps`` bars at ``speed`` bars per second."""
        return cast(
            PaperStarted, self._post("/paper/start", _body(body, fields), speed=speed, steps=steps)
        )

    def paper_pause(self, *, reason: str = "") -> JsonObject:
        """``POST /api/v1/paper/pause`` (trader role): pause after the current bar."""
        return cast(JsonObject, self._post("/paper/pause", {"reason": reason}))

    def paper_resume(self, *, reason: str = "") -> JsonObject:
        """``POST /api/v1/paper/resume`` (trader role)."""
        return cast(JsonObject, self._post("/paper/resume", {"reason": reason}))

    def paper_kill(self, *, flatten: bool = True, reason: str = "") -> JsonObject:
        """``POST /api/v1/paper/kill`` (trader role): cancel open orders and, with
        ``flatten``, close every position."""
        return cast(JsonObject, self._post("/paper/kill", {"flatten": flatten, "reason": reason}))

    # -- alerts ----------------------------------------------------------------------

    def alert_rules(self) -> list[JsonObject]:
        """``GET /api/v1/alerts/rules``."""
        return cast(list[JsonObject], self._get("/alerts/rules"))

    def add_alert_rule(self, body: Mapping[str, Any] | None = None, **fields: Any) -> JsonObject:
        """``POST /api/v1/alerts/rules`` (risk role): save a rule (an ``AlertRuleRequest``)."""
        return cast(JsonObject, self._post("/alerts/rules", _body(body, fields)))

    def alert_channels(self) -> list[Channel]:
        """``GET /api/v1/alerts/channels``: channels with their URLs masked."""
        return cast(list[Channel], self._get("/alerts/channels"))

    def add_alert_channel(self, name: str, url: str, *, disabled: bool = False) -> JsonObject:
        """``POST /api/v1/alerts/channels`` (risk role): save a channel (URL encrypted)."""
        body = {"name": name, "url": url, "disabled": disabled}
        return cast(JsonObject, self._post("/alerts/channels", body))

    def alert_history(self, *, limit: int | None = None) -> AlertHistory:
        """``GET /api/v1/alerts/history``: delivered alerts, newest first."""
        return cast(AlertHistory, self._get("/alerts/history", limit=limit))


def _decoded(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return response.text
