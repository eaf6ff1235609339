"""A gateway's way to the engine: its HTTP port.

* ``RemoteEngine`` is the gateway's ``EngineView``: accounts, prices and
  the owners of order/strategy ids come from the engine's ``/internal/``
  routes. Owners never change, so each answer is cached (bounded).
* ``forward`` is the handler of every public ``/api/...`` route a gateway
  does not answer itself: the request goes to the engine as it came
  (method, path, query, body, ``Authorization``, ``Idempotency-Key``) and
  the engine's answer comes back as it is. New routes on the engine work
  through every gateway without a change here.

Why HTTP and not Redis for requests: an order must be answered (201 or a
refusal) by the one process that can decide it, and HTTP already has the
timeout, status and body semantics the public API uses; Redis carries only
what flows the other way (prices, committed events). The engine's port is
internal: nginx sends clients to gateways only.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import replace
from typing import Any

import aiohttp
from aiohttp import web

from hts_realtime.adapters.engine_http import CLIENT_HEADER, INTERNAL_HEADER
from hts_realtime.identity.tokens import Identity
from hts_realtime.protocol.errors import HtsError, Unavailable, error_for
from hts_realtime.protocol.topics import TopicKind, parse_topic

log = logging.getLogger("hts.engine_client")

OWNER_CACHE = 100_000
FORWARDED_REQUEST_HEADERS = ("Authorization", "Content-Type", "Idempotency-Key", "Accept",
                             "Accept-Language")
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length",
              "content-encoding", "server", "date"}


class RemoteEngine:
    def __init__(self, base_url: str, key: str, timeout: float = 10.0) -> None:
        self.base_url = base_url.rstrip("/")
        self._key = key
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None
        self._orders: OrderedDict[str, str] = OrderedDict()
        self._strategies: OrderedDict[str, str] = OrderedDict()
        self.forwarded = 0
        self._market_status = "open"

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self._timeout, auto_decompress=False)
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def _get(self, path: str, params: list[tuple[str, str]] | None = None) -> Any:
        try:
            async with self.session.get(self.base_url + path, params=params,
                                        headers={INTERNAL_HEADER: self._key}) as r:
                if r.status == 404:
                    return None
                if r.status != 200:
                    raise Unavailable(f"the engine answered {r.status}")
                return await r.json()
        except (aiohttp.ClientError, TimeoutError) as exc:
            log.warning("engine unreachable: %s", exc)
            raise Unavailable("the trading engine is unreachable; retry") from None

    # -- EngineView ----------------------------------------------------------------------
    def order_owner(self, order_id: str) -> str | None:
        return self._orders.get(order_id)

    def strategy_owner(self, strategy_id: str) -> str | None:
        return self._strategies.get(strategy_id)

    async def prime_owners(self, raws: Iterable[object]) -> None:
        params: list[tuple[str, str]] = []
        for raw in raws:
            try:
                topic = parse_topic(raw)
            except Exception:
                continue  # the authorizer refuses it with the right error
            if topic.kind is TopicKind.ORDER and topic.key not in self._orders:
                params.append(("order", topic.key))
            elif topic.kind is TopicKind.STRATEGY and topic.key not in self._strategies:
                params.append(("strategy", topic.key))
        if not params:
            return
        body = await self._get("/internal/owners", params)
        answers = ((self._orders, body["orders"]), (self._strategies, body["strategies"]))
        for cache, found in answers:
            for key, owner in found.items():
                cache[key] = owner
                if len(cache) > OWNER_CACHE:
                    cache.popitem(last=False)

    async def _access(self, identity: Identity) -> tuple[dict[str, Any], HtsError | None]:
        """The engine's verdict on a verified token: the user, or the refusal."""
        body = await self._get("/internal/access", [
            ("user_id", identity.user_id), ("jti", identity.token_id),
            ("iat", str(identity.issued_at))])
        if body is None or "error" in body:
            err = (body or {}).get("error") or {"code": "auth_failed", "message": "unknown user"}
            return {}, error_for(str(err["code"]), str(err["message"]))
        return body, None

    async def refusal(self, identity: Identity) -> HtsError | None:
        return (await self._access(identity))[1]

    async def confirm(self, identity: Identity) -> Identity:
        user, refusal = await self._access(identity)
        if refusal is not None:
            raise refusal
        return replace(identity, username=str(user["username"]), roles=tuple(user["roles"]))

    async def account(self, user_id: str) -> dict[str, Any]:
        body: dict[str, Any] = await self._get(f"/internal/account/{user_id}")
        return body

    async def orderbook(self, symbol: str) -> dict[str, Any] | None:
        body: dict[str, Any] | None = await self._get(f"/internal/orderbook/{symbol}")
        return body

    def market_status(self) -> str:
        """The market's session, as the engine last announced it (``market_status``)."""
        return self._market_status

    def on_market_status(self, payload: dict[str, Any]) -> None:
        self._market_status = str(payload.get("status", self._market_status))

    async def refresh_market_status(self) -> None:
        """At start: ask the engine (``GET /api/market``) before any change is announced."""
        try:
            async with self.session.get(self.base_url + "/api/market") as r:
                if r.status == 200:
                    self.on_market_status(await r.json())
        except (aiohttp.ClientError, TimeoutError) as exc:
            log.warning("engine unreachable for the market status: %s", exc)

    async def price(self, symbol: str) -> dict[str, Any] | None:
        body: dict[str, Any] | None = await self._get(f"/internal/price/{symbol}")
        return body

    async def status(self) -> dict[str, Any]:
        body: dict[str, Any] = await self._get("/internal/status")
        return body

    # -- forwarding ----------------------------------------------------------------------
    async def forward(self, request: web.Request) -> web.Response:
        """Send a public ``/api/...`` request to the engine and answer with its response."""
        headers = {h: request.headers[h] for h in FORWARDED_REQUEST_HEADERS if h in request.headers}
        headers["X-Forwarded-For"] = request.remote or ""
        # the client's address, vouched for by the cluster's key: the engine's per-address
        # limits (login throttling) must count clients, not the gateway they came through
        headers[INTERNAL_HEADER] = self._key
        headers[CLIENT_HEADER] = request.remote or ""
        body = await request.read() if request.body_exists else None  # read (bounded) by body_guard
        try:
            async with self.session.request(request.method, self.base_url + request.rel_url.path,
                                            params=request.rel_url.query, data=body,
                                            headers=headers, allow_redirects=False) as r:
                payload = await r.read()
                out = {k: v for k, v in r.headers.items() if k.lower() not in HOP_BY_HOP}
        except (aiohttp.ClientError, TimeoutError) as exc:
            log.warning("%s %s: engine unreachable: %s", request.method, request.path, exc)
            raise Unavailable("the trading engine is unreachable; retry") from None
        self.forwarded += 1
        return web.Response(status=r.status, body=payload, headers=out)
