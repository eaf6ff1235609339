"""/api/openapi.json and /api/asyncapi.json are complete and true.

Complete: every route the app serves, every request event the core answers
and every schema in ``protocol/schemas.py`` is documented (a new one fails
here until it is). True: real answers and real events, over Socket.IO and
the plain WebSocket, validate against the documented JSON Schemas, and the
documented request examples are accepted by the server.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import jsonschema
import pytest

from hts_realtime.protocol import schemas
from hts_realtime.roles import create_app
from hts_realtime.settings import Settings
from hts_realtime.spec.jsonschema import request_schemas
from hts_realtime.spec.openapi import ROUTES, app_routes
from tests.support import Client, Server
from tests.trading import wait_order

JSON = dict[str, Any]


@pytest.fixture(scope="module")
def docs(server: Server) -> tuple[JSON, JSON]:
    status, openapi, headers = server.http("GET", "/api/openapi.json")
    assert status == 200 and headers["Content-Type"].startswith("application/json")
    status, asyncapi, _ = server.http("GET", "/api/asyncapi.json")
    assert status == 200
    return openapi, asyncapi


def check(doc: JSON, schema: JSON, instance: Any, what: str) -> None:
    """Validate against a schema that may $ref the document's components."""
    root = {"components": doc["components"], **schema}
    errors = sorted(jsonschema.Draft202012Validator(root).iter_errors(instance), key=str)
    assert not errors, f"{what} does not match its documented schema: {errors[0].message} " \
                       f"at {list(errors[0].absolute_path)}\n{json.dumps(instance)[:500]}"


def response_schema(openapi: JSON, method: str, path: str, status: int) -> JSON:
    op = openapi["paths"][path][method.lower()]
    assert str(status) in op["responses"], f"{method} {path} answered an undocumented {status}"
    content = op["responses"][str(status)].get("content", {})
    return dict(content.get("application/json", {}).get("schema", {}))


def test_every_route_is_documented(docs: tuple[JSON, JSON], tmp_path: Path) -> None:
    openapi, _ = docs
    assert openapi["openapi"] == "3.1.0"
    served = {(m.upper(), p) for p, ops in openapi["paths"].items() for m in ops}
    undocumented = sorted((m.upper(), p) for p, ops in openapi["paths"].items()
                          for m, op in ops.items() if op.get("x-undocumented"))
    assert undocumented == [], f"document these routes in hts_realtime/spec/openapi.py: " \
                               f"{undocumented}"
    app = create_app(Settings.load({}, demo=True, database=str(tmp_path / "spec.db")))
    routes = set(app_routes(app))
    assert served == routes
    stale = sorted(set(ROUTES) - routes)
    assert stale == [], f"documented routes the app does not serve: {stale}"


def test_every_schema_and_request_event_is_documented(docs: tuple[JSON, JSON]) -> None:
    openapi, asyncapi = docs
    documented = set(openapi["components"]["schemas"]) | set(asyncapi["components"]["schemas"])
    # a query's schema is documented as the operation's parameters
    documented |= {type(r.query_schema).__name__ for r in ROUTES.values()
                   if r.query_schema is not None}
    missing = sorted(set(request_schemas()) - documented)
    assert missing == [], f"schemas in protocol/schemas.py that no document uses: {missing}"
    assert asyncapi["asyncapi"] == "3.0.0"
    undocumented = [n for n, m in asyncapi["components"]["messages"].items()
                    if m.get("x-undocumented")]
    assert undocumented == [], f"document these events in hts_realtime/spec/asyncapi.py: " \
                               f"{undocumented}"
    for name, op in asyncapi["operations"].items():
        for msg in op["messages"]:
            target = msg["$ref"].rsplit("/", 1)[1]
            assert target in asyncapi["channels"]["socketio"]["messages"], (name, target)


def test_every_order_example_is_accepted(docs: tuple[JSON, JSON], server: Server) -> None:
    openapi, _ = docs
    token = server.add_user("spec_examples")
    examples = openapi["paths"]["/api/orders"]["post"]["requestBody"]["content"][
        "application/json"]["examples"]
    assert set(examples) == {"market_buy", "limit_buy", "market_sell", "limit_sell"}
    for name in ("market_buy", "limit_buy", "market_sell", "limit_sell"):
        body = examples[name]["value"]
        schemas.load(schemas.ORDER, body)
        status, order, _ = server.http("POST", "/api/orders", body, token=token)
        assert status == 201, (name, order)
        check(openapi, response_schema(openapi, "POST", "/api/orders", 201), order, name)
        if name == "market_buy":
            wait_order(server, token, order["order_id"], {"filled"})


