"""The browser dashboard: static files in the package, served at ``/`` in every role.

``static/vendor/socket.io.min.js`` is socket.io-client's browser build, committed
(``make vendor`` refreshes it from the npm pin), so the page needs no CDN.
"""

from __future__ import annotations

import logging
from pathlib import Path

from aiohttp import web

log = logging.getLogger("hts.http")

STATIC_DIR = Path(__file__).resolve().parent.parent.parent / "static"
# The dashboard keeps its token in localStorage (README, "The dashboard"): nothing but
# our own files may run or be fetched, so an injected <script> or a foreign host has
# no way in; no inline styles either (the page sets sizes through the CSSOM).
DASHBOARD_CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                 "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
                 "form-action 'self'")


class DashboardRoutes:
    def __init__(self, static_dir: Path = STATIC_DIR) -> None:
        self.static_dir = static_dir
        self.index = static_dir / "index.html"

    def routes(self) -> list[web.AbstractRouteDef]:
        if not self.index.exists():
            log.warning("no dashboard: %s is missing", self.index)
            return []
        if not (self.static_dir / "vendor" / "socket.io.min.js").exists():
            log.warning("dashboard: static/vendor/socket.io.min.js is missing; run `make vendor`")
        return [
            web.get("/", self.page),
            web.static("/static/", self.static_dir, show_index=False, follow_symlinks=False),
        ]

    async def page(self, request: web.Request) -> web.FileResponse:
        return web.FileResponse(self.index, headers={"Cache-Control": "no-cache",
                                                     "Content-Security-Policy": DASHBOARD_CSP})
