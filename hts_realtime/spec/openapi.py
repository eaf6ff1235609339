"""OpenAPI 3.1 for the HTTP API, generated from the app's router.

``ROUTES`` holds what the router cannot say: a summary, who may call, the
request schema (from ``protocol/schemas.py``), the answers. A route the
router has and ``ROUTES`` lacks is still listed, marked ``x-undocumented``
(and ``tests/test_spec.py`` fails on it); an entry without a route is a test
failure too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from marshmallow import Schema

from hts_realtime.protocol import schemas
from hts_realtime.spec.jsonschema import request_schemas, schema_of
from hts_realtime.spec.shapes import SHAPES, ref

JSON = dict[str, Any]
VERSION = "0.1.0"
# served by other means: the Socket.IO endpoint (AsyncAPI) and the dashboard's files
NOT_HTTP_API = ("/socket.io/", "/", "/static/")
# not for clients: the scale-out engine's routes for its gateways (private network)
INTERNAL_PREFIX = "/internal/"


@dataclass(frozen=True)
class Route:
    summary: str
    auth: str = "none"  # "none", "bearer" or "admin"
    body: Schema | None = None
    query: tuple[tuple[str, JSON, str], ...] = ()
    query_schema: Schema | None = None  # query parameters validated by this schema
    ok: tuple[int, JSON | None, str] = (200, None, "")
    errors: tuple[int, ...] = ()
    examples: dict[str, JSON] = field(default_factory=dict)
    headers: tuple[tuple[str, str], ...] = ()
    description: str = ""


def array(name: str) -> JSON:
    return {"type": "array", "items": ref(name)}


ORDER_EXAMPLES = {
    "market_buy": {"symbol": "005930", "side": "buy", "order_type": "market", "quantity": 10},
    "limit_buy": {"symbol": "005930", "side": "buy", "order_type": "limit", "quantity": 10,
                  "price": 74500},
    "market_sell": {"symbol": "005930", "side": "sell", "order_type": "market", "quantity": 5},
    "limit_sell": {"symbol": "005930", "side": "sell", "order_type": "limit", "quantity": 3,
                   "price": 76000},
}

ROUTES: dict[tuple[str, str], Route] = {
    ("POST", "/api/auth/login"): Route(
        "Log in: a bearer token for HTTP and the Socket.IO handshake", body=schemas.LOGIN,
        ok=(200, ref("Login"), "the token"), errors=(400, 401, 429),
        description="wrong passwords are throttled per username and per address, and "
                    "password hashing is bounded: 429 `rate_limited` with `Retry-After`"),
    ("POST", "/api/auth/refresh"): Route(
        "Exchange a refresh token for a new access token and the next refresh token",
        body=schemas.REFRESH, ok=(200, ref("Login"), "a new token pair (as login)"),
        errors=(400, 401),
        description="a refresh token works once: the answer carries the next one. "
                    "Presenting a used one again revokes every token of that login (401 "
                    "`auth_revoked`; its open connections close); an expired one is "
                    "`token_expired`, an unknown one `auth_failed`"),
    ("POST", "/api/auth/logout"): Route(
        "Log out: revoke the presented token and its refresh tokens, or every token of "
        "the user", auth="bearer",
        body=schemas.LOGOUT, ok=(204, None, "revoked"), errors=(400,),
        examples={"this_token": {}, "everywhere": {"everywhere": True}},
        description="the body is optional; open connections holding a revoked token are "
                    "closed with `auth_revoked` within a second"),
    ("POST", "/api/auth/password"): Route(
        "Change the caller's password; every older token is revoked", auth="bearer",
        body=schemas.PASSWORD, ok=(200, ref("Login"), "a new token"), errors=(400, 429),
        description="401 `auth_failed` for a wrong `current_password` (throttled like a "
                    "login)"),
    ("GET", "/api/ws/status"): Route(
        "Connections, subscriptions and publish counters", auth="admin",
        ok=(200, ref("Status"), "the server's state")),
    ("GET", "/healthz"): Route("Liveness: the process serves HTTP",
                               ok=(200, ref("Health"), "alive")),
    ("GET", "/readyz"): Route(
        "Readiness: database, market feed (and Redis in scale-out mode)",
        ok=(200, ref("Ready"), "ready"), errors=(503,),
        description="503 carries the same body with `status: not_ready` and each failing "
                    "check's reason"),
    ("GET", "/metrics"): Route(
        "Prometheus metrics (text format)", auth="admin",
        ok=(200, {"type": "string"}, "text/plain; version=0.0.4"),
        description="also served without authentication on HTTS_METRICS_PORT when set"),
    ("GET", "/api/symbols"): Route("The symbol master", ok=(200, array("Symbol"), "symbols")),
    ("GET", "/api/candles"): Route(
        "Candles (OHLCV, KST boundaries) built from the trades, with a seeded history",
        query_schema=schemas.CANDLES, ok=(200, ref("Candles"), "oldest first, the live one last"),
        errors=(400,)),
    ("GET", "/api/trades"): Route(
        "A symbol's last trades (체결), oldest first, with 전일 종가",
        query_schema=schemas.TRADES_QUERY, ok=(200, ref("RecentTrades"), "the trades"),
        errors=(400,),
        description="what a 체결 list shows the moment a symbol is opened (the engine keeps "
                    "the last 100 per symbol since it started); `trade_update` on "
                    "`trade:{symbol}` continues from there. `prev_close` (전일 종가) is what "
                    "Korean HTS colours 체결가 against (red above, blue below)"),
    ("GET", "/api/market"): Route("The market session", ok=(200, ref("Market"), "the status")),
    ("GET", "/api/account"): Route("The caller's paper account", auth="bearer",
                                   ok=(200, ref("Account"), "the account")),
    ("POST", "/api/orders"): Route(
        "Place a paper order", auth="bearer", body=schemas.ORDER,
        ok=(201, ref("Order"), "the order, as order_update.data"), errors=(400, 409, 429),
        examples=ORDER_EXAMPLES,
        headers=(("Idempotency-Key", "1-128 characters: a retry with the same key returns "
                  "the same order (with `Idempotent-Replayed: true`)"),),
        description="`order_type` `market` fills at the next traded prices and takes no "
                    "`price`; `limit` (the default) needs `price` on the KRX tick grid within "
                    "the day's ±30% band. A buy holds cash, a sell holds shares."),
    ("GET", "/api/orders"): Route(
        "The caller's orders, newest first: 미체결, 체결 or 전체, one day or all, by pages",
        auth="bearer", query_schema=schemas.ORDERS_QUERY,
        ok=(200, array("Order"), "orders, newest first; `X-Next-Cursor` and `Link` "
                                 "(rel=\"next\") when there are more"), errors=(400,),
        description="Every parameter is optional; without them the answer is the newest 500 "
                    "orders of every day, as it always was. `view`: `open` (accepted or "
                    "partially filled: 미체결), `filled` (at least one fill, whatever the "
                    "status now: 체결) or `all` (전체, the default). `day`: a KST calendar day "
                    "`YYYY-MM-DD`, `today` (당일) or `all` (the default). `status`: only this "
                    "status too. `limit`: 1-500 rows, default 500. When more rows follow, the "
                    "answer has the headers `X-Next-Cursor: <cursor>` and `Link: "
                    "<the same query with cursor=...>; rel=\"next\"`: pass `cursor` (with the "
                    "same `view`, `day`, `status`) for the next page; the last page has "
                    "neither. Orders placed meanwhile never shift a page: they sort newest, "
                    "before the first."),
    ("GET", "/api/orders/{order_id}"): Route("One of the caller's orders", auth="bearer",
                                             ok=(200, ref("Order"), "the order"), errors=(404,)),
    ("DELETE", "/api/orders/{order_id}"): Route(
        "Cancel the unfilled rest of an order", auth="bearer",
        ok=(200, ref("Order"), "the cancelled order"), errors=(404, 409, 429)),
    ("POST", "/api/orders/{order_id}/amend"): Route(
        "Amend (정정) a resting limit order: a new price and/or quantity, as cancel-and-replace",
        auth="bearer", body=schemas.AMEND,
        ok=(201, ref("Order"), "the new order (`original_order_id`: the amended one)"),
        errors=(400, 404, 409, 429),
        examples={"price": {"price": 74000}, "quantity": {"quantity": 5},
                  "both": {"price": 74000, "quantity": 12}},
        headers=(("Idempotency-Key", "1-128 characters: a retry with the same key returns "
                  "the same new order (with `Idempotent-Replayed: true`)"),),
        description="The order's unfilled rest closes as `replaced` (`replaced_by`: the new "
                    "order) and a new limit order rests for `quantity` (default: the rest) at "
                    "`price` (default: unchanged), in one transaction: the hold moves "
                    "exactly. A lower quantity at the same price keeps the original's time "
                    "priority; a new price or a larger quantity queues last. 409 "
                    "`order_not_amendable` once the order is no longer open; 400 "
                    "`invalid_order` for a market or a strategy's order or no change."),
    ("GET", "/api/orders/{order_id}/fills"): Route(
        "An order's fills", auth="bearer", ok=(200, array("Fill"), "fills"), errors=(404,)),
    ("GET", "/api/strategy-kinds"): Route("Strategy kinds and their default parameters",
                                          ok=(200, ref("StrategyKinds"), "kinds")),
    ("POST", "/api/strategies"): Route(
        "Create a strategy run", auth="bearer", body=schemas.STRATEGY,
        ok=(201, ref("Strategy"), "the strategy"), errors=(400, 429),
        examples={"breakout": {"kind": "breakout", "symbol": "005930", "params": {"window": 20},
                               "quantity": 2, "auto_trade": True}}),
    ("GET", "/api/strategies"): Route("The caller's strategies", auth="bearer",
                                      ok=(200, array("Strategy"), "strategies")),
    ("GET", "/api/strategies/{strategy_id}"): Route(
        "One strategy", auth="bearer", ok=(200, ref("Strategy"), "the strategy"), errors=(404,)),
    ("POST", "/api/strategies/{strategy_id}/start"): Route(
        "Start a strategy", auth="bearer", ok=(200, ref("Strategy"), "running"),
        errors=(404, 429)),
    ("POST", "/api/strategies/{strategy_id}/stop"): Route(
        "Stop a strategy", auth="bearer", ok=(200, ref("Strategy"), "stopped"),
        errors=(404, 429)),
    ("DELETE", "/api/strategies/{strategy_id}"): Route(
        "Delete a strategy", auth="bearer", ok=(204, None, "deleted"), errors=(404, 429)),
    ("GET", "/api/strategies/{strategy_id}/signals"): Route(
        "A strategy's latest signals, newest first", auth="bearer",
        query_schema=schemas.SIGNALS_QUERY, ok=(200, ref("Signals"), "signals"),
        errors=(400, 404)),
    ("GET", "/api/costs"): Route(
        "The brokerage fee and sell tax rates", ok=(200, ref("Costs"), "the rates"),
        description="decimal strings: a buy holds price + ceil(price x fee rate) per share"),
    ("GET", "/api/watchlist"): Route("The caller's watchlist", auth="bearer",
                                     ok=(200, ref("Watchlist"), "symbols")),
    ("PUT", "/api/watchlist"): Route(
        "Replace the caller's watchlist", auth="bearer", body=schemas.WATCHLIST,
        ok=(200, ref("Watchlist"), "the stored list"), errors=(400, 429)),
    ("GET", "/api/ws"): Route(
        "The plain-WebSocket framing of the protocol (upgrade)",
        ok=(101, None, "switching protocols"), errors=(400, 401, 403, 429),
        description="see the AsyncAPI document (/api/asyncapi.json), channel `plain`; 403 "
                    "`forbidden`: a browser Origin HTTS_CORS_ORIGINS does not accept; 429: "
                    "the per-address connection limits"),
    ("GET", "/api/openapi.json"): Route("This document", ok=(200, {"type": "object"}, "OpenAPI")),
    ("GET", "/api/asyncapi.json"): Route("The AsyncAPI 3 document of the events",
                                         ok=(200, {"type": "object"}, "AsyncAPI")),
}


def app_routes(app: web.Application) -> list[tuple[str, str]]:
    """Every (method, path) the app serves, except Socket.IO and the dashboard's files."""
    out = []
    for route in app.router.routes():
        info = route.resource.get_info() if route.resource is not None else {}
        path = info.get("path") or info.get("formatter") or info.get("prefix", "")
        if route.method in ("HEAD", "*") or path in NOT_HTTP_API or \
                path.startswith(("/static", INTERNAL_PREFIX)):
            continue
        out.append((route.method, path))
    return sorted(set(out))


