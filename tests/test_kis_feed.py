"""HTS_FEED=kis through a real server: the fake KIS server (tests/fakes/kis.py, a real
aiohttp WebSocket and REST server in this test's event loop) on one side, real
python-socketio and socket.io-client clients on the other.

One server per role (one process; a gateway in front of an engine that owns the one
KIS session); the tests run in file order and each leaves the
subscriptions it made behind it released.
"""

from __future__ import annotations

import asyncio
import json
import shutil
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from hts_realtime.adapters.kis.codec import TR_BOOK, TR_MARKET_OP, TR_TRADE
from hts_realtime.domain.market_hours import KST
from hts_realtime.domain.symbols import SymbolMaster
from tests.cluster import ROLES, GatewayFront, front
from tests.fakes.kis import APPKEY, APPSECRET, FakeKis
from tests.support import ROOT, Client, Server

MASTER = {s.symbol: s.prev_close for s in SymbolMaster()}
SAMSUNG = "005930"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_PRESENT = CHROMIUM.exists()


async def until(predicate: Callable[[], bool], timeout: float = 15.0, what: str = "") -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        assert loop.time() < deadline, f"not in time: {what}"
        await asyncio.sleep(0.05)


@pytest.fixture(scope="module")
async def fake() -> AsyncIterator[FakeKis]:
    f = await FakeKis(MASTER, ping_interval=1.0, ping_timeout=1.0, rest_per_second=20).start()
    yield f
    await f.stop()


@pytest.fixture(scope="module", params=ROLES)
async def server(request: pytest.FixtureRequest, fake: FakeKis,
                 tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Server]:
    """One process, or a gateway in front of an engine (with its Redis): in a cluster
    the engine owns the one KIS session and learns what the gateways' clients hold
    from Redis."""
    snapshots = fake.stats["rest_price"]
    fake.reset_market()  # each server starts on a fresh day at the fake
    srv = front(request.param, tmp_path_factory.mktemp(f"kis-{request.param}"), {
        "HTS_FEED": "kis",
        "HTS_KIS_APP_KEY": APPKEY,
        "HTS_KIS_APP_SECRET": APPSECRET,
        "HTS_KIS_REST_URL": fake.url,
        "HTS_KIS_WS_URL": fake.ws_url,
        "HTS_KIS_REST_PER_SECOND": "10",  # half of the fake's 20, as for a real account
        "HTS_KIS_SNAPSHOT_INTERVAL_SECONDS": "1",
        "HTS_KIS_MIN_HOLD_SECONDS": "1",
        "HTS_KIS_SUBSCRIBE_PER_SECOND": "200",
        "HTS_KIS_IDLE_TIMEOUT_SECONDS": "10",
        "HTS_ORDERBOOK_INTERVAL_SECONDS": "0.2",
    })
    await asyncio.to_thread(srv.start)
    await until(lambda: fake.stats["rest_price"] >= snapshots + len(MASTER), timeout=30,
                what="the start-up snapshots of every symbol")
    yield srv
    await asyncio.to_thread(srv.stop)


def engine(server: Server) -> Server:
    """Where the feed lives: the process itself, or a gateway's engine."""
    return server.engine if isinstance(server, GatewayFront) else server


async def http(server: Server, method: str, path: str, body: Any = None,
               token: str | None = None) -> tuple[int, Any]:
    status, answer, _ = await asyncio.to_thread(server.http, method, path, body, token)
    return status, answer


SEEN: list[Client] = []  # every client of the module: their events are checked at the end


async def client(server: Server, topics: list[str]) -> Client:
    token = await asyncio.to_thread(server.login)
    c = await Client().connect(server.url, auth={"token": token, "topics": topics})
    SEEN.append(c)
    return c


async def open_market(fake: FakeKis, c: Client, symbol: str = SAMSUNG) -> None:
    """KIS says 장개시 (H0STMKO0, MKOP_CLS_CODE 112): the session is open, whatever the
    clock says (this test runs at any hour)."""
    await until(lambda: (TR_MARKET_OP, symbol) in fake.registrations(), what="H0STMKO0")
    await fake.market_op(symbol, session_code="112")
    await c.wait_for("market_status")
    assert c.events["market_status"][-1]["status"] == "open"


