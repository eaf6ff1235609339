"""login_flood: what a flood of wrong logins costs everyone else.

A single attacker fires ``FLOOD`` concurrent ``POST /api/auth/login`` with
wrong passwords (each one a scrypt hash, ~16 MiB and tens of ms of CPU),
``ROUNDS`` times, from one address, while a bystander measures:

* ``GET /healthz`` latency (one request every ``PROBE_EVERY_S``), and
* ``get_price`` ack latency over an already open Socket.IO connection.

Reported: the probes' latency before and during the flood, how the flood's
requests were answered (401 after a hash, 429 ``rate_limited`` without one)
and the server CPU seconds the flood cost. Server on the server core, the
attacker and the bystander on the load core.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from typing import Any

import aiohttp
import socketio

from bench.common import (
    HtsServer,
    cpu_seconds,
    fmt,
    login,
    note,
    print_table,
    summary,
    summary_row,
    write_result,
)

NAME = "login_flood"
FLOOD = 200
ROUNDS = 3
PROBE_EVERY_S = 0.02
QUIET_S = 3.0
HEADERS = ["", "n", "p50", "p95", "p99", "max"]


async def _probe(http: aiohttp.ClientSession, url: str, sio: socketio.AsyncClient,
                 stop: asyncio.Event, out: dict[str, list[float]]) -> None:
    while not stop.is_set():
        t0 = time.perf_counter()
        async with http.get(url + "/healthz") as r:
            await r.read()
        out["healthz"].append((time.perf_counter() - t0) * 1000)
        t0 = time.perf_counter()
        ack = await sio.call("get_price", {"symbol": "005930"}, timeout=60)
        if ack.get("ok"):
            out["get_price"].append((time.perf_counter() - t0) * 1000)
        await asyncio.sleep(PROBE_EVERY_S)


async def _probe_for(url: str, sio: socketio.AsyncClient, seconds: float) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {"healthz": [], "get_price": []}
    stop = asyncio.Event()
    async with aiohttp.ClientSession() as http:
        task = asyncio.create_task(_probe(http, url, sio, stop, out))
        await asyncio.sleep(seconds)
        stop.set()
        await task
    return out


async def _flood(url: str) -> tuple[Counter[str], float]:
    answers: Counter[str] = Counter()
    connector = aiohttp.TCPConnector(limit=FLOOD)
    t0 = time.perf_counter()
    async with aiohttp.ClientSession(connector=connector) as http:

        async def one(i: int) -> None:
            body = {"username": "testuser", "password": f"wrong-{i}"}
            async with http.post(url + "/api/auth/login", json=body) as r:
                data = await r.json()
                answers[f"{r.status} {data['error']['code']}"] += 1

        for _ in range(ROUNDS):
            await asyncio.gather(*(one(i) for i in range(FLOOD)))
    return answers, time.perf_counter() - t0


# the guards as shipped; then throttling off, to see the bounded scrypt pool alone
VARIANTS: dict[str, dict[str, int]] = {
    "defaults": {},
    "throttling off": {"login_failures_per_username": 1_000_000,
                       "login_failures_per_address": 1_000_000},
}


async def _measure(label: str, settings: dict[str, int]) -> dict[str, Any]:
    with HtsServer(f"{NAME}-{len(settings)}", **settings) as server:
        assert server.proc is not None
        pid = server.proc.pid
        token = login(server.url, "testuser", "testpass")
        sio = socketio.AsyncClient(reconnection=False)
        await sio.connect(server.url, auth={"token": token}, transports=["websocket"],
                          wait_timeout=10)
        try:
            note(f"{label}: quiet probes for {QUIET_S} s")
            quiet = await _probe_for(server.url, sio, QUIET_S)
            note(f"{label}: {ROUNDS} x {FLOOD} concurrent wrong logins")
            cpu0 = cpu_seconds(pid)
            out: dict[str, list[float]] = {"healthz": [], "get_price": []}
            stop = asyncio.Event()
            async with aiohttp.ClientSession() as http:
                probe = asyncio.create_task(_probe(http, server.url, sio, stop, out))
                answers, flood_s = await _flood(server.url)
                stop.set()
                await probe
            flood_cpu = cpu_seconds(pid) - cpu0
        finally:
            await sio.disconnect()
        log = server.log_report()
        described = server.describe()
    rows = []
    stats: dict[str, Any] = {}
    for phase, data in (("quiet", quiet), ("during flood", out)):
        for key in ("healthz", "get_price"):
            s = summary(data[key])
            stats[f"{phase}:{key}"] = s
            rows.append(summary_row(f"{key} ({phase})", s))
    print_table(f"login_flood, {label}: bystander latency in ms ({ROUNDS} x {FLOOD} concurrent "
                "wrong logins from one address)", HEADERS, rows)
    note(f"{label}: answers {dict(answers)}; took {fmt(flood_s, 2)} s; "
         f"server CPU {fmt(flood_cpu, 2)} s")
    return {**described, "answers": dict(answers), "flood_seconds": flood_s,
            "flood_server_cpu_seconds": flood_cpu, "latency_ms": stats,
            "samples": {"quiet": quiet, "flood": out}, "server_log": log.to_dict()}


async def run() -> dict[str, Any]:
    result: dict[str, Any] = {"flood": FLOOD, "rounds": ROUNDS}
    for label, settings in VARIANTS.items():
        result[label] = await _measure(label, settings)
    write_result(NAME, result)
    return result
