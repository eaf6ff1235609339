"""``/api/strategies`` and ``/api/strategy-kinds`` (where the engine is)."""

from __future__ import annotations

import logging

from aiohttp import web

from hts_realtime.domain.strategies.registry import describe_kinds
from hts_realtime.edge.http.common import Callers, json_response, read_json
from hts_realtime.engine.strategy_runner import StrategyRunner
from hts_realtime.protocol import schemas

log = logging.getLogger("hts.http")


class StrategyRoutes:
    def __init__(self, callers: Callers, strategies: StrategyRunner, signal_history: int) -> None:
        self.callers = callers
        self.strategies = strategies
        self.signal_history = signal_history

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/api/strategy-kinds", self.strategy_kinds),
            web.post("/api/strategies", self.create_strategy),
            web.get("/api/strategies", self.list_strategies),
            web.get("/api/strategies/{strategy_id}", self.get_strategy),
            web.post("/api/strategies/{strategy_id}/start", self.start_strategy),
            web.post("/api/strategies/{strategy_id}/stop", self.stop_strategy),
            web.delete("/api/strategies/{strategy_id}", self.delete_strategy),
            web.get("/api/strategies/{strategy_id}/signals", self.signals),
        ]

    async def strategy_kinds(self, request: web.Request) -> web.Response:
        return json_response(describe_kinds())

    async def create_strategy(self, request: web.Request) -> web.Response:
        identity = await self.callers.writer(request)
        data = schemas.load(schemas.STRATEGY, await read_json(request))
        run = await self.strategies.create(identity.user_id, data["kind"], data["symbol"],
                                     data["params"], data["quantity"], data["auto_trade"])
        log.info("user=%s strategy=%s created (%s %s)", identity.user_id, run.strategy_id,
                 run.kind, run.symbol)
        return json_response(run.to_wire(), status=201)

    async def list_strategies(self, request: web.Request) -> web.Response:
        identity = await self.callers.identify(request)
        return json_response([r.to_wire() for r in self.strategies.list_runs(identity.user_id)])

    async def get_strategy(self, request: web.Request) -> web.Response:
        identity = await self.callers.identify(request)
        run = self.strategies.get(identity.user_id, request.match_info["strategy_id"])
        return json_response(run.to_wire())

    async def start_strategy(self, request: web.Request) -> web.Response:
        identity = await self.callers.writer(request)
        run = await self.strategies.start(identity.user_id, request.match_info["strategy_id"])
        return json_response(run.to_wire())

    async def stop_strategy(self, request: web.Request) -> web.Response:
        identity = await self.callers.writer(request)
        run = await self.strategies.stop(identity.user_id, request.match_info["strategy_id"])
        return json_response(run.to_wire())

    async def delete_strategy(self, request: web.Request) -> web.Response:
        identity = await self.callers.writer(request)
        await self.strategies.delete(identity.user_id, request.match_info["strategy_id"])
        return web.Response(status=204)

    async def signals(self, request: web.Request) -> web.Response:
        identity = await self.callers.identify(request)
        query = schemas.load(schemas.SIGNALS_QUERY, dict(request.query))
        strategy_id = request.match_info["strategy_id"]
        limit = min(query["limit"], self.signal_history)
        return json_response({
            "strategy_id": strategy_id,
            "signals": await self.strategies.signals(identity.user_id, strategy_id, limit),
        })
