"""The wire guard: a thin layer in front of the libraries against hostile clients.

Reserved event names, binary attachments, undecodable frames, the CONNECT
deadline, per-address admission, bounded long-polling bodies, and dropping a
connection that floods bad input (issue 8). Every library internal it relies
on is listed in this folder's README.md, with the test that guards it.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

import socketio
from aiohttp import WSMsgType, web
from engineio.async_drivers import aiohttp as eio_aiohttp

from hts_realtime.edge.socketio.connection import EngineIOConnection
from hts_realtime.edge.wire_policy import (
    BAD_ENGINEIO_FRAME,
    BAD_SOCKETIO_PACKET,
    BINARY,
    OVERSIZED,
    SECOND_CONNECT,
    WireConn,
    WirePolicy,
    excerpt,
)
from hts_realtime.protocol.errors import HtsError, InvalidMessage, RateLimited
from hts_realtime.settings import Settings

log = logging.getLogger("hts.wire")

# Event names a client may never send: Socket.IO's own (socket.io-parser refuses
# them too) and our catch-all. python-socketio would dispatch "connect" and
# "disconnect" from a client EVENT straight to the real connect/disconnect handlers.
RESERVED_EVENTS = frozenset({
    "connect", "connect_error", "disconnect", "disconnecting", "newListener",
    "removeListener", "*",
})
# Engine.IO wraps a Socket.IO message in one packet-type character ("4"), so a
# message of max_payload_bytes travels as an Engine.IO packet one byte longer.
ENGINEIO_FRAMING = 1
_ENGINEIO_TYPES = frozenset("0123456")
_MAX_POLLING_PACKETS = 16  # engineio.payload.Payload.max_decode_packets
DRAIN_SECONDS = 1.0  # how long a kick waits for the client to read its last packets
# A refused client closes by itself; closing it from here at the same moment races
# python-engineio's client, whose connect() then hangs ~30 s (measured: 2 in 40 over
# websocket). So the server closes a refused session only if it is still open after this.
REFUSED_GRACE_SECONDS = 2.0
ABORT_GRACE_SECONDS = 2.0  # a kicked websocket that does not close is cut after this
WS_CLOSE_TIMEOUT_SECONDS = 5.0

SendError = Callable[[str, str, dict[str, Any]], Awaitable[None]]


class ReservedEvent:
    """Stands in for a reserved event name a client sent, so the library routes the
    packet to the catch-all handler (which refuses it) instead of the real one."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __str__(self) -> str:
        return self.name


def engineio_buffer_size(settings: Settings) -> int:
    """``max_http_buffer_size`` for python-engineio: the largest Engine.IO packet,
    websocket message or polling body, in bytes."""
    return settings.max_payload_bytes + ENGINEIO_FRAMING


