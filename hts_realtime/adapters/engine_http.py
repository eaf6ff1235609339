"""The engine's internal routes, for its gateways (``/internal/...``).

A gateway holds no trading state; what its Socket.IO handlers need from the
engine (an account, a price, who owns an order or strategy id) it asks here.
Its public HTTP routes are forwarded to the engine's ordinary ``/api/...``
routes instead (``adapters.remote_engine``), so these stay few.

Each request carries ``X-HTS-Internal``, a key derived from the JWT secret
that every process of the cluster shares; gateways never forward a client's
request to ``/internal/``. Keep the engine's port on a private network anyway.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from typing import Any

from aiohttp import web

from hts_realtime.adapters.local_engine import LocalEngine
from hts_realtime.protocol.errors import AuthFailed, NotFound
from hts_realtime.settings import Secret

INTERNAL_HEADER = "X-HTS-Internal"
CLIENT_HEADER = "X-HTS-Client"  # a forwarded request's client address (with the key)


def internal_key(secret: Secret) -> str:
    return hmac.new(secret.reveal().encode(), b"hts-internal-v1", hashlib.sha256).hexdigest()


class InternalApi:
    def __init__(self, secret: Secret, engine: LocalEngine,
                 status: Callable[[], dict[str, Any]]) -> None:
        self._key = internal_key(secret)
        self.engine = engine
        self.status_of = status

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/internal/owners", self.owners),
            web.get("/internal/access", self.access),
            web.get("/internal/account/{user_id}", self.account),
            web.get("/internal/price/{symbol}", self.price),
            web.get("/internal/orderbook/{symbol}", self.orderbook),
            web.get("/internal/status", self.status),
        ]

    def _check(self, request: web.Request) -> None:
        if not hmac.compare_digest(request.headers.get(INTERNAL_HEADER, ""), self._key):
            raise AuthFailed("internal route")

    async def owners(self, request: web.Request) -> web.Response:
        """``?order=ID&strategy=ID...`` → the owner of each id that exists."""
        self._check(request)
        orders = await self.engine.broker.owners_of(request.query.getall("order", []))
        strategies = {i: self.engine.strategy_owner(i)
                      for i in request.query.getall("strategy", [])}
        return web.json_response({
            "orders": {k: v for k, v in orders.items() if v is not None},
            "strategies": {k: v for k, v in strategies.items() if v is not None},
        })

    async def access(self, request: web.Request) -> web.Response:
        """``?user_id&jti&iat`` of a verified token → the user's current name and roles,
        or the refusal (``{"error": {code, message}}``) when the token no longer counts."""
        self._check(request)
        q = request.query
        try:
            user_id, jti, iat = q["user_id"], q["jti"], int(q["iat"])
        except (KeyError, ValueError):
            raise NotFound("user_id, jti and iat are required") from None
        user, refusal = await self.engine.auth.access.decide(user_id, jti, iat)
        if refusal is not None or user is None:
            error = refusal or AuthFailed("the token's user does not exist")
            return web.json_response({"error": error.to_dict()})
        return web.json_response({"username": user.username, "roles": list(user.roles)})

    async def account(self, request: web.Request) -> web.Response:
        self._check(request)
        return web.json_response(await self.engine.account(request.match_info["user_id"]))

    async def price(self, request: web.Request) -> web.Response:
        self._check(request)
        reply = await self.engine.price(request.match_info["symbol"])
        if reply is None:
            raise NotFound("no such symbol")
        return web.json_response(reply)

    async def orderbook(self, request: web.Request) -> web.Response:
        self._check(request)
        reply = await self.engine.orderbook(request.match_info["symbol"])
        if reply is None:
            raise NotFound("no such symbol")
        return web.json_response(reply)

    async def status(self, request: web.Request) -> web.Response:
        self._check(request)
        return web.json_response(self.status_of())


def gateway_client_middleware(secret: Secret) -> Any:
    """On the engine: a request a gateway forwarded carries the cluster's key and the
    client's address (``RemoteEngine.forward``); the engine then sees that client, as
    one process sees its own, so per-address login throttling counts clients, not the
    gateway's address. Without the key the header is ignored: it could be forged."""
    key = internal_key(secret)

    @web.middleware
    async def gateway_client(request: web.Request, handler: Any) -> web.StreamResponse:
        client = request.headers.get(CLIENT_HEADER)
        if client and hmac.compare_digest(request.headers.get(INTERNAL_HEADER, ""), key):
            request = request.clone(remote=client)
        response: web.StreamResponse = await handler(request)
        return response

    return gateway_client