async def test_quotes_books_and_trades_carry_what_kis_sent(server: Server, fake: FakeKis) -> None:
    c = await client(server, [f"price:{SAMSUNG}", f"orderbook:{SAMSUNG}", f"trade:{SAMSUNG}"])
    try:
        await until(lambda: {(TR_TRADE, SAMSUNG), (TR_BOOK, SAMSUNG)} <= fake.registrations(),
                    what="registrations for 005930")
        asks = [(75_100 + 100 * i, 10 + i) for i in range(10)]
        bids = [(75_000 - 100 * i, 20 + i) for i in range(10)]
        await fake.book(SAMSUNG, asks=asks, bids=bids)
        # three prints in ONE frame (0|H0STCNT0|003|...), as KIS batches a busy moment
        at = datetime.now(KST).replace(microsecond=0)
        assert await fake.trades(SAMSUNG, [(75_100, 7, "1"), (75_200, 3, "1"),
                                           (75_000, 4, "5")], at=at) == 1
        await until(lambda: sum(len(e["data"]["trades"]) for e in c.events["trade_update"]) >= 3)
        trades = [t for ev in c.events["trade_update"] for t in ev["data"]["trades"]]
        assert [(t["price"], t["quantity"], t["side"]) for t in trades] == [
            (75_100, 7, "buy"), (75_200, 3, "buy"), (75_000, 4, "sell")]
        assert [t["volume"] for t in trades] == [7, 10, 14]
        await until(lambda: any(e["data"]["asks"][0]["price"] == 75_100
                                for e in c.events["orderbook_update"]), what="the book")
        book = [e for e in c.events["orderbook_update"]
                if e["data"]["asks"][0]["price"] == 75_100][-1]["data"]
        assert [(lv["price"], lv["quantity"]) for lv in book["asks"]] == asks
        assert [(lv["price"], lv["quantity"]) for lv in book["bids"]] == bids
        assert book["total_ask_quantity"] == sum(q for _, q in asks)
        await until(lambda: any(e["data"]["price"] == 75_000 and e["data"]["volume"] == 14
                                for e in c.events["price_update"]), what="the price")
        price = [e for e in c.events["price_update"] if e["data"]["volume"] == 14][-1]["data"]
        prev = MASTER[SAMSUNG]
        assert price["change"] == 75_000 - prev
        ack = await c.call("get_price", {"symbol": SAMSUNG})
        assert ack["ok"] and ack["data"]["prev_close"] == prev and ack["data"]["high"] == 75_200
        assert not any(e["data"]["feed"] != "live" for e in c.events["feed_status"])
        # candles are built from the real prints: this fresh day's only ones, at their time
        _, body = await http(server, "GET", f"/api/candles?symbol={SAMSUNG}&interval=1m")
        assert body["candles"][-1] == {
            "time": at.replace(second=0).isoformat(), "open": 75_100, "high": 75_200,
            "low": 75_000, "close": 75_000, "volume": 14}
    finally:
        await c.disconnect()


async def test_a_vi_kis_announces_reaches_clients_as_symbol_status(
        server: Server, fake: FakeKis) -> None:
    """H0STMKO0 VI_CLS_CODE Y: the same ``symbol_status`` the simulator sends (through
    the market port), in ``GET /api/market``; N: back to continuous."""
    c = await client(server, [f"price:{SAMSUNG}"])
    try:  # no session code in these records: the market's session is left as it is
        await until(lambda: (TR_MARKET_OP, SAMSUNG) in fake.registrations(), what="H0STMKO0")
        await fake.market_op(SAMSUNG, vi=True, session_code="")
        await until(lambda: any(e["data"]["phase"] == "vi" for e in c.events["symbol_status"]),
                    what="symbol_status vi")
        event = [e for e in c.events["symbol_status"] if e["data"]["phase"] == "vi"][-1]
        assert event["symbol"] == SAMSUNG and event["data"]["vi"] is None  # KIS: no kind
        _, market = await http(server, "GET", "/api/market")
        assert market["symbols"][SAMSUNG]["phase"] == "vi"
        await fake.market_op(SAMSUNG, vi=False, session_code="")
        await until(lambda: c.events["symbol_status"][-1]["data"]["phase"] == "continuous",
                    what="symbol_status continuous")
        _, market = await http(server, "GET", "/api/market")
        assert SAMSUNG not in market["symbols"]
    finally:
        await c.disconnect()