def build_openapi(app: web.Application) -> JSON:
    paths: dict[str, JSON] = {}
    used: set[str] = set()
    by_instance = {id(s): name for name, s in request_schemas().items()}
    for method, path in app_routes(app):
        doc = ROUTES.get((method, path))
        op = _operation(method, path, doc, by_instance, used) if doc else {
            "summary": "UNDOCUMENTED", "x-undocumented": True,
            "responses": {"default": {"description": "unknown"}}}
        paths.setdefault(path, {})[method.lower()] = op
    schemas = {name: schema_of(request_schemas()[name]) for name in sorted(used)}
    # only the shapes this document refers to: the event payloads belong to the AsyncAPI
    # document, and a generator must not meet `account` beside `Account`
    schemas.update({name: SHAPES[name] for name in sorted(_referenced(paths))})
    components: JSON = {"schemas": schemas, "securitySchemes": {
        "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT",
                   "description": "from POST /api/auth/login or `hts-realtime token`"}}}
    return {
        "openapi": "3.1.0",
        "info": {"title": "hts-realtime HTTP API", "version": VERSION,
                 "description": "Amounts are integer KRW. Every error body is "
                                "`{\"error\":{\"code\",\"message\"}}`.",
                 "license": {"name": "MIT", "identifier": "MIT"}},
        "jsonSchemaDialect": "https://json-schema.org/draft/2020-12/schema",
        "servers": [{"url": "/", "description": "the server that serves this document"}],
        "security": [{"bearer": []}],
        "paths": paths,
        "components": components,
    }


