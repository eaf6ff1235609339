"""The Python SDK (``clients/python``, ``hts_client``) through its public API only:
a Stream across a reset and a black-holed network (the TCP proxy), a resync,
the async iterator, and HttpClient against the live routes."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest
from hts_client import Event, FileStore, HtsError, HttpClient, MemoryStore, Stream

from hts_realtime.domain.krx import price_limits
from tests.support import Server, TcpProxy
from tests.trading import place, wait_order

LOWER, _ = price_limits(75_000)
# a black-holed link is noticed by the Engine.IO heartbeat: keep it short here
FAST_HEARTBEAT = {"HTS_PING_INTERVAL_SECONDS": "1", "HTS_PING_TIMEOUT_SECONDS": "1"}


async def until(predicate: Callable[[], bool], timeout: float = 20) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():  # noqa: ASYNC110 - polling the client's own state
            await asyncio.sleep(0.05)


@pytest.mark.parametrize("drop", ["reset", "blackhole"])
async def test_stream_resumes_across_a_dropped_network(
        make_server: Callable[..., Server], drop: str, tmp_path: Path) -> None:
    srv = make_server(FAST_HEARTBEAT).start()
    api = HttpClient(srv.url)
    await api.login("testuser", "testpass")
    proxy = await TcpProxy(srv.port).start()
    store = FileStore(tmp_path / "last_seq")
    stream = Stream(proxy.url, token=lambda: api.token or "", topics=["order:*"], store=store,
                    reconnection_delay=0.2, reconnection_delay_max=0.5)
    got: list[Event] = []
    states: list[tuple[str, str]] = []
    stream.on("order_update", got.append)
    stream.on_state(lambda state, detail: states.append((state, detail)))
    await stream.connect()
    start = stream.last_seq
    assert start is not None and store.get() == start

    first = await api.place_order({"symbol": "005930", "side": "buy", "quantity": 1,
                                   "order_type": "market"})
    await until(lambda: any(e.data["data"]["order_id"] == first["order_id"]
                            and e.data["data"]["status"] == "filled" for e in got))
    (proxy.cut if drop == "reset" else proxy.blackhole)()
    away = [place(srv, api.token or "", quantity=q) for q in (2, 3)]
    for o in away:
        wait_order(srv, api.token or "", o["order_id"])
    await until(lambda: ("connected", "reconnected") in states, timeout=30)
    head = stream.head
    await asyncio.wait_for(stream.wait_for_seq(head), 20)
    live = await api.place_order({"symbol": "005930", "side": "buy", "quantity": 1,
                                  "order_type": "market"})
    await until(lambda: any(e.data["data"]["order_id"] == live["order_id"]
                            and e.data["data"]["status"] == "filled" for e in got))
    seqs = [e.seq for e in got]
    assert seqs == list(range(start + 1, start + 1 + len(seqs))), "once each, in order"
    missed = [e for e in got if e.data["data"]["order_id"] in {o["order_id"] for o in away}]
    assert missed and all(e.replayed for e in missed)
    assert not any(e.replayed for e in got if e.data["data"]["order_id"] == live["order_id"])
    assert stream.replayed == [e.seq for e in missed]
    assert store.get() == seqs[-1]
    assert ("reconnecting", "transport error") in states or drop == "blackhole"
    await stream.close()
    await proxy.close()
    await api.close()


async def test_resync_refetches_then_carries_on(make_server: Callable[..., Server]) -> None:
    srv = make_server({"HTS_JOURNAL_RETENTION": "8"}).start()
    token = srv.add_user("sdk_resync")
    for _ in range(32):  # 64 events: the journal prunes down to the latest 8
        o = place(srv, token, order_type="limit", price=LOWER, quantity=1)
        srv.http("DELETE", f"/api/orders/{o['order_id']}", token=token)
    api = HttpClient(srv.url, token=token)
    refetched: list[int] = []

    async def on_resync(ev: Event) -> None:
        refetched.append(len(await api.orders()))
        await asyncio.sleep(0.3)  # events arriving meanwhile wait for the refetch

    stream = Stream(srv.url, token=token, topics=["order:*"], store=MemoryStore(1),
                    on_resync=on_resync)
    order: list[str] = []
    stream.on("resync_required", lambda ev: order.append(f"resync {ev.data['last_seq']}"))
    stream.on("order_update", lambda ev: order.append(f"seq {ev.seq}"))
    await stream.connect()
    live = place(srv, token, quantity=1)
    wait_order(srv, token, live["order_id"])
    await asyncio.wait_for(stream.wait_for_seq(65), 20)
    assert len(refetched) == 1 and refetched[0] >= 32  # once, before any later event
    assert order[0] == "resync 64"
    assert order[1:3] == ["seq 65", "seq 66"], order
    await stream.close()
    await api.close()


@pytest.mark.parametrize("batch", [False, True])
async def test_async_iterator_and_requests(server: Server, batch: bool) -> None:
    api = HttpClient(server.url)
    await api.login("testuser", "testpass")
    async with Stream(server.url, token=api.token or "", batch=batch) as stream:
        batches: list[Event] = []
        stream.on("price_batch", batches.append)
        assert await stream.subscribe("price:005930", "price:000660") == [
            "price:005930", "price:000660"]
        assert stream.topics == ["price:005930", "price:000660"]
        prices, symbols = [], set()
        async for ev in stream.events("price_update"):  # a price_batch arrives unpacked
            prices.append(ev.data["data"]["price"])
            symbols.add(ev.data["symbol"])
            if len(prices) == 4:
                break
        assert symbols == {"005930", "000660"}
        assert bool(batches) == batch
        assert all(isinstance(p, int) for p in prices)
        ack = await stream.call("get_price", {"symbol": "005930"})
        assert ack["symbol"] == "005930" and ack["name"] == "삼성전자"
        with pytest.raises(HtsError) as refused:
            await stream.call("subscribe", {"topic": "price:NOPE"})
        assert refused.value.code == "unknown_symbol"
    assert stream.state == "closed"
    await api.close()


async def test_a_revoked_token_ends_the_stream_instead_of_redialling(server: Server) -> None:
    api = HttpClient(server.url)
    server.add_user("sdk_revoked")
    await api.login("sdk_revoked", "password1")
    stream = Stream(server.url, token=api.token or "", topics=["order:*"],
                    reconnection_delay=0.1, reconnection_delay_max=0.2)
    states: list[tuple[str, str]] = []
    stream.on_state(lambda state, detail: states.append((state, detail)))
    await stream.connect()
    await api.logout()  # revokes the token the stream holds
    await until(lambda: stream.state == "closed")
    assert stream.error is not None and stream.error.code == "auth_revoked"
    assert states[-1][0] == "closed" and "auth_revoked" in states[-1][1]
    assert ("connected", "reconnected") not in states
    await stream.close()
    await api.close()


async def test_refused_handshake_raises_the_code(server: Server) -> None:
    stream = Stream(server.url, token="not-a-token")
    with pytest.raises(HtsError) as refused:
        await stream.connect()
    assert refused.value.code == "auth_failed"
    await stream.close()


async def test_http_client_routes(server: Server) -> None:
    async with HttpClient(server.url) as api:
        with pytest.raises(HtsError) as failed:
            await api.login("testuser", "wrong")
        assert (failed.value.code, failed.value.status) == ("auth_failed", 401)
        await api.login("testuser", "testpass")
        assert {"symbol": "005930", "name": "삼성전자"}.items() <= (await api.symbols())[0].items()
        cash = (await api.account())["cash"]
        order = await api.place_order({"symbol": "005930", "side": "buy", "quantity": 1,
                                       "order_type": "limit", "price": LOWER})
        assert (await api.order(order["order_id"]))["status"] == "accepted"
        assert order["order_id"] in [o["order_id"] for o in await api.orders("accepted")]
        page = await api.orders_page(view="open", day="today", limit=1)
        assert [o["order_id"] for o in page["orders"]] == [order["order_id"]]
        amended = await api.amend_order(order["order_id"], price=LOWER + 100, quantity=2,
                                        idempotency_key="sdk-amend")
        assert amended["original_order_id"] == order["order_id"]
        again = await api.amend_order(order["order_id"], price=LOWER + 100, quantity=2,
                                      idempotency_key="sdk-amend")
        assert again["order_id"] == amended["order_id"]
        assert (await api.order(order["order_id"]))["status"] == "replaced"
        order = amended
        assert (await api.cancel_order(order["order_id"]))["status"] == "cancelled"
        assert await api.fills(order["order_id"]) == []
        tape = await api.trades("005930", limit=3)
        assert tape["symbol"] == "005930" and len(tape["trades"]) <= 3
        with pytest.raises(HtsError) as missing:
            await api.order("ORDnope")
        assert (missing.value.code, missing.value.status) == ("not_found", 404)
        assert (await api.account())["cash"] == cash
        kinds = await api.strategy_kinds()
        assert "ma_crossover" in str(kinds)
        run = await api.create_strategy({"kind": "rsi", "symbol": "005930", "quantity": 1})
        sid = run["strategy_id"]
        assert (await api.start_strategy(sid))["state"] == "running"
        assert (await api.stop_strategy(sid))["state"] == "stopped"
        assert sid in [r["strategy_id"] for r in await api.strategies()]
        assert (await api.strategy(sid))["kind"] == "rsi"
        await api.strategy_signals(sid)
        await api.delete_strategy(sid)
        watch = await api.watchlist()
        assert await api.set_watchlist(watch[:2]) == watch[:2]
        candles = await api.candles("005930", "1m", limit=5)
        assert candles["symbol"] == "005930" and 0 < len(candles["candles"]) <= 5
        assert (await api.market())["status"] in {"pre_open", "open", "closing_auction",
                                                  "closed"}
        assert (await api.healthz())["status"] == "ok"
        assert (await api.readyz())["status"] == "ready"
        with pytest.raises(HtsError) as forbidden:
            await api.status()
        assert forbidden.value.code == "forbidden"
        await api.login("admin", "adminpass")
        assert "active_connections" in await api.status()
        assert "hts_connections" in await api.metrics()
    async with HttpClient(server.url) as api:
        server.add_user("sdk_pw", "first-password")
        await api.login("sdk_pw", "first-password")
        old = api.token
        await api.change_password("first-password", "second-password")
        assert api.token != old and (await api.account())["cash"] > 0
        assert await api.refresh()  # logs in with the new password
        await api.logout()
        assert api.token is None


async def test_the_sdk_renews_tokens_without_reconnecting(
        make_server: Callable[..., Server]) -> None:
    """Access tokens of 3 s: the stream renews in place at each `token_expiring`, and
    HttpClient refreshes before its requests; nothing reconnects or fails."""
    srv = make_server({"HTS_ACCESS_TOKEN_TTL_SECONDS": "3",
                       "HTS_TOKEN_EXPIRY_WARNING_SECONDS": "2"}).start()
    async with HttpClient(srv.url) as api:
        login = await api.login("testuser", "testpass")
        first = api.token
        first_exp = api.token_expires_at
        assert login["refresh_token"] and first_exp is not None
        states: list[tuple[str, str]] = []
        renewed: list[Event] = []
        stream = Stream(srv.url, token=lambda: api.token or "", refresh_token=api.refresh,
                        topics=["order:*"])
        stream.on_state(lambda state, detail: states.append((state, detail)))
        stream.on("renewed", renewed.append)
        async with stream:
            # well past the first token's expiry, on the same connection
            await until(lambda: bool(renewed) and renewed[-1].data["expires_at"] > first_exp + 4,
                        timeout=30)
            order = await api.place_order({"symbol": "005930", "side": "buy", "quantity": 1,
                                           "order_type": "market"})
            got: list[Event] = []
            stream.on("order_update", got.append)
            await until(lambda: any(e.data["data"]["order_id"] == order["order_id"]
                                    for e in got))
            assert stream.connected
        assert [s for s, _ in states].count("connected") == 1, states
        assert api.token != first and stream.token_expires_at is not None
