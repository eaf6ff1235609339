"""A plain-WebSocket test client for ``/api/ws`` (aiohttp's client, JSON text frames)."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections import defaultdict
from typing import Any

import aiohttp


def ws_url(http_url: str, query: str = "") -> str:
    return http_url.replace("http://", "ws://") + "/api/ws" + query


class WsClient:
    """Records every JSON message by ``type``; remembers how the server closed."""

    def __init__(self) -> None:
        self.session: aiohttp.ClientSession | None = None
        self.ws: aiohttp.ClientWebSocketResponse | None = None
        self.events: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self.order: list[dict[str, Any]] = []
        self.close_code: int | None = None
        self.close_reason: str | None = None
        self.closed = asyncio.Event()
        self._arrived = asyncio.Event()
        self._reader: asyncio.Task[None] | None = None

    async def connect(self, http_url: str, query: str = "",
                      headers: dict[str, str] | None = None,
                      first: dict[str, Any] | None = None, **kwargs: Any) -> WsClient:
        self.session = aiohttp.ClientSession()
        self.ws = await self.session.ws_connect(ws_url(http_url, query), headers=headers,
                                                autoping=True, **kwargs)
        if first is not None:
            await self.send(first)
        self._reader = asyncio.create_task(self._read())
        return self

    async def _read(self) -> None:
        assert self.ws is not None
        while True:
            msg = await self.ws.receive()
            if msg.type is aiohttp.WSMsgType.TEXT:
                data = json.loads(msg.data)
                self.events[data["type"]].append(data)
                self.order.append(data)
                self._arrived.set()
            elif msg.type is aiohttp.WSMsgType.CLOSE:
                self.close_code, self.close_reason = int(msg.data), str(msg.extra or "")
                break
            elif msg.type is not aiohttp.WSMsgType.BINARY:
                self.close_code = self.ws.close_code
                break
        self.closed.set()
        self._arrived.set()

    async def send(self, message: Any) -> None:
        assert self.ws is not None
        await self.ws.send_str(message if isinstance(message, str) else json.dumps(message))

    async def request(self, message: dict[str, Any], reply: str,
                      timeout: float = 10.0) -> dict[str, Any]:
        """Send ``message`` with a fresh ``request_id``; the reply (or error) that echoes it."""
        rid = f"r{len(self.order)}-{id(message)}"
        await self.send({**message, "request_id": rid})
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            for m in self.order:
                if m.get("request_id") == rid and m["type"] in (reply, "error"):
                    return m
            await self._wait(deadline, f"a reply to {message}")

    async def wait_for(self, event: str, count: int = 1,
                       timeout: float = 10.0) -> list[dict[str, Any]]:
        deadline = asyncio.get_running_loop().time() + timeout
        while len(self.events[event]) < count:
            await self._wait(deadline, f"{count} {event!r}, got {len(self.events[event])}")
        return self.events[event]

    async def wait_closed(self, timeout: float = 10.0) -> int | None:
        await asyncio.wait_for(self.closed.wait(), timeout)
        return self.close_code

    async def _wait(self, deadline: float, what: str) -> None:
        remaining = deadline - asyncio.get_running_loop().time()
        if remaining <= 0 or self.closed.is_set():
            raise AssertionError(f"waited for {what}; closed={self.close_code}; "
                                 f"saw {[m['type'] for m in self.order][-20:]}")
        self._arrived.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._arrived.wait(), remaining)

    async def close(self) -> None:
        if self.ws is not None and not self.ws.closed:
            await self.ws.close()
        if self._reader is not None:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(self._reader, 5)
        if self.session is not None:
            await self.session.close()
