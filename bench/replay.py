"""replay: catching up on 10,000 missed private events in one handshake.

One hts_realtime server on core 0 (default settings). A fresh user gets
10,000 journaled ``order_update`` events the honest way, over HTTP: 5,000
limit buys of 1 share of 005930 at the day's lower limit price (which never
trades in this run), each cancelled right after (accepted + cancelled = 2
events), by 8 concurrent workers on core 1. How long that took is reported
too.

Then a client connects with ``auth: {token, topics: ['order:*'], last_seq: 0}``
and we time, from the start of connect: the ``connected`` event, the first
replayed ``order_update``, and the last of the 10,000; every event is checked
to arrive in ``seq`` order with no gap. Three runs each, alternating, with
the python-socketio client, the Node socket.io-client, and the Node client
with ``perMessageDeflate: false`` (socket.io-client offers permessage-deflate
and the server's aiohttp websocket accepts it, so each replayed frame is
compressed for that client; python-socketio's client does not offer it).
The server's RSS is read before the first and after each replay.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import aiohttp
import socketio

from bench.common import (
    HtsServer,
    fmt,
    login,
    note,
    print_table,
    rss_kb,
    run_node,
    settled_rss_kb,
    summary,
    write_result,
)
from hts_realtime.domain.krx import price_limits

NAME = "replay"
ORDERS = 5000  # x2 events
WORKERS = 8
RUNS = 3
PY_CLIENT = "python-socketio 5.18"
NODE_CLIENT = "socket.io-client 4.8 (node)"
NODE_PLAIN = "socket.io-client 4.8 (node), no deflate"
CLIENTS = (PY_CLIENT, NODE_CLIENT, NODE_PLAIN)
SYMBOL = "005930"
USER, PASSWORD = "bench_replay", "bench-replay-pw"


async def _generate(url: str, token: str, price: int) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {token}"}
    order = {"symbol": SYMBOL, "side": "buy", "quantity": 1, "order_type": "limit",
             "price": price}
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(ORDERS):
        queue.put_nowait(i)
    latencies: list[float] = []
    refused: list[str] = []

    async def worker(http: aiohttp.ClientSession) -> None:
        while not queue.empty():
            queue.get_nowait()
            t0 = time.perf_counter()
            async with http.post(url + "/api/orders", json=order, headers=headers) as resp:
                body = await resp.json()
            if resp.status != 201:
                refused.append(f"place {resp.status} {body}")
                continue
            async with http.delete(f"{url}/api/orders/{body['order_id']}",
                                   headers=headers) as resp:
                if resp.status != 200:
                    refused.append(f"cancel {resp.status} {await resp.text()}")
            latencies.append((time.perf_counter() - t0) * 1000)

    t0 = time.perf_counter()
    connector = aiohttp.TCPConnector(limit=WORKERS)
    async with aiohttp.ClientSession(connector=connector) as http:
        await asyncio.gather(*(worker(http) for _ in range(WORKERS)))
    seconds = time.perf_counter() - t0
    return {
        "orders": ORDERS,
        "http_requests": 2 * ORDERS,
        "workers": WORKERS,
        "seconds": seconds,
        "requests_per_s": 2 * ORDERS / seconds,
        "place_plus_cancel_ms": summary(latencies),
        "refused": refused[:5],
        "refused_count": len(refused),
    }


async def _python_replay(url: str, token: str, expect: int) -> dict[str, Any]:
    sio = socketio.AsyncClient(reconnection=False)
    loop = asyncio.get_running_loop()
    done: asyncio.Future[None] = loop.create_future()
    connected: asyncio.Future[dict[str, Any]] = loop.create_future()
    state: dict[str, Any] = {"count": 0, "last": 0, "out_of_order": 0, "first": None}

    async def _connected(data: dict[str, Any]) -> None:
        connected.set_result({"t": time.perf_counter(), "head": data.get("last_seq")})

    async def _update(msg: dict[str, Any]) -> None:
        if state["first"] is None:
            state["first"] = time.perf_counter()
        state["count"] += 1
        if msg["seq"] != state["last"] + 1:
            state["out_of_order"] += 1
        state["last"] = msg["seq"]
        if state["count"] >= expect and not done.done():
            done.set_result(None)

    async def _resync(data: Any) -> None:
        state["resync"] = True
        if not done.done():
            done.set_result(None)

    sio.on("connected", _connected)
    sio.on("order_update", _update)
    sio.on("resync_required", _resync)

    t0 = time.perf_counter()
    await sio.connect(url, auth={"token": token, "topics": ["order:*"], "last_seq": 0},
                      transports=["websocket"], wait_timeout=20)
    try:
        c = await asyncio.wait_for(connected, 20)
        await asyncio.wait_for(done, 120)
        t_all = time.perf_counter()
    finally:
        await sio.disconnect()
    return {
        "connected_ms": (c["t"] - t0) * 1000,
        "first_ms": (state["first"] - t0) * 1000 if state["first"] else None,
        "all_ms": (t_all - t0) * 1000,
        "count": state["count"],
        "last_seq": state["last"],
        "head": c["head"],
        "out_of_order": state["out_of_order"],
        "resync": state.get("resync", False),
    }


async def run() -> dict[str, Any]:
    # the journal is generated far faster than the per-user write limit allows, on purpose
    with HtsServer(NAME, write_rate_per_second=1_000_000,
                   write_rate_burst=1_000_000) as server:
        server.add_user(USER, PASSWORD)
        token = login(server.url, USER, PASSWORD)
        async with aiohttp.ClientSession() as http, \
                http.get(server.url + "/api/symbols") as resp:
            symbols = await resp.json()
        prev_close = next(s["prev_close"] for s in symbols if s["symbol"] == SYMBOL)
        lower, _ = price_limits(int(prev_close))
        note(f"generating {2 * ORDERS:,} events: {ORDERS:,} limit buys at {lower:,} KRW "
             f"+ cancels, {WORKERS} workers")
        gen = await _generate(server.url, token, lower)
        note(f"generated in {gen['seconds']:.1f} s ({gen['requests_per_s']:.0f} HTTP requests/s)")
        expect = 2 * ORDERS
        rss_before = await settled_rss_kb(server.pid, settle=1.0)
        runs: list[dict[str, Any]] = []
        for i in range(RUNS):
            for client in CLIENTS:
                if client == PY_CLIENT:
                    r = await _python_replay(server.url, token, expect)
                else:
                    r = await run_node("replay.mjs", {
                        "url": server.url, "token": token, "expect": expect,
                        "deflate": client == NODE_CLIENT}, timeout=180)
                r.update({"client": client, "run": i + 1, "rss_after_kb": rss_kb(server.pid)})
                runs.append(r)
                await asyncio.sleep(0.5)
        rss_end = await settled_rss_kb(server.pid, settle=1.0)
        log = server.log_report()
        described = server.describe()

    rows = []
    by_client: dict[str, Any] = {}
    for client in CLIENTS:
        mine = [r for r in runs if r["client"] == client]
        alls = [r["all_ms"] for r in mine]
        by_client[client] = {
            "all_ms": summary(alls),
            "connected_ms": summary(r["connected_ms"] for r in mine),
            "first_ms": summary(r["first_ms"] for r in mine if r["first_ms"] is not None),
            "events_per_s_median": expect / (summary(alls)["p50"] / 1000),
            "complete_and_in_order": all(r["count"] == expect and r["out_of_order"] == 0
                                         and not r["resync"] for r in mine),
        }
        for r in mine:
            rows.append([
                client, str(r["run"]), fmt(r["connected_ms"]), fmt(r["first_ms"]),
                fmt(r["all_ms"]), fmt(expect / (r["all_ms"] / 1000), 0),
                f"{r['count']:,}/{expect:,}", "yes" if r["out_of_order"] == 0 else
                f"NO ({r['out_of_order']})", fmt(r["rss_after_kb"] / 1024),
            ])
    print_table(
        f"replay: {expect:,} missed order_updates, auth last_seq=0 (server core 0, client core 1); "
        f"ms from connect start",
        ["client", "run", "connected", "first event", "all events", "events/s", "received",
         "in order", "server RSS MiB"],
        rows,
    )
    note(f"generation: {2 * ORDERS:,} events via {2 * ORDERS:,} HTTP requests in "
         f"{gen['seconds']:.1f} s ({gen['requests_per_s']:.0f} req/s, {WORKERS} workers); "
         f"refused: {gen['refused_count']}")
    note(f"server RSS: {rss_before / 1024:.1f} MiB before replays, "
         f"{rss_end / 1024:.1f} MiB after {len(runs)} replays")
    for client, s in by_client.items():
        note(f"{client}: median {s['all_ms']['p50']:.0f} ms for all "
             f"({s['events_per_s_median']:.0f} events/s)")
    if log.problems:
        note(f"server log: {log.problems} warning/error lines, e.g. {log.examples[:2]}")
    result = {
        "server": described,
        "events": expect,
        "generation": gen,
        "rss_before_kb": rss_before,
        "rss_after_kb": rss_end,
        "runs": runs,
        "by_client": by_client,
        "server_log": log.to_dict(),
    }
    write_result(NAME, result)
    return result
