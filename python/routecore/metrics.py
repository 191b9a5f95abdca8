"""Prometheus metrics shared by the HTTP and gRPC servers.

One `Metrics` holds its own registry (so tests and several servers in one process do not
collide); `METRICS` is the process default that `routecore serve` exposes on `GET /metrics`.
The hot-path calls (`observe_decision`, `observe_error`) cache the labelled children, so a
decision costs two dict lookups and two lock-protected increments, not prometheus-client's label
validation.

What is measured (labels in brackets):

- `routecore_decisions_total` [transport, action, tenant, reason]: decisions answered; `reason`
  is the reject reason (`blocked`, `rate_limited`, `no_target`, …), else "".
- `routecore_route_errors_total` [transport, code]: refused routing requests by status name.
- `routecore_decision_seconds` [transport]: time to decide and encode one request, in the server.
- `routecore_call_events_total` [transport, type, outcome]: call events; outcome `recorded`,
  `duplicate`, `applied` (no record store) or the error's status name.
- `routecore_http_responses_total` [status], `routecore_http_connections`: the HTTP side.
- `routecore_records_pending`: events waiting for the record store's writer;
  `routecore_records_written`, `routecore_records_failed_batches`: events committed, and
  transactions refused by the database (disk full, read-only: reports answered UNAVAILABLE).
- `routecore_grpc_in_flight`: routing RPCs in flight (shedding starts at `--max-in-flight`).
- `process_resident_memory_bytes`, `process_open_fds`, `process_cpu_seconds_total`, …: the
  process (prometheus-client's process collector, Linux).
- `routecore_plan_info` [version, source] (1 for the plan serving now), `routecore_plan_numbers`,
  `routecore_list_size` [list]: read from the engine at scrape time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import generate_latest
from prometheus_client.registry import Collector

__all__ = [
    "CONTENT_TYPE",
    "LATENCY_BUCKETS",
    "METRICS",
    "Metrics",
    "observe_decision",
    "observe_error",
    "observe_event",
]

CONTENT_TYPE = CONTENT_TYPE_LATEST
# A decision takes tens of microseconds in process: the buckets start well below a millisecond.
LATENCY_BUCKETS = (
    25e-6, 50e-6, 100e-6, 200e-6, 500e-6, 1e-3, 2.5e-3, 5e-3, 10e-3, 25e-3, 50e-3, 100e-3, 250e-3, 1.0,
)  # fmt: skip

EngineRef = Callable[[], Any]


class _RouteStatsCollector(Collector):
    """The gRPC side's counters live in Rust (counted on the hot path without the GIL); they are
    read once per scrape."""

    FAMILIES = (
        ("by_action", "routecore_grpc_decisions_total", "gRPC decisions by action", "action"),
        ("by_tenant", "routecore_grpc_tenant_decisions_total", "gRPC decisions by tenant", "tenant"),
        ("by_reason", "routecore_grpc_rejects_total", "gRPC REJECT decisions by reason", "reason"),
        ("by_error", "routecore_grpc_route_errors_total", "gRPC refused routing requests by status", "code"),
    )

    def __init__(self, stats: Any) -> None:
        self.stats = stats

    def collect(self) -> Iterable[Metric]:
        from prometheus_client.core import CounterMetricFamily

        snap = self.stats.snapshot()
        for key, name, doc, label in self.FAMILIES:
            family = CounterMetricFamily(name.removesuffix("_total"), doc, labels=[label])
            for value, count in sorted(snap[key].items()):
                family.add_metric([value], count)
            yield family


class _PlanCollector(Collector):
    """Reads the plan serving now at scrape time, so a reload needs no hook."""

    def __init__(self, engine_ref: EngineRef) -> None:
        self.engine_ref = engine_ref

    def collect(self) -> Iterable[Metric]:
        info = GaugeMetricFamily(
            "routecore_plan_info", "The plan serving now (value 1)", labels=["version", "source"]
        )
        numbers = GaugeMetricFamily("routecore_plan_numbers", "Numbers the plan serves")
        sizes = GaugeMetricFamily("routecore_list_size", "Entries of each list of the plan", labels=["list"])
        engine = self.engine_ref()
        state = _state_families(engine)
        if engine is not None:
            loaded = getattr(engine, "loaded", None)
            source = loaded.shown_source if loaded is not None else ""
            info.add_metric([engine.version, source], 1)
            numbers.add_metric([], len(engine.numbers()))
            for name, size in sorted((getattr(loaded, "list_sizes", None) or {}).items()):
                sizes.add_metric([name], size)
        return [info, numbers, sizes, *state]

    def describe(self) -> Iterable[Metric]:
        # Described without reading the engine, so registering never touches it.
        return [
            GaugeMetricFamily("routecore_plan_info", "", labels=["version", "source"]),
            GaugeMetricFamily("routecore_plan_numbers", ""),
            GaugeMetricFamily("routecore_list_size", "", labels=["list"]),
            *_state_families(None),
        ]


def _state_families(engine: Any) -> list[Metric]:
    """The shared state's health (Redis): empty families for the in-process state."""
    from prometheus_client.core import CounterMetricFamily

    healthy = GaugeMetricFamily("routecore_state_healthy", "1 while the shared state (Redis) answers")
    fallbacks = CounterMetricFamily(
        "routecore_state_fallbacks",
        "State steps decided on this node's own state because Redis was unreachable (caps and limits open)",
    )
    outages = CounterMetricFamily("routecore_state_outages", "Times Redis became unreachable")
    journaled = GaugeMetricFamily(
        "routecore_state_journaled", "Call events waiting to be replayed into Redis"
    )
    status = engine.state_status() if engine is not None and hasattr(engine, "state_status") else None
    if status is not None:
        healthy.add_metric([], 1.0 if status["healthy"] else 0.0)
        fallbacks.add_metric([], status["fallbacks"])
        outages.add_metric([], status["outages"])
        journaled.add_metric([], status["journaled"])
    return [healthy, fallbacks, outages, journaled]


