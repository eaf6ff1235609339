"""connect: how long until a new client sees its first price.

One hts_realtime server (core 0, default settings: price interval 1 s,
market tick 0.5 s). A "keeper" client stays subscribed to both symbols for
the whole run, so the price streamer is already running (the streamer starts
lazily and ticks at once for the very first subscriber, which would flatter
sample 0). Then 50 samples per client library, each on a fresh connection,
started 100 ms apart (+ jitter) so their start phases spread evenly over
the 1 s price tick and their handshakes rarely overlap:

* connect      start of connect -> socket.io CONNECT ack
* connected    start of connect -> the server's ``connected`` event
* first price  start of connect (with ``auth.topics``) -> first ``price_update``
* sub ack      ``subscribe`` to a second symbol -> its ack (after a random
  0-1 s pause on the open connection)
* sub->price   that ack -> the first ``price_update`` of the second symbol

first price and sub->price are dominated by the phase of the 1 s tick:
uniform on [0, 1 s] would give p50 ~ 500 ms, p95 ~ 950 ms.
"""

from __future__ import annotations

import asyncio
import random
import time
from typing import Any

import socketio

from bench.common import (
    SUMMARY_HEADERS,
    HtsServer,
    mint,
    note,
    print_table,
    run_node,
    summary,
    summary_row,
    write_result,
)

NAME = "connect"
SAMPLES = 50
STAGGER_S = 0.1
TOPIC = "price:005930"
SECOND_TOPIC = "price:000660"
METRICS = (
    ("connect_ms", "connect (CONNECT ack)"),
    ("connected_ms", "connect -> `connected`"),
    ("first_price_ms", "connect -> first price_update"),
    ("sub_ack_ms", "subscribe -> ack"),
    ("sub_first_price_ms", "subscribe ack -> first price_update"),
)


async def _py_sample(url: str, token: str, i: int) -> dict[str, Any]:
    await asyncio.sleep(i * STAGGER_S + random.random() * STAGGER_S * 0.5)
    loop = asyncio.get_running_loop()
    connected: asyncio.Future[float] = loop.create_future()
    first: asyncio.Future[float] = loop.create_future()
    second: asyncio.Future[float] = loop.create_future()
    second_symbol = SECOND_TOPIC.split(":", 1)[1]
    sio = socketio.AsyncClient(reconnection=False)

    async def _connected(data: Any) -> None:
        if not connected.done():
            connected.set_result(time.perf_counter())

    async def _price(msg: Any) -> None:
        t = time.perf_counter()
        if not first.done():
            first.set_result(t)
        if msg.get("symbol") == second_symbol and not second.done():
            second.set_result(t)

    sio.on("connected", _connected)
    sio.on("price_update", _price)

    r: dict[str, Any] = {"i": i}
    t0 = time.perf_counter()
    try:
        await sio.connect(url, auth={"token": token, "topics": [TOPIC]},
                          transports=["websocket"], wait_timeout=10)
        r["connect_ms"] = (time.perf_counter() - t0) * 1000
        r["connected_ms"] = (await asyncio.wait_for(connected, 10) - t0) * 1000
        r["first_price_ms"] = (await asyncio.wait_for(first, 10) - t0) * 1000
        pause = random.random()
        await asyncio.sleep(pause)
        r["pause_ms"] = pause * 1000
        t1 = time.perf_counter()
        ack = await sio.call("subscribe", {"topic": SECOND_TOPIC}, timeout=10)
        t_ack = time.perf_counter()
        if not ack.get("ok"):
            raise RuntimeError(f"subscribe failed: {ack}")
        r["sub_ack_ms"] = (t_ack - t1) * 1000
        r["sub_first_price_ms"] = (await asyncio.wait_for(second, 10) - t_ack) * 1000
    except Exception as exc:  # a failed sample is reported, not fatal
        r["error"] = repr(exc)
    finally:
        await sio.disconnect()
    return r


async def _python_client(url: str, token: str) -> list[dict[str, Any]]:
    return list(await asyncio.gather(*(_py_sample(url, token, i) for i in range(SAMPLES))))


async def _keeper(url: str, token: str) -> socketio.AsyncClient:
    sio = socketio.AsyncClient(reconnection=False)
    await sio.connect(url, auth={"token": token, "topics": [TOPIC, SECOND_TOPIC]},
                      transports=["websocket"], wait_timeout=10)
    return sio


async def run() -> dict[str, Any]:
    token = mint()
    results: dict[str, Any] = {}
    with HtsServer(NAME) as server:
        keeper = await _keeper(server.url, token)
        await asyncio.sleep(1.5)
        try:
            note(f"python-socketio client: {SAMPLES} samples")
            py = await _python_client(server.url, token)
            note(f"node socket.io-client: {SAMPLES} samples")
            node = await run_node("connect.mjs", {
                "url": server.url, "token": token, "topic": TOPIC,
                "second_topic": SECOND_TOPIC, "samples": SAMPLES,
                "stagger_ms": STAGGER_S * 1000,
            })
        finally:
            await keeper.disconnect()
        log = server.log_report()
        results["server"] = server.describe()
    clients = {"python-socketio 5.18": py, "socket.io-client 4.8 (node)": node["samples"]}
    rows = []
    stats: dict[str, Any] = {}
    for client, samples in clients.items():
        ok = [s for s in samples if "error" not in s]
        errors = [s["error"] for s in samples if "error" in s]
        stats[client] = {"errors": errors, "samples": samples}
        for key, label in METRICS:
            s = summary(float(x[key]) for x in ok if key in x)
            stats[client][key] = s
            rows.append(summary_row(f"{client}: {label}", s))
        if errors:
            rows.append([f"{client}: FAILED samples", str(len(errors)), errors[0][:60], "", "", ""])
    print_table("connect: times in ms (server on core 0, clients on core 1, "
                "websocket transport, price interval 1 s)", SUMMARY_HEADERS, rows)
    if log.problems:
        note(f"server log: {log.problems} warning/error lines, e.g. {log.examples[:2]}")
    results.update({
        "samples_per_client": SAMPLES,
        "stagger_s": STAGGER_S,
        "topic": TOPIC,
        "second_topic": SECOND_TOPIC,
        "clients": stats,
        "server_log": log.to_dict(),
    })
    write_result(NAME, results)
    return results
