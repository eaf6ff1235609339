"""Every reliance on python-socketio / python-engineio internals, in one place.

``tests/test_library_reliance.py`` checks each one against the installed
library, so an upgrade that moves them fails loudly there first.

Sections (each owned by one concern; keep them apart):

* **Send path** (``EngineIOConnection``, ``SendPathEngineIO``,
  ``SendPathSocketIO``; issue 9). python-engineio's socket queues every
  packet in an unbounded ``asyncio.Queue`` drained by one writer task per
  connection, and python-socketio's manager creates one task per recipient
  per broadcast (~45 µs of CPU per delivered message, against Node's ~14).
  Here the Engine.IO socket is replaced by one whose output is an
  ``Outbox`` (``edge/outbox.py``): frames are written synchronously to
  the aiohttp transport (a WebSocket frame built once per broadcast,
  whatever the number of recipients), or handed to the waiting long-poll
  GET. No writer task, no per-message task, no per-connection ping task (a
  timer handle instead). python-engineio still does the HTTP handshake,
  CORS, long-polling request parsing, the upgrade and the ping-timeout
  sweep; python-socketio still does the Socket.IO protocol (CONNECT,
  events, acks).
* **Wire guard** (``WireGuard``): a thin layer in front of the libraries
  against hostile clients — reserved event names, binary attachments,
  undecodable frames, the CONNECT deadline, per-address admission, bounded
  long-polling bodies, and dropping a connection that floods bad input.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket as _socket
import time
import weakref
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import engineio
import socketio
from aiohttp import WSMsgType, web
from engineio import async_socket as eio_async_socket
from engineio import exceptions as eio_exceptions
from engineio import packet as eio_packet
from engineio.async_drivers import aiohttp as eio_aiohttp

from hts_realtime.edge.outbox import Message, Outbox, OutboxFlusher, OutboxLimits, websocket_frame
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
from hts_realtime.protocol.errors import HtsError, InvalidMessage, RateLimited, SlowConsumer
from hts_realtime.settings import Settings

log = logging.getLogger("hts.wire")

# =====================================================================================
# Send path (issue 9): our Engine.IO socket and its outbox
# =====================================================================================
@dataclass
class SendOptions:
    """How the send path treats each Engine.IO connection (from settings)."""

    limits: OutboxLimits = field(default_factory=OutboxLimits)
    high_water: int = 64 * 1024  # transport buffer past which messages wait in the outbox
    socket_send_buffer: int = 0  # SO_SNDBUF for websocket connections (0: the OS default)
    close_grace: float = 2.0  # seconds a closing transport may take to flush, then aborted
    flusher: OutboxFlusher = field(default_factory=OutboxFlusher)


class EioPacket(Message):
    """A library Engine.IO packet (OPEN, PING, CLOSE, Socket.IO CONNECT/ACK...)."""

    __slots__ = ("pkt",)

    def __init__(self, pkt: eio_packet.Packet) -> None:
        super().__init__("", None, payload_json="")
        self.pkt = pkt

    @property
    def nbytes(self) -> int:
        data = self.pkt.data
        return 16 + (len(data) if isinstance(data, str | bytes) else 64)


class EngineIOWebSocketFraming:
    """Engine.IO over WebSocket: one text frame per packet (binary frames for binary)."""

    def render(self, msg: Message) -> bytes:
        if isinstance(msg, EioPacket):
            encoded = msg.pkt.encode()
            if isinstance(encoded, bytes):
                return websocket_frame(encoded, opcode=0x2)
            return websocket_frame(encoded.encode())
        return websocket_frame(("4" + msg.socketio_text()).encode())


class EngineIOPollingFraming:
    """Engine.IO over long-polling: packets the library encodes into the GET response."""

    def render(self, msg: Message) -> eio_packet.Packet:
        if isinstance(msg, EioPacket):
            return msg.pkt
        return eio_packet.Packet(eio_packet.MESSAGE, data=msg.socketio_text())


WEBSOCKET = EngineIOWebSocketFraming()
POLLING = EngineIOPollingFraming()
_PING = EioPacket(eio_packet.Packet(eio_packet.PING))
_NOOP = eio_packet.Packet(eio_packet.NOOP)


class EngineIOConnection(eio_async_socket.AsyncSocket):  # type: ignore[misc]
    """An Engine.IO socket whose output is an ``Outbox`` (a ``Connection``).

    Overrides of python-engineio's ``AsyncSocket``: ``send`` (into the
    outbox), ``poll`` (a long-poll GET takes what the outbox holds),
    ``_websocket_handler`` (our reader loop; writes go to the transport
    directly), ``schedule_ping`` (a timer, not a task) and ``close``.
    """

    server: SendPathEngineIO
    sid: str
    last_ping: float | None
    connected: bool
    upgrading: bool
    upgraded: bool
    closing: bool
    closed: bool

    def __init__(self, server: SendPathEngineIO, sid: str) -> None:
        super().__init__(server, sid)
        self.queue = None  # the library's per-socket queue is not used
        opts = server.send_options
        self.framing: EngineIOWebSocketFraming | EngineIOPollingFraming = POLLING
        self.outbox = Outbox(self, opts.limits, opts.flusher)
        self._high_water = opts.high_water
        self._transport: asyncio.Transport | None = None
        self._sock: web.WebSocketResponse | None = None
        self._closing_ws: asyncio.Task[None] | None = None
        self._poll: list[Any] | None = None  # the waiting long-poll GET's packets
        self._poll_wake: asyncio.Future[None] | None = None
        self.close_reason: str | None = None
        self._ended = False  # the Socket.IO DISCONNECT packet went out
        self._ping_timer: asyncio.TimerHandle | None = None

    # -- Connection protocol ----------------------------------------------------------
    def write(self, frames: list[Any]) -> None:
        t = self._transport
        if t is not None:
            t.write(frames[0] if len(frames) == 1 else b"".join(frames))
        elif self._poll is not None:
            self._poll.extend(frames)
            w = self._poll_wake
            if w is not None and not w.done():
                w.set_result(None)

    def writable(self) -> bool:
        t = self._transport
        if t is not None:
            return t.get_write_buffer_size() < self._high_water and not t.is_closing()
        return self._poll is not None

    def disconnect(self, reason: str) -> None:
        """End this connection now (``slow_consumer``), without a CLOSE packet,
        so the client reconnects (and resumes with ``last_seq``)."""
        self.close_reason = reason
        self.outbox.discard()
        t = self._transport
        if t is not None and not t.is_closing():
            # ahead of nothing: what the transport already buffers goes first, and a
            # client that never reads will not see it; the log and the status say why
            error = SlowConsumer("the client does not read fast enough; resume with last_seq")
            t.write(WEBSOCKET.render(Message("error", {"type": "error", "event": None,
                                                       **error.to_dict()})))
        task = asyncio.get_running_loop().create_task(
            self.close(wait=False, abort=True, reason=reason))
        _background.add(task)
        task.add_done_callback(_background.discard)

    # -- library overrides: output ----------------------------------------------------
    async def send(self, pkt: eio_packet.Packet) -> None:
        if self.closed:
            return
        if pkt.packet_type == eio_packet.MESSAGE:
            if self._ended:  # after the Socket.IO DISCONNECT: late acks and events go nowhere
                return
            self._ended = isinstance(pkt.data, str) and pkt.data[:1] == "1"
        self.outbox.send(EioPacket(pkt))

    async def poll(self) -> list[Any]:
        """A long-poll GET: what the outbox holds, or wait for something."""
        batch: list[Any] = []
        self._poll = batch
        self.outbox.flush()
        if not batch and not self.closed:
            wake = self._poll_wake = asyncio.get_running_loop().create_future()
            try:
                await asyncio.wait_for(
                    wake, self.server.ping_interval + self.server.ping_timeout)
            except (TimeoutError, asyncio.CancelledError):
                self._poll = self._poll_wake = None
                raise eio_exceptions.QueueEmpty() from None
        self._poll = self._poll_wake = None
        return batch

    def schedule_ping(self) -> None:
        if self.last_ping:
            self.last_ping = None
            # kept, so close() can cancel it: a pending timer holds this socket (and its
            # outbox) for ping_interval after the session ended (connect/disconnect churn)
            self._ping_timer = asyncio.get_running_loop().call_later(
                self.server.ping_interval, self._ping_due)

    def _ping_due(self) -> None:
        if not self.closing and not self.closed:
            self.last_ping = time.time()
            self.outbox.send(_PING)

    async def close(self, wait: bool = True, abort: bool = False,
                    reason: str | None = None) -> None:
        if self.closed or self.closing:
            return
        self.closing = True
        if self._ping_timer is not None:
            self._ping_timer.cancel()
        if not abort:  # ahead of the disconnect handlers, which forget the session
            self.outbox.send(EioPacket(eio_packet.Packet(eio_packet.CLOSE)))
        await self.server._trigger_event(
            "disconnect", self.sid, reason or self.server.reason.SERVER_DISCONNECT,
            run_async=False)
        self.closed = True
        if self._transport is not None:
            self.outbox.discard()
            self._end_transport()
        else:  # long-polling: the next GET takes the CLOSE packet
            w = self._poll_wake
            if w is not None and not w.done():
                w.set_result(None)

    def _end_transport(self) -> None:
        """The WebSocket closing handshake (aiohttp's, concurrent with our reader), and
        the transport cut ``close_grace`` seconds later if the peer does not finish it."""
        t, sock = self._transport, self._sock
        if t is None or sock is None or t.is_closing() or self._closing_ws is not None:
            return
        self._closing_ws = asyncio.get_running_loop().create_task(_close_ws(sock))
        asyncio.get_running_loop().call_later(self.server.send_options.close_grace, t.abort)

    # -- library overrides: the websocket transport -----------------------------------
    async def _websocket_handler(self, ws: Any) -> None:
        sock: web.WebSocketResponse = ws._sock
        request: web.Request = ws.environ["aiohttp.request"]
        max_size = self.server.max_http_buffer_size
        if self.connected:  # an upgrade from long-polling
            self.upgrading = True
            probe = _decode(await _ws_read(ws, max_size))
            if probe is None or probe.packet_type != eio_packet.PING or probe.data != "probe":
                self.upgrading = False
                return
            await sock.send_str(eio_packet.Packet(eio_packet.PONG, data="probe").encode())
            if self._poll is not None:  # end the held GET so the client finishes upgrading
                self.write([_NOOP])
            done = _decode(await _ws_read(ws, max_size))
            if done is None or done.packet_type != eio_packet.UPGRADE:
                self.upgrading = False
                return
            self.upgraded = True
            self.upgrading = False
        else:
            self.connected = True
            self.upgraded = True
        transport = request.transport
        if transport is None or transport.is_closing():
            await self.close(wait=False, abort=True,
                             reason=self.server.reason.TRANSPORT_CLOSE)
            return
        self._attach(transport, sock)
        while True:
            data = await _ws_read(ws, max_size)
            if data is None:
                break
            pkt = _decode(data)
            if pkt is None:
                break
            try:
                await self.receive(pkt)
            except eio_exceptions.UnknownPacketError:
                pass
            except eio_exceptions.SocketIsClosedError:
                break
            except Exception:
                log.exception("sid=%s receive failed", self.sid)
            # one frame at a time: what it started (handler tasks, a kick) runs before
            # the next buffered frame is read, so a pipelining client cannot hog the loop
            await asyncio.sleep(0)
        await self.close(wait=False, abort=True, reason=self.server.reason.TRANSPORT_CLOSE)
        if self._closing_ws is not None:
            await self._closing_ws
        elif not transport.is_closing():
            await _close_ws(sock)

    def _attach(self, transport: asyncio.Transport, sock: web.WebSocketResponse) -> None:
        size = self.server.send_options.socket_send_buffer
        if size:
            raw = transport.get_extra_info("socket")
            if raw is not None:
                with contextlib.suppress(OSError):
                    raw.setsockopt(_socket.SOL_SOCKET, _socket.SO_SNDBUF, size)
        self._transport = transport
        self._sock = sock
        self.framing = WEBSOCKET
        self.outbox.flush()


_background: set[asyncio.Task[None]] = set()


async def _close_ws(sock: web.WebSocketResponse) -> None:
    with contextlib.suppress(Exception):  # the peer may be gone already
        await sock.close()


async def _ws_read(ws: Any, max_size: int) -> str | bytes | None:
    """The next message from the driver's websocket (``GuardedWebSocket.wait``: it
    refuses frames the library would choke on), or None once the transport ends."""
    try:
        data: str | bytes = await ws.wait()
    except Exception:  # closed, refused or oversized: the transport ends
        return None
    return data if len(data) <= max_size else None


def _decode(data: str | bytes | None) -> eio_packet.Packet | None:
    if data is None:
        return None
    try:
        return eio_packet.Packet(encoded_packet=data)
    except Exception:  # an undecodable Engine.IO frame ends this connection only
        return None


class SendPathEngineIO(engineio.AsyncServer):  # type: ignore[misc]
    """python-engineio's server, making ``EngineIOConnection`` sockets."""

    send_options: SendOptions
    start_service_task: bool

    async def _handle_connect(self, environ: dict[str, Any], transport: str,
                              jsonp_index: int | None = None) -> Any:
        # python-engineio 4.15 AsyncServer._handle_connect, with our socket class
        if self.start_service_task:
            self.start_service_task = False
            self.service_task_handle = self.start_background_task(self._service_task)
        sid = self.generate_id()
        s = EngineIOConnection(self, sid)
        self.sockets[sid] = s
        await s.send(eio_packet.Packet(eio_packet.OPEN, {
            "sid": sid,
            "upgrades": self._upgrades(sid, transport),
            "pingTimeout": int(self.ping_timeout * 1000),
            "pingInterval": int(self.ping_interval + self.ping_interval_grace_period) * 1000,
            "maxPayload": self.max_http_buffer_size,
        }))
        ret = await self._trigger_event("connect", sid, environ, run_async=False)
        if ret is not None and ret is not True:
            del self.sockets[sid]
            s.outbox.discard()
            return self._unauthorized(ret or None)
        s.schedule_ping()
        if transport == "websocket":
            ret = await s.handle_get_request(environ)
            if s.closed and sid in self.sockets:
                del self.sockets[sid]
            return ret
        s.connected = True
        try:
            return self._ok(await s.poll(), jsonp_index=jsonp_index)
        except eio_exceptions.QueueEmpty:
            return self._bad_request()

    def connections(self) -> list[EngineIOConnection]:
        return [s for s in self.sockets.values() if isinstance(s, EngineIOConnection)]