async def test_http_answers_match_the_document(docs: tuple[JSON, JSON], server: Server) -> None:
    openapi, _ = docs
    token = server.add_user("spec_http")
    admin = server.login("admin", "adminpass")
    status, order, _ = server.http("POST", "/api/orders", {
        "symbol": "005930", "side": "buy", "order_type": "market", "quantity": 1}, token=token)
    assert status == 201
    wait_order(server, token, order["order_id"], {"filled"})
    status, strategy, _ = server.http("POST", "/api/strategies", {
        "kind": "rsi", "symbol": "005930", "quantity": 1}, token=token)
    assert status == 201
    oid, sid = order["order_id"], strategy["strategy_id"]
    status, resting, _ = server.http("POST", "/api/orders", {
        "symbol": "005930", "side": "buy", "order_type": "limit", "quantity": 2,
        "price": 52_500}, token=token)  # the day's lower limit: it rests
    assert status == 201
    rid = resting["order_id"]
    calls: list[tuple[str, str, Any, str | None]] = [
        ("POST", "/api/auth/login", {"username": "testuser", "password": "testpass"}, None),
        ("POST", "/api/auth/login", {"username": "testuser", "password": "nope"}, None),
        ("GET", "/api/ws/status", None, admin), ("GET", "/api/ws/status", None, token),
        ("GET", "/healthz", None, None), ("GET", "/readyz", None, None),
        ("GET", "/api/symbols", None, None), ("GET", "/api/account", None, token),
        ("GET", "/api/costs", None, None),
        ("GET", "/api/account", None, None),
        ("GET", "/api/orders", None, token), ("GET", f"/api/orders/{oid}", None, token),
        ("GET", "/api/orders?view=open&day=today&limit=1", None, token),
        ("GET", "/api/orders?view=sideways", None, token),
        ("POST", f"/api/orders/{rid}/amend", {"quantity": 1}, token),
        ("GET", f"/api/orders/{rid}", None, token),  # replaced
        ("POST", f"/api/orders/{rid}/amend", {"quantity": 1}, token),  # 409
        ("POST", f"/api/orders/{rid}/amend", {}, token),  # 400
        ("GET", "/api/trades?symbol=005930&limit=5", None, None),
        ("GET", "/api/trades?symbol=999999", None, None),
        ("GET", "/api/orders/ORDnope", None, token),
        ("GET", f"/api/orders/{oid}/fills", None, token),
        ("DELETE", f"/api/orders/{oid}", None, token),
        ("POST", "/api/orders", {"symbol": "005930", "side": "buy", "quantity": 0}, token),
        ("GET", "/api/strategy-kinds", None, None), ("GET", "/api/strategies", None, token),
        ("GET", f"/api/strategies/{sid}", None, token),
        ("POST", f"/api/strategies/{sid}/start", None, token),
        ("GET", f"/api/strategies/{sid}/signals", None, token),
        ("POST", f"/api/strategies/{sid}/stop", None, token),
        ("GET", "/api/watchlist", None, token),
        ("PUT", "/api/watchlist", {"symbols": ["005930", "000660"]}, token),
        ("PUT", "/api/watchlist", {"symbols": ["nope"]}, token),
        ("POST", "/api/auth/password", {"current_password": "wrong-one",
                                        "new_password": "a-new-password"}, token),
        ("POST", "/api/auth/logout", {"everywhere": False}, server.add_user("spec_bye")),
        ("GET", "/api/candles?symbol=005930&interval=1m&limit=5", None, None),
        ("GET", "/api/candles?symbol=005930&interval=2m", None, None),
        ("GET", "/api/market", None, None),
    ]
    templates = {p for p in openapi["paths"]}
    for method, path, body, tok in calls:
        status, answer, _ = server.http(method, path, body, token=tok)
        template = next(t for t in templates if _matches(t, path.split("?")[0]))
        check(openapi, response_schema(openapi, method, template, status), answer,
              f"{method} {path} -> {status}")


def _matches(template: str, path: str) -> bool:
    a, b = template.split("/"), path.split("/")
    return len(a) == len(b) and all(x == y or x.startswith("{") for x, y in zip(a, b, strict=True))