class Metrics:
    """The service's metrics in one registry; see the module docstring for the list."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        self.decisions = Counter(
            "routecore_decisions", "Routing decisions answered", ["transport", "action", "tenant", "reason"],
            registry=r,
        )  # fmt: skip
        self.errors = Counter(
            "routecore_route_errors", "Routing requests refused, by status", ["transport", "code"], registry=r
        )
        self.latency = Histogram(
            "routecore_decision_seconds", "Time to decide and encode one routing request, in the server",
            ["transport"], buckets=LATENCY_BUCKETS, registry=r,
        )  # fmt: skip
        self.events = Counter(
            "routecore_call_events", "Call events reported", ["transport", "type", "outcome"], registry=r
        )
        self.http_responses = Counter("routecore_http_responses", "HTTP responses", ["status"], registry=r)
        self.http_connections = Gauge("routecore_http_connections", "Open HTTP connections", registry=r)
        self.records_pending = Gauge(
            "routecore_records_pending", "Events waiting for the record store's writer", registry=r
        )
        self.records_written = Gauge(
            "routecore_records_written", "Call events committed by the record store since start", registry=r
        )
        self.records_failed = Gauge(
            "routecore_records_failed_batches",
            "Record store transactions refused by the database (disk full, read-only) since start",
            registry=r,
        )
        self.grpc_in_flight = Gauge("routecore_grpc_in_flight", "Routing RPCs in flight", registry=r)
        # Memory, open files and CPU of this process: what a soak watches for growth.
        ProcessCollector(registry=r)
        self._plan: _PlanCollector | None = None
        self._route_stats: _RouteStatsCollector | None = None
        self._children: dict[tuple[Any, ...], Any] = {}

    # --- hot path --------------------------------------------------------------------------------

    def observe_decision(self, decision: Any, seconds: float, transport: str = "http") -> None:
        """Counts one decision (by action, tenant and reject reason) and its latency."""
        reject = decision.reject
        key = (transport, decision.action, decision.tenant, reject.reason if reject is not None else "")
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = self.decisions.labels(*key)
        child.inc()
        self.observe_latency(seconds, transport)

    def observe_outcome(
        self, action: str, tenant: str, reason: str, seconds: float, transport: str = "http"
    ) -> None:
        """`observe_decision` from the decision's action, tenant and reject reason ("" if none)."""
        key = (transport, action, tenant, reason)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = self.decisions.labels(*key)
        child.inc()
        self.observe_latency(seconds, transport)

    def observe_latency(self, seconds: float, transport: str = "http") -> None:
        """Records the time one routing request took (decided or refused)."""
        key = ("latency", transport)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = self.latency.labels(transport)
        child.observe(seconds)

    def observe_error(self, code: str, transport: str = "http") -> None:
        """Counts a refused routing request by its status name (`INVALID_ARGUMENT`, …)."""
        key = ("error", transport, code)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = self.errors.labels(transport, code)
        child.inc()

    def observe_event(self, type_: str, outcome: str, transport: str = "http") -> None:
        """Counts a call event: `recorded`, `duplicate`, `applied` or the error code."""
        key = ("event", transport, type_, outcome)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = self.events.labels(transport, type_, outcome)
        child.inc()

    def observe_http_status(self, status: int) -> None:
        key = ("status", status)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = self.http_responses.labels(str(status))
        child.inc()

    # --- wiring ----------------------------------------------------------------------------------

    def track_engine(self, engine_ref: EngineRef) -> None:
        """Reports the plan version, its number count and list sizes from `engine_ref()` at scrape
        time (the latest call wins; `engine_ref` may return None while no plan is loaded)."""
        if self._plan is None:
            self._plan = _PlanCollector(engine_ref)
            self.registry.register(self._plan)
        else:
            self._plan.engine_ref = engine_ref

    def track_records(self, records: Any) -> None:
        """Reports `records.pending` (events waiting for the writer) at scrape time."""
        if records is None:
            self.records_pending.set_function(lambda: 0.0)
            self.records_written.set_function(lambda: 0.0)
            self.records_failed.set_function(lambda: 0.0)
            return
        self.records_pending.set_function(lambda: float(getattr(records, "pending", 0) or 0))
        stats = getattr(records, "stats", None)
        if callable(stats):
            self.records_written.set_function(lambda: float(stats().events_written))
            self.records_failed.set_function(lambda: float(stats().failed_batches))

    def track_in_flight(self, read: Callable[[], int]) -> None:
        """Reports the gRPC server's routing RPCs in flight at scrape time."""
        self.grpc_in_flight.set_function(lambda: float(read()))

    def track_route_stats(self, stats: Any) -> None:
        """Reports the gRPC server's decision counters (kept in Rust, `_routecore.RouteStats`)
        at scrape time: decisions by action, by tenant, rejects by reason, errors by status."""
        if self._route_stats is None:
            self._route_stats = _RouteStatsCollector(stats)
            self.registry.register(self._route_stats)
        else:
            self._route_stats.stats = stats

    def render(self) -> bytes:
        """The registry in the Prometheus text format (`CONTENT_TYPE`)."""
        return generate_latest(self.registry)


METRICS = Metrics()


def observe_decision(decision: Any, seconds: float, transport: str = "http") -> None:
    """`METRICS.observe_decision`: counts one decision and its latency."""
    METRICS.observe_decision(decision, seconds, transport)


def observe_error(code: str, transport: str = "http") -> None:
    """`METRICS.observe_error`: counts a refused routing request by status name."""
    METRICS.observe_error(code, transport)


def observe_event(type_: str, outcome: str, transport: str = "http") -> None:
    """`METRICS.observe_event`: counts a call event by type and outcome."""
    METRICS.observe_event(type_, outcome, transport)