class SendPathSocketIO(socketio.AsyncServer):  # type: ignore[misc]
    """python-socketio's server on ``SendPathEngineIO``."""

    eio: SendPathEngineIO

    def __init__(self, send_options: SendOptions, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.eio.send_options = send_options

    def _engineio_server_class(self) -> type[SendPathEngineIO]:
        return SendPathEngineIO

    def connection_of(self, sid: str) -> EngineIOConnection | None:
        """The Engine.IO connection behind a Socket.IO session id (namespace ``/``)."""
        eio_sid = self.manager.eio_sid_from_sid(sid, "/")
        conn = self.eio.sockets.get(eio_sid) if eio_sid is not None else None
        return conn if isinstance(conn, EngineIOConnection) else None

    def outbox_of(self, sid: str) -> Outbox | None:
        conn = self.connection_of(sid)
        return conn.outbox if conn is not None else None

    def is_connected(self, sid: str) -> bool:
        """Whether python-socketio has queued the CONNECT packet for ``sid``."""
        return bool(self.manager.is_connected(sid, "/"))

    async def end_all_transports(self) -> None:
        """Shutdown: end every transport *without* an Engine.IO CLOSE packet, so
        clients reconnect (to this server once it is back, or another one)."""
        for conn in self.eio.connections():
            try:
                await conn.close(wait=False, abort=True,
                                 reason=self.eio.reason.SERVER_DISCONNECT)
                w = conn._poll_wake
                if w is not None and not w.done():
                    w.set_result(None)
            except Exception:
                log.warning("closing a client at shutdown failed", exc_info=True)


# =====================================================================================
# Wire guard (issue 8: hostile clients)
# =====================================================================================

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