async def test_events_match_the_document(docs: tuple[JSON, JSON], server: Server,
                                         clients: Callable[[], Client]) -> None:
    _, asyncapi = docs
    token = server.add_user("spec_events")
    status, strategy, _ = server.http("POST", "/api/strategies", {
        "kind": "breakout", "symbol": "005930", "params": {"window": 2}, "quantity": 1,
        "auto_trade": True}, token=token)
    assert status == 201
    sid = strategy["strategy_id"]
    c = await clients().connect(server.url, auth={
        "token": token, "topics": ["price:005930", "order:*", f"strategy:{sid}",
                                   "orderbook:005930", "trade:005930"]})
    await c.wait_for("connected")
    await c.call("get_orderbook", {"symbol": "005930"})
    await c.wait_for("orderbook_update")
    await c.wait_for("trade_update")
    acks = [await c.call("ping", {"timestamp": 1}), await c.call("get_price", {"symbol": "005930"}),
            await c.call("get_account", {}), await c.call("subscribe", {"topic": "price:000660"}),
            await c.call("unsubscribe", {"topics": ["price:000660"]}),
            await c.call("get_price", {"symbol": "NOPE"})]
    check(asyncapi, {"$ref": "#/components/schemas/RequestFailed"}, acks[-1], "a refused ack")
    assert server.http("POST", f"/api/strategies/{sid}/start", token=token)[0] == 200
    await c.wait_for("strategy_status")
    await c.wait_for("price_update", 2)
    status, _, _ = server.http("POST", "/api/orders", {
        "symbol": "005930", "side": "buy", "order_type": "market", "quantity": 1}, token=token)
    await c.wait_for("order_update", 2)
    status, resting, _ = server.http("POST", "/api/orders", {
        "symbol": "005930", "side": "buy", "order_type": "limit", "quantity": 2,
        "price": 52_500}, token=token)
    status, _, _ = server.http("POST", f"/api/orders/{resting['order_id']}/amend",
                               {"quantity": 1}, token=token)
    assert status == 201
    while not any(u["data"]["status"] == "replaced" for u in c.events["order_update"]):
        await c.wait_for("order_update", len(c.events["order_update"]) + 1)
    # a resume from the future: resync_required; and a batching connection
    late = await clients().connect(server.url, auth={"token": token, "last_seq": 10**9,
                                                     "batch": True, "topics": ["price:005930"]})
    await late.wait_for("resync_required")
    await late.wait_for("price_batch")
    messages = asyncapi["components"]["messages"]
    seen = [*c.order, *late.order]
    for event, payload in seen:
        assert event in messages, f"the server sent {event!r}, which the AsyncAPI lacks"
        check(asyncapi, messages[event]["payload"], payload, f"event {event}")
    assert {"connected", "pong", "price", "account", "subscribed", "unsubscribed", "error",
            "price_update", "price_batch", "order_update", "strategy_status",
            "resync_required", "orderbook", "orderbook_update", "trade_update"} <= \
        {e for e, _ in seen}

    # the plain WebSocket carries the same payloads
    ws_url = server.url.replace("http", "ws") + f"/api/ws?token={token}&topics=price:005930"
    async with aiohttp.ClientSession() as http, http.ws_connect(ws_url) as ws:
        await ws.send_json({"type": "ping", "request_id": "r1"})
        got: list[JSON] = []
        async with asyncio.timeout(10):
            while {"connected", "pong", "price_update"} - {m["type"] for m in got}:
                got.append(json.loads((await ws.receive()).data))
    for frame in got:
        payload = {k: v for k, v in frame.items() if k != "request_id"}
        check(asyncapi, messages[frame["type"]]["payload"], payload, f"frame {frame['type']}")


def test_http_json_keeps_korean_readable(server: Server) -> None:
    import urllib.request

    for path in ("/api/symbols", "/api/openapi.json"):
        with urllib.request.urlopen(server.url + path, timeout=10) as r:
            raw = r.read()
            assert r.headers["Content-Type"] == "application/json; charset=utf-8"
        assert b"\\u" not in raw, f"{path} escapes non-ASCII"
    with urllib.request.urlopen(server.url + "/api/symbols", timeout=10) as r:
        assert "삼성전자".encode() in r.read()


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        own = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return own + [r for value in node.values() for r in _refs(value)]
    if isinstance(node, list):
        return [r for value in node for r in _refs(value)]
    return []


def test_every_reference_resolves(docs: tuple[JSON, JSON]) -> None:
    for doc in docs:
        refs = _refs(doc)
        assert refs
        for target in set(refs):
            assert target.startswith("#/"), target
            node: Any = doc
            for part in target[2:].split("/"):
                assert isinstance(node, dict) and part in node, f"dangling $ref {target}"
                node = node[part]
