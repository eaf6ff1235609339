"""A cluster gateway's way to the engine's REST API (``RemoteEngine.forward``).

Only the public API goes through: ``ENGINE_API`` is every ``/api/...`` route and
method of the documented HTTP API (``spec.openapi.ROUTES``, which
``tests/test_spec.py`` holds equal to what one process serves), so a route added
to the API is forwarded as soon as it is documented, and nothing else ever is.
A path the API does not have is ``404`` ``not_found`` and a method it does not
have on a path is ``405`` ``invalid_message`` from the gateway itself, as one
process answers them; the engine never sees either. Path traversal is refused
before this (``path_guard``); the body is bounded and deadlined before this too
(``body_guard``: ``413``/``408``), so the forwarder reads a body that is already here.
Registered last, after the edge's own routes.
"""

from __future__ import annotations

import re

from aiohttp import web

from hts_realtime.adapters.remote_engine import RemoteEngine
from hts_realtime.spec.openapi import ROUTES

_PARAM = re.compile(r"\{[^}/]+\}")


def _pattern(template: str) -> re.Pattern[str]:
    parts = _PARAM.split(template)
    return re.compile("[^/]+".join(re.escape(p) for p in parts) + r"\Z")


# (method, path pattern) of every public /api/ route; the edge answers some itself
ENGINE_API: tuple[tuple[str, re.Pattern[str]], ...] = tuple(sorted(
    ((method, _pattern(path)) for method, path in ROUTES if path.startswith("/api/")),
    key=lambda route: (route[1].pattern, route[0])))


def allowed(method: str, path: str) -> bool | None:
    """True: a public route; False: a public path, not this method; None: no such path."""
    methods = {m for m, pattern in ENGINE_API if pattern.match(path)}
    if not methods:
        return None
    return method in methods or (method == "HEAD" and "GET" in methods)


class ForwardRoutes:
    def __init__(self, engine: RemoteEngine) -> None:
        self.engine = engine

    def routes(self) -> list[web.RouteDef]:
        return [web.route("*", "/api/{tail:.*}", self.forward)]

    async def forward(self, request: web.Request) -> web.StreamResponse:
        verdict = allowed(request.method, request.path)
        if verdict is None:
            raise web.HTTPNotFound()
        if not verdict:
            raise web.HTTPMethodNotAllowed(request.method, [])
        return await self.engine.forward(request)
