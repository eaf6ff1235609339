"""The seed's walk-through (design doc sections 7 and 8, ``examples/test_websocket.py``)
over the plain WebSocket, printing the seed's "예상 출력":

    python -m clients.seed.walkthrough [--url http://127.0.0.1:8000] [--seconds 10]

Log in, connect to ``/api/ws``, subscribe to ``price:005930``, ask for the
current price, print ten seconds of ``price_update``s, then the status API
(as the admin user, which ``GET /api/ws/status`` requires).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import urllib.request
from typing import Any

import websockets

SYMBOL = "005930"


def http(url: str, method: str = "GET", body: Any = None, token: str | None = None) -> Any:
    req = urllib.request.Request(url, method=method,
                                 data=json.dumps(body).encode() if body is not None else None)
    req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read())


def login(base: str, username: str, password: str) -> str:
    return str(http(f"{base}/api/auth/login", "POST",
                    {"username": username, "password": password})["access_token"])


async def until(ws: websockets.ClientConnection, kind: str) -> str:
    """The next message of type ``kind`` (as received); others are skipped."""
    while True:
        text = str(await ws.recv())
        if json.loads(text)["type"] == kind:
            return text


async def run(base: str, username: str, password: str, seconds: float,
              admin: tuple[str, str]) -> None:
    print("=== Login ===")
    token = login(base, username, password)
    print(f"Access Token: {token[:36]}...")
    print()
    print("=== WebSocket Connection ===")
    uri = base.replace("http://", "ws://").replace("https://", "wss://") + "/api/ws"
    async with websockets.connect(f"{uri}?token={token}") as ws:
        print(f"Received: {await until(ws, 'connected')}")
        print()
        print("=== Subscribe to Price ===")
        await ws.send(json.dumps({"type": "subscribe", "topic": f"price:{SYMBOL}"}))
        print(f"Received: {await until(ws, 'subscribed')}")
        print()
        print("=== Get Current Price ===")
        await ws.send(json.dumps({"type": "get_price", "symbol": SYMBOL}))
        print(f"Received: {await until(ws, 'price')}")
        print()
        print(f"=== Real-time Price Updates ({seconds:g} seconds) ===")
        n = 0
        loop = asyncio.get_running_loop()
        end = loop.time() + seconds
        while (left := end - loop.time()) > 0:
            try:
                msg = json.loads(await asyncio.wait_for(until(ws, "price_update"), left))
            except TimeoutError:
                break
            n += 1
            d = msg["data"]
            print(f"[{n}] {msg['symbol']}: {d['price']:,}원 ({d['change_percent']:+.2f}%)",
                  flush=True)
        print()
        print("=== WebSocket Status ===")
        status = http(f"{base}/api/ws/status", token=login(base, *admin))
        print(f"Active Connections: {status['active_connections']}")
        print(f"Active Users: {status['active_users']}")
        print(f"Price Streamer: {'Running' if status['price_streamer_running'] else 'Stopped'}")
        print(f"Subscriptions: {status['subscriptions']}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--url", default=os.environ.get("HTS_URL", "http://127.0.0.1:8000"),
                   help="server base URL (default: $HTS_URL, else http://127.0.0.1:8000)")
    p.add_argument("--username", default="testuser")
    p.add_argument("--password", default="testpass")
    p.add_argument("--admin", default="admin:adminpass", help="NAME:PASSWORD for the status")
    p.add_argument("--seconds", type=float, default=10.0)
    args = p.parse_args(argv)
    name, _, password = args.admin.partition(":")
    try:
        asyncio.run(run(args.url.rstrip("/"), args.username, args.password, args.seconds,
                        (name, password)))
    except (OSError, websockets.WebSocketException) as exc:
        print(f"failed: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
