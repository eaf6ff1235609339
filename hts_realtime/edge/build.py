"""``build_edge``: what holds clients, built the same way for every role.

One process, a cluster's engine and a cluster's gateway all serve clients
with this one edge: Socket.IO at ``/socket.io/`` and the plain WebSocket at
``/api/ws`` (both framings of one request core, under one wire policy), the
fan-out with its per-connection outboxes, the relays from the bus, the HTTP
middlewares and log filters, the dashboard, ``/healthz``/``/readyz``/
``/metrics`` (and ``HTS_METRICS_PORT``), and ``GET /api/ws/status``. A role
only chooses what sits behind the ports (``EdgeParts``) and which REST API the
edge serves: the engine's own routes where the engine is in the process, or
the forwarder to it on a gateway. So whatever one role refuses, every role
refuses.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import platform
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from aiohttp import web

from hts_realtime import __version__
from hts_realtime.domain.symbols import SymbolMaster
from hts_realtime.edge.access_relay import AccessRelay
from hts_realtime.edge.admin_tap import AdminTap
from hts_realtime.edge.core import RequestCore
from hts_realtime.edge.fanout import Fanout
from hts_realtime.edge.http.access_log import install_bad_http_filter
from hts_realtime.edge.http.common import bearer
from hts_realtime.edge.http.cors import cors_middleware
from hts_realtime.edge.http.dashboard import DashboardRoutes
from hts_realtime.edge.http.http_metrics import http_metrics_middleware
from hts_realtime.edge.http.middlewares import body_guard, error_middleware, forwarded_middleware
from hts_realtime.edge.http.ops import OpsRoutes, metrics_listener
from hts_realtime.edge.http.path_guard import path_guard
from hts_realtime.edge.http.status import StatusRoutes
from hts_realtime.edge.market_relay import MarketRelay
from hts_realtime.edge.outbox import OutboxFlusher, OutboxLimits
from hts_realtime.edge.plain_ws import PlainWebSocket
from hts_realtime.edge.private_relay import InProcessStreams, PrivateRelay
from hts_realtime.edge.sessions import SessionRegistry
from hts_realtime.edge.socketio.admin import AdminUI
from hts_realtime.edge.socketio.framing import SocketIOFraming
from hts_realtime.edge.socketio.hooks import WireGuard
from hts_realtime.edge.socketio.mount import admin_ui, socketio_routes, socketio_server
from hts_realtime.edge.socketio.servers import SendPathSocketIO
from hts_realtime.edge.status import StatusReport, StatusSource
from hts_realtime.edge.token_expiry import TokenExpiry
from hts_realtime.edge.topic_access import TopicAuthorizer
from hts_realtime.edge.wire_policy import WirePolicy
from hts_realtime.engine.journal import EventBus
from hts_realtime.identity.auth import SignatureOnly
from hts_realtime.identity.tokens import Identity
from hts_realtime.ops.metrics import METRICS, Metrics
from hts_realtime.ops.readiness import Check, Readiness
from hts_realtime.ports import Bus, EngineView, EventLog
from hts_realtime.protocol.topics import Topic
from hts_realtime.settings import Settings

log = logging.getLogger("hts.edge")

Lifecycle = Callable[[], AsyncIterator[None]]


class Routes(Protocol):
    def routes(self) -> Sequence[web.AbstractRouteDef]: ...


@dataclass(frozen=True)
class EdgeParts:
    """What a role puts behind the edge's ports."""

    metrics: Metrics
    registry: SessionRegistry
    auth: SignatureOnly  # the token's signature and claims; the engine confirms the rest
    engine: EngineView  # the engine in this process, or the cluster's over its port
    bus: Bus  # market data, the market's session and access changes arrive here
    event_log: EventLog  # where a resuming session's missed private events are read
    master: SymbolMaster
    # the engine's committed private events, when the engine is in this process; None:
    # they arrive on the bus per user (a gateway relays them, repairing gaps from the log)
    local_events: EventBus | None = None
    on_interest: Callable[[Topic], None] | None = None  # a topic was wanted here
    checks: Mapping[str, Check] = field(default_factory=dict)  # the role's readiness checks


