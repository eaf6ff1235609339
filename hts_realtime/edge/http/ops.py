"""``/healthz``, ``/readyz`` and ``/metrics``: the same three answers in every role.

``/metrics`` needs an admin's Bearer token on the public port; ``HTS_METRICS_PORT``
serves it without one on a listener of its own (``metrics_listener``), for a
scraper on a private network.
"""

from __future__ import annotations

import logging

from aiohttp import web

from hts_realtime.edge.http.common import Identify, admin, json_response
from hts_realtime.ops.metrics import CONTENT_TYPE, Metrics
from hts_realtime.ops.readiness import Readiness

log = logging.getLogger("hts.http")


class OpsRoutes:
    def __init__(self, readiness: Readiness, metrics: Metrics, identify: Identify) -> None:
        self.readiness = readiness
        self.metrics = metrics
        self.identify = identify

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/healthz", self.healthz),
            web.get("/readyz", self.readyz),
            web.get("/metrics", self.scrape),
        ]

    async def healthz(self, request: web.Request) -> web.Response:
        """200 while the process accepts connections."""
        return json_response({"status": "ok"})

    async def readyz(self, request: web.Request) -> web.Response:
        """200 when every check passes, else 503, with each check's answer."""
        ready, checks = await self.readiness.report()
        return json_response({"status": "ready" if ready else "not_ready", "checks": checks},
                             status=200 if ready else 503)

    async def scrape(self, request: web.Request) -> web.Response:
        await admin(self.identify, request)
        return self.exposition()

    def exposition(self) -> web.Response:
        return web.Response(body=self.metrics.render(), headers={"Content-Type": CONTENT_TYPE})


async def metrics_listener(metrics: Metrics, host: str, port: int) -> web.AppRunner:
    """``HTS_METRICS_PORT``: ``/metrics`` without authentication, on its own listener
    (meant for a private network or a sidecar scraper; the main port keeps admin auth)."""

    async def scrape(request: web.Request) -> web.Response:
        return web.Response(body=metrics.render(), headers={"Content-Type": CONTENT_TYPE})

    app = web.Application()
    app.router.add_get("/metrics", scrape)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    log.info("metrics on http://%s:%d/metrics", host, port)
    return runner
