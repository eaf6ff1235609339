"""The Socket.IO Admin UI (``HTS_ADMIN_UI``): python-socketio's instrumentation, on our edge.

python-socketio's ``InstrumentedAsyncServer`` (what ``sio.instrument()``
makes) serves the Admin UI (https://socket.io/docs/v4/admin-ui/) on
namespace ``/admin``: server stats every 2 s, the sockets with their
handshake and rooms, and (in ``development`` mode) each event received and
sent. ``AdminUI`` is that class with what this edge needs changed:

* **What our send path sends.** Fan-out writes into each connection's
  outbox, not through ``sio.emit`` (which the library wraps), so the library
  would show no market data, private event or reply. Each Socket.IO outbox
  and fan-out's rooms report to an ``AdminTap`` (bounded in rate and size);
  ``run`` drains it into ``event_sent``, ``room_joined`` and ``room_left``.
* **Rooms** are the broadcast rooms the edge keeps (``Session.rooms``), not
  python-socketio's (which the edge does not use).
* **No secret reaches an admin**: the handshake's ``token`` query parameter
  and the ``Authorization``/``Cookie`` headers are redacted, and so is any
  ``token``/``password``/``refresh_token`` field of an event shown.
* **Only accepted sockets**: a refused CONNECT (bad token) is not shown as a
  socket (the library reports it before the connect handler refuses it, and
  keeps its start time forever).
* **Bounded**: events received are shown within the same rate as the tap's.
* **Read-only**: an admin cannot emit, join, leave or disconnect.
* The credentials are compared in constant time.

What this relies on inside python-socketio (5.18) is listed in
``edge/socketio/README.md`` and guarded by ``tests/test_admin_ui.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import time
from datetime import UTC, datetime
from typing import Any

from socketio.async_admin import InstrumentedAsyncServer

from hts_realtime.edge.admin_tap import AdminTap, Tapped
from hts_realtime.edge.sessions import SessionRegistry
from hts_realtime.edge.socketio.servers import SendPathSocketIO
from hts_realtime.settings import Secret

log = logging.getLogger("hts.admin")

NAMESPACE = "/admin"
REDACTED = "[redacted]"
SECRET_FIELDS = frozenset({"token", "access_token", "refresh_token", "password", "auth"})
SECRET_HEADERS = frozenset({"authorization", "cookie", "proxy-authorization"})
DRAIN_SECONDS = 0.1


def redact(value: Any, depth: int = 0) -> Any:
    """``value`` with every secret-named field replaced (bounded depth)."""
    if depth > 8:
        return REDACTED
    if isinstance(value, dict):
        return {k: REDACTED if str(k).lower() in SECRET_FIELDS else redact(v, depth + 1)
                for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact(v, depth + 1) for v in value]
    return value


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat()


class AdminUI(InstrumentedAsyncServer):  # type: ignore[misc]
    stats_task: asyncio.Future[None] | None  # the library's server_stats loop
    mode: str
    admin_namespace: str

    def __init__(self, sio: SendPathSocketIO, tap: AdminTap, registry: SessionRegistry, *,
                 username: str, password: Secret, mode: str = "development",
                 stats_interval: float = 2.0) -> None:
        # python-socketio's own dispatch, before instrument() puts ours in its place
        self._dispatch = sio._trigger_event
        self.tap = tap
        self.registry = registry
        self._username = username.encode()
        self._password = password
        self._since: dict[str, float] = {}  # accepted sockets: when they connected
        self.refused = 0  # admin connects refused (wrong credentials)
        super().__init__(sio, auth=self._authenticate, namespace=NAMESPACE, read_only=True,
                         mode=mode, server_stats_interval=stats_interval)

    def status(self) -> dict[str, Any]:
        return {"admin_ui": {"mode": self.mode, "admins": self._admins(),
                             "refused": self.refused, **self.tap.status()}}

    async def close(self) -> None:
        """Stop the library's stats task now (its own ``shutdown`` waits out a round)."""
        task = self.stats_task
        self.stats_task = None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    # -- who may watch --------------------------------------------------------------
    def _authenticate(self, auth: Any) -> bool:
        ok = False
        if isinstance(auth, dict):
            user, password = auth.get("username"), auth.get("password")
            if isinstance(user, str) and isinstance(password, str):
                ok = hmac.compare_digest(user.encode(), self._username) & hmac.compare_digest(
                    password.encode(), self._password.reveal().encode())
        if not ok:
            self.refused += 1
            log.info("admin ui: a connect refused (wrong credentials)")
        return ok

    def _admins(self) -> int:
        return sum(1 for _ in self.sio.manager.get_participants(NAMESPACE, None))

    # -- what the library reports, changed -------------------------------------------
    def serialize_socket(self, sid: str, namespace: str, eio_sid: str | None = None) -> Any:
        body = super().serialize_socket(sid, namespace, eio_sid)
        handshake = body["handshake"]
        handshake["headers"] = {k: REDACTED if k.replace("_", "-") in SECRET_HEADERS else v
                                for k, v in handshake["headers"].items()}
        handshake["query"] = redact(handshake["query"])
        t = self._since.get(sid, 0.0)
        handshake["issued"] = t * 1000
        handshake["time"] = _iso(t) if t else ""
        session = self.registry.get(sid) if namespace == "/" else None
        if session is not None:
            body["rooms"] = [sid, *sorted(session.rooms)]
        return body

    async def _trigger_event(self, event: str, namespace: str, *args: Any) -> Any:
        """In the library's place (``instrument()`` installs it): what a client does,
        told to the admins, then handled by python-socketio's dispatch."""
        if namespace == self.admin_namespace or self.mode != "development":
            return await self._dispatch(event, namespace, *args)
        sid, t = args[0], time.time()
        if event == "connect":
            ret = await self._dispatch(event, namespace, *args)  # raises if refused
            if ret is not False:
                self._since[sid] = t
                eio_sid = self.sio.manager.eio_sid_from_sid(sid, namespace)
                await self._to_admins("socket_connected", (
                    self.serialize_socket(sid, namespace, eio_sid), _iso(t)))
            return ret
        if event == "disconnect":
            try:
                return await self._dispatch(event, namespace, *args)
            finally:
                if self._since.pop(sid, None) is not None:
                    reason = args[1] if len(args) > 1 else ""
                    await self._to_admins("socket_disconnected",
                                          (namespace, sid, str(reason), _iso(t)))
        if self.tap.watching and self.tap.take():
            await self._to_admins("event_received",
                                  (namespace, sid, [event, *redact(list(args[1:]))], _iso(t)))
        return await self._dispatch(event, namespace, *args)

    async def _to_admins(self, event: str, data: Any) -> None:
        await self.sio.emit(event, data, namespace=self.admin_namespace)

    # -- what our send path did ------------------------------------------------------
    async def run(self) -> None:
        """Drain the tap into the admins' events; runs for the edge's lifetime."""
        while True:
            await asyncio.sleep(DRAIN_SECONDS)
            self.tap.watching = self.mode == "development" and self._admins() > 0
            for item in self.tap.drain():
                try:
                    await self._tell(item)
                except Exception:  # an admin's socket went away mid-emit
                    log.exception("admin ui: %s not told", item.kind)

    async def _tell(self, item: Tapped) -> None:
        if item.kind == "sent":
            sid = self.sio.manager.sid_from_eio_sid(item.sid, "/")
            if sid is None:
                return
            payload = json.loads(item.payload_json) if item.payload_json else None
            await self._to_admins("event_sent",
                                  ("/", sid, [item.what, redact(payload)], _iso(item.at)))
        elif item.kind in ("joined", "left"):
            await self._to_admins("room_joined" if item.kind == "joined" else "room_left",
                                  ("/", item.what, item.sid, _iso(item.at)))

