"""The wire policy against hostile clients: one per process, the same for both framings.

Socket.IO (``edge.socketio``, at ``/socket.io/``) and the plain WebSocket
(``edge.plain_ws``, at ``/api/ws``) apply the same ``WirePolicy``: who may open
a connection (``admit``/``release``: concurrent connections and connects per
second per address), how many refused requests a connection may send before it
is cut (``strike``, a per-connection budget), how much of that bad input reaches
the log (``BadInputLog``), and the counters ``GET /api/ws/status`` reports. No
library imports: each framing does only its own framing.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from typing import TYPE_CHECKING, Any, Protocol

from hts_realtime.ops.error_log import INTERNAL_ERRORS
from hts_realtime.protocol.errors import HtsError, RateLimited

if TYPE_CHECKING:
    from hts_realtime.settings import Settings

log = logging.getLogger("hts.wire")

# bad-input kinds, counted per connection and process-wide
BINARY = "binary"
BAD_ENGINEIO_FRAME = "bad_engineio_frame"
BAD_SOCKETIO_PACKET = "bad_socketio_packet"
SECOND_CONNECT = "second_connect"
OVERSIZED = "oversized"
# request refusals the gateway reports (their wire error codes)
STRIKE_CODES = frozenset({"rate_limited", "unknown_event", "invalid_message"})

_EXCERPT_CHARS = 24
_PURGE_EVERY = 1024


class TokenBucket:
    """``rate`` tokens a second, up to ``burst``."""

    __slots__ = ("_last", "_tokens", "burst", "rate")

    def __init__(self, rate: float, burst: int) -> None:
        self.rate = rate
        self.burst = burst
        self._tokens = float(burst)
        self._last = time.monotonic()

    def _refill(self) -> None:
        now = time.monotonic()
        self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
        self._last = now

    def full(self) -> bool:
        self._refill()
        return self._tokens >= self.burst

    def take(self) -> bool:
        self._refill()
        if self._tokens >= 1:
            self._tokens -= 1
            return True
        return False


def excerpt(data: object) -> str:
    """A short, printable excerpt of hostile input for a log line: its first
    characters (too few to reach a JWT's claims or signature) and its size."""
    if isinstance(data, bytes | bytearray):
        return f"<{len(data)} bytes binary>"
    text = data if isinstance(data, str) else repr(data)
    head = text[:_EXCERPT_CHARS].encode("unicode_escape").decode("ascii")
    return f"{head!r}" + (f" ({len(text)} chars)" if len(text) > _EXCERPT_CHARS else "")


class AddressLimiter:
    """Per remote address: concurrent Engine.IO sessions and new sessions per second.

    Behind a reverse proxy every client shares the proxy's address: raise the
    limits (or set them to 0, no limit) there.
    """

    def __init__(self, max_concurrent: int, per_second: float, burst: int) -> None:
        self.max_concurrent = max_concurrent
        self.per_second = per_second
        self.burst = max(1, burst)
        self._open: Counter[str] = Counter()
        self._buckets: dict[str, TokenBucket] = {}
        self._admitted = 0
        self.refused_concurrent = 0
        self.refused_rate = 0

    def admit(self, address: str) -> float | None:
        """Count a new session for ``address``; or ``None`` refused: seconds to wait."""
        if self.max_concurrent and self._open[address] >= self.max_concurrent:
            self.refused_concurrent += 1
            return 1.0
        if self.per_second:
            bucket = self._buckets.get(address)
            if bucket is None:
                bucket = self._buckets[address] = TokenBucket(self.per_second, self.burst)
            if not bucket.take():
                self.refused_rate += 1
                return max(1.0, 1.0 / self.per_second)
        self._open[address] += 1
        self._admitted += 1
        if self._admitted % _PURGE_EVERY == 0:
            self._purge()
        return None

    def release(self, address: str) -> None:
        self._open[address] -= 1
        if self._open[address] <= 0:
            del self._open[address]

    def open_count(self, address: str) -> int:
        return self._open[address]

    def _purge(self) -> None:
        """Forget the buckets of addresses with nothing open and a full bucket."""
        for address in [a for a, b in self._buckets.items()
                        if a not in self._open and b.full()]:
            del self._buckets[address]

    def status(self) -> dict[str, Any]:
        return {
            "addresses": len(self._open),
            "max_open_per_address": max(self._open.values(), default=0),
            "refused_concurrent": self.refused_concurrent,
            "refused_rate": self.refused_rate,
        }


class BadInputLog:
    """Logging of bad input that a flood cannot turn into a disk-filler.

    One line for the first bad input of each kind on a connection, a summary
    with the counts when the connection ends, and never more than
    ``lines_per_second`` such lines for the whole process (the rest are
    counted, and the count is reported with the next line that gets out).
    """

    def __init__(self, lines_per_second: float) -> None:
        self._bucket = TokenBucket(lines_per_second, max(1, int(lines_per_second)))
        self.totals: Counter[str] = Counter()
        self.suppressed = 0

    def note(self, counts: Counter[str], label: str, kind: str, detail: str) -> None:
        counts[kind] += 1
        self.totals[kind] += 1
        if counts[kind] == 1:
            self._line(logging.WARNING, "%s bad input %s: %s", label, kind, detail)

    def ended(self, counts: Counter[str], label: str, why: str) -> None:
        if sum(counts.values()) > 1:
            summary = " ".join(f"{k}={n}" for k, n in sorted(counts.items()))
            self._line(logging.INFO, "%s closed (%s) after bad input %s", label, why, summary)

    def allow(self) -> bool:
        """Whether one more bad-input line fits the budget (else it is counted)."""
        if self._bucket.take():
            return True
        self.suppressed += 1
        return False

    def _line(self, level: int, fmt: str, *args: object) -> None:
        if not self.allow():
            return
        if self.suppressed:
            fmt += " (%d similar lines suppressed)"
            args = (*args, self.suppressed)
            self.suppressed = 0
        log.log(level, fmt, *args)


class Guarded(Protocol):
    """One connection as the policy sees it, whatever its framing."""

    @property
    def label(self) -> str:
        """``sid=... addr=...``: how its log lines name it."""

    @property
    def bad(self) -> Counter[str]:
        """Its bad input so far, by kind."""

    @property
    def strikes(self) -> TokenBucket:
        """Refused requests it may still send."""

    @property
    def closing(self) -> bool:
        """Being cut already: nothing it sends counts, and it gets no more replies."""

    def cut(self, error: HtsError, why: str) -> None:
        """Close it with ``error`` (the framing's way: DISCONNECT, or a close code)."""


class WirePolicy:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.addresses = AddressLimiter(settings.max_connections_per_address,
                                        settings.connects_per_second_per_address,
                                        settings.connect_burst_per_address)
        self.bad_log = BadInputLog(settings.bad_input_log_per_second)
        self.refused: Counter[str] = Counter()  # connections refused before they opened
        self.disconnected: Counter[str] = Counter()  # why the policy closed a connection

    # -- admission ---------------------------------------------------------------------------
    def admit(self, address: str) -> float | None:
        """Count a new connection from ``address``; or (refused): seconds to wait."""
        wait = self.addresses.admit(address)
        if wait is not None:
            self.refused["per_address"] += 1
            self.bad_log.note(Counter(), f"addr={address}", "per_address_limit",
                              f"{self.addresses.open_count(address)} open")
        return wait

    def release(self, address: str) -> None:
        self.addresses.release(address)

    # -- bad input -----------------------------------------------------------------------------
    def strike_budget(self) -> TokenBucket:
        """A new connection's budget of refused requests."""
        return TokenBucket(self.settings.bad_requests_per_second, self.settings.bad_requests_burst)

    def strike(self, conn: Guarded, code: str, event: str) -> bool:
        """A request of ``conn`` was refused with ``code`` (``STRIKE_CODES``). False: the
        connection has spent its budget and is being cut; send it no reply."""
        if conn.closing:
            return False
        self.bad_log.note(conn.bad, conn.label, code, f"event {excerpt(event)}")
        if conn.strikes.take():
            return True
        conn.cut(RateLimited("too many refused requests; disconnecting"), "flood")
        return False

    def ended(self, conn: Guarded, why: str) -> None:
        """``conn`` closed: a summary line if it sent more than one bad input."""
        self.bad_log.ended(conn.bad, conn.label, why)

    # -- reporting -----------------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        """The ``limits`` and ``wire`` blocks of ``GET /api/ws/status``."""
        s = self.settings
        return {
            "limits": {
                "max_connections_per_address": s.max_connections_per_address,
                "connects_per_second_per_address": s.connects_per_second_per_address,
                "connect_burst_per_address": s.connect_burst_per_address,
                "connect_timeout_seconds": s.connect_timeout_seconds,
                "max_payload_bytes": s.max_payload_bytes,
                "request_read_timeout_seconds": s.request_read_timeout_seconds,
                "rate_limit_per_second": s.rate_limit_per_second,
                "rate_limit_burst": s.rate_limit_burst,
                "bad_requests_per_second": s.bad_requests_per_second,
                "bad_requests_burst": s.bad_requests_burst,
                "max_subscriptions": s.max_subscriptions,
                "max_topics_per_request": s.max_topics_per_request,
            },
            "wire": {
                "tasks": len(asyncio.all_tasks()),  # every asyncio task in the process
                **self.addresses.status(),
                "refused": dict(self.refused),
                "disconnected": dict(self.disconnected),
                "bad_input": dict(self.bad_log.totals),
                **INTERNAL_ERRORS.status(),
            },
        }