async def test_socket_io_client_gets_the_same_prints(server: Server, fake: FakeKis) -> None:
    node = shutil.which("node")
    assert node is not None, "these tests need Node 20+"
    token = await asyncio.to_thread(server.login)
    proc = await asyncio.create_subprocess_exec(
        node, str(ROOT / "tests" / "node" / "kis_feed.mjs"),
        json.dumps({"url": server.url, "token": token, "symbol": "000660", "prints": 2}),
        cwd=ROOT, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE)
    assert proc.stdout is not None
    ready = await asyncio.wait_for(proc.stdout.readline(), 20)
    assert json.loads(ready) == {"ready": True}
    await until(lambda: (TR_TRADE, "000660") in fake.registrations(), what="000660 registered")
    await fake.trades("000660", [(181_000, 2, "1"), (180_900, 5, "5")])
    out, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 0, err.decode()
    seen = json.loads(out.decode().strip().splitlines()[-1])
    assert [(t["price"], t["quantity"], t["side"]) for t in seen["trades"]] == [
        (181_000, 2, "buy"), (180_900, 5, "sell")]
    assert seen["price"]["price"] == 180_900


async def test_more_symbols_than_slots_limited_by_snapshots_never_past_the_budget(
        server: Server, fake: FakeKis) -> None:
    symbols = sorted(MASTER)[:25]  # 50 registrations of 체결 and 호가 wanted, 41 slots
    topics = [f"{kind}:{s}" for s in symbols for kind in ("price", "orderbook")]
    c = await client(server, topics)
    try:
        await until(lambda: len(fake.registrations()) == 41, what="41 registrations")
        await asyncio.sleep(1.5)  # a few demand rounds: still 41, nothing refused
        assert fake.max_registrations == 41 and fake.stats["refused_max_subscribe"] == 0
        admin = await asyncio.to_thread(server.login, "admin", "adminpass")
        status, body = await http(server, "GET", "/api/ws/status", token=admin)
        assert status == 200
        feed = body["feed"]
        assert feed["registrations"] == 41 and feed["budget"] == 41 and feed["connected"]
        limited = feed["limited_symbols"]
        assert limited and set(limited) <= set(symbols)
        # every limited symbol's subscribers were told so, per symbol, once per client
        await until(lambda: set(limited) <= {e["symbol"] for e in c.events["feed_status"]
                                             if e["data"]["feed"] == "limited"},
                    what="feed_status limited")
        told = [e for e in c.events["feed_status"] if e["symbol"] == limited[0]]
        assert told[0]["data"]["snapshot_interval_seconds"] == 1.0
        # ... and a limited symbol's price comes from REST snapshots (no frame at all)
        target = limited[0]
        fake.symbols[target].price = MASTER[target] + 5 * _tick(MASTER[target])
        await until(lambda: any(e["symbol"] == target and
                                e["data"]["price"] == fake.symbols[target].price
                                for e in c.events["price_update"]), what="a snapshot price")
        assert fake.rest_calls_max_per_second <= 11 and fake.stats["rest_rate_limited"] == 0
    finally:
        await c.disconnect()
    await until(lambda: len(fake.registrations()) <= 3, timeout=20, what="released")


def _tick(price: int) -> int:
    from hts_realtime.domain.krx import tick_size
    return tick_size(price)


async def test_a_dropped_session_comes_back_with_its_registrations(
        server: Server, fake: FakeKis) -> None:
    c = await client(server, [f"price:{SAMSUNG}", f"trade:{SAMSUNG}"])
    try:
        # exactly what is wanted (what earlier tests left lingers for the minimum hold)
        wanted = {(TR_TRADE, SAMSUNG), (TR_MARKET_OP, SAMSUNG)}
        await until(lambda: fake.registrations() == wanted, what="registered")
        connections = fake.stats["connections"]
        assert fake.drop_all() == 1  # abrupt: no close frame, as a network failure
        await until(lambda: fake.stats["connections"] > connections
                    and fake.registrations() == wanted, what="re-established and re-registered")
        await fake.trades(SAMSUNG, [(75_300, 1, "1")])
        await until(lambda: any(t["price"] == 75_300 for e in c.events["trade_update"]
                                for t in e["data"]["trades"]), what="a print after the drop")
    finally:
        await c.disconnect()


