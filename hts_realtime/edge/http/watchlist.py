"""``GET/PUT /api/watchlist``: each user's watchlist, kept by the server (where the
engine is), so a fresh login on another device shows the same symbols."""

from __future__ import annotations

import logging

from aiohttp import web

from hts_realtime.edge.http.common import Callers, json_response, read_json
from hts_realtime.engine.watchlists import WatchlistStore
from hts_realtime.protocol import schemas

log = logging.getLogger("hts.http")


class WatchlistRoutes:
    def __init__(self, callers: Callers, watchlists: WatchlistStore) -> None:
        self.callers = callers
        self.watchlists = watchlists

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/api/watchlist", self.get_watchlist),
            web.put("/api/watchlist", self.put_watchlist),
        ]

    async def get_watchlist(self, request: web.Request) -> web.Response:
        identity = await self.callers.identify(request)
        return json_response({"symbols": await self.watchlists.get(identity.user_id)})

    async def put_watchlist(self, request: web.Request) -> web.Response:
        # a budget of its own, the size of the journal writes' (the audit: 400 commits in
        # 0.4 s from one user); a throttled watchlist does not stop orders, nor the reverse
        identity = await self.callers.writer(request, ":watchlist")
        data = schemas.load(schemas.WATCHLIST, await read_json(request))
        symbols = await self.watchlists.replace(identity.user_id, data["symbols"])
        log.info("user=%s watchlist saved (%d symbols)", identity.user_id, len(symbols))
        return json_response({"symbols": symbols})
