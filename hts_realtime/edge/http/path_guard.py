"""Path traversal, refused before any route (or a gateway's forwarder) sees it.

aiohttp decodes a request's path once and does not resolve dot segments, and the
client that forwards it to the engine resolves them: ``/api/../internal/status``,
``/api/%2e%2e/internal/...``, ``/api/..%2Finternal/...`` and ``/api/ws/../../internal/...``
all reached the engine's internal routes through a gateway (issue 20; only the
cluster's key stopped them), and nginx passes the double-encoded ``%252e%252e``.

``path_guard`` decodes the raw path until it stops changing (at most
``MAX_DECODES`` rounds) and answers ``400`` ``invalid_message`` when any form of
it has a ``.`` or ``..`` segment, a backslash, an empty segment (``//``), a NUL, or
is still percent-encoded after those rounds. No route of the API needs any of
those. Every role installs it (``edge.build``), so one process refuses what a
gateway refuses.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from urllib.parse import unquote

from aiohttp import web

from hts_realtime.protocol.errors import InvalidMessage

MAX_DECODES = 3

_Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def traversal(raw_path: str) -> bool:
    """Whether ``raw_path`` (as sent, without the query) tries to leave its route."""
    path = raw_path
    for _ in range(MAX_DECODES + 1):
        if "\\" in path or "\x00" in path or "//" in path:
            return True
        if any(seg in (".", "..") for seg in path.split("/")):
            return True
        decoded = unquote(path, errors="strict") if "%" in path else path
        if decoded == path:
            return False
        path = decoded
    return True  # still encoded after MAX_DECODES rounds: no route is


@web.middleware
async def path_guard(request: web.Request, handler: _Handler) -> web.StreamResponse:
    try:
        refused = traversal(request.raw_path.split("?", 1)[0])
    except UnicodeDecodeError:
        refused = True
    if refused:
        raise InvalidMessage("the path is not a route: dot segments, encoded separators and "
                             "backslashes are refused")
    return await handler(request)
