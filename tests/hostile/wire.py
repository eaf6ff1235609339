"""Raw Engine.IO / Socket.IO frames over real transports, for hostile-client tests.

``RawWebSocket`` speaks Engine.IO v4 over a real websocket and ``RawPolling``
over real HTTP long-polling, against a real server; they send exactly the
frames a test gives them, so a test can send what no well-behaved client
would. Both answer Engine.IO pings while reading (unless told not to), and
``closed()`` waits for the server to end the session: negative assertions
wait on such an event, never on a bare sleep.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp

from tests.support import Server


def sio_connect(auth: dict[str, Any] | None = None) -> str:
    """The Socket.IO CONNECT packet for namespace ``/``, as an Engine.IO message."""
    return "40" + (json.dumps(auth) if auth is not None else "")


def sio_event(event: Any, *args: Any, ack: int | None = None) -> str:
    """A Socket.IO EVENT packet as an Engine.IO message: ``42[<ack id>][event, *args]``."""
    return "42" + ("" if ack is None else str(ack)) + json.dumps([event, *args])


class RawWebSocket:
    """One Engine.IO session over a websocket."""

    def __init__(self, http: aiohttp.ClientSession, ws: aiohttp.ClientWebSocketResponse,
                 opened: dict[str, Any]) -> None:
        self.http = http
        self.ws = ws
        self.opened = opened
        self.answer_pings = True
        self.received: list[str] = []

    @classmethod
    async def open(cls, server: Server, headers: dict[str, str] | None = None) -> RawWebSocket:
        http = aiohttp.ClientSession()
        url = server.url.replace("http", "ws") + "/socket.io/?EIO=4&transport=websocket"
        try:
            ws = await http.ws_connect(url, headers=headers, max_msg_size=0)
            first = await ws.receive(timeout=5)
        except BaseException:
            await http.close()
            raise
        assert first.type is aiohttp.WSMsgType.TEXT and str(first.data).startswith("0{"), first
        return cls(http, ws, json.loads(str(first.data)[1:]))

    async def connect(self, auth: dict[str, Any] | None = None) -> list[Any]:
        """CONNECT with ``auth``; returns the ``connected`` event's payload list."""
        await self.send(sio_connect(auth))
        reply = await self.recv()
        assert reply is not None and reply.startswith("40{"), reply
        hello = await self.event()
        assert hello is not None and hello[0] == "connected", hello
        return hello

    async def send(self, frame: str | bytes) -> None:
        if isinstance(frame, bytes):
            await self.ws.send_bytes(frame)
        else:
            await self.ws.send_str(frame)

    async def recv(self, timeout: float = 5.0) -> str | None:
        """The next text frame (pings answered and skipped); None when closed or silent."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while (remaining := deadline - loop.time()) > 0:
            try:
                msg = await self.ws.receive(timeout=remaining)
            except TimeoutError:
                return None
            if msg.type is not aiohttp.WSMsgType.TEXT:
                return None
            text = str(msg.data)
            self.received.append(text)
            if text == "2":
                if self.answer_pings:
                    await self.ws.send_str("3")
                continue
            return text
        return None

    async def event(self, name: str | None = None, timeout: float = 5.0) -> list[Any] | None:
        """The next Socket.IO EVENT (named ``name``, if given)."""
        while (text := await self.recv(timeout)) is not None:
            if text.startswith("42"):
                ev = list(json.loads(text[2:]))
                if name is None or ev[0] == name:
                    return ev
        return None

    async def ack(self, ack_id: int, timeout: float = 5.0) -> list[Any] | None:
        prefix = f"43{ack_id}"
        while (text := await self.recv(timeout)) is not None:
            if text.startswith(prefix) and text[len(prefix):][:1] == "[":
                return list(json.loads(text[len(prefix):]))
        return None

    async def closed(self, timeout: float = 10.0) -> bool:
        """Read (answering pings) until the server ends the session; False on timeout."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while (remaining := deadline - loop.time()) > 0:
            try:
                msg = await self.ws.receive(timeout=remaining)
            except TimeoutError:
                return False
            if msg.type is aiohttp.WSMsgType.TEXT:
                self.received.append(str(msg.data))
                if msg.data == "2" and self.answer_pings:
                    await self.ws.send_str("3")
                continue
            return True
        return False

    async def close(self) -> None:
        await self.ws.close()
        await self.http.close()

    async def __aenter__(self) -> RawWebSocket:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


