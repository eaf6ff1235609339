"""order_latency: HTTP order -> its ``order_update`` events on the socket.

One hts_realtime server on core 0 with ``HTS_MARKET_TICK_SECONDS=0.1``; a
user made with ``hts-realtime user add`` and logged in over HTTP. A
python-socketio client (core 1) holds ``auth.topics: ['order:*']``. Orders
are market buys of 1 share of 005930, placed one after another over a
keep-alive aiohttp session (10 warm-up orders first, not counted), with a
random 0-20 ms pause between them:

* HTTP      POST sent -> 201 response read
* accepted  POST sent -> ``order_update`` with status ``accepted`` received
* filled    POST sent -> ``order_update`` with status ``filled`` received

filled includes waiting for the next market trade of the symbol: the
market steps every 0.1 s and a symbol trades on a step with probability
0.7, so filled ~ accepted + U(0, 0.1 s) + geometric whole steps.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from typing import Any

import aiohttp
import socketio

from bench.common import (
    SUMMARY_HEADERS,
    HtsServer,
    login,
    note,
    print_table,
    summary,
    summary_row,
    write_result,
)

NAME = "order_latency"
SAMPLES = 200
WARMUP = 10
MARKET_TICK_S = 0.1
USER, PASSWORD = "bench_orders", "bench-orders-pw"
ORDER = {"symbol": "005930", "side": "buy", "quantity": 1, "order_type": "market"}


class OrderWatcher:
    """Receipt times of every (order_id, status) seen on the socket."""

    def __init__(self) -> None:
        self.seen: dict[tuple[str, str], float] = {}
        self._changed = asyncio.Event()
        self.sio = socketio.AsyncClient(reconnection=False)
        self.sio.on("order_update", self._on_update)

    async def _on_update(self, msg: dict[str, Any]) -> None:
        data = msg["data"]
        self.seen.setdefault((data["order_id"], data["status"]), time.perf_counter())
        self._changed.set()

    async def wait(self, order_id: str, status: str, timeout: float = 10.0) -> float:
        deadline = time.perf_counter() + timeout
        while (order_id, status) not in self.seen:
            remaining = deadline - time.perf_counter()
            if remaining <= 0:
                raise TimeoutError(f"no {status} for {order_id}")
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), remaining)
        return self.seen[(order_id, status)]


async def _place(http: aiohttp.ClientSession, url: str, token: str) -> tuple[str, float, float]:
    t0 = time.perf_counter()
    async with http.post(url + "/api/orders", json=ORDER,
                         headers={"Authorization": f"Bearer {token}"}) as resp:
        body = await resp.json()
        if resp.status != 201:
            raise RuntimeError(f"order refused: {resp.status} {body}")
    return str(body["order_id"]), t0, time.perf_counter()


async def run() -> dict[str, Any]:
    # samples back to back, not a test of the per-user write limit
    with HtsServer(NAME, market_tick_seconds=MARKET_TICK_S,
                   write_rate_per_second=1_000_000, write_rate_burst=1_000_000) as server:
        server.add_user(USER, PASSWORD)
        token = login(server.url, USER, PASSWORD)
        watcher = OrderWatcher()
        await watcher.sio.connect(server.url, auth={"token": token, "topics": ["order:*"]},
                                  transports=["websocket"], wait_timeout=10)
        samples: list[dict[str, Any]] = []
        try:
            async with aiohttp.ClientSession() as http:
                note(f"{WARMUP} warm-up + {SAMPLES} market orders, one at a time")
                placed: list[tuple[str, float, float]] = []
                for i in range(WARMUP + SAMPLES):
                    order_id, t0, t_resp = await _place(http, server.url, token)
                    t_acc = await watcher.wait(order_id, "accepted")
                    if i >= WARMUP:
                        placed.append((order_id, t0, t_resp))
                        samples.append({
                            "order_id": order_id,
                            "http_ms": (t_resp - t0) * 1000,
                            "accepted_ms": (t_acc - t0) * 1000,
                            "accepted_before_response": t_acc < t_resp,
                        })
                    await asyncio.sleep(random.random() * 0.02)
                for s, (order_id, t0, _) in zip(samples, placed, strict=True):
                    try:
                        s["filled_ms"] = (await watcher.wait(order_id, "filled") - t0) * 1000
                    except TimeoutError:
                        s["filled_ms"] = None
        finally:
            await watcher.sio.disconnect()
        log = server.log_report()
        described = server.describe()

    stats = {
        "http_ms": summary(s["http_ms"] for s in samples),
        "accepted_ms": summary(s["accepted_ms"] for s in samples),
        "filled_ms": summary(s["filled_ms"] for s in samples if s["filled_ms"] is not None),
    }
    unfilled = sum(1 for s in samples if s["filled_ms"] is None)
    early = sum(1 for s in samples if s["accepted_before_response"])
    print_table(
        f"order_latency: ms from POST /api/orders sent (market buy 1 share, "
        f"market tick {MARKET_TICK_S} s, server core 0, client core 1)",
        SUMMARY_HEADERS,
        [summary_row("HTTP 201 response", stats["http_ms"]),
         summary_row("order_update accepted", stats["accepted_ms"]),
         summary_row("order_update filled (incl. wait for next trade)", stats["filled_ms"])],
    )
    note(f"accepted arrived before the HTTP response in {early}/{len(samples)} samples; "
         f"unfilled after 10 s: {unfilled}")
    if log.problems:
        note(f"server log: {log.problems} warning/error lines, e.g. {log.examples[:2]}")
    result = {
        "server": described,
        "samples": SAMPLES,
        "warmup": WARMUP,
        "order": ORDER,
        "stats": stats,
        "accepted_before_response": early,
        "unfilled": unfilled,
        "raw": samples,
        "server_log": log.to_dict(),
    }
    write_result(NAME, result)
    return result
