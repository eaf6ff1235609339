"""What every HTTP route shares: the JSON answer, the error body, the caller.

Every error body is ``{"error": {"code", "message"}}`` (``middlewares.error_middleware``).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from hts_realtime.domain.throttle import KeyedLimiter, retry_after_header
from hts_realtime.engine.access import Authenticator
from hts_realtime.identity.tokens import Identity
from hts_realtime.protocol import strict_json
from hts_realtime.protocol.errors import (
    AuthRequired,
    Forbidden,
    HtsError,
    InvalidMessage,
    RateLimited,
    Unavailable,
)

# Every JSON body the HTTP API writes goes through this: UTF-8 as is, so Korean
# names stay readable ("삼성전자", not "\\uc0bc\\uc131..."), and never a bare NaN.
dumps = strict_json.dumps
# who a request turned out to be (its access-log line's ``user``)
CALLER = web.RequestKey("hts.caller", str)

# who is calling, as any role can tell: the Bearer token verified here and confirmed by
# the engine (in this process, or the cluster's; see edge.build)
Identify = Callable[[web.Request], Awaitable[Identity]]


def json_response(body: Any, status: int = 200,
                  headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response(body, status=status, headers=headers, dumps=dumps)


def error_response(exc: HtsError) -> web.Response:
    headers = {}
    if isinstance(exc, RateLimited | Unavailable) and exc.retry_after is not None:
        headers["Retry-After"] = retry_after_header(exc.retry_after)
    return json_response({"error": exc.to_dict()}, status=exc.http_status, headers=headers)


def bearer(request: web.Request) -> str:
    """The request's Bearer token, or ``auth_required``."""
    header = request.headers.get("Authorization", "")
    if header[:7].lower() != "bearer " or not header[7:].strip():
        raise AuthRequired("send 'Authorization: Bearer <token>'")
    return header[7:].strip()


async def admin(identify: Identify, request: web.Request) -> Identity:
    identity = await identify(request)
    if not identity.is_admin:
        raise Forbidden("admin only")
    return identity


async def read_json(request: web.Request) -> Any:
    """The request's JSON body, strictly decoded (``protocol.strict_json``), or
    ``invalid_message``."""
    try:
        return strict_json.loads(await request.read())
    except strict_json.JsonRefused as exc:
        raise InvalidMessage(f"body must be JSON: {exc.reason}") from None


async def read_optional_json(request: web.Request) -> Any:
    """The JSON body, or None when there is none."""
    if not request.body_exists:
        return None
    return await read_json(request)


def client_address(request: web.Request) -> str:
    """The key for per-address login throttling: the TCP peer's IPv4 address, or
    its IPv6 /64 (one subscriber's prefix: a host picks any address inside it)."""
    remote = request.remote or "unknown"
    try:
        ip = ipaddress.ip_address(remote)
    except ValueError:
        return remote
    if ip.version == 6 and ip.ipv4_mapped is None:
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip.ipv4_mapped or ip) if ip.version == 6 else str(ip)


class Callers:
    """Who is calling a route the engine answers in this process: the Bearer token
    checked against the user store, and the per-user budget of writes."""

    def __init__(self, auth: Authenticator, writes: KeyedLimiter) -> None:
        self.auth = auth
        self.writes = writes
        self.writes_refused = 0

    async def identify(self, request: web.Request) -> Identity:
        identity = await self.auth.identify(bearer(request))
        request[CALLER] = identity.user_id
        return identity

    async def writer(self, request: web.Request, budget: str = "") -> Identity:
        """``identify``, for a route that writes the caller's journal: rate limited per user.

        Cancels have a ``budget`` of their own (the same size): a client throttled
        on placing orders can still take its risk off the book.
        """
        identity = await self.identify(request)
        wait = self.writes.take(f"{identity.user_id}{budget}")
        if wait > 0:
            self.writes_refused += 1
            raise RateLimited("too many order and strategy requests; slow down", wait)
        return identity

    def status(self) -> dict[str, Any]:
        return {"limits": {"write_rate_per_second": self.writes.rate,
                           "write_rate_burst": self.writes.burst},
                "auth": {"writes_refused": self.writes_refused}}
