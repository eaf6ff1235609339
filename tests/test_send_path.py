"""The send path against a real server: slow consumers, batching, both transports.

The bounds are made small through settings so a stuck client hits them in
seconds: a 1 s age bound, a 4 KiB kernel send buffer and high-water mark.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import json
import os
import socket
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import socketio

from hts_realtime.domain.krx import price_limits
from tests.support import Client, Server
from tests.trading import place

SYMBOLS = ["005930", "000660", "035420", "035720", "005380", "051910", "006400", "068270"]
SLOW_ENV = {
    "HTS_PRICE_INTERVAL_SECONDS": "0.1",
    "HTS_OUTBOX_MAX_AGE_SECONDS": "1",
    "HTS_SEND_HIGH_WATER_BYTES": "4096",
    "HTS_SOCKET_SEND_BUFFER_BYTES": "4096",
}


class StuckClient:
    """A Socket.IO client over a raw TCP socket that stops reading after ``connected``.

    The socket's receive buffer is small and asyncio's reader pauses the
    transport once a few KiB are buffered, so the server's writes back up.
    """

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, server: Server, auth: dict[str, Any]) -> tuple[StuckClient, Any]:
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", server.port))
        reader, writer = await asyncio.open_connection(sock=sock, limit=1024)
        key = base64.b64encode(os.urandom(16)).decode()
        writer.write((f"GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\n"
                      f"Host: 127.0.0.1:{server.port}\r\nUpgrade: websocket\r\n"
                      f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                      f"Sec-WebSocket-Version: 13\r\n\r\n").encode())
        head = await reader.readuntil(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 101"), head
        c = cls(reader, writer)
        assert (await c.recv()).startswith("0{")
        c.send("40" + json.dumps(auth))
        while True:
            text = await c.recv()
            if text.startswith("42"):
                event, data = json.loads(text[2:])
                assert event == "connected", text
                return c, data

    def send(self, text: str) -> None:
        payload = text.encode()
        mask = os.urandom(4)
        n = len(payload)
        header = bytes((0x81, 0x80 | n)) if n < 126 else bytes((0x81, 0xFE)) + n.to_bytes(2, "big")
        self.writer.write(header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))

    async def recv(self) -> str:
        _b0, b1 = await self.reader.readexactly(2)
        n = b1 & 0x7F
        if n == 126:
            n = int.from_bytes(await self.reader.readexactly(2), "big")
        elif n == 127:
            n = int.from_bytes(await self.reader.readexactly(8), "big")
        return (await self.reader.readexactly(n)).decode()

    def close(self) -> None:
        self.writer.transport.abort()


def _seqs(events: list[Any]) -> list[int]:
    return [e["seq"] for e in events]


async def _until(check: Callable[[], bool], timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        await asyncio.sleep(0.05)
    return False


async def test_a_client_that_stops_reading_is_cut_as_slow_consumer_and_loses_nothing(
        make_server: Callable[..., Server]) -> None:
    srv = make_server(SLOW_ENV).start()
    token = srv.login()
    lower, _ = price_limits(75_000)  # an order at the lower limit rests: one event each
    control = socketio.AsyncClient(reconnection=False)
    times: list[float] = []
    control.on("price_update", lambda data: times.append(time.monotonic()))
    await control.connect(srv.url, auth={"token": token, "topics": ["price:005930"]},
                          transports=["websocket"], wait_timeout=10)
    stuck, hello = await StuckClient.open(srv, {
        "token": token, "topics": [f"price:{s}" for s in SYMBOLS] + ["order:*"]})
    last_seq = hello["last_seq"]
    # the stuck client reads nothing from here on; prices at 10/s x 8 symbols fill its
    # buffers, then private events wait in its outbox until the age bound cuts it
    started = time.monotonic()
    placed = 0
    while "disconnected (slow_consumer)" not in srv.log():
        assert time.monotonic() - started < 30, "the stuck client was never cut"
        place(srv, token, order_type="limit", price=lower)
        placed += 1
        await asyncio.sleep(0.05)
    cut_after = time.monotonic() - started
    n = len(times)
    assert await _until(lambda: len(times) >= n + 3)  # and it keeps getting them
    stuck.close()
    # the control client kept its cadence while the other one was stuck
    window = [t for t in times if t >= started]
    gaps = [b - a for a, b in itertools.pairwise(window)]
    assert len(window) >= 0.5 * (cut_after / 0.1), (len(window), cut_after)
    assert max(gaps) < 2.0, max(gaps)
    assert "outbox slow_consumer" in srv.log()
    _, status, _ = srv.http("GET", "/api/ws/status", token=srv.login("admin", "adminpass"))
    assert status["outbox"]["slow_consumers"] >= 1
    # resume with last_seq: every private event of the stuck period arrives, once, in order
    back = Client()
    await back.connect(srv.url, auth={"token": token, "topics": ["order:*"],
                                      "last_seq": last_seq})
    (hello2,) = await back.wait_for("connected")
    head = hello2["last_seq"]
    assert head - last_seq >= placed
    got = await back.wait_for("order_update", head - last_seq)
    assert _seqs(got) == list(range(last_seq + 1, head + 1))
    await back.disconnect()
    await control.disconnect()


async def test_batching_clients_get_one_price_batch_per_tick(
        make_server: Callable[..., Server]) -> None:
    srv = make_server({"HTS_PRICE_INTERVAL_SECONDS": "0.2"}).start()
    token = srv.login()
    topics = ["price:005930", "price:000660"]
    for transports in (["websocket"], ["polling"]):
        c = Client()
        await c.connect(srv.url, auth={"token": token, "topics": topics, "batch": True},
                        transports=transports)
        batches = await c.wait_for("price_batch", 3)
        for b in batches:
            assert set(b) == {"type", "updates"} and b["type"] == "price_batch"
            assert sorted(u["symbol"] for u in b["updates"]) == ["000660", "005930"]
            for u in b["updates"]:
                assert u["type"] == "price_update" and isinstance(u["data"]["price"], int)
        assert c.events["price_update"] == []
        await c.disconnect()
    refused = Client()
    with contextlib.suppress(Exception):
        await refused.connect(srv.url, auth={"token": token, "batch": "yes"})
    assert refused.connect_error and refused.connect_error["code"] == "invalid_message"


async def test_prices_and_private_events_over_both_transports_and_the_upgrade(
        make_server: Callable[..., Server]) -> None:
    srv = make_server({"HTS_PRICE_INTERVAL_SECONDS": "0.2"}).start()
    token = srv.login()
    for transports in (["polling"], ["websocket"], ["polling", "websocket"]):
        await _roundtrip(srv, token, transports)


async def _roundtrip(srv: Server, token: str, transports: list[str]) -> None:
    c = Client()
    await c.connect(srv.url, auth={"token": token, "topics": ["price:005930", "order:*"]},
                    transports=transports)
    await c.wait_for("price_update", 2)
    place(srv, token)
    await c.wait_for("order_update", 2)  # accepted, filled
    seqs = _seqs(c.events["order_update"])
    assert seqs == sorted(set(seqs)), seqs
    ack = await c.call("get_price", {"symbol": "005930"})
    assert ack["ok"] is True
    assert c.order[0][0] == "connected"
    if transports == ["polling", "websocket"]:
        assert await _until(lambda: c.sio.transport() == "websocket")
    await c.disconnect()


def _journal(srv: Server, user_id: str, n: int) -> None:
    """``n`` journaled order_updates for ``user_id``, written straight into the database."""
    conn = sqlite3.connect(srv.database, timeout=10)
    try:
        with conn:
            start = (conn.execute("SELECT last_seq FROM user_streams WHERE user_id = ?",
                                  (user_id,)).fetchone() or (0,))[0]
            rows = []
            for seq in range(start + 1, start + n + 1):
                payload = {"type": "order_update", "seq": seq, "data": {
                    "order_id": f"ORD{seq:016d}", "symbol": "005930", "side": "buy",
                    "status": "cancelled", "quantity": 1, "filler": "x" * 200}}
                rows.append((user_id, seq, "order_update", '["order:*"]',
                             json.dumps(payload), "2026-01-01T00:00:00+00:00"))
            conn.executemany("INSERT INTO events (user_id, seq, event, topics, payload, "
                             "created_at) VALUES (?, ?, ?, ?, ?, ?)", rows)
            conn.execute("INSERT INTO user_streams (user_id, last_seq) VALUES (?, ?) "
                         "ON CONFLICT (user_id) DO UPDATE SET last_seq = excluded.last_seq",
                         (user_id, start + n))
    finally:
        conn.close()


def _rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


async def test_replays_to_sockets_that_never_read_are_paced_and_cut(
        make_server: Callable[..., Server]) -> None:
    # issue 8: ten sockets that never read, resuming from 0 over 20,000 journaled events,
    # cost +61 MB and 11 s of CPU when the replay was pushed into unbounded queues
    srv = make_server({**SLOW_ENV, "HTS_OUTBOX_MAX_AGE_SECONDS": "2"}).start()
    token = srv.login()
    _journal(srv, "1", 20_000)
    assert srv.proc is not None
    rss0 = _rss_kb(srv.proc.pid)
    stuck = [(await StuckClient.open(srv, {"token": token, "topics": ["order:*"],
                                           "last_seq": 0}))[0] for _ in range(10)]
    assert await _until(lambda: srv.log().count("replay stopped after") == 10, 30)
    grown_mb = (_rss_kb(srv.proc.pid) - rss0) / 1024
    for s in stuck:
        s.close()
    handed = [int(line.split("replay stopped after ")[1].split()[0])
              for line in srv.log().splitlines() if "replay stopped after" in line]
    # each replay stopped where the client stopped draining: a few transport buffers'
    # worth of events, not its 20,000 (and no queue of them in memory)
    assert max(handed) < 500, handed
    assert grown_mb < 20, f"RSS grew {grown_mb:.1f} MB"
    assert srv.log().count("disconnected (slow_consumer)") == 10
    # a client that reads gets its replay whole, in order, at its own pace
    c = Client()
    await c.connect(srv.url, auth={"token": token, "topics": ["order:*"], "last_seq": 15_000})
    got = await c.wait_for("order_update", 5_000, timeout=60)
    assert _seqs(got) == list(range(15_001, 20_001))
    await c.disconnect()
