"""Prometheus metrics of the workbench: every metric's definition, in one place.

Three exporters, each with its own :class:`~prometheus_client.CollectorRegistry` (never
the process-wide default, so tests may build many of them in one process):

* the API (:class:`ApiMetrics`; the middleware is :mod:`app.api.metrics`);
* the paper worker (:class:`PaperMetrics`, fed by :class:`PromObserver`, a bar observer
  that changes nothing in the worker, and :class:`PaperStoreCollector`, which reads the
  orders, fills and the heartbeat from the database at scrape time);
* the jobs worker (:class:`JobsStoreCollector`: the queue, this worker's jobs and its
  heartbeat, read at scrape time).

Names start with ``workbench_`` and carry their unit (``_seconds``, ``_ratio``,
``_total``); labels are bounded (route templates, sessions, symbols, limit names, job
operations), never user ids or tokens. docs/metrics.md lists them all.
"""

from __future__ import annotations

import logging
import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector
from sqlalchemy import Engine, func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from core.paper.observers import BarEvent
from core.paper.report import CycleReport
from core.store.jobs import Job
from core.store.jobs import JobWorker as JobWorkerRecord
from core.store.paper import PaperSession, WorkerHeartbeat
from core.store.trading import TradingFill, TradingOrder

log = logging.getLogger("workbench.metrics")
# No ``_created`` series: Prometheus does not read them.
disable_created_metrics()  # type: ignore[no-untyped-call]

Clock = Callable[[], datetime]

REQUEST_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
"""API request latency buckets (seconds): the pre-trade check's target is p99 < 10 ms."""
BAR_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
"""Paper worker latency buckets (seconds): a replayed bar takes about a millisecond."""
JOB_BUCKETS = (1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0, 7200.0)
"""Job duration buckets (seconds)."""
STAGES = ("arrival", "decision", "order")
"""The latency stages of a live bar (:func:`core.paper.live.stage_ms`)."""
DRIFT = ("psi", "ks")
"""Drift figures exported as scores (``psi_max``, ``ks:FEATURE``...; not ``rows``)."""
ACTIVE_JOB_STATUSES = ("queued", "running")
FINISHED_JOB_STATUSES = ("done", "failed", "cancelled")


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _utc(ts: datetime) -> datetime:
    """A stored timestamp as aware UTC (SQLite returns naive UTC)."""
    return ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)