async def test_bad_frames_are_dropped_and_logged_once_the_feed_goes_on(
        server: Server, fake: FakeKis) -> None:
    c = await client(server, [f"trade:{SAMSUNG}"])
    try:
        await until(lambda: (TR_TRADE, SAMSUNG) in fake.registrations(), what="registered")
        for _ in range(5):
            await fake.send_raw("0|H0STCNT0|002|" + "^".join(["1"] * 46))  # 46 for 2 × 46
            await fake.send_raw("}{ not a frame")
        await fake.trades(SAMSUNG, [(75_400, 2, "1")])
        await until(lambda: any(t["price"] == 75_400 for e in c.events["trade_update"]
                                for t in e["data"]["trades"]), what="the feed goes on")
        log = engine(server).log()
        assert log.count("KIS frame dropped (field_count)") == 1
        assert log.count("KIS frame dropped (garbage)") == 1
        admin = await asyncio.to_thread(server.login, "admin", "adminpass")
        _, body = await http(server, "GET", "/api/ws/status", token=admin)
        assert body["feed"]["dropped_by_reason"] == {"field_count": 5, "garbage": 5}
        assert APPSECRET not in log and APPKEY not in log
        assert not any(key in log for key in fake.approvals)
    finally:
        await c.disconnect()


async def test_paper_orders_fill_against_the_real_book_and_prints(
        server: Server, fake: FakeKis) -> None:
    c = await client(server, [f"orderbook:{SAMSUNG}", "order:*"])
    token = await asyncio.to_thread(server.login)
    try:
        await open_market(fake, c)
        await until(lambda: (TR_BOOK, SAMSUNG) in fake.registrations(), what="호가 registered")
        await fake.book(SAMSUNG, asks=[(75_100, 5), (75_200, 10)], bids=[(75_000, 8)])
        await until(lambda: any(e["data"]["asks"][:1] == [{"price": 75_100, "quantity": 5}]
                                for e in c.events["orderbook_update"]), what="the fake's book")
        status, order = await http(server, "POST", "/api/orders", {
            "symbol": SAMSUNG, "side": "buy", "order_type": "market", "quantity": 8}, token)
        assert status == 201, order
        await until(lambda: any(e["data"]["order_id"] == order["order_id"]
                                and e["data"]["status"] == "filled"
                                for e in c.events["order_update"]), what="the market buy fills")
        _, fills = await http(server, "GET", f"/api/orders/{order['order_id']}/fills",
                              token=token)
        assert [(f["price"], f["quantity"]) for f in fills] == [(75_100, 5), (75_200, 3)]
        # the size it took is hidden from the book until KIS sends the next one
        await until(lambda: c.events["orderbook_update"][-1]["data"]["asks"] ==
                    [{"price": 75_200, "quantity": 7}], what="the taken size hidden")
        # a resting limit buy fills from a real print at its price
        status, resting = await http(server, "POST", "/api/orders", {
            "symbol": SAMSUNG, "side": "buy", "order_type": "limit", "quantity": 2,
            "price": 74_900}, token)
        assert status == 201
        # nobody here watches 005930's prints, but an open order does: the engine's own
        # need registers 체결 for it
        await until(lambda: (TR_TRADE, SAMSUNG) in fake.registrations(), what="체결 for the order")
        await fake.trades(SAMSUNG, [(74_900, 10, "5")])
        await until(lambda: any(e["data"]["order_id"] == resting["order_id"]
                                and e["data"]["status"] == "filled"
                                for e in c.events["order_update"]), what="the resting fill")
    finally:
        await c.disconnect()


