"""CORS for the REST API, under the same ``HTS_CORS_ORIGINS`` as the Socket.IO endpoint.

A dashboard served from another origin must log in (``POST /api/auth/login``
with a JSON body is not a "simple" request: the browser sends a preflight
``OPTIONS`` first) and read every answer, errors included. This middleware:

* answers a preflight from an allowed origin itself, 204, before routing
  (so it works for every route, the gateway's forwarder too): the methods
  the API uses, the request headers it reads (``Authorization``,
  ``Content-Type``, ``Idempotency-Key``), cached for ``MAX_AGE`` seconds;
  a preflight from any other origin is 403 ``forbidden``;
* adds ``Access-Control-Allow-Origin`` (the request's origin, with
  ``Vary: Origin``) and the response headers a client reads
  (``Retry-After``, ``Idempotent-Replayed``, ``X-Next-Cursor``, ``Link``) to
  every answer to an allowed origin, errors included;
* leaves ``/socket.io/`` to python-engineio, which applies the same list.

No credentials mode: the API authenticates with a Bearer header, never a
cookie, so ``Access-Control-Allow-Credentials`` is not sent. Why not
``aiohttp-cors``: it registers an OPTIONS handler per route and refuses
routes of method ``*`` (the gateway's forwarder); this is the whole policy in
one place, ~60 lines.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from hts_realtime.edge.http.common import error_response
from hts_realtime.protocol.errors import Forbidden

_Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

METHODS = "GET, POST, PUT, PATCH, DELETE, OPTIONS"
REQUEST_HEADERS = "Authorization, Content-Type, Idempotency-Key, Accept, Accept-Language"
EXPOSED_HEADERS = "Retry-After, Idempotent-Replayed, X-Next-Cursor, Link"
MAX_AGE = "600"


def cors_middleware(origins: tuple[str, ...]) -> Any:
    """``origins``: exact origins (``https://hts.example.com``), or ``*`` for any."""
    allowed = frozenset(origins)
    anyone = "*" in allowed

    def allows(origin: str) -> bool:
        return anyone or origin in allowed

    @web.middleware
    async def cors(request: web.Request, handler: _Handler) -> web.StreamResponse:
        origin = request.headers.get("Origin")
        if not allowed or origin is None or request.path.startswith("/socket.io/"):
            return await handler(request)
        preflight = (request.method == "OPTIONS"
                     and "Access-Control-Request-Method" in request.headers)
        if preflight:
            if not allows(origin):
                return error_response(Forbidden(f"origin {origin[:100]!r} is not allowed "
                                                "(HTS_CORS_ORIGINS)"))
            return web.Response(status=204, headers={
                "Access-Control-Allow-Origin": origin,
                "Access-Control-Allow-Methods": METHODS,
                "Access-Control-Allow-Headers": REQUEST_HEADERS,
                "Access-Control-Max-Age": MAX_AGE,
                "Vary": "Origin"})
        response = await handler(request)
        if allows(origin) and not response.prepared:  # a WebSocket upgrade is sent already
            response.headers["Access-Control-Allow-Origin"] = origin
            response.headers["Access-Control-Expose-Headers"] = EXPOSED_HEADERS
            response.headers["Vary"] = "Origin"
        return response

    return cors
