"""The composition root of a cluster gateway (``serve --role gateway``).

A gateway is the public surface: Socket.IO and every HTTP route. It holds no
database and no trading state. Behind its ports:

* the bus is Redis pub/sub: ``md:{topic}`` channels while a local client
  watches the topic (``MarketRelay``), ``pv:{user_id}`` while a user has a
  session here (``PrivateRelay``);
* the event log is Redis Streams (resume, gap repair);
* the engine is ``RemoteEngine``: its HTTP port, for requests.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from redis.asyncio import Redis

from hts_realtime.adapters.engine_http import internal_key
from hts_realtime.adapters.redis_bus import RedisBus
from hts_realtime.adapters.redis_directory import GatewayDirectory
from hts_realtime.adapters.redis_event_log import RedisEventLog
from hts_realtime.adapters.remote_engine import RemoteEngine
from hts_realtime.domain.symbols import SymbolMaster
from hts_realtime.edge.access_relay import AccessRelay
from hts_realtime.edge.core import RequestCore
from hts_realtime.edge.fanout import Fanout
from hts_realtime.edge.http.api import error_middleware, forwarded_middleware
from hts_realtime.edge.http.forward import GatewayHttp
from hts_realtime.edge.market_relay import MarketRelay
from hts_realtime.edge.plain_ws import PlainWebSocket
from hts_realtime.edge.private_relay import PrivateRelay
from hts_realtime.edge.sessions import SessionRegistry
from hts_realtime.edge.socketio.adapter import SendPathSocketIO, WireGuard
from hts_realtime.edge.socketio.framing import Gateway
from hts_realtime.edge.topic_access import TopicAuthorizer
from hts_realtime.identity.auth import SignatureOnly
from hts_realtime.ops.metrics import METRICS, Metrics
from hts_realtime.ops.readiness import Check, Readiness
from hts_realtime.roles.single import (
    add_dashboard,
    attach_socketio,
    client_closer,
    connection_gauges,
    redis_check,
    redis_client,
    socketio_server,
    token_service,
)
from hts_realtime.settings import Settings

log = logging.getLogger("hts.app")


@dataclass
class GatewayComponents:
    settings: Settings
    redis: Redis
    bus: RedisBus
    engine: RemoteEngine
    registry: SessionRegistry
    sio: SendPathSocketIO
    fanout: Fanout
    market_relay: MarketRelay
    private_relay: PrivateRelay
    core: RequestCore
    gateway: Gateway
    plain_ws: PlainWebSocket
    wire: WireGuard
    directory: GatewayDirectory
    access: AccessRelay
    metrics: Metrics
    readiness: Readiness


GATEWAY = web.AppKey("gateway", GatewayComponents)


def build_gateway(settings: Settings) -> GatewayComponents:
    assert settings.redis_url is not None and settings.engine_url is not None  # Settings checks
    metrics = Metrics()
    tokens = token_service(settings)
    master = SymbolMaster()
    redis = redis_client(settings.redis_url)
    bus = RedisBus(redis)
    events = RedisEventLog(redis, settings.redis_stream_length)
    engine = RemoteEngine(settings.engine_url, internal_key(settings.jwt_secret))
    registry = SessionRegistry()
    sio, limits, flusher = socketio_server(settings, metrics)
    fanout = Fanout(sio, registry, events, metrics, limits, flusher)
    market_relay = MarketRelay(bus, fanout, registry, on_status=engine.on_market_status)
    private_relay = PrivateRelay(bus, events, fanout, registry)
    authorizer = TopicAuthorizer(master, engine.order_owner, engine.strategy_owner)
    core = RequestCore(settings, SignatureOnly(tokens), registry, authorizer, fanout, market_relay,
                       private_relay, master, engine, metrics)
    wire = WireGuard(sio, settings, fanout.to_sid)  # in front of python-socketio/engineio
    core.strike = wire.strike
    gateway = Gateway(sio, core)  # the Socket.IO framing, at /socket.io/
    plain_ws = PlainWebSocket(core, fanout, settings, wire)  # /api/ws
    gateway_id = settings.gateway_id or f"{settings.host}:{settings.port}"

    def report() -> dict[str, Any]:
        return {
            **registry.status(),
            "sent": {"broadcast": fanout.sent_broadcast, "private": fanout.sent_private},
            "bus_channels": bus.channels(),
            "private_users": private_relay.users,
            "price_topics": market_relay.topics,
        }

    connection_gauges(metrics, sio, registry)
    directory = GatewayDirectory(redis, gateway_id, settings.cluster_status_interval_seconds,
                                 report)
    readiness = Readiness()
    readiness.add("redis", redis_check(redis))
    readiness.add("engine", _engine_check(engine))
    return GatewayComponents(settings, redis, bus, engine, registry, sio, fanout, market_relay,
                             private_relay, core, gateway, plain_ws, wire, directory,
                             AccessRelay(bus, core.recheck_users, registry.user_ids), metrics,
                             readiness)


def _engine_check(engine: RemoteEngine) -> Check:
    async def check() -> str | None:
        try:
            await engine.status()
        except Exception as exc:
            return f"engine unreachable: {exc}"
        return None
    return check


async def _background(app: web.Application) -> AsyncIterator[None]:
    c = app[GATEWAY]
    tasks = [
        asyncio.create_task(c.bus.run(), name="bus"),
        asyncio.create_task(c.fanout.run_private(), name="private-stream"),
        asyncio.create_task(c.fanout.flusher.run(), name="outbox-flusher"),
        asyncio.create_task(c.market_relay.run(), name="market-relay"),
        asyncio.create_task(c.private_relay.run(), name="private-relay"),
        asyncio.create_task(c.directory.run(), name="gateway-directory"),
        asyncio.create_task(c.access.run(), name="access-relay"),
        asyncio.create_task(c.metrics.watch_event_loop(), name="event-loop-lag"),
    ]
    await c.engine.refresh_market_status()
    await c.market_relay.follow_market_status()
    log.info("gateway %s started", c.directory.gateway_id)
    yield
    await c.directory.leave()
    for task in tasks:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError):
            await task
    await c.engine.close()
    await c.redis.aclose()


def create_gateway_app(settings: Settings) -> web.Application:
    c = build_gateway(settings)
    app = web.Application(middlewares=[forwarded_middleware(settings.trusted_proxies),
                                       error_middleware],
                          client_max_size=settings.max_payload_bytes)
    app[GATEWAY] = c
    app[METRICS] = c.metrics
    attach_socketio(app, c.wire, settings)
    app.add_routes(c.plain_ws.routes())  # /api/ws is served here, not forwarded
    http = GatewayHttp(token_service(settings), c.engine, c.directory, c.metrics, c.readiness,
                       c.wire.status)
    app.add_routes(http.routes())
    add_dashboard(app)
    app.cleanup_ctx.append(_background)
    app.on_shutdown.append(client_closer(c.sio, c.plain_ws))
    return app
