"""A cluster gateway's own HTTP routes; every other ``/api/...`` route goes to
the engine (``RemoteEngine.forward``).

``GET /api/ws/status`` answers for the whole cluster: the sessions of every
gateway that reported itself within the last few seconds (``scope:
"cluster"``, one entry per gateway in ``gateways``), and the engine's order,
strategy and price-streamer figures.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiohttp import web

from hts_realtime.adapters.redis_directory import GatewayDirectory, merge
from hts_realtime.adapters.remote_engine import RemoteEngine
from hts_realtime.edge.http.api import healthz, json_response, metrics_response, ready_response
from hts_realtime.identity.tokens import Identity, TokenService
from hts_realtime.ops.metrics import Metrics
from hts_realtime.ops.readiness import Readiness
from hts_realtime.protocol.errors import AuthRequired, Forbidden


class GatewayHttp:
    def __init__(self, tokens: TokenService, engine: RemoteEngine, directory: GatewayDirectory,
                 metrics: Metrics, readiness: Readiness,
                 wire_status: Callable[[], dict[str, Any]]) -> None:
        self.tokens = tokens
        self.wire_status = wire_status
        self.engine = engine
        self.directory = directory
        self.metrics = metrics
        self.readiness = readiness

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/healthz", healthz),
            web.get("/readyz", self.readyz),
            web.get("/metrics", self.scrape),
            web.get("/api/ws/status", self.status),
            web.route("*", "/api/{tail:.*}", self.engine.forward),
        ]

    async def identify(self, request: web.Request) -> Identity:
        """The signature here, the user store at the engine (roles come from there)."""
        header = request.headers.get("Authorization", "")
        if header[:7].lower() != "bearer " or not header[7:].strip():
            raise AuthRequired("send 'Authorization: Bearer <token>'")
        return await self.engine.confirm(self.tokens.verify(header[7:].strip()))

    async def readyz(self, request: web.Request) -> web.Response:
        return await ready_response(self.readiness)

    async def scrape(self, request: web.Request) -> web.Response:
        if not (await self.identify(request)).is_admin:
            raise Forbidden("admin only")
        return metrics_response(self.metrics)

    async def status(self, request: web.Request) -> web.Response:
        if not (await self.identify(request)).is_admin:
            raise Forbidden("admin only")
        reports = await self.directory.gateways()
        engine = await self.engine.status()
        body: dict[str, Any] = {"scope": "cluster", "gateway": self.directory.gateway_id}
        body.update(merge(reports))
        body["price_streamer_running"] = engine["price_streamer_running"]
        body["open_orders"] = engine["open_orders"]
        body["running_strategies"] = engine["running_strategies"]
        body["sent"]["price_ticks"] = engine["price_ticks"]
        body["gateways"] = [
            {k: r[k] for k in ("id", "active_connections", "bus_channels", "private_users",
                               "price_topics", "sent", "reported_at")}
            for r in reports
        ]
        body["engine"] = {"outbox": engine["outbox"]}
        body.update(self.wire_status())  # this gateway's "limits" and "wire"
        return json_response(body)
