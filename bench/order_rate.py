"""order_rate: how many orders one engine core accepts over HTTP, and at what latency.

One hts_realtime server pinned to the server core (``taskset``), the per-user
write budget raised out of the way. 20 users (``hts-realtime user add``,
logged in over HTTP). A closed-loop Node generator on the load core
(``bench/peer/orders.mjs``): C clients, each its own keep-alive connection
and one user's token, send ``POST /api/orders`` one after another. The
orders are resting limit buys of 1 share at the day's lower limit of three
cheap symbols, so they are accepted and stay open (nothing fills: this
measures order entry, not matching). Two loads, as in issue 21:

* 20 users x 4 clients (80 concurrent)
* 100 concurrent clients (20 users x 5)
* the same 100 clients through a cluster gateway (Redis, ``--role engine`` on
  the server core, ``--role gateway`` on the load core beside the generator)
* the same 100 clients with the store on PostgreSQL (a real server from its own
  data directory, unpinned), one process and through a gateway
* the durability variants, 100 clients, one process: SQLite
  ``synchronous=NORMAL`` and PostgreSQL ``synchronous_commit=off`` (what the
  stronger promise costs)

plus, for scale, an authenticated ``GET /api/account`` at 80 clients (what
one request costs without a write). Each load runs ``WARMUP_S`` seconds
unmeasured, then ``DURATION_S`` seconds measured; the server's CPU is read
from /proc over the measured window.

``BENCH_ORDER_RATE_PROFILE=1`` records the server with py-spy during the
first load (``bench/results/work/order_rate/profile-*.txt``) when py-spy is
installed (it is not a dependency).
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from bench.common import (
    LOAD_CORE,
    SERVER_CORE,
    CpuWindow,
    HtsServer,
    http_json,
    login,
    note,
    pin,
    print_table,
    run_node,
    write_result,
)

NAME = "order_rate"
USERS = 20
SYMBOLS = ("048410", "900140", "215600")  # under ₩5,000: a user's cash lasts the run
WARMUP_S = 3.0
DURATION_S = 10.0
LOADS = (("orders, 20 users x 4 clients", 4, "orders"),
         ("orders, 100 clients (20 users x 5)", 5, "orders"),
         ("GET /api/account, 20 users x 4 clients", 4, "account"))


def lower_limit(url: str, token: str, symbol: str) -> int:
    """The day's lower price limit, read from the refusal of an order below it."""
    status, body = http_json("POST", url + "/api/orders", {
        "symbol": symbol, "side": "buy", "order_type": "limit", "quantity": 1, "price": 1,
    }, token)
    match = re.search(r"band (\d+)-(\d+)", str(body))
    if status != 400 or match is None:
        raise RuntimeError(f"no band in the refusal: {status} {body}")
    return int(match.group(1))


def _profile(pid: int, seconds: float, out: Path) -> subprocess.Popen[bytes] | None:
    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if os.environ.get("BENCH_ORDER_RATE_PROFILE") != "1" or not Path(spy).exists():
        return None
    return subprocess.Popen(
        [*pin(LOAD_CORE), spy, "record", "--pid", str(pid), "--duration", str(int(seconds)),
         "--rate", "250", "--format", "raw", "--output", str(out), "--nonblocking"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


async def measure(server: HtsServer, tokens: list[str], bodies: list[dict[str, Any]],
                  per_user: int, kind: str, profile: Path | None,
                  cpu_of: int | None = None) -> dict[str, Any]:
    args = {"url": server.url, "tokens": tokens, "clients": len(tokens) * per_user,
            "warmupMs": WARMUP_S * 1000, "durationMs": DURATION_S * 1000}
    if kind == "orders":
        args.update(method="POST", path="/api/orders", bodies=bodies)
    else:
        args.update(method="GET", path="/api/account", bodies=[None])
    task = asyncio.create_task(run_node("orders.mjs", args, timeout=WARMUP_S + DURATION_S + 60))
    await asyncio.sleep(WARMUP_S)
    cpu = CpuWindow(cpu_of or server.pid)
    spy = _profile(server.pid, DURATION_S - 1, profile) if profile else None
    result = await task
    result["server_cpu_percent"] = cpu.percent()
    if spy is not None:
        spy.wait(30)
    return result


async def _users(server: HtsServer, login_url: str) -> list[str]:
    names = [f"rate{i:02d}" for i in range(USERS)]
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda n: server.add_user(n, "rate-bench-pw"), names))
    return [login(login_url, n, "rate-bench-pw") for n in names]


def _row(label: str, r: dict[str, Any], cpu: str) -> list[str]:
    lat = r["latencies_ms"]
    return [label, f"{r['rate']:,.0f}", cpu, f"{lat['p50']:.1f}", f"{lat['p99']:.1f}",
            f"{lat['max']:.1f}", str(r["refused"] or "-"), str(r["errors"])]


class PinnedToLoadCore(HtsServer):
    """A cluster gateway on the load core (the engine keeps the server core to itself)."""

    def command(self) -> list[str]:
        return [*pin(LOAD_CORE), *super().command()[len(pin(SERVER_CORE)):]]


