"""The send path's Engine.IO socket: python-engineio's ``AsyncSocket`` on an ``Outbox``.

python-engineio's socket queues every packet in an unbounded ``asyncio.Queue``
drained by one writer task per connection, and python-socketio's manager
creates one task per recipient per broadcast (~45 µs of CPU per delivered
message, against Node's ~14; issue 9). ``EngineIOConnection`` replaces that
socket: its output is an ``Outbox`` (``edge/outbox.py``), whose frames are
written synchronously to the aiohttp transport (a WebSocket frame built once
per broadcast, whatever the number of recipients), or handed to the waiting
long-poll GET. No writer task, no per-message task, no per-connection ping task
(a timer handle instead). python-engineio still does the HTTP handshake, CORS,
long-polling request parsing, the upgrade and the ping-timeout sweep;
python-socketio still does the Socket.IO protocol (CONNECT, events, acks).

Every override and every piece of library state it touches is listed in this
folder's README.md, with the test that fails if an upgrade changes it.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import socket as _socket
import time
from typing import Any

from aiohttp import WSMsgType, web
from engineio import async_socket as eio_async_socket
from engineio import exceptions as eio_exceptions
from engineio import packet as eio_packet

from hts_realtime.edge.outbox import Message, Outbox
from hts_realtime.edge.socketio.contracts import SocketServer
from hts_realtime.edge.socketio.framings import (
    POLLING,
    WEBSOCKET,
    EioPacket,
    EngineIOPollingFraming,
    EngineIOWebSocketFraming,
)
from hts_realtime.edge.socketio.packets import namespace_of
from hts_realtime.edge.wire_policy import BAD_ENGINEIO_FRAME, OVERSIZED
from hts_realtime.protocol.errors import SlowConsumer

log = logging.getLogger("hts.wire")


_PING = EioPacket(eio_packet.Packet(eio_packet.PING))
_NOOP = eio_packet.Packet(eio_packet.NOOP)
_ENGINEIO_TYPES = frozenset("0123456")
WS_CLOSE_TIMEOUT_SECONDS = 5.0  # aiohttp's wait for the peer's close frame
# a polling POST body the route has read already (bounded in size and time)
POLLING_BODY = web.RequestKey("hts.polling_body", bytes)
EIO_SID = web.RequestKey("hts.eio_sid", str)  # the session a handshake request made


class EngineIOConnection(eio_async_socket.AsyncSocket):  # type: ignore[misc]
    """An Engine.IO socket whose output is an ``Outbox`` (a ``Connection``).

    Overrides of python-engineio's ``AsyncSocket``: ``send`` (into the
    outbox), ``poll`` (a long-poll GET takes what the outbox holds),
    ``schedule_ping`` (a timer, not a task), ``close``,
    ``handle_post_request`` (the body the route read, bounded) and
    ``_upgrade_websocket`` (our websocket and reader loop; writes go to the
    transport directly). Frames the library could not decode are reported to
    the server's hooks (the wire guard) and end the transport.
    """

    server: SocketServer
    sid: str
    last_ping: float | None
    connected: bool
    upgrading: bool
    upgraded: bool
    closing: bool
    closed: bool

    def __init__(self, server: SocketServer, sid: str) -> None:
        super().__init__(server, sid)
        self.queue = None  # the library's per-socket queue is not used
        opts = server.send_options
        self.framing: EngineIOWebSocketFraming | EngineIOPollingFraming = POLLING
        self.outbox = Outbox(self, opts.limits, opts.flusher,
                             functools.partial(opts.tap.sent, sid) if opts.tap else None)
        self._high_water = opts.high_water
        self._transport: asyncio.Transport | None = None
        self._sock: web.WebSocketResponse | None = None
        self._closing_ws: asyncio.Task[None] | None = None
        self._poll: list[Any] | None = None  # the waiting long-poll GET's packets
        self._poll_wake: asyncio.Future[None] | None = None
        self.close_reason: str | None = None
        self._ended: set[str] = set()  # namespaces whose Socket.IO DISCONNECT went out
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
        if pkt.packet_type == eio_packet.MESSAGE and isinstance(pkt.data, str):
            # after a namespace's Socket.IO DISCONNECT, its late acks and events go nowhere
            if self._ended and namespace_of(pkt.data) in self._ended:
                return
            if pkt.data[:1] == "1":
                self._ended.add(namespace_of(pkt.data))
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
            self.end_poll()

    def end_poll(self) -> None:
        """Answer the waiting long-poll GET now (with what it holds, maybe nothing)."""
        w = self._poll_wake
        if w is not None and not w.done():
            w.set_result(None)

    def cut(self) -> None:
        """Drop the websocket's TCP connection now (a peer that does not close)."""
        if self._transport is not None:
            self._transport.abort()

    def _end_transport(self) -> None:
        """The WebSocket closing handshake (aiohttp's, concurrent with our reader), and
        the transport cut ``close_grace`` seconds later if the peer does not finish it."""
        t, sock = self._transport, self._sock
        if t is None or sock is None or t.is_closing() or self._closing_ws is not None:
            return
        self._closing_ws = asyncio.get_running_loop().create_task(_close_ws(sock))
        asyncio.get_running_loop().call_later(self.server.send_options.close_grace, t.abort)

    # -- library overrides: the transports' input ------------------------------------
    async def handle_post_request(self, environ: dict[str, Any]) -> None:
        """A polling POST: the library decodes the body the route read (bounded in size
        and time, its framing checked: ``route.py``) instead of reading the request."""
        body = environ["aiohttp.request"].get(POLLING_BODY)
        if body is not None:  # else (no route in front) the library reads the request
            environ["wsgi.input"] = _Body(body)
            environ["CONTENT_LENGTH"] = str(len(body))
        await super().handle_post_request(environ)

    async def _upgrade_websocket(self, environ: dict[str, Any]) -> web.WebSocketResponse:
        """The websocket transport (a new session, or an upgrade from polling): ours,
        in place of the driver's, so frames are read, checked and written here."""
        if self.upgraded:
            raise OSError("Socket has been upgraded already")  # as the library does
        request: web.Request = environ["aiohttp.request"]
        # aiohttp refuses a message of exactly max_msg_size bytes (it checks >=)
        sock = web.WebSocketResponse(max_msg_size=self.server.max_http_buffer_size + 1,
                                     timeout=WS_CLOSE_TIMEOUT_SECONDS)
        await sock.prepare(request)
        await self._serve_websocket(sock, request)
        return sock

    async def _serve_websocket(self, sock: web.WebSocketResponse, request: web.Request) -> None:
        if self.connected:  # an upgrade from long-polling
            self.upgrading = True
            probe = _decode(await self._read(sock))
            if probe is None or probe.packet_type != eio_packet.PING or probe.data != "probe":
                self.upgrading = False
                return
            await sock.send_str(eio_packet.Packet(eio_packet.PONG, data="probe").encode())
            if self._poll is not None:  # end the held GET so the client finishes upgrading
                self.write([_NOOP])
            done = _decode(await self._read(sock))
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
        while (pkt := _decode(await self._read(sock))) is not None:
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

    async def _read(self, sock: web.WebSocketResponse) -> str | bytes | None:
        """The next Engine.IO frame, or None once the transport ends. A text frame that
        is not an Engine.IO packet, or one over the size limit, is reported to the
        server's hooks (the wire guard counts it) and ends the transport."""
        msg = await sock.receive()
        if msg.type is WSMsgType.TEXT:
            text: str = msg.data
            if text[:1] in _ENGINEIO_TYPES:
                return text
            self.server.hooks.bad_frame(self.sid, BAD_ENGINEIO_FRAME, text)
        elif msg.type is WSMsgType.BINARY:
            data: bytes = msg.data
            return data  # an Engine.IO binary message: the guard refuses it with an error
        elif msg.type is WSMsgType.ERROR and "size" in str(msg.data):
            self.server.hooks.bad_frame(self.sid, OVERSIZED, msg.data)
        return None

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


class _Body:
    """``wsgi.input`` for a body already read: what python-engineio reads from."""

    def __init__(self, data: bytes) -> None:
        self._data = data

    async def read(self, length: int = -1) -> bytes:
        data, self._data = self._data, b""
        return data


def _decode(data: str | bytes | None) -> eio_packet.Packet | None:
    if data is None:
        return None
    try:
        return eio_packet.Packet(encoded_packet=data)
    except Exception:  # an undecodable Engine.IO frame ends this connection only
        return None