class ApiMetrics:
    """The API's request metrics (the middleware in :mod:`app.api.metrics` records them)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.requests = Counter(
            "workbench_api_requests",
            "HTTP requests answered by the API, by method, route template and status code.",
            ["method", "route", "status"],
            registry=registry,
        )
        self.latency = Histogram(
            "workbench_api_request_seconds",
            "Time from a request's arrival to the end of its response (seconds).",
            ["method", "route"],
            buckets=REQUEST_BUCKETS,
            registry=registry,
        )

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        """Record one answered request."""
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(method, route).observe(seconds)


class PaperMetrics(Collector):
    """The paper worker's per-bar metrics of one session (fed by :class:`PromObserver`).

    The counters and histograms are updated on every bar; the gauges (equity, drawdown,
    limit utilization, drift, the model's live metrics) are read from the last bar's
    report when Prometheus scrapes, so a bar costs a few increments, not a gauge write
    per figure.
    """

    def __init__(self, registry: CollectorRegistry, *, session: str) -> None:
        self.session = session
        self.last: tuple[BarEvent, CycleReport] | None = None
        """The last bar's event and report (swapped whole: the scrape thread reads it)."""
        s = ["session"]
        self.bars = Counter(
            "workbench_paper_bars",
            "Bars the worker processed in this run.",
            s,
            registry=registry,
        ).labels(session)
        self.rejections = Counter(
            "workbench_paper_rejections",
            "Orders not placed: blocked by the pre-trade check or refused by the broker.",
            s,
            registry=registry,
        ).labels(session)
        self.bar_seconds = Histogram(
            "workbench_paper_bar_seconds",
            "Wall time of one bar's work: fills, decisions, risk, orders, close (seconds).",
            s,
            buckets=BAR_BUCKETS,
            registry=registry,
        ).labels(session)
        stages = Histogram(
            "workbench_paper_stage_seconds",
            "Latency per stage of a live bar: arrival (bar close to receipt), decision "
            "(receipt to the last decision), order (receipt to the last order sent), seconds.",
            ["session", "stage"],
            buckets=BAR_BUCKETS,
            registry=registry,
        )
        self.stage_seconds = {k: stages.labels(session, k) for k in STAGES}
        registry.register(self)

    def collect(self) -> Iterable[Metric]:
        """The gauges of the last bar (none before the first)."""
        last = self.last
        if last is None:
            return []
        event, report = last
        name = [self.session]
        families = []
        for metric, text, figure in (
            ("workbench_paper_equity", "The book's equity at the last bar's close (account "
             "currency).", report.equity),
            ("workbench_paper_peak_equity", "The book's peak equity so far (account "
             "currency).", report.peak_equity),
            ("workbench_paper_drawdown_ratio", "Drawdown from the peak equity at the last "
             "bar's close (0.1 = 10%).", _loss(report.equity, report.peak_equity)),
            ("workbench_paper_daily_loss_ratio", "Loss since the start of the day at the "
             "last bar's close (0.01 = 1%).", _loss(report.equity, report.start_of_day_equity)),
            ("workbench_paper_last_bar_timestamp_seconds", "The last processed bar's label "
             "(Unix time, UTC).", event.ts.value / 1e9),
        ):  # fmt: skip
            family = GaugeMetricFamily(metric, text, labels=["session"])
            family.add_metric(name, figure)
            families.append(family)
        drift = {k: v for k, v in report.drift.items() if k.startswith(DRIFT)}
        for metric, text, label, figures in (
            ("workbench_paper_limit_utilization_ratio", "Share of each risk limit in use "
             "after the last bar (1 = at the limit).", "limit", report.utilization),
            ("workbench_paper_drift_score", "Drift scores of the model's features: psi_max, "
             "ks_max, psi:FEATURE and ks:FEATURE (unitless).", "score", drift),
            ("workbench_paper_model_metric", "Rolling live metrics of the model in the loop "
             "(hit_rate, auc, brier, ...).", "metric", report.model_metrics),
            ("workbench_paper_model_up_probability_ratio", "The model's probability of an "
             "up move per symbol at the last bar.", "symbol", report.probabilities),
        ):  # fmt: skip
            family = GaugeMetricFamily(metric, text, labels=["session", label])
            for key, figure in figures.items():
                family.add_metric([self.session, key], figure)
            families.append(family)
        return families


def _loss(equity: float, reference: float) -> float:
    """``1 - equity / reference`` floored at 0 (NaN without a positive reference)."""
    return max(0.0, 1 - equity / reference) if reference > 0 else math.nan


class PromObserver:
    """A bar observer (:class:`~core.paper.observers.BarObserver`) that feeds
    :class:`PaperMetrics` from each bar's event; it writes nothing to the database.

    Put it after the monitoring observers: it reads the drift and live model metrics
    they add to the bar's report. A grouped replay (:mod:`core.paper.group`) shows a bar
    here before its transaction commits; a crash loses such bars and the process.
    """

    def __init__(self, metrics: PaperMetrics) -> None:
        self.metrics = metrics

    def rebuild(self, upto: int, frames: Mapping[str, Any]) -> None:
        """Nothing to restore: the metrics start with the process."""

    def on_bar(self, event: BarEvent, s: Session) -> None:
        """Record bar ``event``."""
        m, report = self.metrics, event.report
        m.bars.inc()
        m.bar_seconds.observe(report.latency_ms / 1000)
        if report.rejected:
            m.rejections.inc(report.rejected)
        for stage, ms in report.stage_ms.items():
            child = m.stage_seconds.get(stage)  # the stages of STAGES only
            if child is not None:
                child.observe(ms / 1000)
        m.last = (event, report)


class _StoreCollector(Collector, ABC):
    """A collector that reads the database at scrape time; a failed read is logged and
    shown as ``workbench_store_up 0`` (the scrape itself still succeeds)."""

    exporter = ""

    def __init__(self, engine: Engine, *, clock: Clock = _utc_now) -> None:
        self.engine, self.clock = engine, clock

    @abstractmethod
    def read(self, s: Session) -> list[Metric]:
        """The families read in ``s``."""

    def collect(self) -> Iterable[Metric]:
        """Every family, read now."""
        up = GaugeMetricFamily(
            "workbench_store_up",
            "Whether the exporter could read the database at this scrape (1) or not (0).",
            labels=["exporter"],
        )
        try:
            with Session(self.engine) as s:
                families = self.read(s)
        except SQLAlchemyError as exc:
            log.warning("metrics: the %s exporter could not read the database: %s",
                        self.exporter, exc)  # fmt: skip
            families = []
            up.add_metric([self.exporter], 0.0)
        else:
            up.add_metric([self.exporter], 1.0)
        return [*families, up]


class PaperStoreCollector(_StoreCollector):
    """The paper session's orders, fills and heartbeat, read from the database at scrape
    time (the committed ledger: a grouped replay's bars count once they commit)."""

    exporter = "paper"

    def __init__(self, engine: Engine, *, session: str, clock: Clock = _utc_now) -> None:
        super().__init__(engine, clock=clock)
        self.session = session
        self._account: int | None = None

    def read(self, s: Session) -> list[Metric]:
        """Orders, fills, the heartbeat's age and the worker's state."""
        name = [self.session]
        orders = CounterMetricFamily(
            "workbench_paper_orders",
            "Orders the session's account has recorded (all time, from the database).",
            labels=["session"],
        )
        fills = CounterMetricFamily(
            "workbench_paper_fills",
            "Fills of the session's account's orders (all time, from the database).",
            labels=["session"],
        )
        age = GaugeMetricFamily(
            "workbench_paper_heartbeat_age_seconds",
            "Seconds since the paper worker's last heartbeat (computed at scrape time).",
            labels=["session"],
        )
        state = GaugeMetricFamily(
            "workbench_paper_worker_status",
            "The status of the worker's last heartbeat (1 for the current one).",
            labels=["session", "status"],
        )
        if self._account is None:
            self._account = s.scalar(
                select(PaperSession.account_id).where(PaperSession.name == self.session)
            )
        if self._account is not None:
            n_orders = s.scalar(
                select(func.count(TradingOrder.id)).where(TradingOrder.account_id == self._account)
            )
            n_fills = s.scalar(
                select(func.count(TradingFill.id))
                .join(TradingOrder, TradingOrder.id == TradingFill.order_id)
                .where(TradingOrder.account_id == self._account)
            )
            orders.add_metric(name, float(n_orders or 0))
            fills.add_metric(name, float(n_fills or 0))
        beat = s.execute(
            select(WorkerHeartbeat.ts, WorkerHeartbeat.status)
            .order_by(WorkerHeartbeat.id.desc())
            .limit(1)
        ).first()
        if beat is not None:
            age.add_metric(name, max(0.0, (self.clock() - _utc(beat.ts)).total_seconds()))
            state.add_metric([self.session, str(beat.status)], 1.0)
        return [orders, fills, age, state]


class JobsStoreCollector(_StoreCollector):
    """The jobs queue and one worker's jobs and heartbeat, read at scrape time.

    Job durations (``started_at`` to ``finished_at`` as stored) are observed once each,
    for the jobs this worker finished since the collector was made.
    """

    exporter = "jobs"

    def __init__(self, engine: Engine, *, worker: str, clock: Clock = _utc_now) -> None:
        super().__init__(engine, clock=clock)
        self.worker = worker
        self.since = clock()
        self._seen: set[int] = set()
        self.durations = Histogram(
            "workbench_job_duration_seconds",
            "Duration of the jobs this worker finished, by operation and final status.",
            ["operation", "status"],
            buckets=JOB_BUCKETS,
            registry=None,
        )

    def read(self, s: Session) -> list[Metric]:
        """Queue depth, the oldest queued job's age, this worker's jobs and beat."""
        now = self.clock()
        depth = GaugeMetricFamily(
            "workbench_jobs_queue_depth",
            "Jobs queued or running (all workers), by status.",
            labels=["status"],
        )
        counts = dict(
            s.execute(
                select(Job.status, func.count(Job.id))
                .where(Job.status.in_(ACTIVE_JOB_STATUSES))
                .group_by(Job.status)
            ).all()
        )
        for status in ACTIVE_JOB_STATUSES:
            depth.add_metric([status], float(counts.get(status, 0)))
        oldest = s.scalar(select(func.min(Job.created_at)).where(Job.status == "queued"))
        wait = GaugeMetricFamily(
            "workbench_jobs_oldest_queued_age_seconds",
            "Seconds the oldest queued job has waited (0 when none waits).",
        )
        wait.add_metric(
            [], 0.0 if oldest is None else max(0.0, (now - _utc(oldest)).total_seconds())
        )
        mine = s.scalar(
            select(func.count(Job.id)).where(Job.worker == self.worker, Job.status == "running")
        )
        running = GaugeMetricFamily(
            "workbench_jobs_worker_running_jobs", "Jobs this worker is running now."
        )
        running.add_metric([], float(mine or 0))
        beat_at = s.scalar(
            select(JobWorkerRecord.heartbeat_at).where(JobWorkerRecord.name == self.worker)
        )
        age = GaugeMetricFamily(
            "workbench_jobs_worker_heartbeat_age_seconds",
            "Seconds since this jobs worker last renewed its record (computed at scrape time).",
        )
        if beat_at is not None:
            age.add_metric([], max(0.0, (now - _utc(beat_at)).total_seconds()))
        self._observe_finished(s)
        return [depth, wait, running, age, *self.durations.collect()]

    def _observe_finished(self, s: Session) -> None:
        rows = s.execute(
            select(Job.id, Job.kind, Job.status, Job.started_at, Job.finished_at).where(
                Job.worker == self.worker,
                Job.status.in_(FINISHED_JOB_STATUSES),
                Job.finished_at >= self.since,
            )
        ).all()
        for row in rows:
            if row.id in self._seen or row.started_at is None or row.finished_at is None:
                continue
            self._seen.add(row.id)
            seconds = (_utc(row.finished_at) - _utc(row.started_at)).total_seconds()
            if math.isfinite(seconds):
                self.durations.labels(row.kind, row.status).observe(max(0.0, seconds))


def paper_registry(engine: Engine, *, session: str) -> tuple[CollectorRegistry, PromObserver]:
    """The paper worker's registry (per-bar metrics and the store collector) and the
    observer that feeds it."""
    registry = CollectorRegistry()
    metrics = PaperMetrics(registry, session=session)
    registry.register(PaperStoreCollector(engine, session=session))
    return registry, PromObserver(metrics)


def jobs_registry(engine: Engine, *, worker: str) -> CollectorRegistry:
    """The jobs worker's registry."""
    registry = CollectorRegistry()
    registry.register(JobsStoreCollector(engine, worker=worker))
    return registry


def serve(registry: CollectorRegistry, *, port: int, host: str = "127.0.0.1") -> Any:
    """Serve ``registry`` at ``http://host:port/metrics`` from a daemon thread; the
    server (``shutdown()`` stops it). ValueError naming the address when it is taken."""
    from prometheus_client import start_http_server

    try:
        server, _thread = start_http_server(port, addr=host, registry=registry)
    except OSError as exc:
        raise ValueError(
            f"cannot serve metrics on {host}:{port} ({exc.strerror or exc}); "
            "choose another --metrics-port (0 turns the metrics off)"
        ) from exc
    return server


__all__ = [
    "ApiMetrics",
    "JobsStoreCollector",
    "PaperMetrics",
    "PaperStoreCollector",
    "PromObserver",
    "jobs_registry",
    "paper_registry",
    "serve",
]
