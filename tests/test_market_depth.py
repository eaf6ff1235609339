"""Market depth over the wire: the order book and trade topics, get_orderbook,
candles with their seeded history, and the market status."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable
from datetime import datetime
from typing import Any

from hts_realtime.domain.krx import on_grid, price_limits
from tests.plainws import WsClient
from tests.support import Client, Server

SYMBOL = "005930"
PREV_CLOSE = 75_000


def check_book_data(data: dict[str, Any]) -> None:
    lower, upper = price_limits(PREV_CLOSE)
    asks, bids = data["asks"], data["bids"]
    assert 0 < len(asks) <= 10 and 0 < len(bids) <= 10
    for lv in asks + bids:
        assert set(lv) == {"price", "quantity"}
        assert on_grid(lv["price"]) and lower <= lv["price"] <= upper and lv["quantity"] > 0
    assert [a["price"] for a in asks] == sorted(a["price"] for a in asks)
    assert [b["price"] for b in bids] == sorted((b["price"] for b in bids), reverse=True)
    assert bids[0]["price"] < asks[0]["price"]
    assert data["total_ask_quantity"] == sum(a["quantity"] for a in asks)
    assert data["total_bid_quantity"] == sum(b["quantity"] for b in bids)
    assert on_grid(data["last_price"])
    assert datetime.fromisoformat(data["timestamp"]).utcoffset().total_seconds() == 9 * 3600  # type: ignore[union-attr]


async def test_orderbook_topic_streams_conflated_books_and_get_orderbook_answers(
        server: Server, clients: Callable[[], Client]) -> None:
    c = await clients().connect(server.url, auth={"token": server.login()})
    hello = (await c.wait_for("connected"))[0]
    assert hello["market_status"] == "open"
    loop = asyncio.get_running_loop()
    ack = await c.call("subscribe", {"topic": f"orderbook:{SYMBOL}"})
    assert ack == {"ok": True, "topics": [f"orderbook:{SYMBOL}"]}
    start = loop.time()
    updates = await c.wait_for("orderbook_update", 4)
    elapsed = loop.time() - start
    for u in updates:
        assert set(u) == {"type", "symbol", "data"} and u["type"] == "orderbook_update"
        assert u["symbol"] == SYMBOL
        check_book_data(u["data"])
    # conflated: the market steps every 0.1 s here, the book goes out at most every 0.5 s
    # (the first one at once for a new subscriber)
    assert len(c.events["orderbook_update"]) <= 2 + elapsed / 0.5

    ack = await c.call("get_orderbook", {"symbol": SYMBOL})
    assert ack["ok"] is True and ack["symbol"] == SYMBOL
    check_book_data(ack["data"])
    reply = (await c.wait_for("orderbook"))[0]
    assert reply["type"] == "orderbook" and reply["symbol"] == SYMBOL
    check_book_data(reply["data"])

    bad = await c.call("get_orderbook", {"symbol": "999999"})
    assert bad["ok"] is False and bad["error"]["code"] == "unknown_symbol"
    bad = await c.call("subscribe", {"topic": "orderbook:999999"})
    assert bad["ok"] is False and bad["error"]["code"] == "unknown_symbol"
    bad = await c.call("subscribe", {"topic": "trade:nope!"})
    assert bad["ok"] is False and bad["error"]["code"] == "invalid_topic"


async def test_trade_topic_streams_every_trade_in_order(
        server: Server, clients: Callable[[], Client]) -> None:
    c = await clients().connect(server.url, auth={"token": server.login(),
                                                  "topics": [f"trade:{SYMBOL}"]})
    events = await c.wait_for("trade_update", 8)
    trades = [t for e in events for t in e["data"]["trades"]]
    for e in events:
        assert set(e) == {"type", "symbol", "data"} and e["symbol"] == SYMBOL
        assert e["data"]["trades"]
    lower, upper = price_limits(PREV_CLOSE)
    for t in trades:
        assert set(t) == {"price", "quantity", "side", "volume", "timestamp"}
        assert on_grid(t["price"]) and lower <= t["price"] <= upper
        assert t["quantity"] > 0 and t["side"] in ("buy", "sell")
    # cumulative day volume: each trade adds exactly its own quantity
    for a, b in itertools.pairwise(trades):
        if b["volume"] == a["volume"] + b["quantity"]:
            continue
        raise AssertionError(f"a gap in the tape between {a} and {b}")
    # the candles are built from the same trades
    _, body, _ = server.http("GET", f"/api/candles?symbol={SYMBOL}&interval=1d&limit=1")
    day = body["candles"][-1]
    assert day["volume"] >= trades[-1]["volume"]
    assert day["low"] <= min(t["price"] for t in trades)
    assert day["high"] >= max(t["price"] for t in trades)
    _, body, _ = server.http("GET", f"/api/candles?symbol={SYMBOL}&interval=1m&limit=5")
    by_minute = {c["time"]: c for c in body["candles"]}
    for t in trades:
        minute = datetime.fromisoformat(t["timestamp"]).replace(second=0, microsecond=0)
        candle = by_minute.get(minute.isoformat())
        if candle is not None:
            assert candle["low"] <= t["price"] <= candle["high"]


async def test_market_topics_auto_stop_when_the_last_subscriber_leaves(
        make_server: Callable[..., Server], clients: Callable[[], Client]) -> None:
    srv = make_server().start()
    admin = srv.login("admin", "adminpass")
    _, body, _ = srv.http("GET", "/api/ws/status", token=admin)
    assert body["market_streamers"] == {"price": False, "orderbook": False, "trade": False}
    c = await clients().connect(srv.url, auth={"token": srv.login()})
    await c.wait_for("connected")
    topics = [f"orderbook:{SYMBOL}", f"trade:{SYMBOL}"]
    assert (await c.call("subscribe", {"topics": topics}))["ok"]
    await c.wait_for("orderbook_update")
    await c.wait_for("trade_update")
    _, body, _ = srv.http("GET", "/api/ws/status", token=admin)
    assert body["market_streamers"] == {"price": False, "orderbook": True, "trade": True}
    assert body["subscriptions"] == {t: ["1"] for t in topics}
    assert (await c.call("unsubscribe", {"topics": topics}))["ok"]
    for _ in range(50):
        _, body, _ = srv.http("GET", "/api/ws/status", token=admin)
        if not any(body["market_streamers"].values()):
            break
        await asyncio.sleep(0.1)
    assert body["market_streamers"] == {"price": False, "orderbook": False, "trade": False}
    # nothing more arrives after the unsubscribe was acked: a later reply proves it
    seen = len(c.events["orderbook_update"]), len(c.events["trade_update"])
    await c.call("ping", {})
    await asyncio.sleep(0.6)
    await c.call("ping", {})
    assert (len(c.events["orderbook_update"]), len(c.events["trade_update"])) == seen


def test_candles_route_validates_its_query(server: Server) -> None:
    for query, code in (("symbol=005930&interval=2m", "invalid_message"),
                        ("symbol=005930&interval=1m&limit=0", "invalid_message"),
                        ("symbol=005930&interval=1m&limit=1001", "invalid_message"),
                        ("interval=1m", "invalid_message"),
                        ("symbol=999999&interval=1m", "unknown_symbol")):
        status, body, _ = server.http("GET", f"/api/candles?{query}")
        assert status == 400 and body["error"]["code"] == code, (query, body)
    status, body, _ = server.http("GET", "/api/market")
    assert status == 200 and body["status"] == "open" and body["mode"] == "always"


def test_history_is_there_on_a_fresh_start_and_kept_after_a_restart(
        make_server: Callable[..., Server]) -> None:
    srv = make_server().start()
    status, body, _ = srv.http("GET", f"/api/candles?symbol={SYMBOL}&interval=1d")
    assert status == 200 and body["symbol"] == SYMBOL and body["interval"] == "1d"
    daily = body["candles"]
    assert len(daily) == 121  # 120 trading days of history and today
    for c in daily:
        assert set(c) == {"time", "open", "high", "low", "close", "volume"}
        assert c["time"].endswith("T00:00:00+09:00")
        assert c["low"] <= min(c["open"], c["close"]) <= max(c["open"], c["close"]) <= c["high"]
    assert daily[-2]["close"] == PREV_CLOSE
    times = [c["time"] for c in daily]
    assert times == sorted(times)
    _, minutes, _ = srv.http("GET", f"/api/candles?symbol={SYMBOL}&interval=1m&limit=1000")
    assert minutes["candles"], "today's minutes so far, and the live one"
    _, limited, _ = srv.http("GET", f"/api/candles?symbol={SYMBOL}&interval=5m&limit=3")
    assert 1 <= len(limited["candles"]) <= 3
    srv.stop()
    again = make_server(workdir=srv.workdir).start()
    _, body, _ = again.http("GET", f"/api/candles?symbol={SYMBOL}&interval=1d")
    assert body["candles"][:-1] == daily[:-1]  # history kept exactly
    today, before = body["candles"][-1], daily[-1]
    assert today["time"] == before["time"] and today["open"] == before["open"]
    assert today["volume"] >= before["volume"]
    # the market goes on from where it was: the live price sits inside today's range
    _, m2, _ = again.http("GET", f"/api/candles?symbol={SYMBOL}&interval=1m&limit=1000")
    old = {c["time"]: c for c in minutes["candles"][:-1]}
    assert all(old[c["time"]] == c for c in m2["candles"] if c["time"] in old
               and c["time"] != minutes["candles"][-2]["time"])


def test_socket_io_client_receives_the_book_and_the_tape(server: Server) -> None:
    from tests.test_node_client import run_node

    out = run_node("market.mjs", {"url": server.url, "token": server.login(), "symbol": SYMBOL})
    assert out["connected"][0]["market_status"] == "open"
    assert out["acks"]["subscribe"] == {"ok": True,
                                        "topics": [f"orderbook:{SYMBOL}", f"trade:{SYMBOL}"]}
    assert out["orderbook_update"] and out["trade_update"]
    for u in out["orderbook_update"]:
        assert u["type"] == "orderbook_update" and u["symbol"] == SYMBOL
        check_book_data(u["data"])
    for e in out["trade_update"]:
        assert e["type"] == "trade_update" and e["symbol"] == SYMBOL and e["data"]["trades"]
    ack = out["acks"]["get_orderbook"]
    assert ack["ok"] is True and ack["symbol"] == SYMBOL
    check_book_data(ack["data"])
    assert out["orderbook"][0]["type"] == "orderbook"


async def test_plain_websocket_clients_get_the_book_and_the_tape_too(server: Server) -> None:
    c = await WsClient().connect(server.url, f"?token={server.login()}")
    await c.send({"type": "subscribe", "topics": [f"orderbook:{SYMBOL}", f"trade:{SYMBOL}"]})
    await c.send({"type": "get_orderbook", "symbol": SYMBOL, "request_id": "b1"})
    (book,) = await c.wait_for("orderbook")
    assert book["symbol"] == SYMBOL and book["request_id"] == "b1"
    check_book_data(book["data"])
    update = (await c.wait_for("orderbook_update"))[0]
    check_book_data(update["data"])
    trades = (await c.wait_for("trade_update"))[0]
    assert trades["symbol"] == SYMBOL and trades["data"]["trades"]
    assert c.order[0]["market_status"] == "open"
    await c.close()


async def test_krx_mode_reports_the_session_everywhere(
        make_server: Callable[..., Server], clients: Callable[[], Client]) -> None:
    from hts_realtime.domain.market_hours import KST, MarketHours

    hours = MarketHours("krx")
    before = hours.status(datetime.now(KST)).value
    srv = make_server({"HTS_MARKET_HOURS": "krx"}).start()
    _, market, _ = srv.http("GET", "/api/market")
    c = await clients().connect(srv.url, auth={"token": srv.login()})
    hello = (await c.wait_for("connected"))[0]
    after = hours.status(datetime.now(KST)).value
    assert market["mode"] == "krx" and market["status"] in {before, after}
    assert hello["market_status"] in {before, after}
    if before == after == "closed":  # nothing trades: the last price stays where it was
        ack = await c.call("get_price", {"symbol": SYMBOL})
        await asyncio.sleep(0.5)
        again = await c.call("get_price", {"symbol": SYMBOL})
        assert again["data"]["price"] == ack["data"]["price"]
        assert again["data"]["volume"] == ack["data"]["volume"]
