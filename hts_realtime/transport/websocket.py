"""The plain-WebSocket framing of the protocol, at ``GET /api/ws`` (the seed's own).

Every frame is one JSON object with a ``"type"``: a client message is
``{"type": event, ...payload, "request_id"?}``; a server message is the
same payload a Socket.IO client gets for that event. ``RequestCore`` does
all the work; this module only reads frames, writes frames, and closes.

Authentication: ``?token=``, ``Authorization: Bearer``, or a first message
``{"type":"auth","token","topics"?,"last_seq"?}`` within
``connect_timeout_seconds`` (Socket.IO's CONNECT deadline); the query may
carry ``topics`` (comma-separated) and ``last_seq`` as Socket.IO's handshake
``auth`` does.

The wire guard's policies apply here as they do to Engine.IO sessions, with
the same objects: the per-address limits (one count for both framings,
refused with HTTP 429 before the upgrade), the per-connection budget of
refused requests (a flooder is closed ``rate_limited``) and the
process-wide budget of bad-input log lines. A
refusal sends an ``error`` frame, then closes with ``4000 + HTTP status``
of the error and the error code as the close reason (``error_close``).
The server pings every ``ws_heartbeat_seconds`` and drops a peer that
does not answer within half of that.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
from collections import Counter, deque
from collections.abc import Callable
from typing import Any

from aiohttp import WSMsgType, web

from hts_realtime.errors import (
    AuthRequired,
    HtsError,
    InvalidMessage,
    RateLimited,
    SlowConsumer,
)
from hts_realtime.settings import Settings
from hts_realtime.transport.core import Admission, RequestCore
from hts_realtime.transport.engineio_adapter import WireGuard
from hts_realtime.transport.fanout import Fanout, encode
from hts_realtime.transport.guards import TokenBucket, excerpt

log = logging.getLogger("hts.ws")

TRANSPORT = "websocket"
MAX_REQUEST_ID = 128
CLOSE_TIMEOUT = 2.0  # how long a close may wait on a peer that does not read


def error_close(error: HtsError) -> tuple[int, bytes]:
    """The close code and reason for ``error``: ``4000 + http_status``, the code."""
    return 4000 + error.http_status, error.code.encode()


class WsConnection:
    """One plain-WebSocket connection's send side: a FIFO drained by one writer task.

    ``send_text`` never blocks the caller (a price tick reaches thousands of
    connections in one loop); a connection whose queue passes
    ``max_queued_bytes`` is closed as a ``slow_consumer`` and resumes later
    with ``last_seq``.
    """

    def __init__(self, ws: web.WebSocketResponse, request: web.Request, sid: str,
                 max_queued_bytes: int, strikes: TokenBucket,
                 on_slow: Callable[[], None] | None = None) -> None:
        self.ws = ws
        self.address = request.remote or ""
        self.label = f"sid={sid} addr={self.address}"
        self.strikes = strikes  # refused requests it may still send (the wire guard's policy)
        self.bad: Counter[str] = Counter()
        # kept from the start: aiohttp drops the request's reference while closing, and a
        # close that cannot flush to a peer that does not read must still end the socket
        self.transport = request.transport
        self.on_slow = on_slow  # counts the disconnect (metrics)
        self.sid = sid
        self.max_queued_bytes = max_queued_bytes
        self._queue: deque[str] = deque()
        self._queued_bytes = 0
        self._wake = asyncio.Event()
        self._writable = asyncio.Event()
        self._writable.set()
        self._idle = asyncio.Event()  # the queue is empty and nothing is being sent
        self._idle.set()
        self._closing = False
        self._closed = False
        self._sending = False  # the writer is inside a send (blocked if the peer stopped reading)
        self._writer: asyncio.Task[None] | None = None

    @property
    def closing(self) -> bool:
        return self._closing

    def closing_soon(self) -> None:
        """Take nothing more from now on (a close is on its way)."""
        self._closing = True

    def start(self) -> None:
        self._writer = asyncio.get_running_loop().create_task(self._write())

    def send_text(self, text: str) -> None:
        if self._closing:
            return
        if self._queued_bytes + len(text) > self.max_queued_bytes:
            log.info("sid=%s slow_consumer queued=%d bytes", self.sid, self._queued_bytes)
            if self.on_slow is not None:
                self.on_slow()
            asyncio.get_running_loop().create_task(
                self.close(SlowConsumer("the client does not read fast enough; resume with "
                                        "last_seq")))
            self._closing = True
            return
        self._queue.append(text)
        self._idle.clear()
        self._queued_bytes += len(text)
        if self._queued_bytes > self.max_queued_bytes // 2:
            self._writable.clear()
        self._wake.set()

    async def writable(self) -> None:
        """Wait until the queue is at most half full (a replay paces itself on this)."""
        await self._writable.wait()

    async def _write(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._queue:
                text = self._queue.popleft()
                self._queued_bytes -= len(text)
                if self._queued_bytes <= self.max_queued_bytes // 2:
                    self._writable.set()
                self._sending = True
                try:
                    await self.ws.send_str(text)
                except (ConnectionError, RuntimeError):
                    return  # closed under us: the handler's read loop ends too
                finally:
                    self._sending = False
            self._idle.set()

    async def close(self, error: HtsError | None, code: int | None = None) -> None:
        """Send ``error`` (if any) and close; a peer that does not read is aborted."""
        if self._closed:
            return
        self._closed = self._closing = True
        transport = self.transport
        if self._sending and transport is not None:
            # The writer waits on a peer that reads slowly or not at all: awaiting its
            # drain here would only wait with it. Queue the goodbye behind what it has
            # not read yet, and cut the connection if it has not taken it in time.
            self._queue.clear()  # the writer finds nothing more after its current frame
            self._goodbye(transport, error, code)
            return
        close_code, reason = error_close(error) if error is not None else (code or 1000, b"")
        goodbye = encode({"type": "error", "event": None, **error.to_dict()}) if error else None
        with contextlib.suppress(TimeoutError, ConnectionError, RuntimeError):
            async with asyncio.timeout(CLOSE_TIMEOUT):
                if self._writer is not None:  # what is queued goes first, then the goodbye
                    await self._idle.wait()
                await self.stop()
                if goodbye is not None and not self.ws.closed:
                    await self.ws.send_str(goodbye)
                await self.ws.close(code=close_code, message=reason)
        await self.stop()
        if transport is not None and (transport.get_write_buffer_size() or not self.ws.closed):
            transport.abort()  # it did not take the goodbye in time

    def _goodbye(self, transport: asyncio.Transport, error: HtsError | None,
                 code: int | None) -> None:
        close_code, reason = error_close(error) if error is not None else (code or 1000, b"")
        frames = b""
        if error is not None:
            text = encode({"type": "error", "event": None, **error.to_dict()}).encode()
            frames += _frame(0x1, text)
        frames += _frame(0x8, close_code.to_bytes(2, "big") + reason)
        # aiohttp writes each frame in one transport.write, so this lands between frames
        transport.write(frames)
        transport.close()  # flushes what the peer will still read, then FIN
        asyncio.get_running_loop().call_later(CLOSE_TIMEOUT, transport.abort)

    async def stop(self) -> None:
        self._queue.clear()
        self._queued_bytes = 0
        self._writable.set()
        writer, self._writer = self._writer, None
        if writer is not None and writer is not asyncio.current_task():
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await writer


class PlainWebSocket:
    def __init__(self, core: RequestCore, fanout: Fanout, settings: Settings,
                 wire: WireGuard) -> None:
        self.core = core
        self.fanout = fanout
        self.settings = settings
        self.wire = wire
        self._open: dict[str, WsConnection] = {}

    def owns(self, sid: str) -> bool:
        return sid in self._open

    def strike(self, sid: str, code: str, event: str) -> bool:
        """The core refused a request with ``code`` (as ``WireGuard.strike``). False: the
        connection has spent its budget of refused requests and is being closed."""
        conn = self._open.get(sid)
        if conn is None:
            return True
        if conn.closing:
            return False
        self.wire.bad_log.note(conn.bad, conn.label, code, f"event {excerpt(event)}")
        if conn.strikes.take():
            return True
        self.wire.disconnected["flood"] += 1
        conn.closing_soon()
        asyncio.get_running_loop().create_task(
            conn.close(RateLimited("too many refused requests; disconnecting")))
        return False

    def routes(self) -> list[web.RouteDef]:
        return [web.get("/api/ws", self.handle)]

    async def handle(self, request: web.Request) -> web.StreamResponse:
        address = request.remote or ""
        wait = self.wire.addresses.admit(address)
        if wait is not None:  # the same per-address budget as Engine.IO sessions
            self.wire.refused["per_address"] += 1
            self.wire.bad_log.note(Counter(), f"addr={address}", "per_address_limit",
                                   f"{self.wire.addresses.open_count(address)} open")
            error = RateLimited("too many connections from this address; retry later")
            return web.json_response({"error": error.to_dict()}, status=error.http_status,
                                     headers={"Retry-After": str(max(1, round(wait)))})
        try:
            return await self._handle(request)
        finally:
            self.wire.addresses.release(address)

    async def _handle(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(
            heartbeat=self.settings.ws_heartbeat_seconds,
            max_msg_size=self.settings.max_payload_bytes,
            compress=self.settings.ws_compression,
            timeout=CLOSE_TIMEOUT,
        )
        await ws.prepare(request)
        sid = "ws-" + secrets.token_urlsafe(15)
        conn = WsConnection(ws, request, sid, self.settings.ws_max_queued_bytes,
                            TokenBucket(self.settings.bad_requests_per_second,
                                        self.settings.bad_requests_burst),
                            self.core.metrics.slow_consumer)
        try:
            admission = await self._admit(request, ws)
        except HtsError as exc:
            log.info("sid=%s refused: %s", sid, exc.code)
            await conn.close(exc)
            return ws
        if admission is None:  # the client left before authenticating
            return ws
        self._open[sid] = conn
        self.fanout.attach(sid, conn)
        session = self.core.register(sid, admission, TRANSPORT)
        conn.start()
        reason = "client closed"
        try:
            await self.core.open(session, admission)
            reason = await self._serve(sid, ws)
        finally:
            self.core.disconnect(sid, reason)
            self.fanout.detach(sid)
            self._open.pop(sid, None)
            self.wire.bad_log.ended(conn.bad, conn.label, reason)
            await conn.stop()
        return ws

    async def _admit(self, request: web.Request, ws: web.WebSocketResponse) -> Admission | None:
        token = request.query.get("token") or _bearer(request)
        auth: dict[str, Any] = {}
        if "topics" in request.query:  # ?topics=price:005930,order:* (names have no commas)
            auth["topics"] = [t for raw in request.query.getall("topics")
                              for t in raw.split(",") if t]
        if "last_seq" in request.query:
            try:
                auth["last_seq"] = int(request.query["last_seq"])
            except ValueError:
                raise InvalidMessage("last_seq must be an integer") from None
        if token:
            return self.core.admit(TRANSPORT, auth, token)
        try:
            async with asyncio.timeout(self.settings.connect_timeout_seconds):
                msg = await ws.receive()
        except TimeoutError:
            raise AuthRequired("no token: send ?token=, an Authorization header, or "
                               "{\"type\":\"auth\",\"token\":...} first") from None
        if msg.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED, WSMsgType.ERROR):
            return None
        data = _json_object(msg.data) if msg.type is WSMsgType.TEXT else None
        if data is None or data.get("type") != "auth":
            raise AuthRequired("the first message must be {\"type\":\"auth\",\"token\":...}")
        return self.core.admit(TRANSPORT, {**auth, **data})

    async def _serve(self, sid: str, ws: web.WebSocketResponse) -> str:
        """Answer messages until the connection ends; returns why it ended."""
        async for msg in ws:
            if msg.type is WSMsgType.TEXT:
                await self._on_text(sid, msg.data)
            elif msg.type is WSMsgType.BINARY:
                await self.core.dispatch(sid, None, None, malformed=InvalidMessage(
                    "binary frames are not supported: send JSON text"))
            elif msg.type is WSMsgType.ERROR:
                return f"error: {ws.exception()}"
        return f"closed code={ws.close_code}"

    async def _on_text(self, sid: str, text: str) -> None:
        data = _json_object(text)
        if data is None:
            try:
                json.loads(text)
                problem = "a message is a JSON object with a \"type\""
            except ValueError:
                problem = "Invalid JSON format"  # the seed's words
            await self.core.dispatch(sid, None, None, malformed=InvalidMessage(problem))
            return
        rid = data.pop("request_id", None)
        echo = {"request_id": rid} if rid is not None else None
        event = data.get("type")
        malformed: HtsError | None = None
        if rid is not None and not _valid_request_id(rid):
            echo, malformed = None, InvalidMessage(
                f"request_id must be a string of at most {MAX_REQUEST_ID} characters "
                "or an integer")
        elif not isinstance(event, str):
            malformed = InvalidMessage("a message needs a string \"type\"")
        elif event == "auth":
            malformed = InvalidMessage("already authenticated")
        name = event[:64] if isinstance(event, str) else None
        await self.core.dispatch(sid, name, data, echo, malformed)

    async def close_all(self, code: int = 1001) -> None:
        """On shutdown: close every plain-WebSocket connection (1001, going away)."""
        conns = list(self._open.values())
        await asyncio.gather(*(c.close(None, code) for c in conns), return_exceptions=True)


def _frame(opcode: int, payload: bytes) -> bytes:
    """One unmasked, unfragmented server frame (RFC 6455 section 5.2)."""
    n = len(payload)
    if n < 126:
        return bytes((0x80 | opcode, n)) + payload
    if n < 65536:
        return bytes((0x80 | opcode, 126)) + n.to_bytes(2, "big") + payload
    return bytes((0x80 | opcode, 127)) + n.to_bytes(8, "big") + payload


def _json_object(text: Any) -> dict[str, Any] | None:
    try:
        data = json.loads(text)
    except (ValueError, TypeError):
        return None
    return data if isinstance(data, dict) else None


def _valid_request_id(rid: object) -> bool:
    if isinstance(rid, str):
        return len(rid) <= MAX_REQUEST_ID
    return isinstance(rid, int) and not isinstance(rid, bool)


def _bearer(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    if header[:7].lower() == "bearer " and header[7:].strip():
        return header[7:].strip()
    return None
