"""A gateway's way to the engine: its HTTP port.

* ``RemoteEngine`` is the gateway's ``EngineView``: accounts, prices and
  the owners of order/strategy ids come from the engine's ``/internal/``
  routes. Owners never change, so each answer is cached (bounded).
* ``forward`` is the handler of every public ``/api/...`` route a gateway
  does not answer itself: the request goes to the engine as it came
  (method, path, query, body, ``Authorization``, ``Idempotency-Key``) and
  the engine's answer comes back as it is. New routes on the engine work
  through every gateway without a change here.

A gateway knows every engine of the cluster (``HTS_ENGINE_URL``, comma-separated)
and keeps to the one that leads. A standby answers ``503`` with ``X-HTS-Leader``
(the leader's address): the request was not processed there, so it is sent
again, once, to that address, if it is one of the configured engines (a header
never chooses where a gateway connects). An engine that refuses the connection
never saw the request either: the next one is tried. A request that reached an
engine which then died is not sent again (it may have been applied): the
client gets ``503 unavailable`` with ``Retry-After``, and an order retried with
the same ``Idempotency-Key`` is applied once.

Why HTTP and not Redis for requests: an order must be answered (201 or a
refusal) by the one process that can decide it, and HTTP already has the
timeout, status and body semantics the public API uses; Redis carries only
what flows the other way (prices, committed events). The engine's port is
internal: nginx sends clients to gateways only.
"""

from __future__ import annotations

import json
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


LEADER_HEADER = "X-HTS-Leader"  # a standby's answer names the leader (engine.standby)
RETRY_AFTER = 1.0


class _Reply:
    """An engine's answer, read whole (status, headers, body)."""

    def __init__(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.status, self.headers, self.body = status, headers, body


class RemoteEngine:
    def __init__(self, base_urls: str | Iterable[str], key: str, timeout: float = 10.0) -> None:
        urls = [base_urls] if isinstance(base_urls, str) else list(base_urls)
        self.urls = [u.rstrip("/") for u in urls]
        if not self.urls:
            raise ValueError("a gateway needs at least one engine URL")
        self._current = 0  # the engine believed to lead
        self._key = key
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None
        self._orders: OrderedDict[str, str] = OrderedDict()
        self._strategies: OrderedDict[str, str] = OrderedDict()
        self.forwarded = 0
        self.leader_changes = 0
        self._market_status = "open"

    @property
    def base_url(self) -> str:
        """The engine this gateway sends to now (the leader, as far as it knows)."""
        return self.urls[self._current]

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self._timeout, auto_decompress=False)
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def _send(self, method: str, path: str, *, params: Any = None,
                    data: bytes | None = None, headers: dict[str, str]) -> _Reply:
        """One request to the leading engine, following a standby's ``X-HTS-Leader`` and
        skipping an engine that refuses the connection (neither processed it)."""
        tries = len(self.urls) + 1
        for attempt in range(tries):
            index = self._current
            try:
                async with self.session.request(method, self.urls[index] + path, params=params,
                                                 data=data, headers=headers,
                                                 allow_redirects=False) as r:
                    reply = _Reply(r.status, dict(r.headers), await r.read())
            except aiohttp.ClientConnectorError as exc:  # never reached it: try the next
                log.warning("engine %s unreachable: %s", self.urls[index], exc)
                self._move(index, (index + 1) % len(self.urls))
                continue
            except (aiohttp.ClientError, TimeoutError) as exc:  # it may have been applied
                log.warning("%s %s: engine %s failed mid-request: %r", method, path,
                            self.urls[index], exc)
                # not sent again; but the next request tries the next engine (a paused
                # or dead leader; a standby there names the leader)
                self._move(index, (index + 1) % len(self.urls))
                raise Unavailable("the trading engine is unreachable; retry",
                                  retry_after=RETRY_AFTER) from None
            if reply.status != 503 or attempt == tries - 1:
                return reply
            leader = reply.headers.get(LEADER_HEADER, "").rstrip("/")
            if leader in self.urls and leader != self.urls[index]:
                self._move(index, self.urls.index(leader))
                continue
            return reply  # a standby that knows no leader yet: the client retries
        raise Unavailable("no engine answered; retry", retry_after=RETRY_AFTER)

    def _move(self, seen: int, to: int) -> None:
        if self._current == seen and to != seen:
            self._current = to
            self.leader_changes += 1
            log.info("following engine %s", self.urls[to])

    async def _get(self, path: str, params: list[tuple[str, str]] | None = None) -> Any:
        reply = await self._send("GET", path, params=params,
                                 headers={INTERNAL_HEADER: self._key})
        if reply.status == 404:
            return None
        if reply.status != 200:
            raise Unavailable(f"the engine answered {reply.status}", retry_after=RETRY_AFTER)
        return json.loads(reply.body)

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
            reply = await self._send("GET", "/api/market", headers={})
        except Unavailable as exc:
            log.warning("engine unreachable for the market status: %s", exc)
            return
        if reply.status == 200:
            self.on_market_status(json.loads(reply.body))

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
        reply = await self._send(request.method, request.rel_url.path,
                                 params=request.rel_url.query, data=body, headers=headers)
        self.forwarded += 1
        # the engines' addresses are the cluster's business: a leader hint never leaves
        out = {k: v for k, v in reply.headers.items()
               if k.lower() not in HOP_BY_HOP and k.lower() != LEADER_HEADER.lower()}
        return web.Response(status=reply.status, body=reply.body, headers=out)
