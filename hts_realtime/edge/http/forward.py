"""A cluster gateway's way to the engine's REST API: every ``/api/...`` route the
gateway does not answer itself goes to the engine as it came
(``RemoteEngine.forward``). Registered last, after the edge's own routes."""

from __future__ import annotations

from aiohttp import web

from hts_realtime.adapters.remote_engine import RemoteEngine


class ForwardRoutes:
    def __init__(self, engine: RemoteEngine) -> None:
        self.engine = engine

    def routes(self) -> list[web.RouteDef]:
        return [web.route("*", "/api/{tail:.*}", self.engine.forward)]
