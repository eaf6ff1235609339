"""KRX rules a trader sees, through a real server and a real client: news on a KOSDAQ
name (``HTS_MARKET_NEWS``) sets off a VI — a single-price auction (2 s here,
``HTS_MARKET_VI_SECONDS``) that prints once — and the price is then held at 상한가:
``symbol_status`` says so, ``GET /api/market`` too, trades print only at the limit,
and a paper market buy waits (no asks) with its cash held."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from hts_realtime.domain.krx import price_limits
from hts_realtime.domain.symbols import SymbolMaster
from tests.cluster import ROLES, module_front
from tests.support import Client, Server
from tests.trading import account, place

SYMBOL = "086520"
PREV = SymbolMaster().get(SYMBOL).prev_close  # type: ignore[union-attr]


# the news comes 10 s after the engine is built: time enough, even on a loaded machine,
# for the server to become ready and the client to hold the symbol's topics before it
@pytest.fixture(scope="module", params=ROLES)
def news_server(request: pytest.FixtureRequest,
                tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One process, or a gateway in front of an engine (the market is the engine's)."""
    srv = module_front(tmp_path_factory, "rules", request.param, {
        "HTS_MARKET_NEWS": f"{SYMBOL}:+0.35@10", "HTS_MARKET_VI_SECONDS": "2"})
    yield srv
    srv.stop()


def _at(event: dict[str, object]) -> datetime:
    return datetime.fromisoformat(str(event["timestamp"]))


async def test_news_a_vi_that_prints_once_then_held_at_the_upper_limit(
        news_server: Server, tmp_path: Path) -> None:
    token = await asyncio.to_thread(news_server.login)
    c = await Client().connect(news_server.url, auth={
        "token": token, "topics": [f"trade:{SYMBOL}", f"price:{SYMBOL}"]})
    try:
        lower, upper = price_limits(PREV)
        await c.wait_for("symbol_status", 1, timeout=20)
        vi = c.events["symbol_status"][0]
        assert vi["symbol"] == SYMBOL and vi["data"]["phase"] == "vi"
        assert vi["data"]["vi"] in ("static", "dynamic") and vi["data"]["until"]
        assert vi["data"]["reference_price"] and vi["data"]["expected_price"]
        await c.wait_for("symbol_status", 2, timeout=20)  # the auction ends: continuous
        end = c.events["symbol_status"][1]
        assert end["data"]["phase"] == "continuous" and end["data"]["vi"] is None
        def trades() -> list[dict[str, object]]:
            return [t for e in c.events["trade_update"] for t in e["data"]["trades"]]

        while not any(_at(t) >= _at(end["data"]) for t in trades()):  # the print's step
            await c.wait_for("trade_update", len(c.events["trade_update"]) + 1, timeout=20)
        prints = [t for t in trades() if _at(vi["data"]) < _at(t) <= _at(end["data"])]
        assert len(prints) == 1  # the VI's single-price auction printed once
        # then it goes to the limit (at the auction or after) and is held
        while c.events["symbol_status"][-1]["data"]["limit"] != "upper":
            await c.wait_for("symbol_status", len(c.events["symbol_status"]) + 1, timeout=20)
        held_at = _at(c.events["symbol_status"][-1]["data"])
        status, market, _ = await asyncio.to_thread(news_server.http, "GET", "/api/market")
        assert status == 200 and market["symbols"][SYMBOL]["limit"] == "upper"
        ack = await c.call("get_orderbook", {"symbol": SYMBOL})
        assert ack["data"]["asks"] == [] and ack["data"]["bids"][0]["price"] == upper
        before = await asyncio.to_thread(account, news_server, token)
        order = await asyncio.to_thread(place, news_server, token, symbol=SYMBOL, quantity=10)
        seen = len(c.events["trade_update"])
        await c.wait_for("trade_update", seen + 2, timeout=30)  # the market trades on ...
        after = await asyncio.to_thread(account, news_server, token)
        status, got, _ = await asyncio.to_thread(news_server.http, "GET",
                                                 f"/api/orders/{order['order_id']}",
                                                 None, token)
        assert got["filled_quantity"] == 0 and got["status"] not in ("filled", "rejected")
        assert after["reserved_cash"] - before["reserved_cash"] >= 10 * upper
        later = [t for t in trades() if _at(t) > held_at]
        assert later and all(t["price"] == upper for t in later)  # ... only at the limit
        assert lower < PREV < upper
    finally:
        await c.disconnect()


async def test_paper_orders_are_part_of_the_market(news_server: Server) -> None:
    """A resting paper limit shows as size at its level of the book clients get; a
    paper order that takes prints on ``trade:{symbol}`` like any other trade."""
    symbol, small = "005930", "048410"  # small: ₩1,872, levels of ~₩25M
    token = await asyncio.to_thread(news_server.login)
    c = await Client().connect(news_server.url, auth={"token": token,
                                                      "topics": [f"trade:{symbol}"]})
    try:
        book = (await c.call("get_orderbook", {"symbol": small}))["data"]
        level = book["bids"][4]["price"]  # ~₩84M: several times a level's usual size
        await asyncio.to_thread(place, news_server, token, symbol=small,
                                order_type="limit", price=level, quantity=45_000)
        shown = (await c.call("get_orderbook", {"symbol": small}))["data"]
        at = {lv["price"]: lv["quantity"] for lv in shown["bids"]}
        assert at.get(level, 0) >= 45_000, (level, shown["bids"])
        taker = await asyncio.to_thread(place, news_server, token, symbol=symbol,
                                        quantity=111)
        status, fills, _ = await asyncio.to_thread(
            news_server.http, "GET", f"/api/orders/{taker['order_id']}/fills", None, token)
        while status != 200 or sum(f["quantity"] for f in fills) < 111:
            await asyncio.sleep(0.1)
            status, fills, _ = await asyncio.to_thread(
                news_server.http, "GET", f"/api/orders/{taker['order_id']}/fills", None, token)
        want = {(f["price"], f["quantity"]) for f in fills}

        def printed() -> set[tuple[int, int]]:
            return {(t["price"], t["quantity"]) for e in c.events["trade_update"]
                    for t in e["data"]["trades"] if t["side"] == "buy"}

        while not want <= printed():
            await c.wait_for("trade_update", len(c.events["trade_update"]) + 1, timeout=20)
    finally:
        await c.disconnect()
