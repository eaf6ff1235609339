"""In-process servers for the library-seam tests (``tests/test_library_*.py``).

A real aiohttp server on a free loopback port, holding python-engineio's or
python-socketio's server (the library's own, or ours), driven by real
clients: python-socketio's ``AsyncClient``, and raw Engine.IO frames over
aiohttp's websocket and HTTP clients. In-process, so a test can look at what
the server holds (its sockets, its tasks) after driving it from the wire.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import aiohttp
from aiohttp import web

from tests.support import free_port


class Site:
    """An aiohttp application served on 127.0.0.1 until ``close``."""

    def __init__(self, app: web.Application) -> None:
        self.app = app
        self.port = free_port()
        # open websockets are the tests' own business: do not wait a minute for them
        self._runner = web.AppRunner(app, shutdown_timeout=1.0)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> Site:
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()
        return self

    async def close(self) -> None:
        await self._runner.cleanup()


async def until(predicate: Callable[[], bool], timeout: float = 10.0) -> bool:
    """Poll ``predicate()`` every 10 ms until true, or time out."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            return False
        await asyncio.sleep(0.01)
    return True


class RawWs:
    """One Engine.IO session over a websocket, frame by frame."""

    def __init__(self, http: aiohttp.ClientSession, ws: aiohttp.ClientWebSocketResponse,
                 opened: dict[str, Any]) -> None:
        self.http = http
        self.ws = ws
        self.opened = opened

    @classmethod
    async def open(cls, url: str, path: str = "/socket.io/") -> RawWs:
        http = aiohttp.ClientSession()
        try:
            ws = await http.ws_connect(url.replace("http", "ws") + path
                                       + "?EIO=4&transport=websocket", max_msg_size=0)
            first = await ws.receive(timeout=5)
        except BaseException:
            await http.close()
            raise
        assert first.type is aiohttp.WSMsgType.TEXT and str(first.data)[:1] == "0", first
        return cls(http, ws, json.loads(str(first.data)[1:]))

    async def send(self, frame: str) -> None:
        await self.ws.send_str(frame)

    async def recv(self, timeout: float = 5.0) -> str | None:
        """The next text frame as sent (pings included); None once closed or silent."""
        try:
            msg = await self.ws.receive(timeout=timeout)
        except TimeoutError:
            return None
        return str(msg.data) if msg.type is aiohttp.WSMsgType.TEXT else None

    async def recv_until(self, prefix: str, timeout: float = 5.0) -> list[str]:
        """Frames up to and including the first that starts with ``prefix`` (pings
        answered); raises if the session ends or goes silent first."""
        seen: list[str] = []
        while True:
            frame = await self.recv(timeout)
            assert frame is not None, f"no frame starting {prefix!r}; saw {seen}"
            seen.append(frame)
            if frame.startswith(prefix):
                return seen
            if frame == "2":
                await self.send("3")

    async def close(self) -> None:
        await self.ws.close()
        await self.http.close()