async def test_health_in_status_readyz_and_metrics_and_a_stall_shows(
        server: Server, fake: FakeKis) -> None:
    admin = await asyncio.to_thread(server.login, "admin", "adminpass")
    status, ready = await http(engine(server), "GET", "/readyz")
    assert status == 200 and ready["checks"]["market_feed"] == "ok"
    metrics = await asyncio.to_thread(_get_text, engine(server).url + "/metrics", admin)
    assert "hts_feed_connected 1.0" in metrics and "hts_feed_registration_budget 41.0" in metrics
    c = await client(server, [f"price:{SAMSUNG}"])
    try:
        await until(lambda: (TR_TRADE, SAMSUNG) in fake.registrations(), what="registered")
        fake.unavailable = True  # the broker is unreachable for a while
        fake.drop_all()
        await c.wait_for("feed_status")
        await until(lambda: any(e["data"]["feed"] == "stale" for e in c.events["feed_status"]),
                    what="clients told the data is stale")
        status, ready = await http(engine(server), "GET", "/readyz")
        assert status == 503 and "KIS" in ready["checks"]["market_feed"]
        fake.unavailable = False
        await until(lambda: c.events["feed_status"][-1]["data"]["feed"] == "live",
                    timeout=40, what="live again")
        status, _ = await http(engine(server), "GET", "/readyz")
        assert status == 200
    finally:
        await c.disconnect()


def _get_text(url: str, token: str) -> str:
    import urllib.request
    req = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(req, timeout=10) as r:
        return str(r.read().decode())


async def test_the_dashboard_shows_real_prices_and_greys_a_stalled_feed(
        server: Server, fake: FakeKis) -> None:
    """The dashboard, unchanged in use: live 005930 from the fake; the feed stalls and the
    market data goes grey with its age, as when the server itself is gone; back to live."""
    from playwright.async_api import async_playwright, expect

    assert CHROMIUM_PRESENT, "apt-get install chromium"
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=str(CHROMIUM), args=[
            "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"])
        try:
            page = await browser.new_page(viewport={"width": 1280, "height": 720})
            await page.goto(server.url + "/")
            await page.get_by_test_id("login-username").fill("testuser")
            await page.get_by_test_id("login-password").fill("testpass")
            await page.get_by_test_id("login-submit").click()
            await expect(page.get_by_test_id("conn-state")).to_have_attribute(
                "data-state", "connected", timeout=15_000)
            row = page.locator(f'[data-testid=watch-row][data-symbol="{SAMSUNG}"]')
            await row.click()
            await until(lambda: {(TR_BOOK, SAMSUNG), (TR_TRADE, SAMSUNG)}
                        <= fake.registrations(), what="호가 and 체결 registered")
            await asyncio.sleep(1.5)  # past the minimum hold: not a lingering registration
            await until(lambda: {(TR_BOOK, SAMSUNG), (TR_TRADE, SAMSUNG)}
                        <= fake.registrations(), what="호가 and 체결 still registered")
            await fake.trades(SAMSUNG, [(75_500, 3, "1")])
            await expect(row).to_contain_text("75,500", timeout=15_000)
            body = page.locator("body")
            await expect(body).to_have_attribute("data-feed", "live")
            fake.unavailable = True
            fake.drop_all()
            await expect(body).to_have_attribute("data-feed", "stale", timeout=15_000)
            await expect(page.locator("[data-stale-age]").first).to_contain_text("전 시세")
            fake.unavailable = False
            await expect(body).to_have_attribute("data-feed", "live", timeout=40_000)
            await expect(page.get_by_test_id("conn-state")).to_have_attribute(
                "data-state", "connected")
        finally:
            await browser.close()


async def test_every_event_the_clients_saw_matches_the_asyncapi(server: Server) -> None:
    status, asyncapi = await http(server, "GET", "/api/asyncapi.json")
    assert status == 200
    messages = asyncapi["components"]["messages"]
    seen = [(event, payload) for c in SEEN for event, payload in c.order]
    assert {"feed_status", "price_update", "orderbook_update", "trade_update",
            "order_update", "market_status"} <= {e for e, _ in seen}
    for event, payload in seen:
        assert event in messages, f"the server sent {event!r}, which the AsyncAPI lacks"
        root = {"components": asyncapi["components"], **messages[event]["payload"]}
        errors = list(jsonschema.Draft202012Validator(root).iter_errors(payload))
        assert not errors, (event, errors[0].message, payload)
