"""REST routes: login, status, symbols, account and orders.

Handlers are thin: parse, authenticate, call the domain, answer JSON.
Every error body is ``{"error": {"code", "message"}}`` (``error_middleware``).
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import json
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from aiohttp import web

from hts_realtime.domain.market_hours import KST
from hts_realtime.domain.orders import OrderStatus, OrderType, Side
from hts_realtime.domain.strategies.registry import describe_kinds
from hts_realtime.domain.symbols import SymbolMaster
from hts_realtime.domain.throttle import KeyedLimiter, retry_after_header
from hts_realtime.edge.fanout import Fanout
from hts_realtime.edge.sessions import SessionRegistry
from hts_realtime.engine.access_watch import AccessWatcher
from hts_realtime.engine.broker import OrderRequest, PaperBroker
from hts_realtime.engine.candles import CandleBook
from hts_realtime.engine.login import LoginService
from hts_realtime.engine.strategy_runner import StrategyRunner
from hts_realtime.engine.streamers import MarketStreams
from hts_realtime.engine.users import User
from hts_realtime.identity.auth import Authenticator
from hts_realtime.identity.tokens import Identity, TokenService
from hts_realtime.ops.metrics import CONTENT_TYPE, METRICS, Metrics
from hts_realtime.ops.readiness import Readiness
from hts_realtime.ports import MarketSource
from hts_realtime.protocol import schemas
from hts_realtime.protocol.errors import (
    AuthRequired,
    Forbidden,
    HtsError,
    InternalError,
    InvalidMessage,
    NotFound,
    RateLimited,
    UnknownSymbol,
)

log = logging.getLogger("hts.http")

MAX_IDEMPOTENCY_KEY = 128

_Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


# Every JSON body the HTTP API writes goes through this: UTF-8 as is, so Korean
# names stay readable ("삼성전자", not "\\uc0bc\\uc131...").
dumps = functools.partial(json.dumps, ensure_ascii=False, separators=(",", ":"))


def json_response(body: Any, status: int = 200,
                  headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response(body, status=status, headers=headers, dumps=dumps)


async def healthz(request: web.Request) -> web.Response:
    """200 while the process accepts connections (every role)."""
    return json_response({"status": "ok"})


async def ready_response(readiness: Readiness) -> web.Response:
    """``/readyz``: 200 when every check passes, else 503, with each check's answer."""
    ready, checks = await readiness.report()
    return json_response({"status": "ready" if ready else "not_ready", "checks": checks},
                         status=200 if ready else 503)


def metrics_response(metrics: Metrics) -> web.Response:
    return web.Response(body=metrics.render(), headers={"Content-Type": CONTENT_TYPE})


def error_response(exc: HtsError) -> web.Response:
    headers = {}
    if isinstance(exc, RateLimited) and exc.retry_after is not None:
        headers["Retry-After"] = retry_after_header(exc.retry_after)
    return json_response({"error": exc.to_dict()}, status=exc.http_status, headers=headers)


def _count_error(request: web.Request, code: str) -> None:
    metrics = request.app.get(METRICS)
    if metrics is not None:
        metrics.request_error("http", code)


def forwarded_middleware(trusted: tuple[str, ...]) -> Any:
    """Behind a reverse proxy every request comes from the proxy's address; when the
    peer is one of ``trusted`` (``HTS_TRUSTED_PROXIES``), the client is the last address
    in ``X-Forwarded-For`` (the one that proxy saw), so per-address limits and logs see
    clients, not nginx. From any other peer the header is ignored: it could be forged."""
    proxies = frozenset(trusted)

    @web.middleware
    async def forwarded(request: web.Request, handler: _Handler) -> web.StreamResponse:
        if proxies and request.remote in proxies:
            hops = [h.strip() for h in request.headers.get("X-Forwarded-For", "").split(",")]
            if hops and hops[-1]:
                request = request.clone(remote=hops[-1])
        return await handler(request)

    return forwarded