def _referenced(node: Any, found: set[str] | None = None) -> set[str]:
    """Every shape ``node`` refers to, directly or through other shapes."""
    found = set() if found is None else found
    if isinstance(node, dict):
        target = node.get("$ref")
        if isinstance(target, str) and target.startswith("#/components/schemas/"):
            name = target.rsplit("/", 1)[1]
            if name in SHAPES and name not in found:
                found.add(name)
                _referenced(SHAPES[name], found)
        for value in node.values():
            _referenced(value, found)
    elif isinstance(node, list):
        for value in node:
            _referenced(value, found)
    return found


RETRY_AFTER = {"Retry-After": {"description": "seconds to wait before trying again",
                               "schema": {"type": "integer", "minimum": 1}}}


def _operation(method: str, path: str, doc: Route, by_instance: dict[int, str],
               used: set[str]) -> JSON:
    status, schema, what = doc.ok
    ok: JSON = {"description": what or "ok"}
    if schema is not None:
        content_type = "text/plain" if path == "/metrics" else "application/json"
        ok["content"] = {content_type: {"schema": schema}}
    responses: JSON = {str(status): ok}
    errors = set(doc.errors) | ({401} if doc.auth != "none" else set()) | \
        ({403} if doc.auth == "admin" else set())
    for code in sorted(errors):
        responses[str(code)] = {"description": "refused",
                                "content": {"application/json": {"schema": ref("Error")}}}
        if code in (429, 503):
            responses[str(code)]["headers"] = RETRY_AFTER
    if not any(400 <= c < 500 for c in errors):  # any route: a malformed request, 404, 405
        responses["4XX"] = {"description": "refused (see the README's error codes)",
                            "content": {"application/json": {"schema": ref("Error")}}}
    op: JSON = {"summary": doc.summary, "operationId": _operation_id(method, path),
                "responses": responses}
    if doc.description:
        op["description"] = doc.description
    if doc.auth == "none":
        op["security"] = []  # public: overrides the document's bearer default
    else:
        op["security"] = [{"bearer": []}]
        if doc.auth == "admin":
            op["x-requires-role"] = "admin"
    params = [{"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
              for name in re.findall(r"{(\w+)}", path)]
    params += [{"name": n, "in": "query", "required": False, "schema": s, "description": d}
               for n, s, d in doc.query]
    if doc.query_schema is not None:
        query = schema_of(doc.query_schema)
        required = set(query.get("required", ()))
        params += [{"name": n, "in": "query", "required": n in required, "schema": s}
                   for n, s in query["properties"].items() if n != "type"]
    params += [{"name": n, "in": "header", "required": False, "schema": {"type": "string"},
                "description": d} for n, d in doc.headers]
    if params:
        op["parameters"] = params
    if doc.body is not None:
        name = by_instance[id(doc.body)]
        used.add(name)
        media: JSON = {"schema": ref(name)}
        if doc.examples:
            media["examples"] = {k: {"value": v} for k, v in doc.examples.items()}
        op["requestBody"] = {"required": True, "content": {"application/json": media}}
    return op


def _operation_id(method: str, path: str) -> str:
    words = [w.strip("{}") for w in path.split("/") if w and w != "api"]
    return method.lower() + "_" + "_".join(re.sub(r"\W", "_", w) for w in words)
