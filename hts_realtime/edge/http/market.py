"""Public market routes: the symbol master, candles, recent trades, the session, the cost
rates."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aiohttp import web

from hts_realtime.domain.market_hours import KST
from hts_realtime.domain.symbols import SymbolMaster
from hts_realtime.edge.http.common import json_response
from hts_realtime.engine.candles import CandleBook
from hts_realtime.engine.payloads import trade_data
from hts_realtime.engine.recent_trades import RecentTrades
from hts_realtime.ports import MarketSource
from hts_realtime.protocol import schemas
from hts_realtime.protocol.errors import UnknownSymbol


class MarketRoutes:
    def __init__(self, master: SymbolMaster, market: MarketSource, candles: CandleBook,
                 market_mode: str, costs: dict[str, Any], recent: RecentTrades) -> None:
        self.master = master
        self.recent = recent
        self.market = market
        self.candle_book = candles
        self.market_mode = market_mode
        self.costs = costs  # decimal strings, exactly what the broker's Costs are built from

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/api/symbols", self.symbols),
            web.get("/api/candles", self.candles),
            web.get("/api/trades", self.trades),
            web.get("/api/market", self.market_status),
            web.get("/api/costs", self.get_costs),
        ]

    async def symbols(self, request: web.Request) -> web.Response:
        return json_response([s.to_dict() for s in self.master])

    async def candles(self, request: web.Request) -> web.Response:
        q = schemas.load(schemas.CANDLES, dict(request.query))
        if q["symbol"] not in self.master:
            raise UnknownSymbol(f"unknown symbol {q['symbol']!r}")
        rows = await self.candle_book.candles(q["symbol"], q["interval"], q["limit"])
        return json_response({"symbol": q["symbol"], "interval": q["interval"],
                              "candles": [c.to_wire() for c in rows]})

    async def trades(self, request: web.Request) -> web.Response:
        """The symbol's last trades (체결), oldest first, with 전일 종가 to colour them by."""
        q = schemas.load(schemas.TRADES_QUERY, dict(request.query))
        symbol = q["symbol"]
        if symbol not in self.master:
            raise UnknownSymbol(f"unknown symbol {symbol!r}")
        quote = self.market.quote(symbol)
        return json_response({
            "symbol": symbol,
            "prev_close": quote.prev_close if quote is not None else None,
            "trades": [trade_data(t) for t in self.recent.last(symbol, q["limit"])]})

    async def market_status(self, request: web.Request) -> web.Response:
        now = datetime.now(KST)
        symbols = {}
        for s in self.master:
            state = self.market.symbol_state(s.symbol)
            if state is not None and state.notable:
                symbols[s.symbol] = state.to_wire(now)["data"]
        return json_response({"status": self.market.status(now).value,
                              "mode": self.market_mode, "timestamp": now.isoformat(),
                              "symbols": symbols})

    async def get_costs(self, request: web.Request) -> web.Response:
        return json_response(self.costs)
