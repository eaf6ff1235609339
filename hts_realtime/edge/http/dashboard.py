"""REST routes the dashboard needs: the watchlist, strategy signal history, cost rates.

``GET/PUT /api/watchlist``, ``GET /api/strategies/{id}/signals`` and ``GET
/api/costs`` (the fee and tax rates, so a client can compute what a buy holds
exactly as the broker does). Thin like ``http.py``, whose ``identify`` (Bearer)
and JSON answer they share.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from aiohttp import web

from hts_realtime.edge.http.api import HttpApi, json_response
from hts_realtime.engine.strategy_runner import StrategyRunner
from hts_realtime.engine.watchlists import WatchlistStore
from hts_realtime.identity.tokens import Identity
from hts_realtime.protocol import schemas

log = logging.getLogger("hts.http")


class DashboardApi:
    def __init__(self, identify: Callable[[web.Request], Identity], watchlists: WatchlistStore,
                 strategies: StrategyRunner, signal_history: int,
                 costs: dict[str, Any]) -> None:
        self.identify = identify
        self.costs = costs
        self.watchlists = watchlists
        self.strategies = strategies
        self.signal_history = signal_history

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/api/watchlist", self.get_watchlist),
            web.put("/api/watchlist", self.put_watchlist),
            web.get("/api/strategies/{strategy_id}/signals", self.signals),
            web.get("/api/costs", self.get_costs),
        ]

    async def get_costs(self, request: web.Request) -> web.Response:
        return json_response(self.costs)

    async def get_watchlist(self, request: web.Request) -> web.Response:
        identity = self.identify(request)
        return json_response({"symbols": self.watchlists.get(identity.user_id)})

    async def put_watchlist(self, request: web.Request) -> web.Response:
        identity = self.identify(request)
        data = schemas.load(schemas.WATCHLIST, await HttpApi.body(request))
        symbols = self.watchlists.replace(identity.user_id, data["symbols"])
        log.info("user=%s watchlist saved (%d symbols)", identity.user_id, len(symbols))
        return json_response({"symbols": symbols})

    async def signals(self, request: web.Request) -> web.Response:
        identity = self.identify(request)
        query = schemas.load(schemas.SIGNALS_QUERY, dict(request.query))
        strategy_id = request.match_info["strategy_id"]
        limit = min(query["limit"], self.signal_history)
        return json_response({
            "strategy_id": strategy_id,
            "signals": self.strategies.signals(identity.user_id, strategy_id, limit),
        })
