"""What aiohttp writes to the log about HTTP requests, made safe for hostile input.

``SafeAccessLogger`` (every role's access log) leaves out query strings (a
``?token=`` must never reach a log) and headers, and cuts long paths; its
fields (method, path, status, duration_ms, remote, user) are the JSON log's
keys too;
``BadHttpLogFilter`` turns aiohttp's traceback for a request it cannot parse into
one short line within the wire policy's bad-input log budget.
"""

from __future__ import annotations

import logging

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.web_request import BaseRequest
from aiohttp.web_response import StreamResponse

from hts_realtime.edge.http.common import CALLER
from hts_realtime.edge.wire_policy import BadInputLog

ACCESS_LOG_PATH_CHARS = 120


class SafeAccessLogger(AbstractAccessLogger):
    """Access log without query strings (a ``?token=`` must never reach a log) or
    headers, and with long paths cut: a request line cannot blow up a log line."""

    def log(self, request: BaseRequest, response: StreamResponse, time: float) -> None:
        path = request.path
        if len(path) > ACCESS_LOG_PATH_CHARS:
            path = f"{path[:ACCESS_LOG_PATH_CHARS]}...({len(path)} chars)"
        duration_ms = round(time * 1000, 1)
        self.logger.info('%s "%s %s" %s %.1fms', request.remote, request.method, path,
                         response.status, duration_ms, extra={
                             "method": request.method, "path": path,
                             "status": response.status, "duration_ms": duration_ms,
                             "remote": request.remote,
                             "user": request.get(CALLER) if isinstance(request, web.Request)
                             else None})


class BadHttpLogFilter(logging.Filter):
    """aiohttp logs a request it cannot parse (a 9 KB URL or header, say) at ERROR
    with a traceback and the first 100 bytes of the offending line, which may be a
    token's. This turns each into one short WARNING line, within the bad-input log
    budget (``HTS_BAD_INPUT_LOG_PER_SECOND``); the rest are only counted."""

    def __init__(self, budget: BadInputLog) -> None:
        super().__init__()
        self.budget = budget

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if not isinstance(exc, HttpProcessingError):
            return True
        self.budget.totals["bad_http_request"] += 1
        if not self.budget.allow():
            return False
        remote = record.args[0] if isinstance(record.args, tuple) and record.args else "?"
        record.msg, record.args = "bad HTTP request from %s: %s (%s)", (
            remote, type(exc).__name__, exc.code)
        record.exc_info = record.exc_text = None
        record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True


def install_bad_http_filter(budget: BadInputLog) -> None:
    """One filter on aiohttp's server logger, this app's (a test process may build
    several apps: the newest one's budget counts)."""
    bad_http = logging.getLogger("aiohttp.server")
    for old in [f for f in bad_http.filters if isinstance(f, BadHttpLogFilter)]:
        bad_http.removeFilter(old)
    bad_http.addFilter(BadHttpLogFilter(budget))