@web.middleware
async def error_middleware(request: web.Request, handler: _Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except HtsError as exc:
        _count_error(request, exc.code)
        return error_response(exc)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        code = {404: "not_found", 405: "invalid_message", 413: "invalid_message"}.get(
            exc.status, "invalid_message"
        )
        _count_error(request, code)
        return json_response({"error": {"code": code, "message": exc.reason}}, status=exc.status)
    except Exception:
        log.exception("%s %s failed", request.method, request.path)
        _count_error(request, InternalError.code)
        return error_response(InternalError("the server failed; try again"))


def body_guard(limit: int, read_timeout: float) -> Any:
    """Bound every REST request body: a ``Content-Length`` over ``limit`` is 413 at
    once (aiohttp would first wait for the bytes), and the body must arrive within
    ``read_timeout`` seconds (408), so a client that declares a body and stalls
    does not hold a handler. ``/socket.io/`` has its own guard (the wire guard)."""

    @web.middleware
    async def guard(request: web.Request, handler: _Handler) -> web.StreamResponse:
        if request.can_read_body and not request.path.startswith("/socket.io/"):
            declared = request.content_length
            if declared is not None and declared > limit:
                raise web.HTTPRequestEntityTooLarge(max_size=limit, actual_size=declared)
            try:
                async with asyncio.timeout(read_timeout):
                    await request.read()  # cached: the handler's request.json() reuses it
            except TimeoutError:
                raise web.HTTPRequestTimeout(text="the request body did not arrive in time") \
                    from None
        return await handler(request)

    return guard


class HttpApi:
    def __init__(
        self,
        tokens: TokenService,
        auth: Authenticator,
        logins: LoginService,
        writes: KeyedLimiter,
        watcher: AccessWatcher,
        broker: PaperBroker,
        master: SymbolMaster,
        registry: SessionRegistry,
        streams: MarketStreams,
        strategies: StrategyRunner,
        fanout: Fanout,
        metrics: Metrics,
        readiness: Readiness,
        market: MarketSource,
        candles: CandleBook,
        market_mode: str,
        wire_status: Callable[[], dict[str, Any]] | None = None,
    ) -> None:
        self.tokens = tokens
        self.auth = auth
        self.logins = logins
        self.writes = writes
        self.writes_refused = 0
        self.watcher = watcher
        self.broker = broker
        self.master = master
        self.registry = registry
        self.streams = streams
        self.strategies = strategies
        self.fanout = fanout
        self.metrics = metrics
        self.readiness = readiness
        self.wire_status = wire_status
        self.market = market
        self.candle_book = candles
        self.market_mode = market_mode

    def routes(self) -> list[web.RouteDef]:
        return [
            web.post("/api/auth/login", self.login),
            web.post("/api/auth/logout", self.logout),
            web.post("/api/auth/password", self.change_password),
            web.get("/api/ws/status", self.status),
            web.get("/healthz", healthz),
            web.get("/readyz", self.readyz),
            web.get("/metrics", self.scrape),
            web.get("/api/symbols", self.symbols),
            web.get("/api/candles", self.candles),
            web.get("/api/market", self.market_status),
            web.get("/api/account", self.account),
            web.post("/api/orders", self.place_order),
            web.get("/api/orders", self.list_orders),
            web.get("/api/orders/{order_id}", self.get_order),
            web.delete("/api/orders/{order_id}", self.cancel_order),
            web.get("/api/orders/{order_id}/fills", self.order_fills),
            web.get("/api/strategy-kinds", self.strategy_kinds),
            web.post("/api/strategies", self.create_strategy),
            web.get("/api/strategies", self.list_strategies),
            web.get("/api/strategies/{strategy_id}", self.get_strategy),
            web.post("/api/strategies/{strategy_id}/start", self.start_strategy),
            web.post("/api/strategies/{strategy_id}/stop", self.stop_strategy),
            web.delete("/api/strategies/{strategy_id}", self.delete_strategy),
        ]

    # -- helpers ---------------------------------------------------------------------
    def identify(self, request: web.Request) -> Identity:
        header = request.headers.get("Authorization", "")
        if header[:7].lower() != "bearer " or not header[7:].strip():
            raise AuthRequired("send 'Authorization: Bearer <token>'")
        return self.auth.identify(header[7:].strip())

    def writer(self, request: web.Request, budget: str = "") -> Identity:
        """``identify``, for a route that writes the caller's journal: rate limited per user.

        Cancels have a ``budget`` of their own (the same size): a client throttled
        on placing orders can still take its risk off the book.
        """
        identity = self.identify(request)
        wait = self.writes.take(f"{identity.user_id}{budget}")
        if wait > 0:
            self.writes_refused += 1
            raise RateLimited("too many order and strategy requests; slow down", wait)
        return identity

    @classmethod
    async def optional_body(cls, request: web.Request) -> Any:
        """The JSON body, or None when there is none."""
        if not request.body_exists:
            return None
        return await cls.body(request)

    @staticmethod
    async def body(request: web.Request) -> Any:
        try:
            return await request.json(loads=json.loads)
        except (ValueError, UnicodeDecodeError) as exc:
            raise InvalidMessage("body must be JSON") from exc

    # -- routes ----------------------------------------------------------------------
    async def login(self, request: web.Request) -> web.Response:
        data = schemas.load(schemas.LOGIN, await self.body(request))
        user = await self.logins.login(data["username"], data["password"], _address(request))
        log.info("login user=%s", user.user_id)
        return self._token_response(user)

    def _token_response(self, user: User) -> web.Response:
        token, ttl = self.tokens.issue(user)
        return json_response({
            "access_token": token,
            "token_type": "bearer",
            "expires_in": ttl,
            "user_id": user.user_id,
            "username": user.username,
        })

    async def logout(self, request: web.Request) -> web.Response:
        identity = self.identify(request)
        data = schemas.load(schemas.LOGOUT, await self.optional_body(request))
        if data["everywhere"]:
            self.logins.users.revoke_tokens(identity.username)
        else:
            self.auth.revoke(identity)
        self.watcher.poke()  # this process's sockets close now, not at the next poll
        log.info("user=%s logged out%s", identity.user_id,
                 " everywhere" if data["everywhere"] else "")
        return web.Response(status=204)

    async def change_password(self, request: web.Request) -> web.Response:
        identity = self.identify(request)
        data = schemas.load(schemas.PASSWORD, await self.body(request))
        user = await self.logins.change_password(identity.username, data["current_password"],
                                                 data["new_password"], _address(request))
        self.watcher.poke()
        log.info("user=%s changed password", user.user_id)
        return self._token_response(user)

    async def status(self, request: web.Request) -> web.Response:
        identity = self.identify(request)
        if not identity.is_admin:
            raise Forbidden("admin only")
        body: dict[str, Any] = {"scope": "process", **self.registry.status()}
        body["price_streamer_running"] = self.streams.price.running
        body["market_streamers"] = self.streams.status()
        body["open_orders"] = self.broker.open_orders()
        body["running_strategies"] = self.strategies.running()
        body["sent"] = {"broadcast": self.fanout.sent_broadcast,
                        "private": self.fanout.sent_private,
                        "price_ticks": self.streams.price.ticks,
                        "orderbook_ticks": self.streams.orderbook.ticks,
                        "trade_ticks": self.streams.trade.ticks}
        flusher = self.fanout.flusher  # the send path: outboxes behind, slow consumers cut
        body["outbox"] = {"behind": flusher.behind, "slow_consumers": flusher.slow_consumers}
        if self.wire_status is not None:
            body.update(self.wire_status())  # "limits" and "wire": edge.socketio.adapter
        body.setdefault("limits", {}).update(self.logins.limits())
        body["limits"].update({"write_rate_per_second": self.writes.rate,
                               "write_rate_burst": self.writes.burst})
        body["auth"] = {**self.logins.counters(), "writes_refused": self.writes_refused,
                        "connections_closed_revoked": self.watcher.closed()}
        return json_response(body)

    async def readyz(self, request: web.Request) -> web.Response:
        return await ready_response(self.readiness)

    async def scrape(self, request: web.Request) -> web.Response:
        if not self.identify(request).is_admin:
            raise Forbidden("admin only")
        return metrics_response(self.metrics)

    async def symbols(self, request: web.Request) -> web.Response:
        return json_response([s.to_dict() for s in self.master])

    async def candles(self, request: web.Request) -> web.Response:
        q = schemas.load(schemas.CANDLES, dict(request.query))
        if q["symbol"] not in self.master:
            raise UnknownSymbol(f"unknown symbol {q['symbol']!r}")
        rows = self.candle_book.candles(q["symbol"], q["interval"], q["limit"])
        return json_response({"symbol": q["symbol"], "interval": q["interval"],
                                  "candles": [c.to_wire() for c in rows]})

    async def market_status(self, request: web.Request) -> web.Response:
        now = datetime.now(KST)
        return json_response({"status": self.market.status(now).value,
                                  "mode": self.market_mode, "timestamp": now.isoformat()})

    async def account(self, request: web.Request) -> web.Response:
        identity = self.identify(request)
        return json_response(self.broker.account(identity.user_id))

    async def place_order(self, request: web.Request) -> web.Response:
        started = time.perf_counter()
        identity = self.writer(request)
        data = schemas.load(schemas.ORDER, await self.body(request))
        key = request.headers.get("Idempotency-Key")
        if key is not None and not 0 < len(key) <= MAX_IDEMPOTENCY_KEY:
            raise InvalidMessage(f"Idempotency-Key must be 1-{MAX_IDEMPOTENCY_KEY} characters")
        req = OrderRequest(
            symbol=data["symbol"],
            side=Side(data["side"]),
            order_type=OrderType(data["order_type"]),
            quantity=data["quantity"],
            price=data["price"],
        )
        order, created = self.broker.place(identity.user_id, req, key)
        log.info("user=%s order=%s %s", identity.user_id, order.order_id,
                 "placed" if created else "replayed (idempotent)")
        headers = {} if created else {"Idempotent-Replayed": "true"}
        if created:
            self.metrics.order_accepted(time.perf_counter() - started)
        return json_response(order.to_wire(), status=201, headers=headers)

    async def list_orders(self, request: web.Request) -> web.Response:
        identity = self.identify(request)
        status = request.query.get("status")
        if status is not None and status not in {s.value for s in OrderStatus}:
            raise InvalidMessage(f"unknown status {status!r}")
        orders = self.broker.list_orders(identity.user_id, status)
        return json_response([o.to_wire() for o in orders])

    async def get_order(self, request: web.Request) -> web.Response:
        identity = self.identify(request)
        order = self.broker.get(identity.user_id, request.match_info["order_id"])
        return json_response(order.to_wire())

    async def order_fills(self, request: web.Request) -> web.Response:
        identity = self.identify(request)
        fills = self.broker.fills(identity.user_id, request.match_info["order_id"])
        return json_response(fills)

    async def cancel_order(self, request: web.Request) -> web.Response:
        identity = self.writer(request, ":cancel")
        order_id = request.match_info["order_id"]
        if self.broker.owner_of(order_id) != identity.user_id:
            raise NotFound(f"no order {order_id!r}")
        order = self.broker.cancel(identity.user_id, order_id)
        return json_response(order.to_wire())

    # -- strategies --------------------------------------------------------------------
    async def strategy_kinds(self, request: web.Request) -> web.Response:
        return json_response(describe_kinds())

    async def create_strategy(self, request: web.Request) -> web.Response:
        identity = self.writer(request)
        data = schemas.load(schemas.STRATEGY, await self.body(request))
        run = self.strategies.create(identity.user_id, data["kind"], data["symbol"],
                                     data["params"], data["quantity"], data["auto_trade"])
        log.info("user=%s strategy=%s created (%s %s)", identity.user_id, run.strategy_id,
                 run.kind, run.symbol)
        return json_response(run.to_wire(), status=201)

    async def list_strategies(self, request: web.Request) -> web.Response:
        identity = self.identify(request)
        return json_response([r.to_wire() for r in self.strategies.list_runs(identity.user_id)])

    async def get_strategy(self, request: web.Request) -> web.Response:
        identity = self.identify(request)
        run = self.strategies.get(identity.user_id, request.match_info["strategy_id"])
        return json_response(run.to_wire())

    async def start_strategy(self, request: web.Request) -> web.Response:
        identity = self.writer(request)
        run = self.strategies.start(identity.user_id, request.match_info["strategy_id"])
        return json_response(run.to_wire())

    async def stop_strategy(self, request: web.Request) -> web.Response:
        identity = self.writer(request)
        run = self.strategies.stop(identity.user_id, request.match_info["strategy_id"])
        return json_response(run.to_wire())

    async def delete_strategy(self, request: web.Request) -> web.Response:
        identity = self.writer(request)
        self.strategies.delete(identity.user_id, request.match_info["strategy_id"])
        return web.Response(status=204)


def _address(request: web.Request) -> str:
    """The key for per-address login throttling: the TCP peer's IPv4 address, or
    its IPv6 /64 (one subscriber's prefix: a host picks any address inside it)."""
    remote = request.remote or "unknown"
    try:
        ip = ipaddress.ip_address(remote)
    except ValueError:
        return remote
    if ip.version == 6 and ip.ipv4_mapped is None:
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip.ipv4_mapped or ip) if ip.version == 6 else str(ip)
