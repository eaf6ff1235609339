"""The middlewares of every role's HTTP server, installed once by ``edge.build``.

In order: the client's address behind a trusted proxy, the error body, and the
bounded request body. A gateway gets the same three as one process: its
forwarder reads a body only after ``body_guard`` has (size and deadline).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from hts_realtime.edge.http.common import error_response, json_response
from hts_realtime.ops.error_log import INTERNAL_ERRORS
from hts_realtime.ops.metrics import METRICS
from hts_realtime.protocol.errors import HtsError, InternalError, Unavailable
from hts_realtime.storage.store import StoreUnavailable

log = logging.getLogger("hts.http")

_Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _count_error(request: web.Request, code: str) -> None:
    metrics = request.app.get(METRICS)
    if metrics is not None:
        metrics.request_error("http", code)


def forwarded_middleware(trusted: tuple[str, ...]) -> Any:
    """Behind a reverse proxy every request comes from the proxy's address; when the
    peer is one of ``trusted`` (``HTS_TRUSTED_PROXIES``), the client is the last address
    in ``X-Forwarded-For`` (the one that proxy saw), so per-address limits and logs see
    clients, not nginx. From any other peer the header is ignored: it could be forged."""
    proxies = frozenset(trusted)

    @web.middleware
    async def forwarded(request: web.Request, handler: _Handler) -> web.StreamResponse:
        if proxies and request.remote in proxies:
            hops = [h.strip() for h in request.headers.get("X-Forwarded-For", "").split(",")]
            if hops and hops[-1]:
                request = request.clone(remote=hops[-1])
        return await handler(request)

    return forwarded


@web.middleware
async def error_middleware(request: web.Request, handler: _Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except HtsError as exc:
        _count_error(request, exc.code)
        return error_response(exc)
    except StoreUnavailable:  # the database went away mid-request (a restart): retry
        _count_error(request, Unavailable.code)
        return error_response(Unavailable("the database is unreachable; retry"))
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        code = {404: "not_found", 405: "invalid_message", 413: "invalid_message"}.get(
            exc.status, "invalid_message"
        )
        _count_error(request, code)
        return json_response({"error": {"code": code, "message": exc.reason}}, status=exc.status)
    except Exception:  # counted; a traceback only within the process's budget
        INTERNAL_ERRORS.report(log, "%s %s failed", request.method, request.path[:120])
        _count_error(request, InternalError.code)
        return error_response(InternalError("the server failed; try again"))


def body_guard(limit: int, read_timeout: float) -> Any:
    """Bound every REST request body: a ``Content-Length`` over ``limit`` is 413 at
    once (aiohttp would first wait for the bytes), and the body must arrive within
    ``read_timeout`` seconds (408), so a client that declares a body and stalls
    does not hold a handler. ``/socket.io/`` has its own guard (the wire guard)."""

    @web.middleware
    async def guard(request: web.Request, handler: _Handler) -> web.StreamResponse:
        if request.can_read_body and not request.path.startswith("/socket.io/"):
            declared = request.content_length
            if declared is not None and declared > limit:
                raise web.HTTPRequestEntityTooLarge(max_size=limit, actual_size=declared)
            try:
                async with asyncio.timeout(read_timeout):
                    await request.read()  # cached: the handler's request.json() reuses it
            except TimeoutError:
                raise web.HTTPRequestTimeout(text="the request body did not arrive in time") \
                    from None
        return await handler(request)

    return guard
