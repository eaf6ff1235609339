"""Prometheus metrics: every metric the server exports is defined here, once.

Each app owns one ``Metrics`` with its own ``CollectorRegistry`` (never
prometheus-client's global default), so several apps in one process (tests,
benchmarks) do not collide. Code elsewhere makes thin calls at the points
where things happen (``metrics.sent("price_update", n)``,
``metrics.request_error("socketio", code)``); values that are cheaper to read
than to track (connections, subscriptions, running strategies) are sampled
at scrape time by *gauge sources* the composition root registers.

Exposed at ``GET /metrics`` (admin Bearer) and, when ``HTS_METRICS_PORT`` is
set, without authentication on that port (for a scraper on a private network).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any

from aiohttp import web
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    GC_COLLECTOR,
    PLATFORM_COLLECTOR,
    PROCESS_COLLECTOR,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

log = logging.getLogger("hts.metrics")

CONTENT_TYPE = CONTENT_TYPE_LATEST
# a gauge source returns {label value: sample}; the label name is given at registration
GaugeSource = Callable[[], Mapping[str, float]]

LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
                   2.5, 5.0, 10.0)
FILL_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 3600.0)
REPLAY_BUCKETS = (0, 1, 10, 100, 1000, 10_000, 100_000)
LOOP_LAG_INTERVAL = 0.25  # how often the event-loop lag probe wakes


# one meaning per label value: a connection's framing is `socketio` or `plain_websocket`
# (`websocket` alone is the Engine.IO transport of a Socket.IO connection, in hts_connections)
FRAMINGS = {"websocket": "plain_websocket"}


class _SampledGauges(Collector):
    """Gauges (or, with ``counter``, counters kept elsewhere as plain ints) read at
    scrape time from registered sources."""

    def __init__(self, counter: bool = False) -> None:
        self._sources: list[tuple[str, str, str | None, GaugeSource]] = []
        self._family = CounterMetricFamily if counter else GaugeMetricFamily

    def add(self, name: str, documentation: str, label: str | None, source: GaugeSource) -> None:
        self._sources.append((name, documentation, label, source))

    def collect(self) -> Iterable[GaugeMetricFamily | CounterMetricFamily]:
        by_name: dict[str, GaugeMetricFamily | CounterMetricFamily] = {}
        for name, doc, label, source in self._sources:
            family = by_name.get(name)
            if family is None:
                family = self._family(name, doc, labels=[label] if label else None)
                by_name[name] = family
            try:
                samples = source()
            except Exception:  # a broken source must not break the scrape
                log.exception("metrics source %s failed", name)
                continue
            for value_label, value in samples.items():
                family.add_metric([value_label] if label else [], float(value))
        return list(by_name.values())


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self._sampled = _SampledGauges()
        r.register(self._sampled)
        self._counted = _SampledGauges(counter=True)
        r.register(self._counted)
        # the process (CPU, memory, file descriptors), the GC and the interpreter: the
        # default registry's collectors, on this app's registry
        for collector in (PROCESS_COLLECTOR, GC_COLLECTOR, PLATFORM_COLLECTOR):
            r.register(collector)
        self.build_info = Gauge(
            "hts_build_info", "Always 1: the running version, as labels", ["version", "python"],
            registry=r)
        self.http_requests = Counter(
            "hts_http_requests", "HTTP requests answered, by method, route template and status",
            ["method", "route", "status"], registry=r)
        self.http_latency = Histogram(
            "hts_http_request_duration_seconds",
            "HTTP request received to answer ready, by method and route template",
            ["method", "route"], buckets=LATENCY_BUCKETS, registry=r)
        self.connections_opened = Counter(
            "hts_connections_opened", "Accepted client connections, by transport",
            ["transport"], registry=r)
        self.messages_sent = Counter(
            "hts_messages_sent", "Server-to-client messages, counted per recipient, by event",
            ["event"], registry=r)
        self.price_updates_conflated = Counter(
            "hts_price_updates_conflated",
            "Price updates replaced by a newer one before they were sent: between two ticks "
            "of the streamer (stage=tick) or in a lagging client's outbox (stage=outbox)",
            ["stage"], registry=r)
        self.slow_consumer_disconnects = Counter(
            "hts_slow_consumer_disconnects",
            "Connections closed with slow_consumer (their outbox passed its bound)", registry=r)
        self.private_delivery_lag = Histogram(
            "hts_private_delivery_lag_seconds",
            "From a private event's commit to its send to the live sessions",
            buckets=LATENCY_BUCKETS, registry=r)
        self.replay_events = Histogram(
            "hts_replay_events", "Private events replayed to a resuming connection",
            buckets=REPLAY_BUCKETS, registry=r)
        self.resyncs = Counter(
            "hts_resync_required", "Resumes answered with resync_required", registry=r)
        self.request_errors = Counter(
            "hts_request_errors", "Requests refused or failed, by API and error code",
            ["api", "code"], registry=r)
        self.order_accept_latency = Histogram(
            "hts_order_accept_seconds", "POST /api/orders: request received to order accepted",
            buckets=LATENCY_BUCKETS, registry=r)
        self.order_fill_latency = Histogram(
            "hts_order_fill_seconds", "An order's creation to its last fill (status filled)",
            buckets=FILL_BUCKETS, registry=r)
        self.event_loop_lag = Histogram(
            "hts_event_loop_lag_seconds",
            f"How late a {LOOP_LAG_INTERVAL}s timer on the event loop fires",
            buckets=LATENCY_BUCKETS, registry=r)

    # -- scrape-time gauges ------------------------------------------------------------
    def gauge(self, name: str, documentation: str, source: GaugeSource,
              label: str | None = None) -> None:
        """Register a gauge sampled at scrape time. Several sources may share one
        name (e.g. one per transport), each contributing its own label values."""
        self._sampled.add(name, documentation, label, source)

    def counter(self, name: str, documentation: str, source: GaugeSource,
                label: str | None = None) -> None:
        """Register a counter kept elsewhere (a component's own int, also in the status
        report), read at scrape time. ``name`` without ``_total``: it is added."""
        self._counted.add(name, documentation, label, source)

    def render(self) -> bytes:
        return generate_latest(self.registry)

    # -- thin calls used across the server ---------------------------------------------
    def connection_opened(self, transport: str) -> None:
        self.connections_opened.labels(FRAMINGS.get(transport, transport)).inc()

    def sent(self, event: str, recipients: int = 1) -> None:
        if recipients > 0:
            self.messages_sent.labels(event).inc(recipients)

    def conflated(self, n: int = 1, stage: str = "tick") -> None:
        if n > 0:
            self.price_updates_conflated.labels(stage).inc(n)

    def conflated_in_outbox(self) -> None:
        self.price_updates_conflated.labels("outbox").inc()

    def slow_consumer(self) -> None:
        self.slow_consumer_disconnects.inc()

    def delivery_lag(self, committed_at: float) -> None:
        """``committed_at`` is a ``time.monotonic()`` taken when the event was published."""
        self.private_delivery_lag.observe(max(0.0, time.monotonic() - committed_at))

    def replayed(self, n: int) -> None:
        self.replay_events.observe(n)

    def resync(self) -> None:
        self.resyncs.inc()

    def request_error(self, api: str, code: str) -> None:
        self.request_errors.labels(FRAMINGS.get(api, api), code).inc()

    def http_answered(self, method: str, route: str, status: int, seconds: float) -> None:
        self.http_requests.labels(method, route, str(status)).inc()
        self.http_latency.labels(method, route).observe(seconds)

    def order_accepted(self, seconds: float) -> None:
        self.order_accept_latency.observe(seconds)

    def on_private_event(self, event: str, payload: Mapping[str, Any]) -> None:
        """Observes fill latency from the committed ``order_update``s (an EventBus listener)."""
        if event != "order_update":
            return
        data = payload.get("data") or {}
        if data.get("status") != "filled":
            return
        try:
            created = datetime.fromisoformat(data["created_at"])
            filled = datetime.fromisoformat(data["updated_at"])
        except (KeyError, TypeError, ValueError):
            return
        self.order_fill_latency.observe(max(0.0, (filled - created).total_seconds()))

    async def watch_event_loop(self, interval: float = LOOP_LAG_INTERVAL) -> None:
        """Runs for the app's lifetime: how late a timer fires is how long the loop was busy."""
        loop = asyncio.get_running_loop()
        while True:
            start = loop.time()
            await asyncio.sleep(interval)
            self.event_loop_lag.observe(max(0.0, loop.time() - start - interval))


METRICS = web.AppKey("metrics", Metrics)
