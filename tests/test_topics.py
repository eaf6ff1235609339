"""Subscriptions, price streaming, requests and their errors, with python-socketio."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable
from datetime import datetime

import pytest

from hts_realtime.domain.krx import on_grid
from tests.support import Client, Server


async def _client(server: Server, token: str, clients: Callable[[], Client], **auth: object
                  ) -> Client:
    c = await clients().connect(server.url, auth={"token": token, **auth})
    await c.wait_for("connected")
    return c


async def test_subscribe_acks_and_emits_the_seed_reply(server: Server, token: str,
                                                        clients: Callable[[], Client]) -> None:
    c = await _client(server, token, clients)
    ack = await c.call("subscribe", {"topic": "price:005930"})
    assert ack == {"ok": True, "topics": ["price:005930"]}
    sub = (await c.wait_for("subscribed"))[0]
    assert sub == {"type": "subscribed", "topic": "price:005930",
                   "message": "Successfully subscribed to price:005930"}
    # re-subscribing is harmless
    assert (await c.call("subscribe", {"topic": "price:005930"}))["ok"] is True
    ack = await c.call("unsubscribe", {"topics": ["price:005930"]})
    assert ack == {"ok": True, "topics": ["price:005930"]}
    unsub = (await c.wait_for("unsubscribed"))[0]
    assert unsub["type"] == "unsubscribed" and unsub["topic"] == "price:005930"


async def test_price_updates_once_a_second_only_for_subscribed_symbols(
        server: Server, token: str, clients: Callable[[], Client]) -> None:
    c = await _client(server, token, clients)
    loop = asyncio.get_running_loop()
    arrivals: list[float] = []

    @c.sio.on("price_update")
    async def _on(data: dict[str, object]) -> None:
        arrivals.append(loop.time())
        c.events["price_update"].append(data)

    assert (await c.call("subscribe", {"topics": ["price:005930", "price:000660"]}))["ok"]
    await asyncio.sleep(3.6)
    updates = list(c.events["price_update"])
    symbols = [u["symbol"] for u in updates]
    assert set(symbols) == {"005930", "000660"}
    per_symbol = symbols.count("005930")
    assert 2 <= per_symbol <= 5, per_symbol
    for u in updates:
        assert u["type"] == "price_update"
        d = u["data"]
        assert set(d) == {"price", "change", "change_percent", "volume", "timestamp"}
        assert isinstance(d["price"], int) and on_grid(d["price"])
        assert isinstance(d["change"], int) and isinstance(d["volume"], int)
        assert datetime.fromisoformat(d["timestamp"]).tzinfo is not None
    # updates of one symbol are about a second apart (a batch carries both symbols)
    samsung = [t for t, s in zip(arrivals, symbols, strict=True) if s == "005930"]
    gaps = [b - a for a, b in itertools.pairwise(samsung)]
    assert gaps and min(gaps) > 0.7, gaps

    assert (await c.call("unsubscribe", {"topic": "price:005930"}))["ok"]
    await asyncio.sleep(0.3)  # anything already in flight
    before = len(c.events["price_update"])
    await asyncio.sleep(2.2)
    after = [u["symbol"] for u in c.events["price_update"][before:]]
    assert "005930" not in after
    assert "000660" in after


async def test_other_clients_get_nothing_they_did_not_subscribe(
        server: Server, token: str, clients: Callable[[], Client]) -> None:
    a = await _client(server, token, clients, topics=["price:035720"])
    b = await _client(server, token, clients)
    await a.wait_for("price_update", timeout=5)
    await asyncio.sleep(1.2)
    assert not b.events["price_update"]


async def test_auth_topics_subscribe_in_the_handshake(
        server: Server, token: str, clients: Callable[[], Client]) -> None:
    c = await _client(server, token, clients, topics=["price:005930", "order:*"])
    hello = c.events["connected"][0]
    assert hello["topics"] == ["price:005930", "order:*"]
    update = (await c.wait_for("price_update", timeout=5))[0]
    assert update["symbol"] == "005930"
    assert c.order[0][0] == "connected", "nothing may precede the connected event"


async def test_connected_comes_first_even_while_prices_stream(
        server: Server, token: str, clients: Callable[[], Client]) -> None:
    # keep the streamer busy with the symbol, then connect several times into it
    await _client(server, token, clients, topics=["price:000660"])
    for _ in range(6):
        c = await _client(server, token, clients, topics=["price:000660"])
        await c.wait_for("price_update", timeout=5)
        assert c.order[0][0] == "connected", [e for e, _ in c.order]
        await c.disconnect()


async def test_get_price(server: Server, token: str, clients: Callable[[], Client]) -> None:
    c = await _client(server, token, clients)
    ack = await c.call("get_price", {"symbol": "005930"})
    assert ack["ok"] is True and ack["symbol"] == "005930" and ack["name"] == "삼성전자"
    d = ack["data"]
    assert {"price", "open", "high", "low", "prev_close", "change", "change_percent", "volume",
            "timestamp"} <= set(d)
    assert d["low"] <= d["price"] <= d["high"] and on_grid(d["price"])
    assert d["change"] == d["price"] - d["prev_close"]
    reply = (await c.wait_for("price"))[0]
    assert reply["type"] == "price" and reply["symbol"] == "005930"
    assert reply["name"] == "삼성전자"


async def test_get_account_and_ping(server: Server, token: str,
                                    clients: Callable[[], Client]) -> None:
    c = await _client(server, token, clients)
    ack = await c.call("get_account", {})
    assert ack["ok"] is True
    acc = ack["data"]
    assert acc["account_id"] and isinstance(acc["cash"], int)
    assert isinstance(acc["positions"], list) and isinstance(acc["total_value"], int)
    reply = (await c.wait_for("account"))[0]
    assert reply["type"] == "account" and reply["data"]["account_id"] == acc["account_id"]
    ack = await c.call("ping", {"timestamp": "2024-01-01T00:00:00"})
    assert ack["ok"] and ack["timestamp"] == "2024-01-01T00:00:00"
    assert datetime.fromisoformat(ack["server_time"]).tzinfo is not None
    pong = (await c.wait_for("pong"))[0]
    assert pong["type"] == "pong" and pong["timestamp"] == "2024-01-01T00:00:00"
    # a payload-less ping and a seed-style payload carrying "type" are fine too
    assert (await c.call("ping"))["ok"] is True
    assert (await c.call("get_account", {"type": "get_account"}))["ok"] is True


BAD_REQUESTS = [
    ("subscribe", {"topic": "stock:005930"}, "invalid_topic"),
    ("subscribe", {"topic": "price:"}, "invalid_topic"),
    ("subscribe", {"topic": "price:../../etc"}, "invalid_topic"),
    ("subscribe", {"topic": ""}, "invalid_topic"),
    ("subscribe", {"topic": "price:999999"}, "unknown_symbol"),
    ("subscribe", {"topic": "order:ORDDOESNOTEXIST"}, "not_found"),
    ("subscribe", {"topic": "strategy:nope"}, "not_found"),
    ("subscribe", {"topic": 5}, "invalid_message"),
    ("subscribe", {"topics": "price:005930"}, "invalid_message"),
    ("subscribe", {"topics": []}, "invalid_message"),
    ("subscribe", {}, "invalid_message"),
    ("subscribe", {"topic": "price:005930", "topics": ["price:005930"]}, "invalid_message"),
    ("subscribe", {"topic": "price:005930", "extra": 1}, "invalid_message"),
    ("subscribe", "price:005930", "invalid_message"),
    ("subscribe", [1, 2], "invalid_message"),
    ("unsubscribe", {"topic": "weird"}, "invalid_topic"),
    ("get_price", {"symbol": "XXXXXX"}, "unknown_symbol"),
    ("get_price", {}, "invalid_message"),
    ("get_price", {"symbol": 5930}, "invalid_message"),
    ("ping", {"timestamp": {"nested": True}}, "invalid_message"),
    ("get_account", {"account": "someone-else"}, "invalid_message"),
    ("buy_everything", {}, "unknown_event"),
]


@pytest.mark.parametrize(("event", "payload", "code"), BAD_REQUESTS,
                         ids=[f"{e}-{c}-{i}" for i, (e, _, c) in enumerate(BAD_REQUESTS)])
async def test_bad_requests_ack_an_error_and_keep_the_connection(
        server: Server, token: str, clients: Callable[[], Client],
        event: str, payload: object, code: str) -> None:
    c = await _client(server, token, clients)
    ack = await c.call(event, payload)
    assert ack["ok"] is False
    assert ack["error"]["code"] == code, ack
    assert ack["error"]["message"]
    err = (await c.wait_for("error"))[0]
    assert err["type"] == "error" and err["code"] == code and err["message"]
    # nothing changed and the connection still works
    assert (await c.call("ping", {}))["ok"] is True
    assert not c.events["subscribed"]


async def test_a_list_subscribe_is_all_or_nothing(server: Server, token: str,
                                                  clients: Callable[[], Client]) -> None:
    c = await _client(server, token, clients)
    ack = await c.call("subscribe", {"topics": ["price:005930", "price:BAD000"]})
    assert ack["ok"] is False and ack["error"]["code"] == "unknown_symbol"
    await asyncio.sleep(1.5)
    assert not c.events["price_update"] and not c.events["subscribed"]


async def test_someone_elses_order_topic_is_not_found(server: Server,
                                                      clients: Callable[[], Client]) -> None:
    owner = server.add_user("topicowner")
    status, order, _ = server.http("POST", "/api/orders", {
        "symbol": "005930", "side": "buy", "quantity": 1, "order_type": "limit",
        "price": 52_500}, token=owner)
    assert status == 201, order
    mine = await _client(server, owner, clients)
    assert (await mine.call("subscribe", {"topic": f"order:{order['order_id']}"}))["ok"]
    other = await _client(server, server.add_user("topicsnoop"), clients)
    ack = await other.call("subscribe", {"topic": f"order:{order['order_id']}"})
    assert ack["ok"] is False and ack["error"]["code"] == "not_found"


async def test_subscription_cap_and_rate_limit(make_server: Callable[..., Server],
                                               clients: Callable[[], Client]) -> None:
    srv = make_server({"HTS_MAX_SUBSCRIPTIONS": "3", "HTS_RATE_LIMIT_PER_SECOND": "5",
                       "HTS_RATE_LIMIT_BURST": "10"}).start()
    c = await _client(srv, srv.login(), clients)
    ack = await c.call("subscribe", {"topics": ["price:005930", "price:000660", "price:035720"]})
    assert ack["ok"]
    ack = await c.call("subscribe", {"topic": "price:035420"})
    assert ack["ok"] is False and ack["error"]["code"] == "subscription_limit"
    # re-subscribing a topic it already has does not count against the cap
    assert (await c.call("subscribe", {"topic": "price:005930"}))["ok"]
    codes = [(await c.call("ping", {}))["ok"] for _ in range(30)]
    assert codes.count(False) >= 10, codes
    limited = [e for e in c.events["error"] if e["code"] == "rate_limited"]
    assert limited
    await asyncio.sleep(1.0)  # the bucket refills
    assert (await c.call("ping", {}))["ok"] is True
    # a connect asking for more topics than the cap is refused as a whole
    d = Client()
    with pytest.raises(Exception):  # noqa: B017 - socketio.exceptions.ConnectionError
        await d.connect(srv.url, auth={"token": srv.login(), "topics": [
            "price:005930", "price:000660", "price:035720", "price:035420"]})
    assert d.connect_error["code"] == "subscription_limit"
