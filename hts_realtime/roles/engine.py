"""``serve --role engine``: a cluster's one engine (orders, accounts, strategies, the
market), with an edge of its own and Redis behind the ports.

* the bus is Redis pub/sub: market data for every symbol each interval (the engine
  cannot see the gateways' clients; a publish nobody subscribes to is cheap), the
  market's session, access changes;
* each committed private event also goes, through the pending-events outbox in the
  same transaction, to the user's Redis Stream and ``pv:{user}`` channel;
* gateways reach it over its HTTP port: ``/api/...`` forwarded, ``/internal/...``
  for their own use (``adapters.engine_http``);
* it leads only while it holds the database's lease (``engine.standby``): run two
  or more on one PostgreSQL and the others wait warm, answering ``503`` with the
  leader's address, until the leader's lease runs out.
"""

from __future__ import annotations

from aiohttp import web

from hts_realtime.adapters.engine_http import InternalApi, gateway_client_middleware
from hts_realtime.adapters.kis.driver import kis_driver
from hts_realtime.adapters.local_engine import LocalEngine
from hts_realtime.adapters.redis_bus import RedisBus
from hts_realtime.adapters.redis_client import bus_lifecycle, redis_check, redis_client
from hts_realtime.adapters.redis_demand import RedisDemand
from hts_realtime.adapters.redis_event_log import RedisEventLog
from hts_realtime.domain.symbols import SymbolMaster
from hts_realtime.edge.sessions import SessionRegistry
from hts_realtime.engine.build import build_engine
from hts_realtime.engine.standby import Standby
from hts_realtime.ops.metrics import Metrics
from hts_realtime.roles.local import (
    engine_api,
    engine_report,
    local_edge,
    merged,
    process_status,
)
from hts_realtime.settings import Settings


def create_engine_app(settings: Settings) -> web.Application:
    assert settings.redis_url is not None  # Settings refuses an engine without one
    metrics = Metrics()
    redis = redis_client(settings.redis_url)
    bus = RedisBus(redis)
    registry = SessionRegistry()
    # the engine owns the market feed; what its gateways' clients want is in Redis
    engine = build_engine(settings, metrics=metrics, bus=bus,
                          stream_log=RedisEventLog(redis, settings.redis_stream_length),
                          watched=None,
                          demand=RedisDemand(redis, [s.symbol for s in SymbolMaster()]),
                          broker_feed=kis_driver)
    standby = Standby(engine, address=settings.engine_address
                      or f"http://{settings.host}:{settings.port}", ttl=settings.lease_seconds)
    edge = local_edge(settings, engine, metrics, registry, bus,
                      checks={"redis": redis_check(redis), "leadership": standby.readiness})
    api, callers = engine_api(settings, engine, edge)
    internal = InternalApi(settings.jwt_secret,
                           LocalEngine(engine.master, engine.market, engine.broker,
                                       engine.strategies, engine.auth),
                           merged(engine_report(engine, callers), standby.status))

    return edge.application(api=[*api, internal],
                            status=process_status(engine, edge, callers, standby.status),
                            lifecycles=[lambda: bus_lifecycle(redis, bus), standby.lifecycle],
                            middlewares=[standby.middleware(),
                                         gateway_client_middleware(settings.jwt_secret)])