async def through_gateway(rows: list[list[str]], results: dict[str, Any]) -> None:
    """Redis, the engine on the server core, one gateway beside the generator."""
    from bench.cluster import Redis

    redis = Redis("order-rate-redis").start()
    engine = HtsServer("order_rate_engine", role="engine", redis_url=redis.url,
                       write_rate_per_second=1_000_000, write_rate_burst=1_000_000,
                       trusted_proxies="127.0.0.1")
    gateway = PinnedToLoadCore("order_rate_gateway", role="gateway", redis_url=redis.url,
                               engine_url=engine.url)
    try:
        engine.start()
        gateway.start()
        tokens = await _users(engine, gateway.url)
        bodies = [{"symbol": s, "side": "buy", "order_type": "limit", "quantity": 1,
                   "price": lower_limit(gateway.url, tokens[0], s)} for s in SYMBOLS]
        gw_cpu = CpuWindow(gateway.pid)
        r = await measure(gateway, tokens, bodies, 5, "orders", None, engine.pid)
        r["gateway_cpu_percent"] = gw_cpu.percent()
        label = "orders through a gateway, 100 clients"
        results[label] = r
        rows.append(_row(label, r, f"{r['server_cpu_percent']:.0f} % "
                                   f"(+ gateway {r['gateway_cpu_percent']:.0f} %)"))
    finally:
        gateway.stop()
        engine.stop()
        redis.stop()


async def single(rows: list[list[str]], results: dict[str, Any], label: str,
                 name: str, **settings: str | float | int) -> None:
    """100 clients against one process with these settings (the durability variants)."""
    with HtsServer(name, write_rate_per_second=1_000_000, write_rate_burst=1_000_000,
                   **settings) as server:
        tokens = await _users(server, server.url)
        bodies = [{"symbol": s, "side": "buy", "order_type": "limit", "quantity": 1,
                   "price": lower_limit(server.url, tokens[0], s)} for s in SYMBOLS]
        r = await measure(server, tokens, bodies, 5, "orders", None)
        results[label] = r
        rows.append(_row(label, r, f"{r['server_cpu_percent']:.0f} %"))


async def on_postgres(rows: list[list[str]], results: dict[str, Any]) -> None:
    """The same 100 clients with the engine's store on a real PostgreSQL (its own data
    directory, ``synchronous_commit=on``), one process and through a gateway."""
    from bench.cluster import Redis
    from tests.postgres import PostgresServer

    pg = PostgresServer().start()
    try:
        await single(rows, results, "PostgreSQL: orders, 100 clients", "order_rate_pg",
                     database_url=pg.create_database("single"))
        await single(rows, results, "PostgreSQL synchronous_commit=off: orders, 100 clients",
                     "order_rate_pg_off", database_url=pg.create_database("off"),
                     database_synchronous_commit="off")
        redis = Redis("order-rate-pg-redis").start()
        engine = HtsServer("order_rate_pg_engine", role="engine", redis_url=redis.url,
                           database_url=pg.create_database("cluster"),
                           write_rate_per_second=1_000_000, write_rate_burst=1_000_000,
                           trusted_proxies="127.0.0.1")
        gateway = PinnedToLoadCore("order_rate_pg_gateway", role="gateway",
                                   redis_url=redis.url, engine_url=engine.url)
        try:
            engine.start()
            gateway.start()
            tokens = await _users(engine, gateway.url)
            bodies = [{"symbol": s, "side": "buy", "order_type": "limit", "quantity": 1,
                       "price": lower_limit(gateway.url, tokens[0], s)} for s in SYMBOLS]
            gw_cpu = CpuWindow(gateway.pid)
            r = await measure(gateway, tokens, bodies, 5, "orders", None, engine.pid)
            r["gateway_cpu_percent"] = gw_cpu.percent()
            label = "PostgreSQL: orders through a gateway, 100 clients"
            results[label] = r
            rows.append(_row(label, r, f"{r['server_cpu_percent']:.0f} % "
                                       f"(+ gateway {r['gateway_cpu_percent']:.0f} %)"))
        finally:
            gateway.stop()
            engine.stop()
            redis.stop()
    finally:
        pg.destroy()


async def run() -> dict[str, Any]:
    rows: list[list[str]] = []
    results: dict[str, Any] = {}
    with HtsServer(NAME, write_rate_per_second=1_000_000, write_rate_burst=1_000_000) as server:
        tokens = await _users(server, server.url)
        bodies = [{"symbol": s, "side": "buy", "order_type": "limit", "quantity": 1,
                   "price": lower_limit(server.url, tokens[0], s)} for s in SYMBOLS]
        for i, (label, per_user, kind) in enumerate(LOADS):
            profile = server.workdir / f"profile-{i}.txt" if i == 0 else None
            r = await measure(server, tokens, bodies, per_user, kind, profile)
            results[label] = r
            rows.append(_row(label, r, f"{r['server_cpu_percent']:.0f} %"))
        log = server.log_report()
        described = server.describe()
    await single(rows, results, "SQLite synchronous=NORMAL: orders, 100 clients",
                 "order_rate_normal", database_synchronous="NORMAL")
    await through_gateway(rows, results)
    await on_postgres(rows, results)
    print_table("order_rate: closed-loop HTTP clients against one engine core (SQLite "
                "synchronous=FULL unless marked PostgreSQL, synchronous_commit=on; group "
                "commit; PostgreSQL itself unpinned)",
                ["load", "ok/s", "engine CPU", "p50 ms", "p99 ms", "max ms", "refused",
                 "errors"], rows)
    if log.problems:
        note(f"server log: {log.problems} warning/error lines, e.g. {log.examples[:2]}")
    result = {"server": described, "users": USERS, "warmup_s": WARMUP_S,
              "duration_s": DURATION_S, "loads": results, "server_log": log.to_dict(),
              "loadavg_at_end": os.getloadavg()}
    write_result(NAME, result)
    return result
