"""failover: how long orders stop when the leading engine is killed.

A real PostgreSQL (its own data directory, ``tests/postgres.py``), Redis, and two
``--role engine`` processes on it with the default lease (``HTS_LEASE_SECONDS``
3.0), both on the server core. A client (on the load core) places an order every
50 ms on each engine directly; the leader answers 201, the standby 503. Each round
``kill -9``s the leader and measures, on the client's clock, from the kill to the
first 201 from the other engine: the lease running out, the standby's next poll,
its rebuild from the database, its first order. The killed engine is then started
again (it comes back as the standby) and the next round kills the new leader.
``ROUNDS`` rounds: p50, p90 and max.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import time
import urllib.error
import urllib.request
from typing import Any

from bench.cluster import Redis
from bench.common import HtsServer, login, note, print_table, write_result
from tests.postgres import PostgresServer

NAME = "failover"
ROUNDS = 10
LEASE_S = 3.0
ORDER = b'{"symbol":"005930","side":"buy","order_type":"limit","quantity":1,"price":52500}'


def _place(url: str, token: str) -> int:
    req = urllib.request.Request(url + "/api/orders", data=ORDER, method="POST", headers={
        "Content-Type": "application/json", "Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(req, timeout=2) as r:
            return int(r.status)
    except urllib.error.HTTPError as e:
        return int(e.code)
    except OSError:
        return 0


def _leader(engines: list[HtsServer], token: str) -> int:
    """The index of the engine that accepts an order now (waits for one)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        for i, e in enumerate(engines):
            if e.alive() and _place(e.url, token) == 201:
                return i
        time.sleep(0.05)
    raise RuntimeError("no engine leads")


async def run() -> dict[str, Any]:
    pg = PostgresServer().start()
    redis = Redis("failover-redis").start()
    url = pg.create_database("bench")
    engines = [HtsServer(f"failover_engine{i}", role="engine", redis_url=redis.url,
                         database_url=url, lease_seconds=LEASE_S,
                         write_rate_per_second=1_000_000, write_rate_burst=1_000_000)
               for i in range(2)]
    times: list[float] = []
    try:
        engines[0].start()
        engines[1].start()
        engines[0].add_user("failover", "failover-pw")
        token = login(engines[0].url, "failover", "failover-pw")
        for n in range(ROUNDS):
            lead = await asyncio.to_thread(_leader, engines, token)
            other = engines[1 - lead]
            await asyncio.sleep(1.0)  # a renewal or two since the last takeover
            proc = engines[lead].proc
            assert proc is not None
            killed_at = time.monotonic()
            proc.kill()
            proc.wait()
            while _place(other.url, token) != 201:
                await asyncio.sleep(0.05)
                if time.monotonic() - killed_at > 60:
                    raise RuntimeError("the standby never took over")
            took = time.monotonic() - killed_at
            times.append(took)
            note(f"round {n + 1}: orders again after {took:.2f} s")
            engines[lead].start()  # back, as the standby
    finally:
        for e in engines:
            e.stop()
        redis.stop()
        pg.destroy()
    times_sorted = sorted(times)
    summary = {"rounds": len(times), "p50_s": statistics.median(times),
               "p90_s": times_sorted[int(0.9 * (len(times) - 1))], "max_s": max(times),
               "min_s": min(times)}
    print_table(f"failover: kill -9 of the leading engine, to the standby's first accepted "
                f"order (PostgreSQL, lease {LEASE_S} s)",
                ["rounds", "min s", "p50 s", "p90 s", "max s"],
                [[str(len(times)), f"{summary['min_s']:.2f}", f"{summary['p50_s']:.2f}",
                  f"{summary['p90_s']:.2f}", f"{summary['max_s']:.2f}"]])
    result = {"lease_seconds": LEASE_S, "times_s": times, **summary,
              "loadavg_at_end": os.getloadavg()}
    write_result(NAME, result)
    return result