class WireGuard:
    """Installs the guards on one ``socketio.AsyncServer`` and keeps their counters."""

    def __init__(self, sio: socketio.AsyncServer, policy: WirePolicy, send: SendError) -> None:
        self.sio = sio
        self.policy = policy
        self.settings = policy.settings
        self._send = send
        self.limit = engineio_buffer_size(policy.settings)
        self.bad_log = policy.bad_log
        self.conns: dict[str, WireConn] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        # every Engine.IO socket object still in memory, open or closed: a closed one
        # must not linger (see EngineIOConnection.close and the ping timer)
        self._in_memory: weakref.WeakSet[Any] = weakref.WeakSet()
        self._install()

    # -- installation: the library internals we hook ------------------------------------
    def _install(self) -> None:
        eio = self.sio.eio
        # the driver table is shared by every server of the module: copy, then replace
        driver = dict(eio._async)
        original_translate = driver["translate_request"]

        def translate(request: web.Request) -> dict[str, Any]:
            environ: dict[str, Any] = original_translate(request)
            environ["REMOTE_ADDR"] = request.remote or ""
            body = request.get(_BODY)
            if body is not None:  # a polling POST body we read (bounded) already
                environ["wsgi.input"] = _Body(body)
                environ["CONTENT_LENGTH"] = str(len(body))
            return environ

        def websocket(handler: Any, server: Any) -> GuardedWebSocket:
            return GuardedWebSocket(handler, server, self)

        driver["translate_request"] = translate
        driver["websocket"] = websocket
        eio._async = driver
        self._eio_connect = eio.handlers["connect"]
        self._eio_message = eio.handlers["message"]
        self._eio_disconnect = eio.handlers["disconnect"]
        eio.on("connect", self._on_eio_connect)
        eio.on("message", self._on_eio_message)
        eio.on("disconnect", self._on_eio_disconnect)
        handle_event = self.sio._handle_event

        async def guarded_event(eio_sid: str, namespace: str | None, id: int | None,
                                data: list[Any]) -> None:
            if data and isinstance(data[0], str) and data[0] in RESERVED_EVENTS:
                data = [ReservedEvent(data[0]), *data[1:]]
            await handle_event(eio_sid, namespace, id, data)

        self.sio._handle_event = guarded_event

    def sid_of(self, eio_sid: str) -> str | None:
        """The Socket.IO sid of an Engine.IO session on namespace ``/``, if connected."""
        sid: str | None = self.sio.manager.sid_from_eio_sid(eio_sid, "/")
        return sid

    def conn_of(self, sid: str) -> WireConn | None:
        eio_sid = self.sio.manager.eio_sid_from_sid(sid, "/")
        return self.conns.get(eio_sid) if eio_sid else None

    # -- HTTP: admission and bounded polling bodies ---------------------------------------
    async def handle(self, request: web.Request) -> web.StreamResponse:
        """The ``/socket.io/`` route: guards, then python-engineio."""
        if request.method == "POST":
            refused = await self._read_polling_body(request)
            if refused is not None:
                return refused
        if request.method == "GET" and "sid" not in request.query:
            return await self._handshake(request)
        response: web.StreamResponse = await self.sio.handle_request(request)
        return response

    async def _handshake(self, request: web.Request) -> web.StreamResponse:
        address = request.remote or ""
        wait = self.policy.admit(address)
        if wait is not None:
            return _refuse(RateLimited("too many connections from this address; retry later"),
                           headers={"Retry-After": str(max(1, round(wait)))})
        try:
            response: web.StreamResponse = await self.sio.handle_request(request)
        finally:
            if _EIO_SID not in request:  # no session was made: nothing will release it
                self.policy.release(address)
        return response

    async def _read_polling_body(self, request: web.Request) -> web.Response | None:
        """Read a polling POST body, bounded in size and time, and check its framing.

        python-engineio would wait for a declared length however large it is,
        and log a traceback for a body it cannot decode.
        """
        eio_sid = request.query.get("sid", "")
        if request.content_length is not None and request.content_length > self.limit:
            return await self._refuse_body(eio_sid, "payload_too_large", 413,
                                           f"declared {request.content_length} bytes")
        chunks: list[bytes] = []
        size = 0
        try:
            async with asyncio.timeout(self.settings.request_read_timeout_seconds):
                while chunk := await request.content.read(self.limit + 1 - size):
                    chunks.append(chunk)
                    size += len(chunk)
                    if size > self.limit:
                        return await self._refuse_body(eio_sid, "payload_too_large", 413,
                                                       f"more than {self.limit} bytes")
        except TimeoutError:
            return await self._refuse_body(eio_sid, "read_timeout", 408, f"{size} bytes read")
        body = b"".join(chunks)
        request[_BODY] = body
        problem = _polling_problem(body)
        if problem is not None:
            return await self._refuse_body(eio_sid, problem[0], 400, problem[1])
        return None

    async def _refuse_body(self, eio_sid: str, why: str, status: int,
                           detail: str) -> web.Response:
        self.policy.refused[why] += 1
        conn = self.conns.get(eio_sid)
        message = {
            413: f"a polling body may hold at most {self.limit} bytes",
            408: "the request body did not arrive in time",
        }.get(status, "undecodable polling body")
        if conn is not None:
            self.bad_log.note(conn.bad, conn.label, why, detail)
            self._spawn(self.kick(conn, None, why))
        else:
            self.bad_log.note(Counter(), f"eio={excerpt(eio_sid)}", why, detail)
        return _refuse(InvalidMessage(message), status=status)

    # -- Engine.IO events ------------------------------------------------------------------
    async def _on_eio_connect(self, eio_sid: str, environ: dict[str, Any]) -> Any:
        request = environ.get("aiohttp.request")
        if request is not None:
            request[_EIO_SID] = eio_sid
        conn = WireConn(eio_sid, str(environ.get("REMOTE_ADDR", "")),
                        self.policy.strike_budget(), self._kick_later)
        self.conns[eio_sid] = conn
        socket = self.sio.eio.sockets.get(eio_sid)
        if socket is not None:
            self._in_memory.add(socket)
        conn.deadline = asyncio.get_running_loop().call_later(
            self.settings.connect_timeout_seconds, self._expire, conn)
        ret = await self._eio_connect(eio_sid, environ)
        if ret is not None and ret is not True:  # refused: no disconnect event will follow
            self._forget(eio_sid, "refused at open")
        return ret

    async def _on_eio_disconnect(self, eio_sid: str, reason: Any) -> None:
        try:
            await self._eio_disconnect(eio_sid, reason)
        finally:
            self._forget(eio_sid, str(reason))

    def _forget(self, eio_sid: str, why: str) -> None:
        conn = self.conns.pop(eio_sid, None)
        if conn is not None:
            if conn.deadline is not None:
                conn.deadline.cancel()
            self.policy.release(conn.address)
            self.policy.ended(conn, why)

    async def _on_eio_message(self, eio_sid: str, data: str | bytes) -> None:
        conn = self.conns.get(eio_sid)
        if conn is None or conn.kicked:
            return  # a session being closed: nothing it sends counts any more
        kind = data[:1] if isinstance(data, str) else None
        if kind is None or kind in ("5", "6"):  # attachments, or a packet announcing them
            self.bad_log.note(conn.bad, conn.label, BINARY, excerpt(data))
            await self.kick(conn, InvalidMessage("binary payloads are not accepted"), BINARY)
            return
        if kind == "0" and conn.connected:
            self.bad_log.note(conn.bad, conn.label, SECOND_CONNECT, excerpt(data))
            await self.kick(conn, InvalidMessage("already connected"), SECOND_CONNECT)
            return
        try:
            await self._eio_message(eio_sid, data)
        except Exception:  # the library could not decode or place the packet
            self.bad_log.note(conn.bad, conn.label, BAD_SOCKETIO_PACKET, excerpt(data))
            if not conn.strikes.take():
                await self.kick(conn, RateLimited("too much bad input; disconnecting"), "flood")
            return
        if kind == "0":
            if conn.deadline is not None:  # answered either way: the refusal grace takes over
                conn.deadline.cancel()
                conn.deadline = None
            if self.sid_of(eio_sid) is not None:
                conn.connected = True
            else:  # refused (connect_error is already queued): close it unless the client does
                self._spawn(self._kick_unless_gone(conn, REFUSED_GRACE_SECONDS, "refused"))

    def bad_frame(self, eio_sid: str, kind: str, data: object) -> None:
        """An Engine.IO frame the websocket driver refused; the transport closes next."""
        conn = self.conns.get(eio_sid)
        if conn is not None and not conn.kicked:
            self.bad_log.note(conn.bad, conn.label, kind, excerpt(data))
            self.policy.disconnected[kind] += 1

    def strike(self, sid: str, code: str, event: str) -> bool:
        """The request core refused a request of ``sid`` with ``code``: the wire policy's
        per-connection budget (``WirePolicy.strike``). False: the connection is being
        cut as a flooder (send no reply)."""
        conn = self.conn_of(sid)
        return True if conn is None else self.policy.strike(conn, code, event)

    def _kick_later(self, conn: WireConn, error: HtsError | None, why: str) -> None:
        self._spawn(self.kick(conn, error, why))

    def _expire(self, conn: WireConn) -> None:
        conn.deadline = None
        if not conn.connected and not conn.kicked and self.conns.get(conn.eio_sid) is conn:
            self._spawn(self.kick(conn, None, "connect_timeout"))

    # -- closing a connection ---------------------------------------------------------------
    async def kick(self, conn: WireConn, error: HtsError | None, why: str) -> None:
        """Close one connection: an ``error`` event (if given), the Socket.IO DISCONNECT
        (clients do not reconnect by themselves after it), then, once the client has
        read them (``DRAIN_SECONDS`` at most), the Engine.IO CLOSE. A websocket that is
        still open ``ABORT_GRACE_SECONDS`` later is cut."""
        if conn.kicked:
            return
        conn.kicked = True
        self.policy.disconnected[why] += 1
        log.info("%s disconnected: %s", conn.label, why)
        sid = self.sid_of(conn.eio_sid)
        if sid is not None:
            if error is not None:
                await self._send(sid, "error", {"type": "error", "event": "", **error.to_dict()})
            await self.sio.disconnect(sid)
        socket = self.sio.eio.sockets.get(conn.eio_sid)
        if isinstance(socket, EngineIOConnection) and not socket.closed:
            # let the client read what is queued (connect_error, error, DISCONNECT) first:
            # a long-polling client would otherwise find its session gone (HTTP 400)
            await socket.outbox.drained(DRAIN_SECONDS)
        if socket is not None and not socket.closed:
            # CLOSE, the disconnect event, then the transport ends (or the held poll returns)
            await socket.close(wait=False, abort=False)
        if conn.abort is not None:
            asyncio.get_running_loop().call_later(ABORT_GRACE_SECONDS, conn.abort)

    async def _kick_unless_gone(self, conn: WireConn, delay: float, why: str) -> None:
        await asyncio.sleep(delay)
        if self.conns.get(conn.eio_sid) is conn:
            await self.kick(conn, None, why)

    def _spawn(self, coro: Awaitable[None]) -> None:
        task: asyncio.Task[None] = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- reporting ------------------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        """What only Engine.IO has, beside ``WirePolicy.status`` (merged into it)."""
        return {"wire": {
            "engineio_sessions": len(self.conns),
            "sockets_in_memory": len(self._in_memory),  # closed ones included
        }}


