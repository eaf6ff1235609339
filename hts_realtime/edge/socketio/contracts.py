"""What the send path's socket and the servers it runs under expect of each other.

``connection.py`` (our Engine.IO socket) and ``servers.py`` (the Engine.IO and
Socket.IO servers that make it) both depend on this module and not on each
other: the socket sees its server as a ``SocketServer``, and the server's
hooks (the wire guard) as ``EngineIOHooks``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from hts_realtime.edge.admin_tap import AdminTap
from hts_realtime.edge.outbox import OutboxFlusher, OutboxLimits

Deliver = Callable[[str, str | bytes], Awaitable[None]]


class EngineIOHooks(Protocol):
    """What sees every Engine.IO event before the libraries do (the wire guard)."""

    def opened(self, eio_sid: str, environ: dict[str, Any]) -> None:
        """A session was made (its OPEN packet is queued); ``environ`` is the one
        python-socketio keeps for it."""

    async def message(self, eio_sid: str, data: str | bytes, deliver: Deliver) -> None:
        """A message arrived; ``deliver(eio_sid, data)`` hands it to python-socketio
        (raising whatever the library raises on it)."""

    def closed(self, eio_sid: str, why: str) -> None:
        """The session ended, or was refused at open."""

    def bad_frame(self, eio_sid: str, kind: str, data: object) -> None:
        """A websocket frame the socket could not take; the transport ends next."""



@dataclass
class SendOptions:
    """How the send path treats each Engine.IO connection (from settings)."""

    limits: OutboxLimits = field(default_factory=OutboxLimits)
    high_water: int = 64 * 1024  # transport buffer past which messages wait in the outbox
    socket_send_buffer: int = 0  # SO_SNDBUF for websocket connections (0: the OS default)
    close_grace: float = 2.0  # seconds a closing transport may take to flush, then aborted
    flusher: OutboxFlusher = field(default_factory=OutboxFlusher)
    tap: AdminTap | None = None  # HTS_ADMIN_UI: what each outbox writes is reported here



class SocketServer(Protocol):
    """What an ``EngineIOConnection`` uses of the server that made it
    (``servers.SendPathEngineIO``: python-engineio's ``AsyncServer`` and ours)."""

    send_options: SendOptions
    hooks: EngineIOHooks
    ping_interval: float
    ping_timeout: float
    max_http_buffer_size: int
    reason: Any  # python-engineio's ``AsyncServer.reason`` (disconnect reasons)

    async def _trigger_event(self, event: str, *args: Any, run_async: bool = False) -> Any: ...
