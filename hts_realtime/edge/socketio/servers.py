"""python-engineio's and python-socketio's servers, on the send path's socket.

``SendPathSocketIO`` is python-socketio's ``AsyncServer`` whose Engine.IO
server (made through the library's ``_engineio_server_class`` hook) is
``SendPathEngineIO``: python-engineio's ``AsyncServer`` making an
``EngineIOConnection`` for every session. Fan-out finds a session's outbox
through ``outbox_of``.
"""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import Callable
from typing import Any

import engineio
import socketio
from engineio import exceptions as eio_exceptions
from engineio import packet as eio_packet

from hts_realtime.edge.outbox import Outbox
from hts_realtime.edge.socketio.connection import EngineIOConnection
from hts_realtime.edge.socketio.contracts import Deliver, EngineIOHooks, SendOptions
from hts_realtime.edge.socketio.packets import WirePacket

log = logging.getLogger("hts.wire")

class _Unhooked:
    def opened(self, eio_sid: str, environ: dict[str, Any]) -> None:
        pass

    async def message(self, eio_sid: str, data: str | bytes, deliver: Deliver) -> None:
        await deliver(eio_sid, data)

    def closed(self, eio_sid: str, why: str) -> None:
        pass

    def bad_frame(self, eio_sid: str, kind: str, data: object) -> None:
        pass


class SendPathEngineIO(engineio.AsyncServer):  # type: ignore[misc]
    """python-engineio's server, making ``EngineIOConnection`` sockets."""

    start_service_task: bool
    cookie: str | dict[str, Any] | None

    def __init__(self, send_options: SendOptions, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.send_options = send_options
        self.hooks: EngineIOHooks = _Unhooked()

    def install_hooks(self, hooks: EngineIOHooks) -> None:
        """Put ``hooks`` in front of every Engine.IO event (once, before serving)."""
        if not isinstance(self.hooks, _Unhooked):
            raise RuntimeError("Engine.IO hooks are installed already")
        self.hooks = hooks

    async def _trigger_event(self, event: str, *args: Any, run_async: bool = False) -> Any:
        """python-engineio's one dispatch point for its events: each passes the hooks
        first, whoever registered the handlers (python-socketio; the Admin UI, which
        replaces the connect and disconnect handlers with its own)."""
        if event == "message":  # python-socketio sets its engine's async_handlers=False
            await self.hooks.message(args[0], args[1], self._deliver)
            return None
        if event == "connect":
            self.hooks.opened(args[0], args[1])
            ret = await super()._trigger_event(event, *args, run_async=run_async)
            if ret is not None and ret is not True:  # refused: no disconnect will follow
                self.hooks.closed(args[0], "refused at open")
            return ret
        if event == "disconnect":
            try:
                return await super()._trigger_event(event, *args, run_async=run_async)
            finally:
                self.hooks.closed(args[0], str(args[1]))
        return await super()._trigger_event(event, *args, run_async=run_async)

    async def _deliver(self, eio_sid: str, data: str | bytes) -> None:
        """A message to its handler (python-socketio's), awaited here: what it raises
        reaches the hooks, instead of a traceback in the library's logger."""
        handler = self.handlers.get("message")
        if handler is not None:
            ret = handler(eio_sid, data)
            if inspect.isawaitable(ret):
                await ret

    async def _handle_connect(self, environ: dict[str, Any], transport: str,
                              jsonp_index: int | None = None) -> Any:
        # python-engineio 4.15 AsyncServer._handle_connect with our socket class: the
        # library has no hook for the socket class. tests/test_library_reliance.py runs
        # the same handshakes against the library's own server and compares the answers.
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
            return self._ok(await s.poll(), headers=self._sid_cookie(sid),
                            jsonp_index=jsonp_index)
        except eio_exceptions.QueueEmpty:
            return self._bad_request()

    def _sid_cookie(self, sid: str) -> list[tuple[str, str]] | None:
        """The ``Set-Cookie`` header of a polling handshake when ``cookie`` is configured
        (a name, or a dict of attributes), exactly as the library builds it."""
        if not self.cookie:
            return None
        attributes = self.cookie if isinstance(self.cookie, dict) else {
            "name": self.cookie, "path": "/", "SameSite": "Lax"}
        return [("Set-Cookie", self._generate_sid_cookie(sid, attributes))]

    def connections(self) -> list[EngineIOConnection]:
        return [s for s in self.sockets.values() if isinstance(s, EngineIOConnection)]


class SendPathSocketIO(socketio.AsyncServer):  # type: ignore[misc]
    """python-socketio's server on ``SendPathEngineIO``, decoding with ``WirePacket``
    (the library's ``serializer`` option: reserved event names marked)."""

    eio: SendPathEngineIO

    def __init__(self, send_options: SendOptions, **kwargs: Any) -> None:
        self._send_options = send_options  # read by _engineio_server_class, in super()
        super().__init__(serializer=WirePacket, **kwargs)

    def _engineio_server_class(self) -> Callable[..., SendPathEngineIO]:
        # python-socketio builds its Engine.IO server as this(**engineio_options)
        return functools.partial(SendPathEngineIO, self._send_options)

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
                conn.end_poll()
            except Exception:
                log.warning("closing a client at shutdown failed", exc_info=True)
