"""``/api/account`` and ``/api/orders``: the paper broker over HTTP (where the engine is).

Handlers are thin: parse, authenticate, call the broker, answer JSON.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import time
from datetime import date, datetime

from aiohttp import web

from hts_realtime.domain.market_hours import KST
from hts_realtime.domain.orders import OrderStatus, OrderType, Side
from hts_realtime.edge.http.common import Callers, json_response, read_json
from hts_realtime.engine.broker import AmendRequest, OrderRequest, PaperBroker
from hts_realtime.engine.order_store import OrderQuery
from hts_realtime.ops.metrics import Metrics
from hts_realtime.protocol import schemas
from hts_realtime.protocol.errors import InvalidMessage

log = logging.getLogger("hts.http")

MAX_IDEMPOTENCY_KEY = 128


class OrderRoutes:
    def __init__(self, callers: Callers, broker: PaperBroker, metrics: Metrics) -> None:
        self.callers = callers
        self.broker = broker
        self.metrics = metrics

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/api/account", self.account),
            web.post("/api/orders", self.place_order),
            web.get("/api/orders", self.list_orders),
            web.get("/api/orders/{order_id}", self.get_order),
            web.delete("/api/orders/{order_id}", self.cancel_order),
            web.post("/api/orders/{order_id}/amend", self.amend_order),
            web.get("/api/orders/{order_id}/fills", self.order_fills),
        ]

    async def account(self, request: web.Request) -> web.Response:
        identity = await self.callers.identify(request)
        return json_response(await self.broker.account(identity.user_id))

    async def place_order(self, request: web.Request) -> web.Response:
        started = time.perf_counter()
        identity = await self.callers.writer(request)
        data = schemas.load(schemas.ORDER, await read_json(request))
        key = _idempotency_key(request)
        req = OrderRequest(
            symbol=data["symbol"],
            side=Side(data["side"]),
            order_type=OrderType(data["order_type"]),
            quantity=data["quantity"],
            price=data["price"],
            client_order_id=data.get("client_order_id"),
        )
        order, created = await self.broker.place(identity.user_id, req, key)
        # DEBUG: the journal is every order's record; an INFO line per order was 8 % of
        # the engine's CPU at 1,000 orders/s
        log.debug("user=%s order=%s %s", identity.user_id, order.order_id,
                 "placed" if created else "replayed (idempotent)")
        headers = {} if created else {"Idempotent-Replayed": "true"}
        if created:
            self.metrics.order_accepted(time.perf_counter() - started)
        return json_response(order.to_wire(), status=201, headers=headers)

    async def amend_order(self, request: web.Request) -> web.Response:
        """정정: the order's unfilled rest is replaced by a new order (201, as placing one:
        an amendment is a new order, on the same write budget)."""
        identity = await self.callers.writer(request)
        data = schemas.load(schemas.AMEND, await read_json(request))
        key = _idempotency_key(request)
        req = AmendRequest(request.match_info["order_id"], data.get("price"),
                           data.get("quantity"))
        order, created = await self.broker.amend(identity.user_id, req, key)
        log.debug("user=%s order=%s amended by %s%s", identity.user_id, req.order_id,
                  order.order_id, "" if created else " (idempotent replay)")
        headers = {} if created else {"Idempotent-Replayed": "true"}
        return json_response(order.to_wire(), status=201, headers=headers)

    async def list_orders(self, request: web.Request) -> web.Response:
        identity = await self.callers.identify(request)
        q = schemas.load(schemas.ORDERS_QUERY, dict(request.query))
        status = q.get("status")
        if status is not None and status not in {s.value for s in OrderStatus}:
            raise InvalidMessage(f"unknown status {status!r}")
        view: str = q["view"]
        day = _day(q.get("day", "all"))
        query = OrderQuery(view=view, day=day, status=status,
                           after=_decode_cursor(q["cursor"]) if "cursor" in q else None,
                           limit=q["limit"])
        orders, last = await self.broker.order_page(identity.user_id, query)
        headers = {}
        if last is not None:  # more: where the next page starts, as a header (the body
            # stays the array it always was)
            cursor = _encode_cursor(last)
            headers["X-Next-Cursor"] = cursor
            headers["Link"] = f'<{request.rel_url.update_query(cursor=cursor)}>; rel="next"'
        return json_response([o.to_wire() for o in orders], headers=headers)

    async def get_order(self, request: web.Request) -> web.Response:
        identity = await self.callers.identify(request)
        order = await self.broker.get(identity.user_id, request.match_info["order_id"])
        return json_response(order.to_wire())

    async def order_fills(self, request: web.Request) -> web.Response:
        identity = await self.callers.identify(request)
        fills = await self.broker.fills(identity.user_id, request.match_info["order_id"])
        return json_response(fills)

    async def cancel_order(self, request: web.Request) -> web.Response:
        identity = await self.callers.writer(request, ":cancel")
        order = await self.broker.cancel(identity.user_id, request.match_info["order_id"])
        return json_response(order.to_wire())


def _day(text: str) -> date | None:
    """A KST calendar day: ``today``, ``YYYY-MM-DD``, or None for ``all``."""
    if text == "all":
        return None
    if text == "today":
        return datetime.now(KST).date()
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise InvalidMessage(f"day: no such date {text!r}") from None
    if not 1970 <= day.year <= 9998:  # (year 1's KST midnight is not a UTC datetime)
        raise InvalidMessage(f"day: {text!r} is out of range")
    return day


def _encode_cursor(position: tuple[str, str]) -> str:
    """Opaque to clients: the last row's ``(created_at, order_id)``, base64url."""
    raw = json.dumps(list(position), separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[str, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        created_at, order_id = json.loads(raw)
        datetime.fromisoformat(created_at)
    except (binascii.Error, ValueError, TypeError):
        raise InvalidMessage("cursor: not a cursor this server gave") from None
    if not (isinstance(created_at, str) and isinstance(order_id, str)):
        raise InvalidMessage("cursor: not a cursor this server gave")
    return created_at, order_id


def _idempotency_key(request: web.Request) -> str | None:
    key = request.headers.get("Idempotency-Key")
    if key is not None and not 0 < len(key) <= MAX_IDEMPOTENCY_KEY:
        raise InvalidMessage(f"Idempotency-Key must be 1-{MAX_IDEMPOTENCY_KEY} characters")
    return key