class Edge:
    def __init__(self, settings: Settings, parts: EdgeParts) -> None:
        self.settings = settings
        self.parts = parts
        self.metrics = metrics = parts.metrics
        self.registry = registry = parts.registry
        self.policy = WirePolicy(settings)
        limits = OutboxLimits(max_bytes=settings.outbox_max_bytes,
                              max_age=settings.outbox_max_age_seconds)
        flusher = OutboxFlusher(on_slow_consumer=metrics.slow_consumer,
                                on_conflated=metrics.conflated_in_outbox)
        # HTS_ADMIN_UI: what the send path writes and the rooms, told to the Admin UI
        tap = AdminTap(settings.admin_ui_events_per_second) if settings.admin_ui else None
        self.sio: SendPathSocketIO = socketio_server(settings, limits, flusher, tap)
        self.fanout = Fanout(self.sio, registry, parts.event_log, metrics, limits, flusher,
                             tap)
        self.market_relay = MarketRelay(parts.bus, self.fanout, registry,
                                        on_interest=parts.on_interest,
                                        on_status=parts.engine.on_market_status)
        self.private_relay: PrivateRelay | None = None
        if parts.local_events is not None:
            parts.local_events.subscribe(self.fanout.publish)
            user_streams: InProcessStreams | PrivateRelay = InProcessStreams()
        else:
            self.private_relay = user_streams = PrivateRelay(parts.bus, parts.event_log,
                                                             self.fanout, registry)
        authorizer = TopicAuthorizer(parts.master, parts.engine.order_owner,
                                     parts.engine.strategy_owner)
        self.expiry = TokenExpiry(registry, self.fanout, settings.token_expiry_warning_seconds)
        self.core = RequestCore(settings, parts.auth, registry, authorizer, self.fanout,
                                self.market_relay, user_streams, parts.master, parts.engine,
                                metrics, self.expiry)
        self.wire = WireGuard(self.sio, self.policy, self.fanout.to_sid)
        self.socketio = SocketIOFraming(self.sio, self.core, self.wire)  # /socket.io/
        self.admin: AdminUI | None = admin_ui(settings, self.sio, tap, registry) \
            if tap is not None else None  # /admin on /socket.io/
        self.plain_ws = PlainWebSocket(self.core, self.fanout, settings, self.policy)  # /api/ws
        self.access = AccessRelay(parts.bus, self.core.recheck_users, registry.user_ids)
        self.readiness = Readiness()
        for name, check in parts.checks.items():
            self.readiness.add(name, check)
        self._add_gauges()

    async def identify(self, request: web.Request) -> Identity:
        """The caller of an edge route (status, metrics): verified here, confirmed by the
        engine (at once in this process; over its port on a gateway)."""
        return await self.parts.engine.confirm(self.parts.auth.identify(bearer(request)))

    def report(self) -> dict[str, Any]:
        """What this edge reports about itself (status; a gateway's cluster directory)."""
        body: dict[str, Any] = {**self.registry.status(), **self.fanout.status()}
        body["bus_channels"] = self.parts.bus.channels()
        body["price_topics"] = self.market_relay.topics
        body["private_users"] = self.private_relay.users if self.private_relay else 0
        return body

    def wire_status(self) -> dict[str, Any]:
        """The wire policy's limits and counters, with what only Engine.IO has."""
        body = self.policy.status()
        body["wire"].update(self.wire.status()["wire"])
        return body

    # -- the HTTP application ---------------------------------------------------------------
    def application(self, *, api: Sequence[Routes], status: StatusReport,
                    lifecycles: Sequence[Lifecycle] = (),
                    middlewares: Sequence[Any] = ()) -> web.Application:
        """The role's app: the edge's own routes first, then ``api`` (the engine's REST
        routes, or a gateway's forwarder to them); ``lifecycles`` run before the edge's
        own (started in order, stopped in reverse: the engine outlives its clients);
        ``middlewares`` are the role's own, after the proxy's address is taken."""
        s = self.settings
        app = web.Application(
            middlewares=[forwarded_middleware(s.trusted_proxies),
                         http_metrics_middleware(self.metrics), cors_middleware(s.cors_origins),
                         *middlewares,
                         error_middleware, path_guard,
                         body_guard(s.max_payload_bytes, s.request_read_timeout_seconds)],
            client_max_size=s.max_payload_bytes)
        install_bad_http_filter(self.policy.bad_log)
        app[EDGE] = self
        app[METRICS] = self.metrics
        app.add_routes(socketio_routes(self.wire, s))
        app.add_routes(self.plain_ws.routes())
        app.add_routes(OpsRoutes(self.readiness, self.metrics, self.identify).routes())
        app.add_routes(StatusRoutes(status, self.identify).routes())
        for routes in api:
            app.add_routes(routes.routes())
        app.add_routes(DashboardRoutes().routes())
        for lifecycle in lifecycles:
            app.cleanup_ctx.append(_context(lifecycle))
        app.cleanup_ctx.append(_context(self.lifecycle))
        app.on_shutdown.append(self._close_clients)
        return app

    def status_sources(self, sessions: StatusSource | None = None,
                       behind: Sequence[StatusSource] = ()) -> list[StatusSource]:
        """This edge's parts of ``GET /api/ws/status``, with ``behind`` (the engine's,
        on a gateway) after its sessions; ``sessions`` in place of its own report (a
        gateway reports the whole cluster's sessions)."""
        sources: list[StatusSource] = [sessions or self.report, *behind, self.wire_status,
                                       self.access.status]
        if self.admin is not None:
            sources.append(self.admin.status)
        return sources

    async def lifecycle(self) -> AsyncIterator[None]:
        tasks = [
            asyncio.create_task(self.fanout.run_private(), name="private-stream"),
            asyncio.create_task(self.fanout.flusher.run(), name="outbox-flusher"),
            asyncio.create_task(self.market_relay.run(), name="market-relay"),
            asyncio.create_task(self.access.run(), name="access-relay"),
            asyncio.create_task(self.metrics.watch_event_loop(), name="event-loop-lag"),
        ]
        if self.private_relay is not None:
            tasks.append(asyncio.create_task(self.private_relay.run(), name="private-relay"))
        if self.admin is not None:
            tasks.append(asyncio.create_task(self.admin.run(), name="admin-ui"))
        await self.market_relay.follow_market_status()
        await self.access.listen()
        metrics_runner = None
        if self.settings.metrics_port is not None:
            metrics_runner = await metrics_listener(self.metrics, self.settings.host,
                                                    self.settings.metrics_port)
        yield
        if metrics_runner is not None:
            await metrics_runner.cleanup()
        if self.admin is not None:
            await self.admin.close()
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _close_clients(self, app: web.Application) -> None:
        """On shutdown, end every client's transport *without* an Engine.IO CLOSE packet.

        Clients (socket.io-client and python-socketio alike) treat a CLOSE packet
        as "the server does not want me" and stay away; a lost transport makes
        them reconnect — to this server once it is back, or to another one.
        """
        await self.plain_ws.close_all()  # 1001 going away: plain-WebSocket clients reconnect
        await self.sio.end_all_transports()
        await self.sio.shutdown()

    def _add_gauges(self) -> None:
        sio, registry = self.sio, self.registry

        def connections() -> dict[str, float]:
            counts = {"websocket": 0.0, "polling": 0.0}
            for sid in registry.sids(transport="socketio"):
                try:
                    counts[sio.transport(sid)] += 1  # "polling" until the client upgrades
                except (KeyError, ValueError):
                    continue  # closed between the registry and the engine
            counts["plain_websocket"] = float(len(registry.sids(transport="websocket")))
            return counts

        self.metrics.gauge("hts_connections", "Open client connections, by transport",
                           connections, label="transport")
        self.metrics.gauge("hts_subscriptions", "Topic subscriptions held, by topic kind",
                           registry.subscription_counts, label="kind")
        self.metrics.gauge("hts_connections_behind",
                           "Connections whose outbox holds messages now (the client reads "
                           "slower than it is sent to)",
                           lambda: {"": float(self.fanout.flusher.behind)})
        self.metrics.build_info.labels(__version__, platform.python_version()).set(1)
        policy = self.policy

        def refused() -> dict[str, float]:
            wire = policy.status()["wire"]
            counts = {"per_address_limit": float(wire["refused_concurrent"]),
                      "per_address_rate": float(wire["refused_rate"])}
            counts.update({k: float(v) for k, v in wire["refused"].items()})
            return counts

        self.metrics.counter("hts_wire_refused",
                             "Connections refused by the wire guard, by reason", refused,
                             label="reason")
        self.metrics.counter("hts_wire_disconnects",
                             "Connections cut by the wire guard (floods, deadlines), by reason",
                             lambda: {k: float(v) for k, v in policy.disconnected.items()},
                             label="reason")
        self.metrics.counter("hts_bad_input",
                             "Bad input received (frames, payloads), by kind",
                             lambda: {k: float(v) for k, v in policy.bad_log.totals.items()},
                             label="kind")


EDGE = web.AppKey("edge", Edge)


def build_edge(settings: Settings, parts: EdgeParts) -> Edge:
    return Edge(settings, parts)


def _context(lifecycle: Lifecycle) -> Callable[[web.Application], AsyncIterator[None]]:
    async def ctx(app: web.Application) -> AsyncIterator[None]:
        async for _ in lifecycle():
            yield

    return ctx