class GuardedWebSocket(eio_aiohttp.WebSocket):  # type: ignore[misc]
    """python-engineio's aiohttp websocket, refusing what it would choke on.

    The library decodes each frame outside its error handling: a frame it
    cannot decode ended the handler without closing the session, which then
    lingered until the ping timeout. Here such a frame ends the transport the
    normal way, so the session closes at once.
    """

    def __init__(self, handler: Any, server: Any, guard: WireGuard) -> None:
        super().__init__(handler, server)
        self._guard = guard
        self._eio_sid: str = getattr(handler, "__self__", None).sid  # type: ignore[union-attr]

    async def __call__(self, environ: dict[str, Any]) -> web.WebSocketResponse:
        request: web.Request = environ["aiohttp.request"]
        # aiohttp refuses a message of exactly max_msg_size bytes (it checks >=)
        self._sock = web.WebSocketResponse(max_msg_size=self._guard.limit + 1,
                                           timeout=WS_CLOSE_TIMEOUT_SECONDS)
        await self._sock.prepare(request)
        self.environ = environ
        conn = self._guard.conns.get(self._eio_sid)
        transport = request.transport
        if conn is not None and transport is not None:
            conn.abort = transport.abort
        await self.handler(self)
        sock: web.WebSocketResponse = self._sock
        return sock

    async def wait(self) -> str | bytes:
        msg = await self._sock.receive()
        if msg.type is WSMsgType.TEXT:
            text: str = msg.data
            if text[:1] in _ENGINEIO_TYPES:
                return text
            self._guard.bad_frame(self._eio_sid, BAD_ENGINEIO_FRAME, text)
        elif msg.type is WSMsgType.BINARY:
            data: bytes = msg.data
            return data  # an Engine.IO binary message: WireGuard refuses it with an error
        elif msg.type is WSMsgType.ERROR and "size" in str(msg.data):
            self._guard.bad_frame(self._eio_sid, OVERSIZED, msg.data)
        raise OSError("websocket closed")


class _Body:
    """``wsgi.input`` for a body already read: what python-engineio reads from."""

    def __init__(self, data: bytes) -> None:
        self._data = data

    async def read(self, length: int = -1) -> bytes:
        data, self._data = self._data, b""
        return data


_BODY = "hts.polling_body"
_EIO_SID = "hts.eio_sid"


def _polling_problem(body: bytes) -> tuple[str, str] | None:
    """Why python-engineio could not decode this polling payload, if it could not."""
    if not body:
        return None
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return BAD_ENGINEIO_FRAME, "not UTF-8"
    packets = text.split("\x1e")
    if len(packets) > _MAX_POLLING_PACKETS:
        return BAD_ENGINEIO_FRAME, f"{len(packets)} packets in one payload"
    for p in packets:
        if p[:1] == "b":
            return BINARY, excerpt(p)
        if p[:1] not in _ENGINEIO_TYPES:
            return BAD_ENGINEIO_FRAME, excerpt(p)
    return None


def _refuse(error: HtsError, status: int | None = None,
            headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response({"error": error.to_dict()}, status=status or error.http_status,
                             headers=headers)