class RawPolling:
    """One Engine.IO session over HTTP long-polling."""

    def __init__(self, server: Server, http: aiohttp.ClientSession, opened: dict[str, Any]) -> None:
        self.server = server
        self.http = http
        self.opened = opened
        self.sid = str(opened["sid"])
        self.received: list[str] = []

    @classmethod
    async def open(cls, server: Server) -> RawPolling:
        http = aiohttp.ClientSession()
        async with http.get(server.url + "/socket.io/?EIO=4&transport=polling") as r:
            body = await r.text()
        assert r.status == 200 and body.startswith("0{"), (r.status, body)
        return cls(server, http, json.loads(body[1:]))

    @property
    def url(self) -> str:
        return f"{self.server.url}/socket.io/?EIO=4&transport=polling&sid={self.sid}"

    async def post(self, body: str | bytes, headers: dict[str, str] | None = None,
                   timeout: float = 10.0) -> tuple[int, str]:
        data = body.encode() if isinstance(body, str) else body
        async with self.http.post(self.url, data=data, headers=headers,
                                  timeout=aiohttp.ClientTimeout(total=timeout)) as r:
            return r.status, await r.text()

    async def get(self, timeout: float = 60.0) -> tuple[int, list[str]]:
        """One long-poll GET: its status and the Engine.IO packets it carried."""
        async with self.http.get(self.url, timeout=aiohttp.ClientTimeout(total=timeout)) as r:
            text = await r.text()
        return r.status, (text.split("\x1e") if r.status == 200 else [text])

    async def closed(self, timeout: float = 10.0) -> bool:
        """Long-poll (answering pings) until the server ends the session: a CLOSE
        packet, or the 400 for a session that no longer exists. False on timeout."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while (remaining := deadline - loop.time()) > 0:
            try:
                code, packets = await self.get(timeout=remaining)
            except TimeoutError:
                return False
            self.received.extend(packets)
            if code != 200 or "1" in packets:
                return True
            if "2" in packets:
                await self.post("3")
        return False

    async def close(self) -> None:
        await self.http.close()

    async def __aenter__(self) -> RawPolling:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


async def raw_post(server: Server, path: str, head: bytes, declared: int,
                   hold: asyncio.Event | None = None, timeout: float = 10.0) -> bytes:
    """An HTTP POST over a bare TCP socket that declares ``declared`` body bytes and
    sends only ``head``; returns the raw response (b"" if none came in ``timeout``).

    ``hold`` keeps the socket open until it is set (a client that stays).
    """
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    try:
        writer.write(
            f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/plain\r\n"
            f"Content-Length: {declared}\r\n\r\n".encode() + head
        )
        await writer.drain()
        try:
            return await asyncio.wait_for(reader.read(65536), timeout)
        except TimeoutError:
            return b""
    finally:
        if hold is not None:
            await hold.wait()
        writer.close()


def status(server: Server, admin: str) -> dict[str, Any]:
    """``GET /api/ws/status`` (asserting it answers 200)."""
    code, body, _ = server.http("GET", "/api/ws/status", token=admin)
    assert code == 200, body
    return dict(body)


async def until(predicate: Any, timeout: float = 10.0, every: float = 0.05) -> bool:
    """Poll ``predicate()`` until true (a state the server reports), or time out."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        if predicate():
            return True
        await asyncio.sleep(every)
    return bool(predicate())


# Short deadlines, so attacks that wait on the server's clock resolve quickly.
HOSTILE_ENV = {
    "HTS_CONNECT_TIMEOUT_SECONDS": "1",
    "HTS_REQUEST_READ_TIMEOUT_SECONDS": "1",
    "HTS_PING_INTERVAL_SECONDS": "0.5",
    "HTS_PING_TIMEOUT_SECONDS": "5",
}


def log_size(server: Server) -> int:
    return server.log_path.stat().st_size if server.log_path.exists() else 0
