"""churn: does memory come back after connect/disconnect churn and a request flood?

1. **churn**: 15,000 cycles of open websocket → Socket.IO CONNECT (token, topics
   ``price:005930`` and ``order:*``) → ``connected`` → DISCONNECT → close, 20 at a
   time, from raw Engine.IO frames (aiohttp, on the load core). VmRSS every 3,000
   cycles and 10 s after the last; the same against the Node peer.
2. **flood** (hts_realtime only): one client that never reads sends 2,000
   ``get_account`` requests a second for 30 s, reconnecting whenever it is cut
   off; VmRSS before, after, and 10 s later.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import aiohttp

from bench.common import (
    HtsServer,
    PeerServer,
    fmt,
    mint,
    note,
    print_table,
    rss_kb,
    settled_rss_kb,
    write_result,
)

NAME = "churn"
CYCLES = 15_000
EVERY = 3_000
CONCURRENCY = 20
FLOOD_SECONDS = 30.0
FLOOD_PER_SECOND = 2_000


def _ws_url(base: str) -> str:
    return base.replace("http", "ws") + "/socket.io/?EIO=4&transport=websocket"


async def _cycle(http: aiohttp.ClientSession, url: str, token: str) -> None:
    async with http.ws_connect(url) as ws:
        await ws.receive()  # Engine.IO OPEN
        await ws.send_str("40" + json.dumps({"token": token,
                                             "topics": ["price:005930", "order:*"]}))
        while True:
            msg = await ws.receive()
            if msg.type is not aiohttp.WSMsgType.TEXT or msg.data.startswith('42["connected"'):
                break
            if msg.data == "2":
                await ws.send_str("3")
        await ws.send_str("41")


async def _churn(server: HtsServer | PeerServer) -> dict[str, Any]:
    token, url, pid = mint(), _ws_url(server.url), server.pid
    rss = [await settled_rss_kb(pid, settle=2.0)]
    t0 = time.monotonic()
    async with aiohttp.ClientSession() as http:
        for done in range(CONCURRENCY, CYCLES + 1, CONCURRENCY):
            await asyncio.gather(*(_cycle(http, url, token) for _ in range(CONCURRENCY)))
            if done % EVERY == 0:
                rss.append(rss_kb(pid))
    seconds = time.monotonic() - t0
    return {**server.describe(), "cycles": CYCLES, "seconds": seconds,
            "rss_kb": rss, "rss_after_10s_kb": await settled_rss_kb(pid, settle=10.0)}


async def _flood(server: HtsServer) -> dict[str, Any]:
    token, url, pid = mint(), _ws_url(server.url), server.pid
    before = await settled_rss_kb(pid, settle=2.0)
    sessions = sent = 0
    frame = '421["get_account",{}]'
    end = time.monotonic() + FLOOD_SECONDS
    async with aiohttp.ClientSession() as http:
        while time.monotonic() < end:
            try:
                ws = await http.ws_connect(url)
            except aiohttp.ClientError:  # refused (429): the per-address connect rate
                await asyncio.sleep(0.05)
                continue
            sessions += 1
            await ws.receive()
            await ws.send_str("40" + json.dumps({"token": token}))
            try:
                while time.monotonic() < end and not ws.closed:
                    for _ in range(FLOOD_PER_SECOND // 10):
                        await ws.send_str(frame)
                        sent += 1
                    await asyncio.sleep(0.1)  # never reads a reply
            except (aiohttp.ClientError, ConnectionError):
                pass
            await ws.close()
    after = rss_kb(pid)
    return {"seconds": FLOOD_SECONDS, "sessions": sessions, "requests_sent": sent,
            "rss_before_kb": before, "rss_after_kb": after,
            "rss_after_10s_kb": await settled_rss_kb(pid, settle=10.0)}


async def run() -> dict[str, Any]:
    out: dict[str, Any] = {}
    note(f"hts_realtime: {CYCLES} connect/disconnect cycles")
    with HtsServer(NAME) as hts:
        out["hts_realtime"] = await _churn(hts)
    note(f"node peer: {CYCLES} connect/disconnect cycles")
    with PeerServer(NAME) as peer:
        out["node_peer"] = await _churn(peer)
    note(f"hts_realtime: a stuck client sending {FLOOD_PER_SECOND} requests/s for "
         f"{FLOOD_SECONDS:.0f} s")
    with HtsServer(NAME + "-flood", connects_per_second_per_address=20) as hts:
        out["flood"] = await _flood(hts)

    rows = []
    for label, key in (("hts_realtime (python)", "hts_realtime"),
                       ("node socket.io peer", "node_peer")):
        m = out[key]
        rows.append([label, *(fmt(kb / 1024) for kb in m["rss_kb"]),
                     fmt(m["rss_after_10s_kb"] / 1024), fmt(m["cycles"] / m["seconds"], 0)])
    print_table(f"churn: RSS MiB over {CYCLES} connect/disconnect cycles ({CONCURRENCY} at a "
                "time), server core 0, client core 1",
                ["server", "start", *(f"{n:,}" for n in range(EVERY, CYCLES + 1, EVERY)),
                 "10 s later", "cycles/s"], rows)
    f = out["flood"]
    print_table(f"flood: one stuck client, {FLOOD_PER_SECOND} requests/s for "
                f"{FLOOD_SECONDS:.0f} s, reconnecting when cut off (hts_realtime)",
                ["RSS before MiB", "after", "10 s later", "sessions", "requests sent"],
                [[fmt(f["rss_before_kb"] / 1024), fmt(f["rss_after_kb"] / 1024),
                  fmt(f["rss_after_10s_kb"] / 1024), str(f["sessions"]),
                  str(f["requests_sent"])]])
    write_result(NAME, out)
    return out
