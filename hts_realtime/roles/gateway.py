"""``serve --role gateway``: a cluster's public surface, with no database and no
trading state. The same edge as one process, with the engine behind its ports:

* the bus is Redis pub/sub: ``md:{topic}`` channels while a local client watches
  the topic, ``pv:{user_id}`` while a user has a session here (``PrivateRelay``,
  repairing gaps from the user's Redis Stream);
* the engine is ``RemoteEngine``: its HTTP port, for requests; every ``/api/...``
  route the edge does not answer itself is forwarded to it;
* ``GET /api/ws/status`` covers the cluster: every gateway's report (in Redis,
  ``adapters.redis_directory``) and the engine's.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web

from hts_realtime.adapters.engine_http import internal_key
from hts_realtime.adapters.redis_bus import RedisBus
from hts_realtime.adapters.redis_client import bus_lifecycle, redis_check, redis_client
from hts_realtime.adapters.redis_directory import GatewayDirectory, merge
from hts_realtime.adapters.redis_event_log import RedisEventLog
from hts_realtime.adapters.remote_engine import RemoteEngine
from hts_realtime.domain.symbols import SymbolMaster
from hts_realtime.edge.build import EdgeParts, build_edge
from hts_realtime.edge.http.forward import ForwardRoutes
from hts_realtime.edge.sessions import SessionRegistry
from hts_realtime.edge.status import StatusReport
from hts_realtime.engine.build import token_service
from hts_realtime.identity.auth import SignatureOnly
from hts_realtime.ops.metrics import Metrics
from hts_realtime.ops.readiness import Check
from hts_realtime.settings import Settings

GATEWAY_FIELDS = ("id", "active_connections", "bus_channels", "private_users", "price_topics",
                  "sent", "reported_at")


def create_gateway_app(settings: Settings) -> web.Application:
    assert settings.redis_url is not None and settings.engine_url is not None  # Settings checks
    metrics = Metrics()
    redis = redis_client(settings.redis_url)
    bus = RedisBus(redis)
    engine = RemoteEngine(settings.engine_urls, internal_key(settings.jwt_secret),
                          timeout=settings.engine_timeout_seconds)
    edge = build_edge(settings, EdgeParts(
        metrics=metrics,
        registry=SessionRegistry(),
        auth=SignatureOnly(token_service(settings)),
        engine=engine,
        bus=bus,
        event_log=RedisEventLog(redis, settings.redis_stream_length),
        master=SymbolMaster(),
        checks={"redis": redis_check(redis), "engine": _engine_check(engine)},
    ))
    directory = GatewayDirectory(redis, settings.gateway_id or f"{settings.host}:{settings.port}",
                                 settings.cluster_status_interval_seconds, edge.report)

    async def engine_lifecycle() -> AsyncIterator[None]:
        await engine.refresh_market_status()  # before any change is announced
        yield
        await engine.close()

    return edge.application(
        api=[ForwardRoutes(engine)],
        status=StatusReport("cluster", edge.status_sources(
            sessions=lambda: cluster_sessions(directory), behind=[engine.status])),
        lifecycles=[lambda: bus_lifecycle(redis, bus), engine_lifecycle, directory.lifecycle])


async def cluster_sessions(directory: GatewayDirectory) -> dict[str, Any]:
    """Every gateway's sessions summed, and each gateway's own figures."""
    reports = await directory.gateways()
    return {"gateway": directory.gateway_id, **merge(reports),
            "gateways": [{k: r[k] for k in GATEWAY_FIELDS} for r in reports]}


def _engine_check(engine: RemoteEngine) -> Check:
    async def check() -> str | None:
        try:
            await engine.status()
        except Exception as exc:
            return f"engine unreachable: {exc}"
        return None
    return check
