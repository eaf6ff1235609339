"""Each open connection's token clock: warned before ``exp``, closed at it.

A token is checked at connect; without this, a connection would live on past
its token's ``exp`` for as long as the network holds. So every session gets
two timers: ``token_expiring`` ``warning`` seconds before ``exp``
(``HTS_TOKEN_EXPIRY_WARNING_SECONDS``; halfway through what is left, when
less than twice that is left), and at
``exp`` the close with ``token_expired`` (an ``error`` event and the
disconnect; a plain WebSocket closes 4401 ``token_expired``). A ``renew``
with a fresh token of the same user (``RequestCore``) restarts both timers
with the new ``exp``: the connection, its rooms and its private stream carry on.

Timers are ``loop.call_at`` handles, two per connection, dropped when it
closes: nothing is scanned, and memory follows the connections.
"""

from __future__ import annotations

import asyncio
import logging
import time

from hts_realtime.edge.fanout import Fanout
from hts_realtime.edge.sessions import Session, SessionRegistry
from hts_realtime.protocol.errors import TokenExpired

log = logging.getLogger("hts.core")


class TokenExpiry:
    def __init__(self, registry: SessionRegistry, fanout: Fanout, warning_seconds: float) -> None:
        self.registry = registry
        self.fanout = fanout
        self.warning_seconds = warning_seconds
        self._timers: dict[str, tuple[asyncio.TimerHandle, asyncio.TimerHandle]] = {}
        self._closing: set[asyncio.Task[None]] = set()
        self.closed = 0  # connections closed at their token's exp (status)

    def watch(self, session: Session) -> None:
        """(Re)start ``session``'s clock from its identity's ``expires_at``."""
        self.forget(session.sid)
        loop = asyncio.get_running_loop()
        # the loop's clock is monotonic; exp is wall-clock seconds
        left = max(session.identity.expires_at - time.time(), 0.0)
        at = loop.time() + left
        # never earlier than halfway through what is left: a token shorter than the
        # warning would otherwise be warned at once, renewed, warned again, ...
        warn = loop.call_at(max(at - self.warning_seconds, at - left / 2), self._warn, session)
        close = loop.call_at(at, self._expire, session)
        self._timers[session.sid] = (warn, close)

    def forget(self, sid: str) -> None:
        timers = self._timers.pop(sid, None)
        if timers is not None:
            for timer in timers:
                timer.cancel()

    def _current(self, session: Session) -> bool:
        return self.registry.get(session.sid) is session

    def _warn(self, session: Session) -> None:
        if not self._current(session):
            return
        expires_at = session.identity.expires_at
        self.fanout.send(session.sid, "token_expiring", {
            "type": "token_expiring", "expires_at": expires_at,
            "expires_in": max(0, round(expires_at - time.time())),
            "message": "the access token expires soon: refresh it and send `renew`"})

    def _expire(self, session: Session) -> None:
        self._timers.pop(session.sid, None)
        if not self._current(session):
            return
        self.closed += 1
        log.info("sid=%s user=%s closed: token_expired", session.sid, session.user_id)
        task = asyncio.get_running_loop().create_task(self.fanout.close(
            session.sid, TokenExpired("the access token expired; renew it before "
                                      "`expires_at` (the `renew` event) or reconnect")))
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)
