"""Per-route HTTP metrics: ``hts_http_requests_total`` and
``hts_http_request_duration_seconds``, labelled by the route's **template**
(``/api/orders/{order_id}``, never the id), so the label set is bounded by the
router: a path no route matches is ``unmatched``, a method outside the API's
``OTHER``. The long-lived endpoints (``/socket.io/``: held long-polls and
websockets; ``/api/ws``) are left out: their "latency" is a connection's life.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from aiohttp import web

from hts_realtime.ops.metrics import Metrics

_Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
LONG_LIVED = ("/socket.io/", "/api/ws")


def route_of(request: web.Request) -> str:
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else "unmatched"


def http_metrics_middleware(metrics: Metrics) -> web.middleware:  # type: ignore[valid-type]
    @web.middleware
    async def measured(request: web.Request, handler: _Handler) -> web.StreamResponse:
        if request.path.startswith(LONG_LIVED):
            return await handler(request)
        start = time.perf_counter()
        status = 500
        try:
            response = await handler(request)
            status = response.status
            return response
        except web.HTTPException as exc:
            status = exc.status
            raise
        finally:
            method = request.method if request.method in METHODS else "OTHER"
            metrics.http_answered(method, route_of(request), status,
                                  time.perf_counter() - start)

    return measured
