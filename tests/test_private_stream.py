"""The private stream: order_update delivery, isolation, restart and resume."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from hts_realtime.domain.krx import price_limits
from tests.support import Client, Server, TcpProxy
from tests.trading import account, fills_of, held_per_share, place, wait_order

LOWER, UPPER = price_limits(75_000)


def seqs(events: list[Any]) -> list[int]:
    return [int(e["seq"]) for e in events]


async def test_order_updates_reach_the_owner_only(server: Server,
                                                  clients: Callable[[], Client]) -> None:
    alice, bob = server.add_user("alice_ps"), server.add_user("bob_ps")
    a = await clients().connect(server.url, auth={"token": alice, "topics": ["order:*"]})
    b = await clients().connect(server.url, auth={"token": bob, "topics": ["order:*"]})
    await a.wait_for("connected")
    await b.wait_for("connected")
    order = place(server, alice, quantity=2)
    updates = await a.wait_for("order_update", 2)
    wait_order(server, alice, order["order_id"])
    final = await _until_status(a, order["order_id"], "filled")
    assert updates[0]["type"] == "order_update"
    assert updates[0]["data"]["order_id"] == order["order_id"]
    assert updates[0]["data"]["status"] == "accepted"
    assert final["data"]["filled_quantity"] == 2 and final["data"]["remaining_quantity"] == 0
    assert set(final["data"]) >= {"order_id", "symbol", "side", "quantity", "price", "status",
                                  "filled_quantity", "filled_price", "remaining_quantity",
                                  "updated_at"}
    got = seqs(a.events["order_update"])
    assert got == list(range(got[0], got[0] + len(got))), "seq rises by one per event"
    await asyncio.sleep(0.5)
    assert b.events["order_update"] == []


async def test_order_id_topic_gets_only_that_order(server: Server,
                                                   clients: Callable[[], Client]) -> None:
    tok = server.add_user("one_topic")
    first = place(server, tok, order_type="limit", price=LOWER, quantity=1)
    c = await clients().connect(server.url, auth={
        "token": tok, "topics": [f"order:{first['order_id']}"]})
    await c.wait_for("connected")
    place(server, tok, order_type="limit", price=LOWER, quantity=2)  # another order
    server.http("DELETE", f"/api/orders/{first['order_id']}", token=tok)
    (update,) = await c.wait_for("order_update")
    await asyncio.sleep(0.5)
    assert [u["data"]["order_id"] for u in c.events["order_update"]] == [first["order_id"]]
    assert update["data"]["status"] == "cancelled"


async def _until_status(c: Client, order_id: str, status: str,
                        timeout: float = 20) -> dict[str, Any]:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        for u in c.events["order_update"]:
            if u["data"]["order_id"] == order_id and u["data"]["status"] == status:
                return dict(u)
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"no {status} for {order_id}: {c.events['order_update']}")
        await asyncio.sleep(0.05)


@pytest.mark.parametrize("drop", ["reset", "blackhole"])
async def test_resume_after_a_dropped_connection(server: Server, drop: str) -> None:
    """The mobile case: the network dies (no close frame), fills happen while the
    client is away, and it reconnects with last_seq: it gets exactly the missed
    events, in order, then live ones; no gap, no duplicate."""
    tok = server.add_user(f"mobile_{drop}")
    proxy = await TcpProxy(server.port).start()
    first = Client()
    await first.connect(proxy.url, auth={"token": tok, "topics": ["order:*"]})
    hello = (await first.wait_for("connected"))[0]
    base = hello["last_seq"]
    o1 = place(server, tok, quantity=1)
    wait_order(server, tok, o1["order_id"])
    await _until_status(first, o1["order_id"], "filled")
    last_seq = max(seqs(first.events["order_update"]))

    (proxy.cut if drop == "reset" else proxy.blackhole)()
    # while away: more fills, and a cancel
    away = [place(server, tok, quantity=q) for q in (2, 3)]
    resting = place(server, tok, order_type="limit", price=LOWER, quantity=1)
    server.http("DELETE", f"/api/orders/{resting['order_id']}", token=tok)
    for o in away:
        wait_order(server, tok, o["order_id"])
    await asyncio.sleep(0.3)

    second = Client()
    await second.connect(proxy.url, auth={"token": tok, "topics": ["order:*"],
                                          "last_seq": last_seq})
    hello2 = (await second.wait_for("connected"))[0]
    head = hello2["last_seq"]
    assert head > last_seq
    replayed = await second.wait_for("order_update", head - last_seq)
    assert seqs(replayed) == list(range(last_seq + 1, head + 1))
    # the connected event comes before the replay
    assert second.order[0][0] == "connected"
    # then live events continue the sequence
    live = place(server, tok, quantity=1)
    wait_order(server, tok, live["order_id"])
    await _until_status(second, live["order_id"], "filled")
    got = seqs(second.events["order_update"])
    assert got == list(range(last_seq + 1, last_seq + 1 + len(got))), got
    assert base < last_seq
    await second.disconnect()
    await proxy.close()
    if first.sio.connected:
        await first.sio.eio.disconnect(abort=True)


async def test_resume_with_events_in_flight(server: Server) -> None:
    """A client reconnecting while fills are streaming: the replay and live events
    meet without a gap or a duplicate."""
    tok = server.add_user("inflight")
    orders = [place(server, tok, symbol=s, quantity=3)
              for s in ("005930", "000660", "035720", "005380", "035420")]
    c = Client()
    await c.connect(server.url, auth={"token": tok, "topics": ["order:*"], "last_seq": 0})
    for o in orders:
        wait_order(server, tok, o["order_id"])
    more = [place(server, tok, symbol="005930", quantity=1) for _ in range(3)]
    for o in more:
        wait_order(server, tok, o["order_id"])
    await asyncio.sleep(0.5)
    got = seqs(c.events["order_update"])
    assert got == list(range(1, len(got) + 1)), got
    head = c.events["connected"][0]["last_seq"]
    assert len(got) > head
    await c.disconnect()


async def test_resume_from_the_future_or_too_old_asks_for_resync(
        make_server: Callable[..., Server]) -> None:
    srv = make_server({"HTS_JOURNAL_RETENTION": "64"}).start()
    tok = srv.add_user("resyncer")
    c = Client()
    await c.connect(srv.url, auth={"token": tok, "topics": ["order:*"], "last_seq": 99})
    (resync,) = await c.wait_for("resync_required")
    assert resync == {"type": "resync_required", "code": "resync_required", "last_seq": 0}
    await c.disconnect()
    # 70 orders, accepted and cancelled: 140 events, so the oldest are pruned
    for _ in range(70):
        o = place(srv, tok, order_type="limit", price=LOWER, quantity=1)
        srv.http("DELETE", f"/api/orders/{o['order_id']}", token=tok)
    old = Client()
    await old.connect(srv.url, auth={"token": tok, "topics": ["order:*"], "last_seq": 1})
    (resync,) = await old.wait_for("resync_required")
    assert resync["last_seq"] == 140
    await asyncio.sleep(0.3)
    assert old.events["order_update"] == []
    recent = Client()
    await recent.connect(srv.url, auth={"token": tok, "topics": ["order:*"], "last_seq": 130})
    got = await recent.wait_for("order_update", 10)
    assert seqs(got) == list(range(131, 141))
    assert not recent.events["resync_required"]
    await old.disconnect()
    await recent.disconnect()


async def test_restart_with_orders_in_flight_keeps_everything(
        make_server: Callable[..., Server]) -> None:
    # ₩2.6B of Kakao: many times the book on show, so it fills over many steps
    srv = make_server({"HTS_INITIAL_CASH": "5000000000"}).start()
    tok = srv.add_user("restarter")
    big = place(srv, tok, symbol="035720", quantity=60_000)
    resting = place(srv, tok, order_type="limit", price=LOWER, quantity=10)
    wait_order(srv, tok, big["order_id"], {"partially_filled"})
    srv.kill()  # SIGKILL: no clean shutdown
    srv.start()
    tok = srv.login("restarter", "password1")
    status, before, _ = srv.http("GET", f"/api/orders/{big['order_id']}", token=tok)
    assert status == 200 and before["status"] in {"partially_filled", "filled"}
    assert before["filled_quantity"] > 0
    status, r, _ = srv.http("GET", f"/api/orders/{resting['order_id']}", token=tok)
    assert r["status"] == "accepted"
    # the open order keeps filling after the restart, and the books balance
    done = wait_order(srv, tok, big["order_id"], timeout=60)
    assert done["status"] == "filled" and done["filled_quantity"] == 60_000
    fills = fills_of(srv, tok, big["order_id"], "buy")
    spent = sum(f["amount"] + f["fee"] for f in fills)
    acc = account(srv, tok)
    assert acc["cash"] == 5_000_000_000 - spent
    assert acc["reserved_cash"] == 10 * held_per_share(LOWER)
    (pos,) = acc["positions"]
    assert pos["quantity"] == 60_000 and pos["cost"] == spent
    # the journal survived too: a resume from 0 replays a gapless stream
    c = Client()
    await c.connect(srv.url, auth={"token": tok, "topics": ["order:*"], "last_seq": 0})
    head = (await c.wait_for("connected"))[0]["last_seq"]
    got = await c.wait_for("order_update", head)
    assert seqs(got)[:head] == list(range(1, head + 1))
    await c.disconnect()
