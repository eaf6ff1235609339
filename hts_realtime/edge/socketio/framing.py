"""The Socket.IO framing of the protocol (``edge.core`` holds the protocol).

A request event is answered twice: through its acknowledgement (the ack
body ``RequestCore.dispatch`` returns) and with the seed's reply event for
clients that do not use acks. A refused handshake raises ``Refused``, whose
``connect_error`` data is ``{code, message}``.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qs

import socketio

from hts_realtime.edge.core import Admission, RequestCore
from hts_realtime.edge.sessions import Session
from hts_realtime.edge.socketio.hooks import WireGuard
from hts_realtime.edge.socketio.packets import ReservedEvent
from hts_realtime.edge.socketio.servers import SendPathSocketIO
from hts_realtime.protocol.errors import HtsError, InvalidMessage
from hts_realtime.protocol.strict_json import Undecodable

log = logging.getLogger("hts.socketio")

TRANSPORT = "socketio"


class Refused(socketio.exceptions.ConnectionRefusedError):  # type: ignore[misc]
    """A refused handshake whose ``connect_error`` data is ``{code, message}``."""

    def __init__(self, error: HtsError) -> None:
        super().__init__(error.message)
        # python-socketio clients get this whole dict as the connect_error data;
        # socket.io-client exposes `message` as err.message and `data` as err.data
        self.error_args = {**error.to_dict(), "data": error.to_dict()}


class SocketIOFraming:
    """The protocol's Socket.IO handlers, on ``sio``; bad input goes to ``wire``."""

    def __init__(self, sio: SendPathSocketIO, core: RequestCore, wire: WireGuard) -> None:
        self.sio = sio
        self.core = core
        self.wire = wire
        sio.on("connect", self.on_connect)
        sio.on("disconnect", self.on_disconnect)
        for event in core.events:
            sio.on(event, self._make_handler(event))
        sio.on("*", self.on_unknown)

    async def on_connect(self, sid: str, environ: dict[str, Any], auth: Any) -> None:
        try:
            admission = await self.core.admit(TRANSPORT, auth, _token_from_environ(environ))
        except HtsError as exc:
            log.info("sid=%s refused: %s", sid, exc.code)
            raise Refused(exc) from None
        session = self.core.register(sid, admission, TRANSPORT,
                                     functools.partial(self.wire.strike, sid))
        asyncio.get_running_loop().create_task(self._open(session, admission))

    async def _open(self, session: Session, admission: Admission) -> None:
        # The handshake's CONNECT packet is queued right after on_connect returns;
        # wait for it so `connected` and the replay follow it on the wire.
        for _ in range(100):
            if self.sio.is_connected(session.sid):
                break
            await asyncio.sleep(0)
        await self.core.open(session, admission)

    async def on_disconnect(self, sid: str, reason: Any = None) -> None:
        self.core.disconnect(sid, reason)

    def _make_handler(self, event: str) -> Callable[..., Awaitable[dict[str, Any]]]:
        async def handle(sid: str, *args: Any) -> dict[str, Any]:
            malformed = InvalidMessage(f"{event} takes one payload object") if len(args) > 1 \
                else None
            return await self.core.dispatch(sid, event, args[0] if args else None,
                                            malformed=malformed)

        return handle

    async def on_unknown(self, event: Any, sid: str, *args: Any) -> dict[str, Any]:
        name = str(event)[:64]  # a hostile client may send a non-string event name
        if isinstance(event, Undecodable):  # its JSON was refused (packets.WirePacket)
            return await self.core.dispatch(sid, None, None, malformed=InvalidMessage(
                f"the payload is not strict JSON: {event.reason}"))
        if isinstance(event, ReservedEvent):  # "connect", "disconnect", ... sent as an event
            reserved = InvalidMessage(f"{name!r} is a reserved event name")
            return await self.core.dispatch(sid, name, None, malformed=reserved)
        return await self.core.dispatch(sid, name, None)


def _token_from_environ(environ: dict[str, Any]) -> str | None:
    query = parse_qs(environ.get("QUERY_STRING", ""))
    if query.get("token"):
        return str(query["token"][0])
    header = environ.get("HTTP_AUTHORIZATION", "")
    if isinstance(header, str) and header[:7].lower() == "bearer ":
        return header[7:].strip()
    return None
