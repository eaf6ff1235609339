"""``GET /api/ws/status`` (admins): the process's or the cluster's ``StatusReport``."""

from __future__ import annotations

from aiohttp import web

from hts_realtime.edge.http.common import Identify, admin, json_response
from hts_realtime.edge.status import StatusReport


class StatusRoutes:
    def __init__(self, report: StatusReport, identify: Identify) -> None:
        self.report = report
        self.identify = identify

    def routes(self) -> list[web.RouteDef]:
        return [web.get("/api/ws/status", self.status)]

    async def status(self, request: web.Request) -> web.Response:
        await admin(self.identify, request)
        return json_response(await self.report.build())
