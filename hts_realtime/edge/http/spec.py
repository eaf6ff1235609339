"""``/api/openapi.json`` and ``/api/asyncapi.json``, generated once, on first request,
from the finished router and the request core (``hts_realtime/spec``). Served where
the engine's API is (a gateway forwards them)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiohttp import web
from marshmallow import Schema

from hts_realtime.edge.http.common import json_response
from hts_realtime.spec.asyncapi import build_asyncapi
from hts_realtime.spec.openapi import build_openapi


class SpecRoutes:
    def __init__(self, request_schemas: Callable[[], dict[str, Schema]], server: str) -> None:
        self.request_schemas = request_schemas
        self.server = server
        self._cache: dict[str, dict[str, Any]] = {}

    def routes(self) -> list[web.RouteDef]:
        return [web.get("/api/openapi.json", self.openapi),
                web.get("/api/asyncapi.json", self.asyncapi)]

    async def openapi(self, request: web.Request) -> web.Response:
        if "openapi" not in self._cache:
            self._cache["openapi"] = build_openapi(request.app)
        return json_response(self._cache["openapi"])

    async def asyncapi(self, request: web.Request) -> web.Response:
        if "asyncapi" not in self._cache:
            self._cache["asyncapi"] = build_asyncapi(self.request_schemas(), self.server)
        return json_response(self._cache["asyncapi"])
